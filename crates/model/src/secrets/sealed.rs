//! A value encrypted at rest, and the plaintext it holds.
//!
//! A [`Sealed`] value is what the store keeps of a secret's value or a SecureString: the
//! id of the key that sealed it (so a server holding another key refuses it clearly rather
//! than returning garbage), a random 96-bit nonce and the AES-256-GCM ciphertext with its
//! 16-byte tag. Its bytes are
//!
//! ```text
//! format (1) | key id length (1) | key id (ASCII) | nonce (12) | ciphertext and tag (16+)
//! ```
//!
//! and in records and on the wire it is that, base64-encoded. [`Sealed::from_bytes`] is a
//! parser of outside input (a store someone edited, an opaque SecureString a client sends
//! back): it refuses anything malformed and never panics.
//!
//! [`Plaintext`] and [`SecretValue`] hold decrypted values; their `Debug` says how long
//! they are, never what they hold, so a value cannot reach a log by accident.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// The length of an AES-GCM tag, the shortest ciphertext (of an empty plaintext).
pub const TAG_LEN: usize = 16;
/// The longest key id.
pub const MAX_KEY_ID_LEN: usize = 64;
/// The format byte this build writes and reads.
const FORMAT_V1: u8 = 1;

/// Why bytes are not a sealed value (or a decrypted value not a secret's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealedError {
    /// No bytes, or text that is not base64.
    #[error("the sealed value is empty or not base64")]
    Encoding,
    /// A format this build does not know (written by a newer one).
    #[error("the sealed value has format {0}, which this build cannot read")]
    UnknownFormat(u8),
    /// Shorter than its header says.
    #[error("the sealed value is truncated")]
    Truncated,
    /// The key id is empty, too long or not printable ASCII.
    #[error("the sealed value's key id is malformed")]
    KeyId,
    /// A decrypted value that is not a secret value's encoding.
    #[error("the decrypted value is not a secret value")]
    Value,
}

/// A value sealed with AES-256-GCM under the key `key_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    key_id: String,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

fn check_key_id(id: &str) -> Result<(), SealedError> {
    let ok =
        !id.is_empty() && id.len() <= MAX_KEY_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(SealedError::KeyId)
    }
}

impl Sealed {
    /// A sealed value from its parts; the ciphertext holds at least the tag.
    pub fn new(
        key_id: &str,
        nonce: [u8; NONCE_LEN],
        ciphertext: Vec<u8>,
    ) -> Result<Sealed, SealedError> {
        check_key_id(key_id)?;
        if ciphertext.len() < TAG_LEN {
            return Err(SealedError::Truncated);
        }
        Ok(Sealed {
            key_id: key_id.to_string(),
            nonce,
            ciphertext,
        })
    }

    /// The id of the key that sealed it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        self.nonce
    }

    /// The ciphertext followed by its tag.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The envelope's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.key_id.len() + NONCE_LEN + self.ciphertext.len());
        out.push(FORMAT_V1);
        // `new` and `from_bytes` keep the id at most 64 bytes long.
        out.push(self.key_id.len() as u8);
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Read an envelope's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sealed, SealedError> {
        let (&format, rest) = bytes.split_first().ok_or(SealedError::Encoding)?;
        if format != FORMAT_V1 {
            return Err(SealedError::UnknownFormat(format));
        }
        let (&id_len, rest) = rest.split_first().ok_or(SealedError::Truncated)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + TAG_LEN {
            return Err(SealedError::Truncated);
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key_id = std::str::from_utf8(id).map_err(|_| SealedError::KeyId)?;
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(nonce);
        Sealed::new(key_id, n, ciphertext.to_vec())
    }

    /// The envelope as base64 text (what records store and SSM answers for a SecureString
    /// read without decryption).
    pub fn to_text(&self) -> String {
        STANDARD.encode(self.to_bytes())
    }

    /// Read base64 text written by [`Sealed::to_text`].
    pub fn from_text(text: &str) -> Result<Sealed, SealedError> {
        let bytes = STANDARD.decode(text).map_err(|_| SealedError::Encoding)?;
        Sealed::from_bytes(&bytes)
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sealed, D::Error> {
        let text = String::deserialize(d)?;
        Sealed::from_text(&text).map_err(serde::de::Error::custom)
    }
}

/// Decrypted bytes. Its `Debug` shows the length only; dropping it overwrites the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext(Vec<u8>);

impl Plaintext {
    pub fn new(bytes: Vec<u8>) -> Plaintext {
        Plaintext(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<{} bytes>)", self.0.len())
    }
}

/// A Secrets Manager secret's value: `SecretString` or `SecretBinary`.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    String(String),
    Binary(Vec<u8>),
}

