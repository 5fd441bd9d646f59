//! ECR's resources (issue: image registry, in progress): repositories and the images pushed
//! to them, as stored records, and the names and tags ECR and the OCI distribution spec
//! accept. The registry's blobs never go through these records: only their digests.

pub mod lifecycle;
pub mod names;
pub mod repository;

pub use names::{validate_repository_name, validate_tag};
pub use repository::{ImageRecord, RepositoryRecord, TagMutability};
