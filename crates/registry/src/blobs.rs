//! Content-addressed blobs on disk, with resumable uploads.
//!
//! Layout under the store's root (made 0700):
//! - `blobs/sha256/AB/HEX`: one file per digest, whatever the repositories that use it;
//! - `uploads/ID`: the bytes of an upload in progress.
//!
//! An upload grows by appends at its current size only (a client that lost track gets the
//! size back, as the spec's 416 needs). Its SHA-256 is computed as bytes arrive; when it is
//! finished with a digest, the bytes are synced, checked against the digest, and renamed
//! into place: a blob path never shows a partial blob, a kill -9 at any point leaves at most
//! an upload file (removed when uploads expire), and two uploads of the same layer end as
//! one file (the second rename replaces identical bytes). Nothing else writes blob paths.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::digest::Digest;

/// An upload session's id (a UUID, so it is also a safe file name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id a client sent back: only what [`BlobStore::start_upload`] makes.
    pub fn parse(s: &str) -> Option<UploadId> {
        uuid::Uuid::try_parse(s)
            .ok()
            .map(|u| UploadId(u.simple().to_string()))
            .filter(|u| u.0 == s)
    }
}

/// What can go wrong with a blob or an upload, in the terms the registry API answers with.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No such upload (never started, finished, cancelled or expired): BLOB_UPLOAD_UNKNOWN.
    #[error("upload {0} is unknown")]
    UploadUnknown(String),
    /// An append not at the upload's current size (416, with the size in `Range`).
    #[error("the upload has {size} bytes; a chunk must start there, not at {offset}")]
    RangeInvalid { size: u64, offset: u64 },
    /// The bytes do not hash to the digest given: DIGEST_INVALID. Nothing is stored.
    #[error("the content's digest is {actual}, not {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    /// The blob would pass the size limit: SIZE_INVALID.
    #[error("the blob would exceed {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("blob storage: {0}")]
    Io(#[from] io::Error),
}

/// The running hash and size of an upload, kept while the process lives (recomputed from
/// the file after a restart).
struct Progress {
    hasher: Sha256,
    size: u64,
}

/// Blobs and uploads under one directory.
pub struct BlobStore {
    root: PathBuf,
    /// The largest blob accepted.
    max_blob: u64,
    uploads: Mutex<HashMap<String, Progress>>,
}

