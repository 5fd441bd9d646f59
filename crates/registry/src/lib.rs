//! Flotilla's image registry (ECR's data plane). This first part is its storage: digests
//! (`digest.rs`) and content-addressed blobs on disk with resumable uploads (`blobs.rs`).
//! The OCI distribution API and ECR's API come on top of it.
#![forbid(unsafe_code)]

pub mod blobs;
pub mod digest;

pub use blobs::{BlobError, BlobStore, UploadId};
pub use digest::{Digest, DigestError};
