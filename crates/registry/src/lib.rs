//! Flotilla's image registry (ECR's data plane). So far: digests (`digest.rs`),
//! content-addressed blobs on disk with resumable uploads (`blobs.rs`) and the manifests
//! clients push (`manifest.rs`). The OCI distribution API and ECR's API come on top of it.
#![forbid(unsafe_code)]

pub mod blobs;
pub mod digest;
pub mod manifest;

pub use blobs::{BlobError, BlobStore, UploadId};
pub use digest::{Digest, DigestError};
pub use manifest::{Manifest, ManifestError, Refs};