impl BlobStore {
    /// Open (creating) the store under `root`, private to its owner.
    pub async fn open(root: &Path, max_blob: u64) -> Result<BlobStore, BlobError> {
        use std::os::unix::fs::PermissionsExt;
        for dir in [
            root.to_path_buf(),
            root.join("blobs/sha256"),
            root.join("uploads"),
        ] {
            tokio::fs::create_dir_all(&dir).await?;
        }
        tokio::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).await?;
        Ok(BlobStore {
            root: root.to_path_buf(),
            max_blob,
            uploads: Mutex::new(HashMap::new()),
        })
    }

    /// The directory that holds one subdirectory per first two hex digits of a digest.
    pub(crate) fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs/sha256")
            .join(&d.hex()[..2])
            .join(d.hex())
    }

    fn upload_path(&self, id: &UploadId) -> PathBuf {
        self.root.join("uploads").join(id.as_str())
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, HashMap<String, Progress>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The size of a stored blob, if it is there.
    pub async fn stat(&self, d: &Digest) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.blob_path(d)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A stored blob, open for reading, with its size.
    pub async fn open_blob(&self, d: &Digest) -> Result<Option<(tokio::fs::File, u64)>, BlobError> {
        match tokio::fs::File::open(self.blob_path(d)).await {
            Ok(f) => {
                let len = f.metadata().await?.len();
                Ok(Some((f, len)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Mark a blob as just used by setting its modification time to now, so that the
    /// garbage collector's grace period (which goes by mtime) protects a blob a client has
    /// just seen or pushed against, until the manifest that refers to it arrives. False if
    /// the blob is not there, so this is also the existence check of a push.
    pub async fn touch(&self, d: &Digest) -> Result<bool, BlobError> {
        let path = self.blob_path(d);
        let touched = tokio::task::spawn_blocking(move || {
            // Append mode: opening for writing must never be able to truncate a blob.
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)?
                .set_modified(SystemTime::now())
        })
        .await
        .map_err(io::Error::other)?;
        match touched {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove a blob; false if it was not there.
    pub async fn delete(&self, d: &Digest) -> Result<bool, BlobError> {
        match tokio::fs::remove_file(self.blob_path(d)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Start an upload.
    pub async fn start_upload(&self) -> Result<UploadId, BlobError> {
        let id = UploadId(uuid::Uuid::new_v4().simple().to_string());
        create_private(&self.upload_path(&id)).await?;
        self.progress().insert(
            id.0.clone(),
            Progress {
                hasher: Sha256::new(),
                size: 0,
            },
        );
        Ok(id)
    }

    /// The bytes an upload holds so far.
    pub async fn upload_size(&self, id: &UploadId) -> Result<u64, BlobError> {
        match tokio::fs::metadata(self.upload_path(id)).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(BlobError::UploadUnknown(id.0.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Append what `body` yields to the upload, which must start at `offset` when the client
    /// says where (`Content-Range`). Answers the upload's new size.
    pub async fn append(
        &self,
        id: &UploadId,
        offset: Option<u64>,
        body: impl AsyncRead + Unpin,
    ) -> Result<u64, BlobError> {
        let size = self.upload_size(id).await?;
        if let Some(offset) = offset.filter(|o| *o != size) {
            return Err(BlobError::RangeInvalid { size, offset });
        }
        let mut progress = self.take_progress(id, size).await?;
        let path = self.upload_path(id);
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await?;
        let copied = copy_hashing(body, &mut file, &mut progress, self.max_blob).await;
        file.flush().await?;
        let result = copied.map(|()| progress.size);
        // Whatever was written is in the file: keep the hash in step with it, or drop it so
        // that it is recomputed from the file.
        if result.is_ok() {
            self.progress().insert(id.0.clone(), progress);
        }
        result
    }

    /// The upload's running hash, recomputed from its file if this process did not see
    /// every byte of it (a restart, or a failed append).
    async fn take_progress(&self, id: &UploadId, size: u64) -> Result<Progress, BlobError> {
        if let Some(p) = self.progress().remove(&id.0).filter(|p| p.size == size) {
            return Ok(p);
        }
        let mut file = tokio::fs::File::open(self.upload_path(id)).await?;
        let mut progress = Progress {
            hasher: Sha256::new(),
            size: 0,
        };
        copy_hashing(&mut file, &mut tokio::io::sink(), &mut progress, u64::MAX).await?;
        Ok(progress)
    }

    /// Finish an upload as the blob `digest`, after appending `body` (a monolithic or final
    /// chunk). The bytes must hash to `digest`; otherwise nothing is stored and the upload is
    /// gone. Answers the blob's size.
    pub async fn finish(
        &self,
        id: &UploadId,
        digest: &Digest,
        body: impl AsyncRead + Unpin,
    ) -> Result<u64, BlobError> {
        let size = self.append(id, None, body).await?;
        let progress = self.take_progress(id, size).await?;
        let actual = Digest::from_hash(progress.hasher.finalize().as_slice());
        let path = self.upload_path(id);
        if actual != *digest {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(BlobError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        tokio::fs::File::open(&path).await?.sync_all().await?;
        let target = self.blob_path(digest);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&parent).await?;
        tokio::fs::rename(&path, &target).await?;
        // Make the rename durable.
        tokio::fs::File::open(&parent).await?.sync_all().await?;
        Ok(size)
    }

    /// Store `body` as the blob `digest` in one go (a monolithic push).
    pub async fn put(
        &self,
        digest: &Digest,
        body: impl AsyncRead + Unpin,
    ) -> Result<u64, BlobError> {
        let id = self.start_upload().await?;
        let stored = self.finish(&id, digest, body).await;
        if stored.is_err() {
            // Nobody else knows this upload: do not leave it for the expiry to find.
            let _ = self.cancel(&id).await;
        }
        stored
    }

    /// Cancel an upload; false if there was none.
    pub async fn cancel(&self, id: &UploadId) -> Result<bool, BlobError> {
        self.progress().remove(&id.0);
        match tokio::fs::remove_file(self.upload_path(id)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove uploads not written to for `idle` (abandoned pushes, and those a kill -9
    /// interrupted). Answers how many.
    pub async fn expire_uploads(&self, idle: Duration) -> Result<usize, BlobError> {
        let mut removed = 0;
        let mut dir = tokio::fs::read_dir(self.root.join("uploads")).await?;
        let now = SystemTime::now();
        while let Some(entry) = dir.next_entry().await? {
            let modified = entry.metadata().await?.modified()?;
            if now.duration_since(modified).unwrap_or_default() >= idle {
                let name = entry.file_name().to_string_lossy().into_owned();
                self.progress().remove(&name);
                if tokio::fs::remove_file(entry.path()).await.is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// How many bytes an upload gathers before writing them: every write to a tokio file is a
/// hop to a blocking thread, so a body's small frames are written in large pieces.
const WRITE_BATCH: usize = 1024 * 1024;

/// Copy `from` into `to`, hashing and counting into `progress`; more than `limit` bytes in
/// all is an error (what was written stays, so the caller recomputes).
async fn copy_hashing(
    mut from: impl AsyncRead + Unpin,
    to: &mut (impl tokio::io::AsyncWrite + Unpin),
    progress: &mut Progress,
    limit: u64,
) -> Result<(), BlobError> {
    let mut buf = vec![0u8; WRITE_BATCH];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = from.read(&mut buf[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(());
        }
        if progress.size + filled as u64 > limit {
            return Err(BlobError::TooLarge { limit });
        }
        to.write_all(&buf[..filled]).await?;
        progress.hasher.update(&buf[..filled]);
        progress.size += filled as u64;
    }
}

async fn create_private(path: &Path) -> io::Result<()> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map(drop)
}

#[cfg(test)]
#[path = "blobs_tests.rs"]
mod tests;
