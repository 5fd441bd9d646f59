//! SSM Parameter Store's parameters as stored: a parameter, its last 100 versions (each
//! with its type and value, a SecureString's sealed), its tags; AWS's rules for names,
//! hierarchies, values and tiers; the `name:version` selector; ARNs; and the
//! `ParameterFilters` of DescribeParameters and GetParametersByPath.
//!
//! Names are either simple (`db-host`) or a path of levels each starting with `/`
//! (`/prod/db/host`), at most 15 levels deep. A simple name sits at the root (`/`) of the
//! hierarchy: GetParametersByPath of `/` lists it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sealed::Sealed;
use crate::record::Record;
use crate::timestamp;

/// At most this many versions are kept; the oldest goes when another is put.
pub const MAX_VERSIONS: usize = 100;
/// The deepest hierarchy.
pub const MAX_LEVELS: usize = 15;
/// The longest value of a Standard parameter, and of an Advanced one (characters).
pub const STANDARD_MAX_VALUE: usize = 4096;
pub const ADVANCED_MAX_VALUE: usize = 8192;
/// The KMS key a SecureString names when the client names none.
pub const DEFAULT_KEY_ID: &str = "alias/aws/ssm";
/// The longest ARN of a parameter (AWS: 2048 characters less 1037 reserved).
pub const MAX_ARN_LEN: usize = 1011;

/// String, StringList or SecureString.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParameterType {
    String,
    StringList,
    SecureString,
}

impl ParameterType {
    pub fn parse(s: &str) -> Option<ParameterType> {
        Some(match s {
            "String" => ParameterType::String,
            "StringList" => ParameterType::StringList,
            "SecureString" => ParameterType::SecureString,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "String",
            ParameterType::StringList => "StringList",
            ParameterType::SecureString => "SecureString",
        }
    }
}

/// Standard or Advanced (Intelligent-Tiering picks one of them when a value is put).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    Standard,
    Advanced,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "Standard",
            Tier::Advanced => "Advanced",
        }
    }

    /// The longest value of this tier.
    pub fn max_value(self) -> usize {
        match self {
            Tier::Standard => STANDARD_MAX_VALUE,
            Tier::Advanced => ADVANCED_MAX_VALUE,
        }
    }
}

/// A version's value: a String's or StringList's as given, a SecureString's sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StoredValue {
    Plain(String),
    Sealed(Sealed),
}

/// One version of a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterVersion {
    pub version: i64,
    #[serde(rename = "type")]
    pub kind: ParameterType,
    pub value: StoredValue,
    /// The KMS key a SecureString names (as given; the server's key seals it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(with = "timestamp")]
    pub modified_at: DateTime<Utc>,
    /// The ARN of who put it.
    pub modified_by: String,
}

/// An SSM parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tier: Tier,
    /// `text` or `aws:ec2:image`.
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Oldest first; never empty, at most [`MAX_VERSIONS`].
    pub versions: Vec<ParameterVersion>,
}

impl Record for ParameterRecord {
    const KIND: &'static str = "ssm-parameter";
    const VERSION: u32 = 1;
}

impl ParameterRecord {
    /// The latest version.
    pub fn current(&self) -> Option<&ParameterVersion> {
        self.versions.last()
    }

    /// Version `n`, if it is still kept.
    pub fn version(&self, n: i64) -> Option<&ParameterVersion> {
        self.versions.iter().find(|v| v.version == n)
    }

    /// Add the next version, dropping the oldest beyond [`MAX_VERSIONS`].
    pub fn push(&mut self, version: ParameterVersion) {
        self.versions.push(version);
        let extra = self.versions.len().saturating_sub(MAX_VERSIONS);
        self.versions.drain(..extra);
    }
}

/// The ARN of the parameter `name`: `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`, without
/// a doubled slash for a name that starts with one.
pub fn arn(region: &str, account: &str, name: &str) -> String {
    let sep = if name.starts_with('/') { "" } else { "/" };
    format!("arn:aws:ssm:{region}:{account}:parameter{sep}{name}")
}

