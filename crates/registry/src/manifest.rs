//! Image manifests as clients push them: Docker schema 2 manifests and manifest lists, OCI
//! image manifests and indexes. What the registry needs of one: its media type (from the
//! `Content-Type` it was pushed with, checked against its own `mediaType` when it has one),
//! and the digests it refers to, which must all exist before it is accepted
//! (MANIFEST_BLOB_UNKNOWN). The bytes themselves are stored as pushed: a manifest's digest
//! is the digest of those exact bytes.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::digest::{Digest, DigestError};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The media types a manifest may be pushed and served as.
pub const MEDIA_TYPES: [&str; 4] = [
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
];

/// The largest manifest accepted (what distribution and ECR allow: 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// What a manifest refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refs {
    /// An image: its config blob and layer blobs, in order.
    Image { config: Digest, layers: Vec<Digest> },
    /// A list or index: the manifests of its platforms.
    Index { manifests: Vec<Digest> },
}

/// A pushed manifest, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub media_type: &'static str,
    pub digest: Digest,
    pub refs: Refs,
    /// The config blob's size plus the layers' sizes, as the manifest declares them (what
    /// ECR reports as `imageSizeInBytes`); 0 for an index.
    pub size: u64,
    /// The manifest this one refers to as its `subject` (what the referrers API lists it
    /// under); it need not exist.
    pub subject: Option<Digest>,
    /// Its `artifactType`, else (for an image manifest) its config's media type: what the
    /// referrers API reports and filters by.
    pub artifact_type: Option<String>,
    /// Its `annotations`, as the referrers API reports them.
    pub annotations: BTreeMap<String, String>,
}

