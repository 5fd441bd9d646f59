//! IAM users and their access keys, as stored, with IAM's rules for names, paths and ids.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::timestamp;

/// At most this many access keys per user (IAM's quota).
pub const MAX_ACCESS_KEYS: usize = 2;

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub user_name: String,
    /// `AIDA` and 17 characters.
    pub user_id: String,
    pub path: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The ARNs of the managed policies attached to the user, in attachment order.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Inline policies by name.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// The names of the groups the user is in, in the order they were added.
    #[serde(default)]
    pub groups: Vec<String>,
}

super::identity::identity!(UserRecord, super::identity::Kind::User, user_name);

impl Record for UserRecord {
    const KIND: &'static str = "iam-user";
    const VERSION: u32 = 1;
}

impl UserRecord {
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:user{}{}", self.path, self.user_name)
    }
}

/// An access key of a user. The secret is kept: the server verifies the key's signatures
/// with it, as IAM does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyRecord {
    /// `AKIA` and 16 characters.
    pub access_key_id: String,
    pub secret_access_key: String,
    pub user_name: String,
    pub active: bool,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for AccessKeyRecord {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("user_name", &self.user_name)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Record for AccessKeyRecord {
    const KIND: &'static str = "iam-access-key";
    const VERSION: u32 = 1;
}

impl AccessKeyRecord {
    /// `Active` or `Inactive`.
    pub fn status(&self) -> &'static str {
        if self.active {
            "Active"
        } else {
            "Inactive"
        }
    }
}

/// Check a user (or group, or role) name: 1 to 64 of letters, digits and `+=,.@_-`.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "The specified value for {kind}Name is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_- and be 1 to 64 characters long."
        ))
    }
}

/// Check a path: `/`, or `/` and printable ASCII ending in `/`, at most 512 characters.
pub fn check_path(path: &str) -> Result<(), String> {
    let ok = path == "/"
        || (path.len() >= 2
            && path.len() <= 512
            && path.starts_with('/')
            && path.ends_with('/')
            && path.chars().all(|c| ('!'..='~').contains(&c)));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters: {path}"
        ))
    }
}

/// A new id: `prefix` and `len` upper-case letters and digits.
pub fn new_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let more = uuid::Uuid::new_v4().into_bytes();
    let tail: String = bytes
        .iter()
        .chain(more.iter())
        .take(len)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{tail}")
}

/// A new secret access key: 40 characters of letters, digits, `+` and `/`.
pub fn new_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..3)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .take(40)
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_ids() {
        assert!(check_name("User", "ci-bot@team.example").is_ok());
        assert!(check_name("User", "").is_err());
        assert!(check_name("User", "a b").is_err());
        assert!(check_name("User", &"a".repeat(65)).is_err());
        assert!(check_path("/").is_ok());
        assert!(check_path("/team/ci/").is_ok());
        assert!(check_path("/team").is_err());
        assert!(check_path("team/").is_err());
        let id = new_id("AKIA", 16);
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA"));
        let secret = new_secret();
        assert_eq!(secret.len(), 40);
        assert_ne!(secret, new_secret());
    }
}
