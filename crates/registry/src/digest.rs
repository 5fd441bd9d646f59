//! Content digests as the OCI distribution spec writes them: `algorithm:encoded`. Flotilla
//! stores and verifies `sha256` (what Docker and every common client push); other
//! well-formed algorithms are recognised so that they can be refused as unsupported rather
//! than as malformed.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A `sha256:` digest: 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// Why a string is not a digest this registry takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not `algorithm:encoded` as the spec's grammar has it (DIGEST_INVALID).
    #[error("'{0}' is not a digest of the form algorithm:hex")]
    Malformed(String),
    /// Well-formed, with an algorithm other than sha256 (UNSUPPORTED).
    #[error("digest algorithm '{0}' is not supported; use sha256")]
    Unsupported(String),
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hash(Sha256::digest(bytes).as_slice())
    }

    /// The digest whose raw 32-byte hash is `hash`.
    pub fn from_hash(hash: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(hash),
        }
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    /// The spec's grammar: `algorithm ::= component ([+._-] component)*`, components of
    /// `[a-z0-9]`, and `encoded ::= [a-zA-Z0-9=_-]+`; sha256's encoded part is exactly 64
    /// lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || DigestError::Malformed(s.chars().take(200).collect());
        let (algorithm, encoded) = s.split_once(':').ok_or_else(malformed)?;
        let algorithm_ok = !algorithm.is_empty()
            && algorithm.split(['+', '.', '_', '-']).all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        let encoded_ok = !encoded.is_empty()
            && encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
        if !algorithm_ok || !encoded_ok {
            return Err(malformed());
        }
        if algorithm != "sha256" {
            return Err(DigestError::Unsupported(algorithm.to_string()));
        }
        let hex_ok = encoded.len() == 64
            && encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(malformed());
        }
        Ok(Digest {
            hex: encoded.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn digests_parse_and_print_as_the_spec_writes_them() {
        let d = Digest::of(b"hello");
        assert_eq!(
            d.to_string(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
    }

    #[test]
    fn other_algorithms_are_unsupported_and_garbage_is_malformed() {
        let sha512 = format!("sha512:{}", "a".repeat(128));
        assert_eq!(
            sha512.parse::<Digest>(),
            Err(DigestError::Unsupported("sha512".into()))
        );
        for bad in [
            "",
            "sha256",
            "sha256:",
            ":abc",
            "SHA256:abc",
            "sha256:ABCDEF",
            &format!("sha256:{}", "a".repeat(63)),
            &format!("sha256:{}", "g".repeat(64)),
            &format!("sha256:{}/..", "a".repeat(64)),
        ] {
            assert!(
                matches!(bad.parse::<Digest>(), Err(DigestError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_string_parses_or_is_refused_and_never_names_a_path(s in ".{0,200}") {
            if let Ok(d) = s.parse::<Digest>() {
                prop_assert_eq!(d.hex().len(), 64);
                prop_assert!(!d.hex().contains('/') && !d.hex().contains('.'));
                prop_assert_eq!(d.to_string(), s);
            }
        }
    }
}