/// Why a manifest is refused (MANIFEST_INVALID, or UNSUPPORTED for an unknown type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest media type '{0}' is not supported")]
    Unsupported(String),
    #[error("invalid manifest: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: Option<String>,
    digest: String,
    size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    schema_version: Option<i64>,
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    artifact_type: Option<String>,
    annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// Parse `bytes` pushed with `content_type` (its parameters ignored). A manifest without
    /// a `Content-Type` is taken by its own `mediaType`.
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let invalid = |m: String| ManifestError::Invalid(m);
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(invalid(format!(
                "it is {} bytes; at most {MAX_MANIFEST_BYTES} are accepted",
                bytes.len()
            )));
        }
        let doc: Document =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("not a manifest: {e}")))?;
        if doc.schema_version != Some(2) {
            return Err(invalid("schemaVersion must be 2".into()));
        }
        let declared = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| !c.is_empty())
            .or(doc.media_type.as_deref())
            .ok_or_else(|| invalid("neither Content-Type nor mediaType says what it is".into()))?;
        let media_type = MEDIA_TYPES
            .iter()
            .copied()
            .find(|t| *t == declared)
            .ok_or_else(|| ManifestError::Unsupported(declared.to_string()))?;
        if let Some(own) = doc.media_type.as_deref() {
            if own != media_type {
                return Err(invalid(format!(
                    "it was pushed as {media_type} but says it is {own}"
                )));
            }
        }
        let digest_of = |d: &Descriptor, what: &str| -> Result<Digest, ManifestError> {
            if d.size < 0 {
                return Err(invalid(format!("{what} has a negative size")));
            }
            d.digest
                .parse()
                .map_err(|e: DigestError| invalid(format!("{what}: {e}")))
        };
        let (refs, size) = match media_type {
            DOCKER_MANIFEST | OCI_MANIFEST => {
                let config = doc
                    .config
                    .as_ref()
                    .ok_or_else(|| invalid("an image manifest needs a config".into()))?;
                let layers = doc.layers.as_deref().unwrap_or_default();
                let mut size = config.size as u64;
                let mut digests = Vec::with_capacity(layers.len());
                for (i, l) in layers.iter().enumerate() {
                    digests.push(digest_of(l, &format!("layers[{i}]"))?);
                    size = size.saturating_add(l.size as u64);
                }
                let refs = Refs::Image {
                    config: digest_of(config, "config")?,
                    layers: digests,
                };
                (refs, size)
            }
            _ => {
                let list = doc
                    .manifests
                    .as_deref()
                    .ok_or_else(|| invalid("a list or index needs manifests".into()))?;
                let mut manifests = Vec::with_capacity(list.len());
                for (i, m) in list.iter().enumerate() {
                    let t = m.media_type.as_deref().unwrap_or("");
                    if !MEDIA_TYPES.contains(&t) {
                        return Err(invalid(format!(
                            "manifests[{i}] has media type '{t}', not a manifest's"
                        )));
                    }
                    manifests.push(digest_of(m, &format!("manifests[{i}]"))?);
                }
                (Refs::Index { manifests }, 0)
            }
        };
        let subject = match &doc.subject {
            Some(d) => Some(digest_of(d, "subject")?),
            None => None,
        };
        let artifact_type = doc
            .artifact_type
            .clone()
            .or_else(|| doc.config.as_ref().and_then(|c| c.media_type.clone()))
            .filter(|t| !t.is_empty());
        Ok(Manifest {
            media_type,
            digest: Digest::of(bytes),
            refs,
            size,
            subject,
            artifact_type,
            annotations: doc.annotations.unwrap_or_default(),
        })
    }

    /// Every digest the manifest refers to: blobs for an image, manifests for an index.
    pub fn referenced(&self) -> Vec<&Digest> {
        match &self.refs {
            Refs::Image { config, layers } => std::iter::once(config).chain(layers).collect(),
            Refs::Index { manifests } => manifests.iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subject_and_an_artifact_type_are_read_for_the_referrers_api() {
        let subject = format!("sha256:{}", "c".repeat(64));
        let config = format!("sha256:{}", "d".repeat(64));
        let doc = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.example.sbom", "digest": config, "size": 2},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10},
            "annotations": {"org.example": "yes"},
        });
        let m = Manifest::parse(None, &serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(m.subject.map(|d| d.to_string()), Some(subject));
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.example.sbom")
        );
        assert_eq!(m.annotations["org.example"], "yes");
        let mut own = doc.clone();
        own["artifactType"] = json!("application/vnd.example.sig");
        let m = Manifest::parse(None, &serde_json::to_vec(&own).unwrap()).unwrap();
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.example.sig")
        );
        own["subject"]["digest"] = json!("sha256:short");
        assert!(Manifest::parse(None, &serde_json::to_vec(&own).unwrap()).is_err());
    }

    fn d(s: &str) -> String {
        Digest::of(s.as_bytes()).to_string()
    }

    fn image(media_type: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": d("cfg"), "size": 10},
            "layers": [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d("l1"), "size": 100},
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d("l2"), "size": 1000},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn an_image_manifest_names_its_config_and_layers() {
        for t in [DOCKER_MANIFEST, OCI_MANIFEST] {
            let bytes = image(t);
            let m = Manifest::parse(Some(t), &bytes).unwrap();
            assert_eq!(m.media_type, t);
            assert_eq!(m.digest, Digest::of(&bytes));
            assert_eq!(m.size, 1110);
            let names: Vec<String> = m.referenced().iter().map(|r| r.to_string()).collect();
            assert_eq!(names, [d("cfg"), d("l1"), d("l2")]);
        }
        // Without a Content-Type, its own mediaType says what it is.
        assert!(Manifest::parse(None, &image(OCI_MANIFEST)).is_ok());
        // With parameters on the Content-Type.
        let ct = format!("{DOCKER_MANIFEST}; charset=utf-8");
        assert!(Manifest::parse(Some(&ct), &image(DOCKER_MANIFEST)).is_ok());
    }

    #[test]
    fn an_index_names_its_manifests() {
        let bytes = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": d("amd64"), "size": 500,
                           "platform": {"architecture": "amd64", "os": "linux"}}],
        }))
        .unwrap();
        let m = Manifest::parse(Some(OCI_INDEX), &bytes).unwrap();
        assert_eq!(
            m.refs,
            Refs::Index {
                manifests: vec![d("amd64").parse().unwrap()]
            }
        );
    }

    #[test]
    fn bad_manifests_are_refused_with_the_reason() {
        let wrong_type = Manifest::parse(Some(OCI_MANIFEST), &image(DOCKER_MANIFEST));
        assert!(matches!(wrong_type, Err(ManifestError::Invalid(m)) if m.contains("says it is")));
        let v1 = Manifest::parse(
            Some("application/vnd.docker.distribution.manifest.v1+json"),
            b"{\"schemaVersion\":2}",
        );
        assert!(matches!(v1, Err(ManifestError::Unsupported(_))));
        for bad in [
            json!({"schemaVersion": 1}),
            json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST}),
            json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {"digest": "sha256:nope", "size": 1}}),
            json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {"digest": d("c"), "size": -1}}),
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": "text/plain", "digest": d("x"), "size": 1}]}),
        ] {
            let bytes = serde_json::to_vec(&bad).unwrap();
            assert!(Manifest::parse(None, &bytes).is_err(), "{bad} accepted");
        }
        let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(Manifest::parse(Some(OCI_MANIFEST), &huge).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_are_refused_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            ct in proptest::option::of(".{0,80}"),
        ) {
            let _ = Manifest::parse(ct.as_deref(), &bytes);
        }

        #[test]
        fn a_manifest_with_any_sizes_parses_or_is_refused(cfg in any::<i64>(), layer in any::<i64>()) {
            let bytes = serde_json::to_vec(&json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"digest": d("c"), "size": cfg},
                "layers": [{"digest": d("l"), "size": layer}],
            })).unwrap();
            if let Ok(m) = Manifest::parse(None, &bytes) {
                prop_assert!(cfg >= 0 && layer >= 0);
                prop_assert_eq!(m.size, (cfg as u64).saturating_add(layer as u64));
            }
        }
    }
}
