//! Flotilla's image registry (ECR's data plane): digests (`digest.rs`), content-addressed
//! blobs on disk with resumable uploads (`blobs.rs`), the manifests clients push
//! (`manifest.rs`), what the registry asks of the control plane (`catalog.rs`: credentials
//! and repository and image metadata, implemented by the server), and the OCI
//! distribution API over them (`http.rs`). It never reads the store itself.
#![forbid(unsafe_code)]

pub mod blobs;
pub mod catalog;
pub mod digest;
pub mod gc;
pub mod http;
pub mod manifest;

pub use self::http::{router, Registry};
pub use blobs::{BlobError, BlobStore, UploadId};
pub use catalog::{Access, Catalog, CatalogError, Reference, StoredManifest};
pub use digest::{Digest, DigestError};
pub use manifest::{Manifest, ManifestError, Refs};
