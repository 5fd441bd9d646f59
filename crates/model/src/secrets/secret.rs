//! Secrets Manager's secrets as stored: a secret, its versions with their staging labels
//! and sealed values, its tags and its scheduled deletion; AWS's rules for names, client
//! request tokens, descriptions, tags and labels; ARNs; and ListSecrets' filters.
//!
//! Staging labels live on versions, at most one version per label. A version that loses
//! its last label is dropped at once (AWS keeps such deprecated versions a while and then
//! removes them), so a secret holds only versions a label still names.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sealed::Sealed;
use crate::record::Record;
use crate::timestamp;

/// The label of the version GetSecretValue returns by default.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label AWSCURRENT's previous holder gets when a new version becomes current.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The label of a version being rotated in.
pub const AWSPENDING: &str = "AWSPENDING";
/// The largest SecretString or SecretBinary, in bytes (Secrets Manager's quota).
pub const MAX_VALUE_BYTES: usize = 65536;
/// At most this many tags per secret.
pub const MAX_TAGS: usize = 50;
/// At most this many staging labels on one version.
pub const MAX_STAGES: usize = 20;
/// The recovery window DeleteSecret allows, in days, and its default.
pub const MIN_RECOVERY_DAYS: i64 = 7;
pub const MAX_RECOVERY_DAYS: i64 = 30;
pub const DEFAULT_RECOVERY_DAYS: i64 = 30;
/// The longest name.
pub const MAX_NAME_LEN: usize = 512;

/// One version of a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersion {
    /// The client request token that made it (a UUID when the SDK made one up).
    pub version_id: String,
    /// Its staging labels (never empty in a stored record).
    pub stages: Vec<String>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// The value, sealed (see `flotilla_control::secrets::crypto`).
    pub value: Sealed,
}

/// A Secrets Manager secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRecord {
    pub name: String,
    /// `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`, fixed at creation.
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The KMS key the client named, kept and answered as given (values are sealed with
    /// the server's key whatever it names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub last_changed_at: DateTime<Utc>,
    /// When the secret is deleted for good, once DeleteSecret scheduled it.
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deletion_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Oldest first.
    #[serde(default)]
    pub versions: Vec<SecretVersion>,
}

impl Record for SecretRecord {
    const KIND: &'static str = "secretsmanager-secret";
    const VERSION: u32 = 1;
}

impl SecretRecord {
    /// The version holding `stage`.
    pub fn by_stage(&self, stage: &str) -> Option<&SecretVersion> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// The version `id`.
    pub fn by_id(&self, id: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.version_id == id)
    }

    /// DescribeSecret's `VersionIdsToStages`.
    pub fn versions_to_stages(&self) -> BTreeMap<String, Vec<String>> {
        self.versions
            .iter()
            .map(|v| (v.version_id.clone(), v.stages.clone()))
            .collect()
    }

    /// Whether DeleteSecret scheduled it (and RestoreSecret did not cancel that).
    pub fn scheduled_for_deletion(&self) -> bool {
        self.deletion_date.is_some()
    }

    /// Whether its deletion date has passed: it is gone, whether or not the record was
    /// removed yet.
    pub fn lapsed(&self, now: DateTime<Utc>) -> bool {
        self.deletion_date.is_some_and(|d| d <= now)
    }

    /// Add `version` with the labels `stages` (AWSCURRENT when empty). Each label moves to
    /// it from the version that held it; when AWSCURRENT moves, the version that held it
    /// gets AWSPREVIOUS. Versions left without a label are dropped.
    pub fn add_version(&mut self, mut version: SecretVersion, stages: &[String]) {
        let stages: Vec<String> = if stages.is_empty() {
            vec![AWSCURRENT.to_string()]
        } else {
            stages.to_vec()
        };
        let previous = stages
            .iter()
            .any(|s| s == AWSCURRENT)
            .then(|| self.by_stage(AWSCURRENT).map(|v| v.version_id.clone()))
            .flatten();
        for v in &mut self.versions {
            v.stages.retain(|s| !stages.contains(s));
        }
        if let Some(previous) = previous {
            for v in &mut self.versions {
                v.stages.retain(|s| s != AWSPREVIOUS);
                if v.version_id == previous {
                    v.stages.push(AWSPREVIOUS.to_string());
                }
            }
        }
        version.stages = stages;
        self.versions.push(version);
        self.versions.retain(|v| !v.stages.is_empty());
        self.last_changed_at = self
            .versions
            .last()
            .map_or(self.last_changed_at, |v| v.created_at);
    }
}

/// The ARN of the secret `name` with the random `suffix`.
pub fn arn(region: &str, account: &str, name: &str, suffix: &str) -> String {
    format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}")
}

