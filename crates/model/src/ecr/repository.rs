//! Stored ECR repositories and images.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::tag::Tag;

/// ECR `imageTagMutability` (the two settings Flotilla enforces).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TagMutability {
    #[default]
    Mutable,
    Immutable,
}

/// A repository, by region and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryRecord {
    pub repository_name: String,
    pub repository_arn: String,
    pub registry_id: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub image_tag_mutability: TagMutability,
    #[serde(default)]
    pub scan_on_push: bool,
    /// `AES256` (the default) or `KMS`, with its key, as given; stored, not applied.
    #[serde(default = "default_encryption")]
    pub encryption_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The lifecycle policy's JSON text, as put.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_policy: Option<String>,
    /// The lifecycle policy under preview (StartLifecyclePolicyPreview), evaluated when
    /// the preview is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_preview: Option<String>,
    /// The repository policy's JSON text, as set (stored, not enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_policy: Option<String>,
}

fn default_encryption() -> String {
    "AES256".into()
}

impl Record for RepositoryRecord {
    const KIND: &'static str = "ecr-repository";
    const VERSION: u32 = 1;
}

/// One image (manifest) of a repository: what DescribeImages shows. Blobs are referenced by
/// digest only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    pub repository_name: String,
    /// `sha256:...` of the manifest's bytes.
    pub image_digest: String,
    pub image_manifest_media_type: String,
    #[serde(default)]
    pub image_tags: BTreeSet<String>,
    /// Config and layers, as the manifest declares them.
    pub image_size_in_bytes: u64,
    pub image_pushed_at: DateTime<Utc>,
    /// The blobs (or, for an index, the manifests) it refers to: what the garbage collector
    /// keeps.
    #[serde(default)]
    pub references: Vec<String>,
    /// The manifest's bytes as pushed (JSON, so UTF-8; its digest is `image_digest`). Kept
    /// here rather than as a blob so that BatchGetImage reads it like any other metadata.
    pub image_manifest: String,
    /// The manifest's `subject`, if it names one (the referrers API lists it there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its `artifactType` (else its config's media type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageRecord {
    /// Whether the image has at least one tag (ECR's `TAGGED`).
    pub fn is_tagged(&self) -> bool {
        !self.image_tags.is_empty()
    }
}

impl Record for ImageRecord {
    const KIND: &'static str = "ecr-image";
    const VERSION: u32 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{decode, encode};

    #[test]
    fn records_round_trip_through_their_envelope() {
        let repo = RepositoryRecord {
            repository_name: "team/web".into(),
            repository_arn: "arn:aws:ecr:us-east-1:000000000000:repository/team/web".into(),
            registry_id: "000000000000".into(),
            created_at: Utc::now(),
            image_tag_mutability: TagMutability::Immutable,
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
            tags: vec![],
            lifecycle_policy: None,
            lifecycle_preview: None,
            repository_policy: None,
        };
        assert_eq!(decode::<RepositoryRecord>(&encode(&repo)), Ok(repo.clone()));
        let json = serde_json::to_value(&repo).unwrap();
        assert_eq!(json["imageTagMutability"], "IMMUTABLE");
        let image = ImageRecord {
            repository_name: "team/web".into(),
            image_digest: format!("sha256:{}", "a".repeat(64)),
            image_manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            image_tags: BTreeSet::from(["v1".to_string()]),
            image_size_in_bytes: 1234,
            image_pushed_at: Utc::now(),
            references: vec![format!("sha256:{}", "b".repeat(64))],
            image_manifest: "{}".into(),
            subject: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
        };
        assert_eq!(decode::<ImageRecord>(&encode(&image)), Ok(image));
    }
}