/// A parameter's ARN, read: region, account and the names it may stand for (a name
/// without a slash stands for the simple name, or for the one-level name `/NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub names: Vec<String>,
}

/// Read `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`; `None` for anything else.
pub fn parse_arn(s: &str) -> Option<ParameterArn<'_>> {
    let rest = s.strip_prefix("arn:aws:ssm:")?;
    let mut parts = rest.splitn(3, ':');
    let region = parts.next()?;
    let account = parts.next()?;
    let name = parts.next()?.strip_prefix("parameter/")?;
    if region.is_empty() || name.is_empty() {
        return None;
    }
    let names = if name.contains('/') {
        vec![format!("/{name}")]
    } else {
        vec![name.to_string(), format!("/{name}")]
    };
    Some(ParameterArn {
        region,
        account,
        names,
    })
}

/// Why a name or path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Breaks the rules for characters, prefixes or slashes (ValidationException).
    #[error("{0}")]
    Invalid(String),
    /// Deeper than [`MAX_LEVELS`] (HierarchyLevelLimitExceededException).
    #[error("A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the AWS Systems Manager User Guide.")]
    TooDeep,
}

const NAME_RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";

fn level_ok(level: &str) -> bool {
    !level.is_empty()
        && level
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Check a parameter's name (as PutParameter is given it: no selector, no ARN).
pub fn check_name(name: &str, region: &str, account: &str) -> Result<(), NameError> {
    let invalid = || NameError::Invalid(NAME_RULES.into());
    let body = name.strip_prefix('/').unwrap_or(name);
    let levels: Vec<&str> = body.split('/').collect();
    if levels.len() > 1 && !name.starts_with('/') {
        return Err(NameError::Invalid(
            "Parameter name must be a fully qualified name: a name with a slash must begin with a slash.".into(),
        ));
    }
    if !levels.iter().all(|l| level_ok(l)) {
        return Err(invalid());
    }
    let first = levels[0].to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(invalid());
    }
    if levels.len() > MAX_LEVELS {
        return Err(NameError::TooDeep);
    }
    if arn(region, account, name).len() > MAX_ARN_LEN {
        return Err(NameError::Invalid(format!(
            "Parameter name is too long: with its ARN's prefix it may be at most {MAX_ARN_LEN} characters."
        )));
    }
    Ok(())
}

/// Check a GetParametersByPath path: `/`, or levels each starting with `/`, at most 15
/// deep; a trailing slash is allowed.
pub fn check_path(path: &str) -> Result<(), NameError> {
    if path == "/" {
        return Ok(());
    }
    let Some(body) = path.strip_prefix('/') else {
        return Err(NameError::Invalid(
            "The parameter path must begin with a forward slash (/).".into(),
        ));
    };
    let body = body.strip_suffix('/').unwrap_or(body);
    let levels: Vec<&str> = body.split('/').collect();
    if !levels.iter().all(|l| level_ok(l)) {
        return Err(NameError::Invalid(NAME_RULES.into()));
    }
    if levels.len() > MAX_LEVELS {
        return Err(NameError::TooDeep);
    }
    Ok(())
}

/// Compile an AllowedPattern (at most 1024 characters of a regular expression).
pub fn allowed_pattern(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.chars().count() > 1024 {
        return Err("The allowed pattern must be at most 1024 characters long.".into());
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|_| format!("The allowed pattern {pattern} is not a valid regular expression."))
}

/// Whether the parameter `name` is under `path`: directly, or at any depth when
/// `recursive`.
pub fn in_path(name: &str, path: &str, recursive: bool) -> bool {
    let prefix = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    let name = if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/{name}")
    };
    match name.strip_prefix(&prefix) {
        Some(rest) if !rest.is_empty() => recursive || !rest.contains('/'),
        _ => false,
    }
}

/// What follows a name's `:` in GetParameter: a version or a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Version(i64),
    Label(String),
}