/// Six random letters and digits, the tail of a secret's ARN.
pub fn new_suffix() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uuid::Uuid::new_v4()
        .into_bytes()
        .iter()
        .take(6)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A secret's ARN, read: region, account and what follows `secret:` (the name and,
/// in a full ARN, `-` and the six-character suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub rest: &'a str,
}

/// Read `arn:aws:secretsmanager:REGION:ACCOUNT:secret:REST`; `None` for anything else
/// (a name, another service's ARN).
pub fn parse_arn(s: &str) -> Option<SecretArn<'_>> {
    let rest = s.strip_prefix("arn:aws:secretsmanager:")?;
    let mut parts = rest.splitn(4, ':');
    let region = parts.next()?;
    let account = parts.next()?;
    let kind = parts.next()?;
    let rest = parts.next()?;
    (kind == "secret" && !region.is_empty() && !rest.is_empty()).then_some(SecretArn {
        region,
        account,
        rest,
    })
}

/// Check a secret's name: 1 to 512 ASCII letters, digits and `/_+=.@-`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!".into())
    }
}

/// Check a ClientRequestToken (a version id): 32 to 64 characters.
pub fn check_client_token(token: &str) -> Result<(), String> {
    if (32..=64).contains(&token.chars().count()) {
        Ok(())
    } else {
        Err(
            "ClientRequestToken must be 32 to 64 characters long (the version id it becomes)."
                .into(),
        )
    }
}

/// Check a description: at most 2048 characters.
pub fn check_description(description: &str) -> Result<(), String> {
    if description.chars().count() <= 2048 {
        Ok(())
    } else {
        Err("Description must be at most 2048 characters long.".into())
    }
}

/// Check a staging label: 1 to 256 characters.
pub fn check_stage(stage: &str) -> Result<(), String> {
    if (1..=256).contains(&stage.chars().count()) {
        Ok(())
    } else {
        Err("A staging label must be 1 to 256 characters long.".into())
    }
}

/// Check one tag: a key of 1 to 128 characters not starting with `aws:`, a value of at
/// most 256.
pub fn check_tag(key: &str, value: &str) -> Result<(), String> {
    if !(1..=128).contains(&key.chars().count()) {
        return Err(format!(
            "The tag key '{key}' must be 1 to 128 characters long."
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!(
            "The tag key '{key}' uses the prefix 'aws:', which is reserved for AWS."
        ));
    }
    if value.chars().count() > 256 {
        return Err(format!(
            "The value of tag '{key}' must be at most 256 characters long."
        ));
    }
    Ok(())
}

/// What a ListSecrets filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKey {
    Name,
    Description,
    TagKey,
    TagValue,
    PrimaryRegion,
    OwningService,
    All,
}

impl FilterKey {
    pub fn parse(key: &str) -> Option<FilterKey> {
        Some(match key {
            "name" => FilterKey::Name,
            "description" => FilterKey::Description,
            "tag-key" => FilterKey::TagKey,
            "tag-value" => FilterKey::TagValue,
            "primary-region" => FilterKey::PrimaryRegion,
            "owning-service" => FilterKey::OwningService,
            "all" => FilterKey::All,
            _ => return None,
        })
    }
}

/// One ListSecrets filter: a secret passes when one of the values matches (a value
/// starting with `!` passes when it does not match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: FilterKey,
    pub values: Vec<String>,
}

