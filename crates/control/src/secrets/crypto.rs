//! The key that seals secrets' values and SecureString parameters at rest, and sealing and
//! opening with it.
//!
//! AES-256-GCM (`ring::aead`) with a random 96-bit nonce per value and the value's context
//! (which secret version or parameter version it is) as additional authenticated data, so a
//! sealed value copied into another record fails to open instead of passing for that
//! record's. The key is 32 bytes: a file the operator names (`--secrets-key-file`), or
//! `secrets.key` in the data directory, made with mode 0600 on the first start. Its id, a
//! fingerprint that tells nothing about the key, goes into every sealed value, so a server
//! holding another key refuses those values with an error naming both ids, never garbage.
//!
//! Nothing here logs or formats a plaintext: errors name keys and files only.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use flotilla_model::secrets::sealed::{Plaintext, Sealed, NONCE_LEN};
use rand::RngCore as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use sha2::{Digest as _, Sha256};

/// The length of a key.
pub const KEY_LEN: usize = 32;

/// Why a key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read the secrets key file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file does not hold exactly [`KEY_LEN`] bytes.
    #[error("the secrets key file {} holds {len} bytes; it must hold exactly 32 random bytes (make one with `head -c 32 /dev/urandom > FILE; chmod 600 FILE`)", path.display())]
    Length { path: PathBuf, len: usize },
    /// A new key file could not be written.
    #[error("cannot write the secrets key file {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Why a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The value was sealed with another key than the server's.
    #[error("the value was encrypted with secrets key {sealed_with}, but this server holds key {held}: start the server with the key file it was written with (see docs/secrets.md)")]
    WrongKey { sealed_with: String, held: String },
    /// The right key, but the ciphertext or its context does not check out.
    #[error("the stored value failed its integrity check: it was damaged, or copied from another record")]
    Damaged,
    /// The value is too large to seal (never for values within the services' limits).
    #[error("the value could not be encrypted")]
    Seal,
}

/// The server's secrets key.
pub struct SecretsKey {
    key: LessSafeKey,
    id: String,
}

impl fmt::Debug for SecretsKey {
    /// The key's id, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsKey").field("id", &self.id).finish()
    }
}

/// The id of `key`: the first 8 bytes of a domain-separated SHA-256, in hex.
fn key_id(key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"flotilla secrets key id v1\0");
    h.update(key);
    hex::encode(&h.finalize()[..8])
}

impl SecretsKey {
    /// A key from its 32 bytes; `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<SecretsKey> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(SecretsKey {
            key: LessSafeKey::new(unbound),
            id: key_id(bytes),
        })
    }

    /// A random key held in memory only: for tests and servers whose store is as
    /// short-lived (the binary always uses a key file).
    pub fn random() -> SecretsKey {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        let key = SecretsKey::from_bytes(&bytes);
        bytes.fill(0);
        key.unwrap_or_else(|| unreachable!("32 bytes make an AES-256 key"))
    }

    /// The key in the file at `path` (exactly 32 bytes). A file others than its owner may
    /// read is used with a warning.
    pub fn load(path: &Path) -> Result<SecretsKey, KeyError> {
        let mut bytes = std::fs::read(path).map_err(|error| KeyError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let key = SecretsKey::from_bytes(&bytes);
        let len = bytes.len();
        bytes.fill(0);
        let key = key.ok_or_else(|| KeyError::Length {
            path: path.to_path_buf(),
            len,
        })?;
        warn_if_shared(path);
        Ok(key)
    }

    /// The key in the file at `path`, made first (32 random bytes, mode 0600) when there is
    /// none; whether it was made.
    pub fn load_or_create(path: &Path) -> Result<(SecretsKey, bool), KeyError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        if path.exists() {
            return Ok((SecretsKey::load(path)?, false));
        }
        let write_error = |error| KeyError::Write {
            path: path.to_path_buf(),
            error,
        };
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(f) => f,
            // Another process made it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Ok((SecretsKey::load(path)?, false))
            }
            Err(e) => return Err(write_error(e)),
        };
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        let written = file.write_all(&bytes).and_then(|()| file.sync_all());
        let key = SecretsKey::from_bytes(&bytes);
        bytes.fill(0);
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(write_error(e));
        }
        if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
            let _ = dir.sync_all();
        }
        let key = key.unwrap_or_else(|| unreachable!("32 bytes make an AES-256 key"));
        Ok((key, true))
    }

    /// The key's id, recorded in every value it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seal `plain` for `context` (the record and version it belongs to).
    pub fn seal(&self, context: &str, plain: &Plaintext) -> Result<Sealed, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plain.as_bytes().to_vec();
        let sealed = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut buf,
        );
        if sealed.is_err() {
            buf.fill(0);
            return Err(CryptoError::Seal);
        }
        Sealed::new(&self.id, nonce, buf).map_err(|_| CryptoError::Seal)
    }

    /// Open a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &Sealed) -> Result<Plaintext, CryptoError> {
        if sealed.key_id() != self.id {
            return Err(CryptoError::WrongKey {
                sealed_with: sealed.key_id().to_string(),
                held: self.id.clone(),
            });
        }
        let mut buf = sealed.ciphertext().to_vec();
        let opened = self.key.open_in_place(
            Nonce::assume_unique_for_key(sealed.nonce()),
            Aad::from(context.as_bytes()),
            &mut buf,
        );
        match opened {
            Ok(plain) => {
                let len = plain.len();
                buf.truncate(len);
                Ok(Plaintext::new(buf))
            }
            Err(_) => Err(CryptoError::Damaged),
        }
    }
}

/// Warn when the key file's mode lets others than its owner read it.
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the secrets key file can be read by others than its owner: chmod 600 it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn seals_and_opens_only_with_its_key_and_context() {
        let key = SecretsKey::random();
        let plain = Plaintext::new(b"hunter2".to_vec());
        let sealed = key.seal("secret#v1", &plain).unwrap();
        assert_eq!(sealed.key_id(), key.id());
        assert!(!sealed.ciphertext().windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open("secret#v1", &sealed).unwrap(), plain);
        assert_eq!(key.open("secret#v2", &sealed), Err(CryptoError::Damaged));
        // Two seals of one value differ (a fresh nonce each).
        assert_ne!(key.seal("secret#v1", &plain).unwrap(), sealed);
        let other = SecretsKey::random();
        match other.open("secret#v1", &sealed) {
            Err(CryptoError::WrongKey { sealed_with, held }) => {
                assert_eq!(sealed_with, key.id());
                assert_eq!(held, other.id());
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{key:?}").contains("key:"));
    }

    #[test]
    fn key_files_are_made_private_and_checked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        let (made, created) = SecretsKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        let (again, created) = SecretsKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.id(), made.id());
        std::fs::write(&path, b"too short").unwrap();
        let e = SecretsKey::load(&path).unwrap_err();
        assert!(matches!(e, KeyError::Length { len: 9, .. }), "{e}");
        let e = SecretsKey::load(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(e, KeyError::Read { .. }), "{e}");
    }

    proptest! {
        /// Whatever bytes come out of the store, opening them is an error or a value,
        /// never a panic.
        #[test]
        fn opening_arbitrary_envelopes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
            let key = SecretsKey::random();
            if let Ok(sealed) = Sealed::from_bytes(&bytes) {
                prop_assert!(key.open("x", &sealed).is_err());
            }
        }
    }
}