/// Split `name:selector` (the name may be an ARN, whose own colons come first).
pub fn split_selector(s: &str) -> (&str, Option<Selector>) {
    let start = if s.starts_with("arn:") {
        // arn:aws:ssm:REGION:ACCOUNT:parameter/NAME[:SELECTOR]
        s.match_indices(':').nth(4).map_or(s.len(), |(i, _)| i + 1)
    } else {
        0
    };
    match s[start..].rfind(':') {
        None => (s, None),
        Some(i) => {
            let (name, selector) = (&s[..start + i], &s[start + i + 1..]);
            let selector = match selector.parse::<i64>() {
                Ok(n) => Selector::Version(n),
                Err(_) => Selector::Label(selector.to_string()),
            };
            (name, Some(selector))
        }
    }
}

/// A `ParameterFilters` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterKey {
    Name,
    Type,
    KeyId,
    Path,
    Tier,
    DataType,
    Label,
    /// `tag:KEY`.
    Tag(String),
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOption {
    Equals,
    BeginsWith,
    Contains,
    Recursive,
    OneLevel,
}

/// Which of SSM's errors a refused filter is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterErrorKind {
    Key,
    Option,
    Value,
}

/// A refused filter: which error and what it says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub kind: FilterErrorKind,
    pub message: String,
}

fn filter_error(kind: FilterErrorKind, message: String) -> FilterError {
    FilterError { kind, message }
}

/// One parameter filter (`ParameterStringFilter`): a parameter passes when one value
/// matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterFilter {
    pub key: FilterKey,
    pub option: FilterOption,
    pub values: Vec<String>,
}

