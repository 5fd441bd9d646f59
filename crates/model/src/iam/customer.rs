//! The account's own managed policies ("customer managed"): a name, up to five versions
//! of a document, one of them the default that attached identities act with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::timestamp;

/// At most this many versions of one policy (IAM's quota).
pub const MAX_VERSIONS: usize = 5;
/// A managed policy document's quota (characters, whitespace not counted).
pub const DOCUMENT_QUOTA: usize = 6_144;
/// A policy description's length limit.
pub const MAX_DESCRIPTION: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRecord {
    pub policy_name: String,
    /// `ANPA` and 17 characters.
    pub policy_id: String,
    pub path: String,
    #[serde(default)]
    pub description: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    /// `v1`, `v2`, ...
    pub default_version: String,
    /// Oldest first.
    pub versions: Vec<PolicyVersion>,
    /// The number the next version takes.
    pub next_version: u32,
    /// How many users, groups and roles have it attached (kept in the same transactions
    /// as the attachments, so DeletePolicy sees every one).
    pub attachment_count: u32,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

impl Record for PolicyRecord {
    const KIND: &'static str = "iam-policy";
    const VERSION: u32 = 1;
}

impl PolicyRecord {
    /// `arn:aws:iam::ACCOUNT:policy{path}{name}`.
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:iam::{account}:policy{}{}",
            self.path, self.policy_name
        )
    }

    pub fn version(&self, id: &str) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.version_id == id)
    }

    /// The default version's document.
    pub fn document(&self) -> &str {
        self.version(&self.default_version)
            .map(|v| v.document.as_str())
            .unwrap_or("")
    }
}

/// The policy name of a policy ARN of `account` (`arn:aws:iam::ACCOUNT:policy/PATH/NAME`).
pub fn policy_name_of<'a>(arn: &'a str, account: &str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?.strip_prefix(account)?;
    let path_and_name = rest.strip_prefix(":policy/")?;
    path_and_name.rsplit('/').next().filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_from_arns() {
        assert_eq!(
            policy_name_of("arn:aws:iam::000000000000:policy/deploy", "000000000000"),
            Some("deploy")
        );
        assert_eq!(
            policy_name_of("arn:aws:iam::000000000000:policy/ci/deploy", "000000000000"),
            Some("deploy")
        );
        assert_eq!(
            policy_name_of("arn:aws:iam::aws:policy/ReadOnlyAccess", "000000000000"),
            None
        );
        assert_eq!(
            policy_name_of("arn:aws:iam::111111111111:policy/x", "000000000000"),
            None
        );
    }
}
