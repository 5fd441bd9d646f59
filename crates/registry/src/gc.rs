//! The garbage collector: blobs that no image refers to are removed once they have been
//! left alone for a grace period, and abandoned uploads once they expire.
//!
//! It runs beside pushes and pulls without stopping them. The catalog's references are read
//! first, then each blob on disk is checked; a blob that a push is still assembling an
//! image from (blobs first, the manifest last) was written or seen within the grace period
//! — every upload, existence check and mount touches the blob it names, and a manifest is
//! only accepted once its blobs are checked — so it is kept, and a pull only ever reads
//! blobs its manifest refers to.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::catalog::CatalogError;
use crate::digest::Digest;
use crate::http::Registry;
use crate::BlobError;

/// What one collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs still referenced, or within the grace period.
    pub kept: usize,
    /// Blobs removed, and their bytes.
    pub removed: usize,
    pub freed_bytes: u64,
    /// Abandoned uploads removed.
    pub uploads_expired: usize,
}

/// Why a collection stopped.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("reading the catalog: {0}")]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blobs(#[from] BlobError),
}

impl Registry {
    /// Remove abandoned uploads (untouched for `upload_ttl`), then every blob that no
    /// image refers to and that nobody wrote or saw for `grace`.
    pub async fn collect(
        &self,
        grace: Duration,
        upload_ttl: Duration,
    ) -> Result<GcReport, GcError> {
        let uploads_expired = self.blobs().expire_uploads(upload_ttl).await?;
        let keep: HashSet<Digest> = self
            .catalog()
            .referenced_blobs()
            .await?
            .into_iter()
            .collect();
        let mut report = GcReport {
            uploads_expired,
            ..GcReport::default()
        };
        let dir = self.blobs().blob_dir();
        let mut shards = tokio::fs::read_dir(&dir).await.map_err(BlobError::from)?;
        while let Some(shard) = shards.next_entry().await.map_err(BlobError::from)? {
            let mut blobs = match tokio::fs::read_dir(shard.path()).await {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
                Err(e) => return Err(BlobError::from(e).into()),
            };
            while let Some(entry) = blobs.next_entry().await.map_err(BlobError::from)? {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(digest) = format!("sha256:{name}").parse::<Digest>() else {
                    continue;
                };
                if keep.contains(&digest) {
                    report.kept += 1;
                    continue;
                }
                // Checked last, right before the removal: a touch since the catalog was
                // read keeps the blob.
                let meta = entry.metadata().await.map_err(BlobError::from)?;
                let idle = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .unwrap_or_default();
                if idle < grace {
                    report.kept += 1;
                    continue;
                }
                if self.blobs().delete(&digest).await? {
                    report.removed += 1;
                    report.freed_bytes += meta.len();
                }
            }
        }
        Ok(report)
    }
}