impl ParameterFilter {
    /// A filter from the wire, checked as SSM checks it; `by_path` for GetParametersByPath,
    /// which takes only Type, KeyId, Label and tags.
    pub fn new(
        key: &str,
        option: Option<&str>,
        values: Vec<String>,
        by_path: bool,
    ) -> Result<ParameterFilter, FilterError> {
        use FilterErrorKind as K;
        let parsed = match key {
            "Name" => FilterKey::Name,
            "Type" => FilterKey::Type,
            "KeyId" => FilterKey::KeyId,
            "Path" => FilterKey::Path,
            "Tier" => FilterKey::Tier,
            "DataType" => FilterKey::DataType,
            "Label" => FilterKey::Label,
            k if k.starts_with("tag:") && k.len() > 4 => FilterKey::Tag(k[4..].to_string()),
            _ => {
                return Err(filter_error(
                    K::Key,
                    format!("The following filter key is not valid: {key}. Valid filter keys include: [Path, Name, Type, KeyId, Tier, DataType, Label, tag:KEY]."),
                ))
            }
        };
        if by_path
            && !matches!(
                parsed,
                FilterKey::Type | FilterKey::KeyId | FilterKey::Label | FilterKey::Tag(_)
            )
        {
            return Err(filter_error(
                K::Key,
                format!("The following filter key is not valid: {key}. Valid filter keys include: [Type, KeyId, Label, tag:KEY]."),
            ));
        }
        let allowed: &[(&str, FilterOption)] = match parsed {
            FilterKey::Name => &[
                ("Equals", FilterOption::Equals),
                ("BeginsWith", FilterOption::BeginsWith),
                ("Contains", FilterOption::Contains),
            ],
            FilterKey::Path => &[
                ("Recursive", FilterOption::Recursive),
                ("OneLevel", FilterOption::OneLevel),
            ],
            FilterKey::Type | FilterKey::Tier | FilterKey::DataType | FilterKey::Label => {
                &[("Equals", FilterOption::Equals)]
            }
            FilterKey::KeyId | FilterKey::Tag(_) => &[
                ("Equals", FilterOption::Equals),
                ("BeginsWith", FilterOption::BeginsWith),
            ],
        };
        let option = match option {
            None => allowed[0].1,
            Some(o) => allowed
                .iter()
                .find(|(name, _)| *name == o)
                .map(|(_, opt)| *opt)
                .ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                    filter_error(
                        K::Option,
                        format!("The following filter option is not valid: {o}. Valid options include: [{}].", names.join(", ")),
                    )
                })?,
        };
        let needs_values = !matches!(parsed, FilterKey::Tag(_));
        if (needs_values && values.is_empty()) || values.len() > 50 {
            return Err(filter_error(
                K::Value,
                format!("The filter {key} needs 1 to 50 values."),
            ));
        }
        if let Some(v) = values
            .iter()
            .find(|v| v.is_empty() || v.chars().count() > 1024)
        {
            return Err(filter_error(
                K::Value,
                format!("The following filter value is not valid: {v}. A value is 1 to 1024 characters long."),
            ));
        }
        if parsed == FilterKey::Type {
            if let Some(v) = values.iter().find(|v| ParameterType::parse(v).is_none()) {
                return Err(filter_error(
                    K::Value,
                    format!("The following filter value is not valid: {v}. Valid values include: [String, StringList, SecureString]."),
                ));
            }
        }
        if parsed == FilterKey::Path {
            if let Some(v) = values.iter().find(|v| check_path(v).is_err()) {
                return Err(filter_error(
                    K::Value,
                    format!("The following filter value is not valid: {v}. A path begins with a forward slash (/)."),
                ));
            }
        }
        Ok(ParameterFilter {
            key: parsed,
            option,
            values,
        })
    }

    /// Whether `parameter` passes.
    pub fn matches(&self, parameter: &ParameterRecord) -> bool {
        let Some(current) = parameter.current() else {
            return false;
        };
        let compare = |have: &str, want: &str| match self.option {
            FilterOption::Equals => have == want,
            FilterOption::BeginsWith => have.starts_with(want),
            FilterOption::Contains => have.contains(want),
            FilterOption::Recursive => in_path(have, want, true),
            FilterOption::OneLevel => in_path(have, want, false),
        };
        let any = |have: &str| self.values.iter().any(|want| compare(have, want));
        match &self.key {
            FilterKey::Name => {
                // Names match with or without their leading slash, as SSM's do.
                let bare = parameter.name.trim_start_matches('/');
                self.values.iter().any(|want| {
                    compare(&parameter.name, want) || compare(bare, want.trim_start_matches('/'))
                })
            }
            FilterKey::Path => any(&parameter.name),
            FilterKey::Type => any(current.kind.as_str()),
            FilterKey::KeyId => current.key_id.as_deref().is_some_and(any),
            FilterKey::Tier => any(parameter.tier.as_str()),
            FilterKey::DataType => any(&parameter.data_type),
            // Flotilla's parameters carry no labels.
            FilterKey::Label => false,
            FilterKey::Tag(key) => parameter
                .tags
                .iter()
                .any(|(k, v)| k == key && (self.values.is_empty() || any(v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(name: &str) -> ParameterRecord {
        ParameterRecord {
            name: name.into(),
            description: None,
            tier: Tier::Standard,
            data_type: "text".into(),
            allowed_pattern: None,
            tags: vec![("env".into(), "prod".into())],
            versions: vec![ParameterVersion {
                version: 1,
                kind: ParameterType::String,
                value: StoredValue::Plain("v".into()),
                key_id: None,
                modified_at: DateTime::from_timestamp(0, 0).unwrap(),
                modified_by: "arn:aws:iam::000000000000:root".into(),
            }],
        }
    }

    #[test]
    fn names_follow_ssms_rules() {
        let ok = |n: &str| check_name(n, "us-east-1", "000000000000");
        assert!(ok("db-host").is_ok());
        assert!(ok("/prod/db/host_1.x").is_ok());
        assert!(matches!(ok("prod/db"), Err(NameError::Invalid(_))));
        assert!(matches!(ok("/aws/x"), Err(NameError::Invalid(_))));
        assert!(matches!(ok("SSM-thing"), Err(NameError::Invalid(_))));
        assert!(matches!(ok("/a b"), Err(NameError::Invalid(_))));
        assert!(matches!(ok("/a//b"), Err(NameError::Invalid(_))));
        assert!(matches!(ok("/a/"), Err(NameError::Invalid(_))));
        let deep = "/l".repeat(15);
        assert!(ok(&deep).is_ok());
        assert_eq!(ok(&format!("{deep}/x")), Err(NameError::TooDeep));
        assert!(matches!(ok(&"x".repeat(1000)), Err(NameError::Invalid(_))));
        assert!(check_path("/").is_ok() && check_path("/a/b/").is_ok());
        assert!(check_path("a").is_err());
    }

    #[test]
    fn arns_and_selectors() {
        assert_eq!(
            arn("us-east-1", "1", "/a/b"),
            "arn:aws:ssm:us-east-1:1:parameter/a/b"
        );
        assert_eq!(
            arn("us-east-1", "1", "x"),
            "arn:aws:ssm:us-east-1:1:parameter/x"
        );
        let p = parse_arn("arn:aws:ssm:us-east-1:1:parameter/a/b").unwrap();
        assert_eq!(p.names, vec!["/a/b".to_string()]);
        let p = parse_arn("arn:aws:ssm:us-east-1:1:parameter/x").unwrap();
        assert_eq!(p.names, vec!["x".to_string(), "/x".to_string()]);
        assert!(parse_arn("arn:aws:ssm:us-east-1:1:document/x").is_none());
        assert_eq!(
            split_selector("/a/b:3"),
            ("/a/b", Some(Selector::Version(3)))
        );
        assert_eq!(
            split_selector("x:live"),
            ("x", Some(Selector::Label("live".into())))
        );
        assert_eq!(split_selector("x"), ("x", None));
        assert_eq!(
            split_selector("arn:aws:ssm:us-east-1:1:parameter/x:2"),
            (
                "arn:aws:ssm:us-east-1:1:parameter/x",
                Some(Selector::Version(2))
            )
        );
        assert_eq!(
            split_selector("arn:aws:ssm:us-east-1:1:parameter/x"),
            ("arn:aws:ssm:us-east-1:1:parameter/x", None)
        );
    }

    #[test]
    fn paths_and_filters() {
        assert!(in_path("/a/b", "/a", false));
        assert!(in_path("/a/b", "/a/", false));
        assert!(!in_path("/a/b/c", "/a", false));
        assert!(in_path("/a/b/c", "/a", true));
        assert!(!in_path("/ab", "/a", true));
        assert!(in_path("simple", "/", false));
        assert!(!in_path("/a", "/a", true));
        let p = parameter("/prod/db/host");
        let f = |k: &str, o: Option<&str>, v: &[&str]| {
            ParameterFilter::new(k, o, v.iter().map(|s| s.to_string()).collect(), false)
        };
        assert!(f("Name", Some("BeginsWith"), &["/prod"])
            .unwrap()
            .matches(&p));
        assert!(f("Name", Some("BeginsWith"), &["prod"])
            .unwrap()
            .matches(&p));
        assert!(f("Name", None, &["/prod/db/host"]).unwrap().matches(&p));
        assert!(!f("Name", None, &["/prod"]).unwrap().matches(&p));
        assert!(f("Path", None, &["/prod"]).unwrap().matches(&p));
        assert!(!f("Path", Some("OneLevel"), &["/prod"]).unwrap().matches(&p));
        assert!(f("Type", None, &["String"]).unwrap().matches(&p));
        assert!(f("tag:env", None, &[]).unwrap().matches(&p));
        assert!(!f("tag:env", None, &["dev"]).unwrap().matches(&p));
        assert_eq!(
            f("Colour", None, &["x"]).unwrap_err().kind,
            FilterErrorKind::Key
        );
        assert_eq!(
            f("Type", Some("BeginsWith"), &["S"]).unwrap_err().kind,
            FilterErrorKind::Option
        );
        assert_eq!(
            f("Type", None, &["Int"]).unwrap_err().kind,
            FilterErrorKind::Value
        );
        assert_eq!(
            ParameterFilter::new("Name", None, vec!["x".into()], true)
                .unwrap_err()
                .kind,
            FilterErrorKind::Key
        );
    }

    #[test]
    fn keeps_the_last_hundred_versions() {
        let mut p = parameter("x");
        for n in 2..=105 {
            let mut v = p.versions[0].clone();
            v.version = n;
            p.push(v);
        }
        assert_eq!(p.versions.len(), MAX_VERSIONS);
        assert_eq!(p.versions[0].version, 6);
        assert_eq!(p.current().unwrap().version, 105);
    }
}
