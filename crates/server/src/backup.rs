//! Backups: the whole store as of one revision, taken by a serving server (`flotilla
//! backup`), and loaded into an empty store (`flotilla restore`).
//!
//! A backup is one JSON document: `{"flotillaBackup": 1, "revision": R, "takenAt": ...,
//! "entries": [{"key": "/ecs/...", "value": BASE64}, ...]}`. It holds every key of the
//! store (ECS, ELBv2, Route 53, IAM, the registry's repositories, manifests and tags, ...)
//! as stored, each record in its own format version: a newer build reads older records by
//! upgrading them ([`flotilla_model::record`]), so a backup restores into any later
//! Flotilla. Registry blobs are by reference (their digests are in the manifests; the blob
//! directory is copied apart), and so is the secrets key that seals secret values.
//!
//! The operation is JSON 1.1 on the API port, signing name `flotilla-admin`,
//! `X-Amz-Target: FlotillaAdmin_v1.Backup`, root key only (the backup holds every secret in its
//! sealed form and every IAM policy).

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_store::{snapshot, Revision, Store, StoreError};
use serde::{Deserialize, Serialize};

pub const SIGNING_NAME: &str = "flotilla-admin";
pub const TARGET_PREFIX: &str = "FlotillaAdmin_v1";
pub const BACKUP: &str = "Backup";

/// The version of the backup document this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// A backup document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// The document's format version ([`FORMAT_VERSION`]).
    pub flotilla_backup: u32,
    /// The store revision the backup is of.
    pub revision: Revision,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    pub entries: Vec<Entry>,
}

/// One key and its value (base64: values are bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub value: String,
}

/// Why a backup could not be taken, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("not a Flotilla backup: {0}")]
    Malformed(String),
    #[error(
        "backup format version {0} is newer than this build reads ({FORMAT_VERSION}): restore \
         it with the Flotilla that took it, or a later one"
    )]
    TooNew(u32),
}

/// A consistent backup of `store`, taken while it serves.
pub async fn take(store: &dyn Store) -> Result<Backup, BackupError> {
    let snap = snapshot::snapshot(store, b"").await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let entries = snap
        .kvs
        .into_iter()
        .map(|(key, value)| {
            let key = String::from_utf8(key).map_err(|e| {
                BackupError::Malformed(format!("a key of the store is not UTF-8: {e}"))
            })?;
            Ok(Entry {
                key,
                value: b64.encode(value),
            })
        })
        .collect::<Result<_, BackupError>>()?;
    Ok(Backup {
        flotilla_backup: FORMAT_VERSION,
        revision: snap.revision,
        taken_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        entries,
    })
}

/// Reads a backup document, refusing one of a newer format than this build knows.
pub fn decode(bytes: &[u8]) -> Result<Backup, BackupError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Version {
        flotilla_backup: Option<u32>,
    }
    let version: Version =
        serde_json::from_slice(bytes).map_err(|e| BackupError::Malformed(e.to_string()))?;
    match version.flotilla_backup {
        None => Err(BackupError::Malformed(
            "no \"flotillaBackup\" format version".into(),
        )),
        Some(v) if v > FORMAT_VERSION => Err(BackupError::TooNew(v)),
        Some(_) => serde_json::from_slice(bytes).map_err(|e| BackupError::Malformed(e.to_string())),
    }
}

/// Loads `backup` into `store`, which must be empty; the store's revision after it.
pub async fn restore(store: &dyn Store, backup: &Backup) -> Result<Revision, BackupError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let kvs = backup
        .entries
        .iter()
        .map(|e| {
            let value = b64.decode(&e.value).map_err(|err| {
                BackupError::Malformed(format!("the value of {} is not base64: {err}", e.key))
            })?;
            Ok((e.key.clone().into_bytes(), value))
        })
        .collect::<Result<Vec<_>, BackupError>>()?;
    Ok(snapshot::load(store, &kvs).await?)
}

/// The `FlotillaAdmin_v1` service: `Backup`.
pub struct Admin {
    spec: AwsServiceSpec,
    store: Arc<dyn Store>,
}

impl Admin {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Admin {
            spec: AwsServiceSpec {
                signing_name: SIGNING_NAME,
                protocol: Protocol::Json11,
                target_prefix: TARGET_PREFIX,
                xmlns: "",
            },
            store,
        }
    }
}

#[async_trait]
impl AwsService for Admin {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, _ctx: &Context, operation: &str, _: Input) -> Result<Output, AwsError> {
        if operation != BACKUP {
            return Err(AwsError::unknown_operation(operation));
        }
        let backup = take(&*self.store)
            .await
            .map_err(|e| AwsError::server("ServerException", format!("backup failed: {e}")))?;
        tracing::info!(
            revision = backup.revision,
            keys = backup.entries.len(),
            "backup taken"
        );
        let json = serde_json::to_value(&backup)
            .map_err(|e| AwsError::server("ServerException", e.to_string()))?;
        Ok(Output::Json(json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_store::{MemoryStore, StoreExt};

    #[tokio::test]
    async fn a_backup_restores_into_an_empty_store_and_not_into_another() {
        let from = MemoryStore::new();
        from.put(b"/ecs/clusters/a", b"{\"kind\":\"cluster\"}")
            .await
            .unwrap();
        from.put(b"/bin", &[0, 159, 255]).await.unwrap();
        let backup = take(&from).await.unwrap();
        let bytes = serde_json::to_vec(&backup).unwrap();
        let read = decode(&bytes).unwrap();
        assert_eq!(read, backup);
        let to = MemoryStore::new();
        restore(&to, &read).await.unwrap();
        assert_eq!(to.get(b"/bin").await.unwrap().unwrap().value, [0, 159, 255]);
        let again = restore(&to, &read).await.unwrap_err();
        assert!(again.to_string().contains("not empty"), "{again}");
    }

    #[test]
    fn a_newer_or_foreign_document_is_refused_by_name() {
        let newer = br#"{"flotillaBackup": 2, "revision": 1, "takenAt": "", "entries": []}"#;
        let e = decode(newer).unwrap_err().to_string();
        assert!(e.contains("format version 2 is newer"), "{e}");
        assert!(decode(br#"{"revision": 1}"#)
            .unwrap_err()
            .to_string()
            .contains("flotillaBackup"));
        assert!(decode(b"\x00\xff").is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoding_takes_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode(&bytes);
        }
    }
}
