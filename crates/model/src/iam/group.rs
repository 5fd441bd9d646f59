//! IAM groups: a name, managed and inline policies that every member user has too.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::timestamp;

/// At most this many groups per user (IAM's quota).
pub const MAX_GROUPS_PER_USER: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRecord {
    pub group_name: String,
    /// `AGPA` and 17 characters.
    pub group_id: String,
    pub path: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
}

super::identity::identity!(GroupRecord, super::identity::Kind::Group, group_name);

impl Record for GroupRecord {
    const KIND: &'static str = "iam-group";
    const VERSION: u32 = 1;
}

impl GroupRecord {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:iam::{account}:group{}{}",
            self.path, self.group_name
        )
    }
}
