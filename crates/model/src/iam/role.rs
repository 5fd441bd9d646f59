//! IAM roles (a trust policy saying who may assume the role, and the policies the
//! role's sessions act with) and the sessions STS AssumeRole hands out: temporary keys
//! that sign with `X-Amz-Security-Token`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::timestamp;

/// A role's `MaxSessionDuration` bounds and default, in seconds.
pub const MIN_SESSION_SECONDS: u32 = 3_600;
pub const MAX_SESSION_SECONDS: u32 = 43_200;
/// AssumeRole's `DurationSeconds` bounds and default.
pub const MIN_DURATION_SECONDS: u32 = 900;
pub const DEFAULT_DURATION_SECONDS: u32 = 3_600;
/// A trust policy's quota (characters, whitespace not counted).
pub const TRUST_POLICY_QUOTA: usize = 2_048;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRecord {
    pub role_name: String,
    /// `AROA` and 17 characters.
    pub role_id: String,
    pub path: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// The trust policy's text, as given.
    pub assume_role_policy: String,
    #[serde(default)]
    pub description: String,
    pub max_session_duration: u32,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
}

super::identity::identity!(RoleRecord, super::identity::Kind::Role, role_name);

impl Record for RoleRecord {
    const KIND: &'static str = "iam-role";
    const VERSION: u32 = 1;
}

impl RoleRecord {
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role{}{}", self.path, self.role_name)
    }
}

/// The role name of a role ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`): its last part.
pub fn role_name_of(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (_, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    path_and_name.rsplit('/').next().filter(|n| !n.is_empty())
}

/// Temporary credentials of a role session (AssumeRole, or a task's role), kept so that
/// every server verifies their signatures. The secret and the token are secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// `ASIA` and 16 characters.
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub role_name: String,
    pub session_name: String,
    #[serde(with = "timestamp")]
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SessionRecord {
    /// Never the secret or the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("access_key_id", &self.access_key_id)
            .field("role_name", &self.role_name)
            .field("session_name", &self.session_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Record for SessionRecord {
    const KIND: &'static str = "iam-session";
    const VERSION: u32 = 1;
}

impl SessionRecord {
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:sts::{account}:assumed-role/{}/{}",
            self.role_name, self.session_name
        )
    }
}

/// Check a role session name: 2 to 64 of letters, digits and `+=,.@_-`.
pub fn check_session_name(name: &str) -> Result<(), String> {
    let ok = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and length 2 to 64"
        ))
    }
}

/// A new session token: 356 characters of letters, digits, `+` and `/`, as long as
/// STS's tokens commonly are (SDKs only pass them through).
pub fn new_session_token() -> String {
    (0..9).map(|_| super::user::new_secret()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_from_arns() {
        assert_eq!(
            role_name_of("arn:aws:iam::000000000000:role/app"),
            Some("app")
        );
        assert_eq!(
            role_name_of("arn:aws:iam::000000000000:role/team/ci/deployer"),
            Some("deployer")
        );
        assert_eq!(role_name_of("arn:aws:iam::000000000000:user/app"), None);
        assert_eq!(role_name_of("app"), None);
        assert_eq!(role_name_of("arn:aws:iam::0:role/"), None);
    }

    #[test]
    fn session_names_and_tokens() {
        assert!(check_session_name("ci-run_42@x").is_ok());
        assert!(check_session_name("a").is_err());
        assert!(check_session_name("has space").is_err());
        let t = new_session_token();
        assert_eq!(t.len(), 360);
        assert_ne!(t, new_session_token());
    }

    proptest::proptest! {
        /// Any text is read as a role ARN or not, without panicking.
        #[test]
        fn any_arn_answers(text in ".{0,80}") {
            let _ = role_name_of(&text);
            let _ = check_session_name(&text);
        }
    }
}