impl Filter {
    /// A filter from the wire, checked as Secrets Manager checks it.
    pub fn new(key: &str, values: Vec<String>) -> Result<Filter, String> {
        let key = FilterKey::parse(key).ok_or_else(|| {
            format!("Invalid filter key {key}: use description, name, tag-key, tag-value, primary-region, owning-service or all.")
        })?;
        if values.is_empty() || values.len() > 10 {
            return Err("A filter needs 1 to 10 values.".into());
        }
        for v in &values {
            let ok = v.chars().count() <= 512
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " :_@/+=.-!".contains(c));
            if !ok {
                return Err(format!("Invalid filter value '{v}': use at most 512 letters, digits, spaces and :_@/+=.-!"));
            }
        }
        Ok(Filter { key, values })
    }

    /// Whether `secret` in `region` passes.
    pub fn matches(&self, secret: &SecretRecord, region: &str) -> bool {
        let (negated, positive): (Vec<&str>, Vec<&str>) = self
            .values
            .iter()
            .map(String::as_str)
            .partition(|v| v.starts_with('!'));
        let hit = |v: &str| self.hits(secret, region, v);
        negated.iter().all(|v| !hit(&v[1..]))
            && (positive.is_empty() || positive.iter().any(|v| hit(v)))
    }

    fn hits(&self, secret: &SecretRecord, region: &str, value: &str) -> bool {
        let lower = value.to_lowercase();
        let tags = || secret.tags.iter();
        match self.key {
            FilterKey::Name => secret.name.starts_with(value),
            FilterKey::Description => secret
                .description
                .as_deref()
                .is_some_and(|d| d.to_lowercase().starts_with(&lower)),
            FilterKey::TagKey => tags().any(|(k, _)| k.starts_with(value)),
            FilterKey::TagValue => tags().any(|(_, v)| v.starts_with(value)),
            FilterKey::PrimaryRegion => region.starts_with(value),
            // Flotilla's secrets are owned by no other service.
            FilterKey::OwningService => false,
            FilterKey::All => lower.split_whitespace().all(|word| {
                // The attribute, or one of its words, starts with the filter's word.
                let starts = |s: &str| {
                    let s = s.to_lowercase();
                    s.starts_with(word)
                        || s.split(|c: char| !c.is_alphanumeric())
                            .any(|w| w.starts_with(word))
                };
                starts(&secret.name)
                    || secret.description.as_deref().is_some_and(starts)
                    || tags().any(|(k, v)| starts(k) || starts(v))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::sealed::NONCE_LEN;

    fn version(id: &str, at: i64) -> SecretVersion {
        SecretVersion {
            version_id: id.to_string(),
            stages: vec![],
            created_at: DateTime::from_timestamp(at, 0).unwrap(),
            value: Sealed::new("k", [0; NONCE_LEN], vec![0; 16]).unwrap(),
        }
    }

    fn secret() -> SecretRecord {
        SecretRecord {
            name: "db/password".into(),
            arn: arn("us-east-1", "000000000000", "db/password", "AbC123"),
            description: Some("The Database".into()),
            kms_key_id: None,
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            last_changed_at: DateTime::from_timestamp(0, 0).unwrap(),
            deletion_date: None,
            tags: vec![("team".into(), "web".into())],
            versions: vec![],
        }
    }

    fn stages(s: &SecretRecord) -> Vec<(String, Vec<String>)> {
        s.versions_to_stages().into_iter().collect()
    }

    #[test]
    fn labels_move_and_unlabelled_versions_go() {
        let mut s = secret();
        s.add_version(version("v1", 1), &[]);
        s.add_version(version("v2", 2), &[]);
        assert_eq!(s.by_stage(AWSCURRENT).unwrap().version_id, "v2");
        assert_eq!(s.by_stage(AWSPREVIOUS).unwrap().version_id, "v1");
        s.add_version(version("v3", 3), &[AWSPENDING.to_string()]);
        assert_eq!(s.by_stage(AWSCURRENT).unwrap().version_id, "v2");
        s.add_version(version("v4", 4), &[]);
        // v1 lost AWSPREVIOUS to v2 and was dropped.
        assert_eq!(
            stages(&s),
            vec![
                ("v2".into(), vec![AWSPREVIOUS.to_string()]),
                ("v3".into(), vec![AWSPENDING.to_string()]),
                ("v4".into(), vec![AWSCURRENT.to_string()]),
            ]
        );
        assert_eq!(s.last_changed_at.timestamp(), 4);
    }

    #[test]
    fn names_tokens_and_arns() {
        assert!(check_name("prod/db_pass+1=x.y@z-w").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name(&"a".repeat(513)).is_err());
        assert!(check_client_token(&"a".repeat(31)).is_err());
        assert!(check_client_token(&"a".repeat(32)).is_ok());
        assert!(check_tag("aws:x", "").is_err());
        assert_eq!(new_suffix().len(), 6);
        let a = arn("eu-west-1", "123456789012", "x/y", "AbC123");
        assert_eq!(
            a,
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x/y-AbC123"
        );
        let parsed = parse_arn(&a).unwrap();
        assert_eq!(
            (parsed.region, parsed.account, parsed.rest),
            ("eu-west-1", "123456789012", "x/y-AbC123")
        );
        assert!(parse_arn("x/y").is_none());
        assert!(parse_arn("arn:aws:ssm:eu-west-1:1:parameter/x").is_none());
    }

    #[test]
    fn filters_match_as_list_secrets_does() {
        let s = secret();
        let f = |k: &str, v: &[&str]| {
            Filter::new(k, v.iter().map(|s| s.to_string()).collect())
                .unwrap()
                .matches(&s, "us-east-1")
        };
        assert!(f("name", &["db/"]));
        assert!(!f("name", &["DB/"]));
        assert!(f("description", &["the data"]));
        assert!(f("tag-key", &["te"]) && f("tag-value", &["web"]));
        assert!(!f("name", &["!db"]));
        assert!(f("name", &["nope", "db"]));
        assert!(f("all", &["WEB database"]));
        assert!(!f("all", &["web nothing"]));
        assert!(Filter::new("colour", vec!["x".into()]).is_err());
        assert!(Filter::new("name", vec![]).is_err());
        assert!(Filter::new("name", vec!["a;b".into()]).is_err());
    }
}
