//! Opening a stream after a restart or a crash: its identity and floors, its sealed
//! segments' indexes, and a replay of its active segment whose torn tail is cut. Stale
//! active segments (already sealed, or emptied by retention) are removed.

use super::{active_name, sealed_name, Floors, Identity, Inner, Stream};
use crate::logs::store::format::{
    self, check_header, scan_records, ACTIVE_MAGIC, FOOTER_LEN, HEADER_LEN, SEALED_MAGIC,
};
use crate::logs::store::StoreError;
use serde::Deserialize;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

impl Stream {
    /// Opens a stream's directory: reads its sealed segments' indexes, replays its active
    /// segment and cuts a torn tail.
    pub(crate) fn open(dir: PathBuf) -> Result<Stream, StoreError> {
        let identity: Identity = read_json(&dir.join("stream.json"))?;
        let floors: Floors = match fs::read(dir.join("state.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::corrupt(&dir.join("state.json"), &e.to_string()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Floors::default(),
            Err(e) => return Err(e.into()),
        };
        if identity.format != format::FORMAT_VERSION || floors.format > format::FORMAT_VERSION {
            let found = identity.format.max(floors.format);
            let reason = format!("stream format {found} is not {}", format::FORMAT_VERSION);
            return Err(StoreError::corrupt(&dir, &reason));
        }
        let mut inner = Inner::empty();
        inner.next_ord = floors.next_ord;
        inner.next_sequence = floors.next_sequence;
        inner.cutoff = floors.cutoff;
        let (mut sealed, mut active) = (Vec::new(), Vec::new());
        for entry in fs::read_dir(&dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let ord = |p: &str, s: &str| name.strip_prefix(p)?.strip_suffix(s)?.parse().ok();
            if let Some(o) = ord("seg-", ".seg") {
                sealed.push(o);
            } else if let Some(o) = ord("active-", ".log") {
                active.push(o);
            } else if name.ends_with(".tmp") {
                let _ = fs::remove_file(dir.join(&name));
            }
        }
        sealed.sort_unstable();
        active.sort_unstable();
        for ord in sealed {
            inner.load_sealed(&dir, ord)?;
        }
        inner.active = inner.next_ord;
        let mut have_active = false;
        for ord in active {
            have_active |= inner.load_active(&dir, ord)?;
        }
        if !have_active {
            inner.active = inner.next_ord;
            inner.active_len = HEADER_LEN;
            fs::write(
                dir.join(active_name(inner.active)),
                format::header(ACTIVE_MAGIC),
            )?;
            File::open(dir.join(active_name(inner.active)))?.sync_all()?;
        }
        inner.durable = inner.next_ord;
        inner.respan();
        Ok(Stream {
            identity,
            dir,
            inner: Mutex::new(inner),
        })
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::corrupt(path, &e.to_string()))
}

impl Inner {
    fn load_sealed(&mut self, dir: &Path, ord: u64) -> Result<(), StoreError> {
        let path = dir.join(sealed_name(ord));
        let mut file = File::open(&path)?;
        let size = file.metadata()?.len();
        let mut head = [0u8; 8];
        file.read_exact(&mut head)?;
        check_header(&head, SEALED_MAGIC, &path)?;
        let mut foot = [0u8; FOOTER_LEN];
        file.seek(SeekFrom::Start(size.saturating_sub(FOOTER_LEN as u64)))?;
        file.read_exact(&mut foot)?;
        let footer = format::read_footer(&foot, &path)?;
        let mut index = vec![0; footer.index_len as usize];
        file.seek(SeekFrom::Start(footer.index_offset))?;
        file.read_exact(&mut index)?;
        self.blocks
            .extend(format::read_index(&index, &footer, ord, &path)?);
        self.sealed_files.push((ord, size));
        self.next_ord = self.next_ord.max(footer.end_ord);
        self.next_sequence = self.next_sequence.max(footer.next_sequence);
        Ok(())
    }

    /// Replays an active segment; false when it is stale (sealed or emptied already, or
    /// an empty successor of one kept) and was removed.
    fn load_active(&mut self, dir: &Path, ord: u64) -> Result<bool, StoreError> {
        let path = dir.join(active_name(ord));
        let bytes = fs::read(&path)?;
        check_header(&bytes, ACTIVE_MAGIC, &path)?;
        let (records, valid) = scan_records(&bytes, ord);
        let has_active = self.blocks.iter().any(|b| !b.sealed);
        if ord < self.next_ord || (has_active && records.is_empty()) {
            fs::remove_file(&path)?;
            return Ok(false);
        }
        if valid < bytes.len() as u64 {
            let file = fs::OpenOptions::new().write(true).open(&path)?;
            file.set_len(valid)?;
            file.sync_all()?;
        }
        self.active = ord;
        self.active_len = valid;
        for r in records {
            self.push_record(r.block, r.next_sequence);
        }
        Ok(true)
    }
}