/// The first byte of an encoded [`SecretValue`].
const STRING_TAG: u8 = b's';
const BINARY_TAG: u8 = b'b';

impl SecretValue {
    /// How many bytes the value holds (what the 64 KiB quota counts).
    pub fn len(&self) -> usize {
        match self {
            SecretValue::String(s) => s.len(),
            SecretValue::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes that are sealed: a tag byte, then the value.
    pub fn encode(&self) -> Plaintext {
        let (tag, bytes) = match self {
            SecretValue::String(s) => (STRING_TAG, s.as_bytes()),
            SecretValue::Binary(b) => (BINARY_TAG, b.as_slice()),
        };
        let mut out = Vec::with_capacity(1 + bytes.len());
        out.push(tag);
        out.extend_from_slice(bytes);
        Plaintext::new(out)
    }

    /// Read what [`SecretValue::encode`] wrote.
    pub fn decode(plain: &Plaintext) -> Result<SecretValue, SealedError> {
        match plain.as_bytes().split_first() {
            Some((&STRING_TAG, rest)) => std::str::from_utf8(rest)
                .map(|s| SecretValue::String(s.to_string()))
                .map_err(|_| SealedError::Value),
            Some((&BINARY_TAG, rest)) => Ok(SecretValue::Binary(rest.to_vec())),
            _ => Err(SealedError::Value),
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValue::String(s) => write!(f, "SecretString(<{} bytes>)", s.len()),
            SecretValue::Binary(b) => write!(f, "SecretBinary(<{} bytes>)", b.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> Sealed {
        Sealed::new("0123abcd", [7; NONCE_LEN], vec![1; 40]).unwrap()
    }

    #[test]
    fn round_trips_as_bytes_text_and_json() {
        let s = sample();
        assert_eq!(Sealed::from_bytes(&s.to_bytes()).unwrap(), s);
        assert_eq!(Sealed::from_text(&s.to_text()).unwrap(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Sealed>(&json).unwrap(), s);
    }

    #[test]
    fn refuses_malformed_envelopes() {
        let bytes = sample().to_bytes();
        assert_eq!(Sealed::from_bytes(&[]), Err(SealedError::Encoding));
        assert_eq!(
            Sealed::from_bytes(&[2, 0]),
            Err(SealedError::UnknownFormat(2))
        );
        assert_eq!(
            Sealed::from_bytes(&bytes[..bytes.len() - 30]),
            Err(SealedError::Truncated)
        );
        let mut no_id = bytes.clone();
        no_id[1] = 0;
        assert_eq!(Sealed::from_bytes(&no_id), Err(SealedError::KeyId));
        assert_eq!(Sealed::from_text("not base64!"), Err(SealedError::Encoding));
        assert!(Sealed::new("", [0; NONCE_LEN], vec![0; 16]).is_err());
        assert!(Sealed::new("k", [0; NONCE_LEN], vec![0; 15]).is_err());
    }

    #[test]
    fn plaintext_never_shows_in_debug() {
        let value = SecretValue::String("hunter2".into());
        assert_eq!(format!("{value:?}"), "SecretString(<7 bytes>)");
        let plain = value.encode();
        assert!(!format!("{plain:?}").contains("hunter2"));
        assert_eq!(SecretValue::decode(&plain).unwrap(), value);
        let binary = SecretValue::Binary(vec![0, 255]);
        assert_eq!(SecretValue::decode(&binary.encode()).unwrap(), binary);
        assert!(SecretValue::decode(&Plaintext::new(vec![])).is_err());
        assert!(SecretValue::decode(&Plaintext::new(vec![b's', 0xff])).is_err());
    }

    proptest! {
        /// Arbitrary bytes and text never panic the envelope's readers, and whatever they
        /// accept writes back to the same bytes.
        #[test]
        fn envelope_readers_take_any_input(bytes in prop::collection::vec(any::<u8>(), 0..200),
                                           text in ".{0,120}") {
            if let Ok(s) = Sealed::from_bytes(&bytes) {
                prop_assert_eq!(s.to_bytes(), bytes.clone());
            }
            let _ = Sealed::from_text(&text);
            let _ = SecretValue::decode(&Plaintext::new(bytes));
        }

        /// A valid header with any tail is read back as written.
        #[test]
        fn valid_envelopes_round_trip(id in "[!-~]{1,64}", nonce in any::<[u8; 12]>(),
                                      ct in prop::collection::vec(any::<u8>(), 16..100)) {
            let s = Sealed::new(&id, nonce, ct).unwrap();
            prop_assert_eq!(Sealed::from_bytes(&s.to_bytes()).unwrap(), s);
        }
    }
}
