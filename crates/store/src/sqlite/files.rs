//! The store's files under operator faults: a database file deleted or replaced under a
//! running server, an empty database where one is expected, and a write-ahead log that
//! sqlite's recovery will cut short.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// Which file the store opened (device and inode), to notice it being deleted or replaced.
pub(super) struct FileIdentity {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    pub(super) fn of(path: &Path) -> Result<FileIdentity> {
        let meta = std::fs::metadata(path)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Why the path no longer names the file the store writes, if it does not: writes
    /// would go into an unlinked file and be lost at the next start.
    pub(super) fn lost(&self) -> Option<String> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => None,
            Ok(_) => Some(format!(
                "the store file {} was replaced by another file while the server ran; \
                 writes are refused. Restart the server to open the file now there",
                self.path.display()
            )),
            Err(e) => Some(format!(
                "the store file {} is gone ({e}); writes are refused. Restore the data \
                 directory, or restart the server to start an empty store",
                self.path.display()
            )),
        }
    }
}

/// Refuse to open `path` as a new, empty store when the caller knows the data directory
/// held a store before (`expect_existing`): a missing or 0-byte database there is damage
/// or a mistake, not a first start.
pub(super) fn check_expected(path: &Path, expect_existing: bool) -> Result<()> {
    if !expect_existing {
        return Ok(());
    }
    let size = std::fs::metadata(path).map(|m| m.len()).ok();
    if size.is_some_and(|n| n > 0) {
        return Ok(());
    }
    let what = if size.is_some() {
        "empty (0 bytes)"
    } else {
        "missing"
    };
    Err(StoreError::Backend(format!(
        "the store {} is {what}, but this data directory was used before: refusing to \
         start an empty store in its place. Restore state.db (with its -wal file) from a \
         backup, or move the data directory aside to start afresh",
        path.display()
    )))
}

/// What sqlite's recovery will make of a write-ahead log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WalReport {
    /// Frames in the file (whole ones).
    pub frames: u64,
    /// Frames recovery replays: up to the last commit frame before the first damaged one.
    pub committed: u64,
    /// Bytes after those frames that recovery discards.
    pub discarded_bytes: u64,
    /// Why recovery stops where it does.
    pub reason: &'static str,
}

const WAL_HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// Read a WAL the way sqlite's recovery does (header magic, salts and the cumulative
/// checksum of each frame) and say how much of it survives. `None` when it is empty or
/// has no valid header (then recovery ignores it entirely, which `frames` 0 says too).
pub(super) fn inspect_wal(bytes: &[u8]) -> WalReport {
    let whole = |reason| WalReport {
        frames: 0,
        committed: 0,
        discarded_bytes: bytes.len() as u64,
        reason,
    };
    if bytes.len() < WAL_HEADER {
        return whole("the header is incomplete");
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let magic = be(&bytes[0..4]);
    let big_endian = match magic {
        0x377f_0682 => false,
        0x377f_0683 => true,
        _ => return whole("the header's magic number is wrong"),
    };
    let page_size = match be(&bytes[8..12]) {
        1 => 65_536,
        n if (512..=32_768).contains(&n) && n.is_power_of_two() => n as usize,
        _ => return whole("the header's page size is invalid"),
    };
    let salts = &bytes[16..24];
    let mut sum = checksum(big_endian, (0, 0), &bytes[0..24]);
    if sum != (be(&bytes[24..28]), be(&bytes[28..32])) {
        return whole("the header's checksum is wrong");
    }
    let frame_len = FRAME_HEADER + page_size;
    let frames = ((bytes.len() - WAL_HEADER) / frame_len) as u64;
    let mut committed = 0u64;
    let mut reason = "every frame is intact";
    for i in 0..frames as usize {
        let at = WAL_HEADER + i * frame_len;
        let frame = &bytes[at..at + frame_len];
        if &frame[8..16] != salts {
            reason = "a frame belongs to an earlier log (its salts differ)";
            break;
        }
        sum = checksum(big_endian, sum, &frame[0..8]);
        sum = checksum(big_endian, sum, &frame[FRAME_HEADER..]);
        if sum != (be(&frame[16..20]), be(&frame[20..24])) {
            reason = "a frame's checksum is wrong";
            break;
        }
        if be(&frame[4..8]) != 0 {
            committed = i as u64 + 1;
        }
    }
    let kept = WAL_HEADER as u64 + committed * frame_len as u64;
    WalReport {
        frames,
        committed,
        discarded_bytes: (bytes.len() as u64).saturating_sub(kept),
        reason,
    }
}

/// sqlite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `(s0, s1)`.
fn checksum(big_endian: bool, (mut s0, mut s1): (u32, u32), data: &[u8]) -> (u32, u32) {
    let word = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    for pair in data.chunks_exact(8) {
        s0 = s0.wrapping_add(word(&pair[0..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&pair[4..8])).wrapping_add(s0);
    }
    (s0, s1)
}

/// Before sqlite opens `path`: log loudly what its recovery of the `-wal` file will drop.
pub(super) fn report_wal(path: &Path) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let Ok(bytes) = std::fs::read(&wal) else {
        return;
    };
    if bytes.is_empty() {
        return;
    }
    let r = inspect_wal(&bytes);
    if r.discarded_bytes > 0 && r.frames > r.committed {
        tracing::error!(
            wal = %wal.display(),
            frames = r.frames,
            recovered = r.committed,
            discarded_frames = r.frames - r.committed,
            discarded_bytes = r.discarded_bytes,
            "the store's write-ahead log is damaged: {}; sqlite's recovery keeps the first \
             {} frames and drops the rest, which may hold acknowledged writes. A copy of the \
             log is kept next to it",
            r.reason,
            r.committed
        );
        let mut copy = wal.as_os_str().to_owned();
        copy.push(format!(".damaged-{}", std::process::id()));
        if let Err(e) = std::fs::copy(&wal, PathBuf::from(copy)) {
            tracing::error!(error = %e, "keeping a copy of the damaged log failed");
        }
    } else if r.discarded_bytes > 0 && r.frames == 0 && bytes.len() > WAL_HEADER {
        tracing::error!(
            wal = %wal.display(),
            bytes = bytes.len(),
            "the store's write-ahead log is unreadable ({}); sqlite's recovery ignores all of it",
            r.reason
        );
    }
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
