//! SSM Parameter Store's operations: put a version (a SecureString's value sealed with the
//! server's key), read one by name, ARN and `:version`, list by path or filters, delete.
//!
//! Each parameter is one record holding its last 100 versions, written with
//! compare-and-swap. A SecureString's value is opened only when a caller asks for it
//! decrypted ([`value`]); otherwise it is answered as its sealed envelope in base64, an
//! opaque ciphertext as SSM answers one. Errors are [`SsmError`], which `flotilla-api` maps
//! to SSM's codes in one place; none of them carries a value.

use std::sync::Arc;

use flotilla_model::record::encode;
use flotilla_model::secrets::parameter::{
    self, allowed_pattern, check_name, check_path, in_path, split_selector, FilterError, NameError,
    ParameterFilter, ParameterRecord, ParameterType, ParameterVersion, Selector, StoredValue, Tier,
    DEFAULT_KEY_ID,
};
use flotilla_model::secrets::sealed::Plaintext;
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Txn};

use super::crypto::CryptoError;
use super::ATTEMPTS;
use crate::{keys, ControlError, State};

/// Why an SSM operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SsmError {
    /// ParameterNotFound.
    #[error("{0}")]
    NotFound(String),
    /// ParameterAlreadyExists (PutParameter without Overwrite).
    #[error("{0}")]
    AlreadyExists(String),
    /// ParameterVersionNotFound.
    #[error("{0}")]
    VersionNotFound(String),
    /// ValidationException.
    #[error("{0}")]
    Validation(String),
    /// HierarchyLevelLimitExceededException.
    #[error("{0}")]
    TooDeep(String),
    /// InvalidKeyId: a KeyId SSM cannot use.
    #[error("{0}")]
    InvalidKeyId(String),
    /// InvalidAllowedPatternException.
    #[error("{0}")]
    InvalidAllowedPattern(String),
    /// ParameterPatternMismatchException.
    #[error("{0}")]
    PatternMismatch(String),
    /// InvalidFilterKey, InvalidFilterOption or InvalidFilterValue.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A SecureString could not be sealed or opened with the server's key.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<NameError> for SsmError {
    fn from(e: NameError) -> Self {
        match e {
            NameError::Invalid(m) => SsmError::Validation(m),
            NameError::TooDeep => SsmError::TooDeep(e.to_string()),
        }
    }
}

fn not_found(name: &str) -> SsmError {
    SsmError::NotFound(format!("Parameter {name} not found."))
}

/// The additional data a version's value is sealed with: which parameter and version.
fn context(region: &str, name: &str, version: i64) -> String {
    format!("ssm:{region}:{name}#{version}")
}

/// PutParameter's choice of tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierChoice {
    Standard,
    Advanced,
    /// Standard when the value fits, Advanced otherwise.
    IntelligentTiering,
}

/// What PutParameter is given. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Put {
    pub name: String,
    pub value: String,
    pub kind: Option<ParameterType>,
    pub description: Option<String>,
    pub key_id: Option<String>,
    pub overwrite: bool,
    pub allowed_pattern: Option<String>,
    pub tags: Vec<(String, String)>,
    pub tier: Option<TierChoice>,
    pub data_type: Option<String>,
    /// The ARN of the caller.
    pub modified_by: String,
}

impl std::fmt::Debug for Put {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("value_len", &self.value.len())
            .field("overwrite", &self.overwrite)
            .finish_non_exhaustive()
    }
}

const DATA_TYPES: &[&str] = &["text", "aws:ec2:image", "aws:ssm:integration"];

fn check_put(p: &Put) -> Result<(), SsmError> {
    if p.value.is_empty() {
        return Err(SsmError::Validation(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1.".into(),
        ));
    }
    if let Some(d) = &p.description {
        if d.chars().count() > 1024 {
            return Err(SsmError::Validation(
                "The description must be at most 1024 characters long.".into(),
            ));
        }
    }
    if let Some(k) = &p.key_id {
        let ok = (1..=256).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b));
        if !ok {
            return Err(SsmError::InvalidKeyId(format!(
                "The KeyId {k} is not valid: it holds 1 to 256 letters, digits and :/_-"
            )));
        }
    }
    if !p.tags.is_empty() && p.overwrite {
        return Err(SsmError::Validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.".into(),
        ));
    }
    if p.tags.len() > 50 {
        return Err(SsmError::Validation(
            "A parameter can have at most 50 tags.".into(),
        ));
    }
    for (k, v) in &p.tags {
        if !(1..=128).contains(&k.chars().count()) || v.chars().count() > 256 {
            return Err(SsmError::Validation(format!(
                "The tag {k} is not valid: keys are 1 to 128 characters, values at most 256."
            )));
        }
    }
    if let Some(t) = p.data_type.as_deref().filter(|t| !DATA_TYPES.contains(t)) {
        return Err(SsmError::Validation(format!(
            "The following data type is not supported: {t} (Data type names are all lowercase.)"
        )));
    }
    Ok(())
}

/// The tier a value is put in: the one asked for (never down from Advanced), else the
/// parameter's, else Standard; the value must fit it.
fn tier(choice: Option<TierChoice>, had: Option<Tier>, len: usize) -> Result<Tier, SsmError> {
    let tier = match (choice, had) {
        (Some(TierChoice::Standard), Some(Tier::Advanced)) => {
            return Err(SsmError::Validation(
                "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.".into(),
            ))
        }
        (Some(TierChoice::Standard), _) => Tier::Standard,
        (Some(TierChoice::Advanced), _) | (_, Some(Tier::Advanced)) => Tier::Advanced,
        (Some(TierChoice::IntelligentTiering), _) if len > Tier::Standard.max_value() => {
            Tier::Advanced
        }
        _ => Tier::Standard,
    };
    if len > tier.max_value() {
        return Err(SsmError::Validation(match tier {
            Tier::Standard => "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html".into(),
            Tier::Advanced => "Advanced tier parameters support a maximum parameter value of 8192 characters.".into(),
        }));
    }
    Ok(tier)
}

/// PutParameter: a new parameter, or with `overwrite` the next version of one. Answers
/// the version and the tier.
pub async fn put(state: &State, scope: &Scope, p: Put) -> Result<(i64, Tier), SsmError> {
    check_name(&p.name, &scope.region, &scope.account)?;
    check_put(&p)?;
    let key = keys::parameter(&scope.region, &p.name);
    let len = p.value.chars().count();
    for _ in 0..ATTEMPTS {
        let existing = state.secrets().parameters.get(key.as_bytes());
        let (mut record, revision) = match &existing {
            Some(_) if !p.overwrite => {
                return Err(SsmError::AlreadyExists(
                    "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.".into(),
                ))
            }
            Some(e) => ((*e.value).clone(), e.mod_revision),
            None => {
                let Some(_) = p.kind else {
                    return Err(SsmError::Validation(
                        "A parameter type is required when you create a parameter.".into(),
                    ));
                };
                let record = ParameterRecord {
                    name: p.name.clone(),
                    description: None,
                    tier: Tier::Standard,
                    data_type: "text".into(),
                    allowed_pattern: None,
                    tags: p.tags.clone(),
                    versions: vec![],
                };
                (record, 0)
            }
        };
        let current = record.current().cloned();
        let kind = p
            .kind
            .or(current.as_ref().map(|v| v.kind))
            .unwrap_or(ParameterType::String);
        if p.key_id.is_some() && kind != ParameterType::SecureString {
            return Err(SsmError::Validation(
                "KeyId is required for SecureString type parameter only.".into(),
            ));
        }
        record.tier = tier(p.tier, existing.as_ref().map(|e| e.value.tier), len)?;
        if let Some(pattern) = &p.allowed_pattern {
            record.allowed_pattern = Some(pattern.clone());
        }
        if let Some(pattern) = &record.allowed_pattern {
            let re = allowed_pattern(pattern).map_err(SsmError::InvalidAllowedPattern)?;
            if !re.is_match(&p.value) {
                return Err(SsmError::PatternMismatch(format!(
                    "Parameter value, cannot be validated against allowedPattern: {pattern}"
                )));
            }
        }
        if let Some(d) = &p.description {
            record.description = Some(d.clone());
        }
        if let Some(t) = &p.data_type {
            record.data_type = t.clone();
        }
        let version = current.as_ref().map_or(1, |v| v.version + 1);
        let (value, key_id) = match kind {
            ParameterType::SecureString => {
                let key_id = p
                    .key_id
                    .clone()
                    .or_else(|| current.as_ref().and_then(|v| v.key_id.clone()))
                    .unwrap_or_else(|| DEFAULT_KEY_ID.to_string());
                let plain = Plaintext::new(p.value.as_bytes().to_vec());
                let sealed = state
                    .secrets_key()
                    .seal(&context(&scope.region, &p.name, version), &plain)?;
                (StoredValue::Sealed(sealed), Some(key_id))
            }
            _ => (StoredValue::Plain(p.value.clone()), None),
        };
        record.push(ParameterVersion {
            version,
            kind,
            value,
            key_id,
            modified_at: state.clock().now(),
            modified_by: p.modified_by.clone(),
        });
        if state
            .put_if_unchanged(&key, revision, encode(&record))
            .await?
        {
            return Ok((version, record.tier));
        }
    }
    Err(ControlError::Contended(format!("The parameter {} kept changing; retry.", p.name)).into())
}

/// The record of the parameter `name` (a name or an ARN, no selector) in the scope.
fn lookup(state: &State, scope: &Scope, name: &str) -> Option<Arc<ParameterRecord>> {
    let view = &state.secrets().parameters;
    let get = |n: &str| {
        view.get(keys::parameter(&scope.region, n).as_bytes())
            .map(|e| e.value)
    };
    match parameter::parse_arn(name) {
        Some(arn) if arn.region == scope.region && arn.account == scope.account => {
            arn.names.iter().find_map(|n| get(n))
        }
        Some(_) => None,
        None => get(name),
    }
}

/// One version of a parameter, as GetParameter found it.
#[derive(Debug, Clone)]
pub struct Found {
    pub record: Arc<ParameterRecord>,
    /// Its index in `record.versions`.
    index: usize,
    /// The `:version` or `:label` the request named, as given.
    pub selector: Option<String>,
}

impl Found {
    pub fn version(&self) -> &ParameterVersion {
        &self.record.versions[self.index]
    }
}

/// GetParameter: the parameter `name` names (its name or ARN, optionally with
/// `:version`), at that version or its latest.
pub fn get(state: &State, scope: &Scope, name: &str) -> Result<Found, SsmError> {
    let (bare, selector) = split_selector(name);
    let record = lookup(state, scope, bare).ok_or_else(|| not_found(bare))?;
    let index = match &selector {
        None => record.versions.len().checked_sub(1),
        Some(Selector::Version(n)) => record.versions.iter().position(|v| v.version == *n),
        // Flotilla's parameters carry no labels, so no label names a version.
        Some(Selector::Label(_)) => None,
    };
    let Some(index) = index else {
        let what = match &selector {
            Some(Selector::Label(l)) => format!("label {l}"),
            Some(Selector::Version(n)) => format!("version {n}"),
            None => "any version".into(),
        };
        return Err(SsmError::VersionNotFound(format!(
            "Systems Manager could not find {what} of {bare}. Verify the version and try again."
        )));
    };
    let selector = selector.map(|_| name[bare.len()..].to_string());
    Ok(Found {
        record,
        index,
        selector,
    })
}

/// A version's value as SSM answers it: a String's as stored; a SecureString's opened
/// when `decrypt`, else its sealed envelope in base64.
pub fn value(
    state: &State,
    scope: &Scope,
    record: &ParameterRecord,
    version: &ParameterVersion,
    decrypt: bool,
) -> Result<String, SsmError> {
    match &version.value {
        StoredValue::Plain(v) => Ok(v.clone()),
        StoredValue::Sealed(sealed) if !decrypt => Ok(sealed.to_text()),
        StoredValue::Sealed(sealed) => {
            let plain = state.secrets_key().open(
                &context(&scope.region, &record.name, version.version),
                sealed,
            )?;
            String::from_utf8(plain.as_bytes().to_vec()).map_err(|_| CryptoError::Damaged.into())
        }
    }
}

/// The scope's parameters in name order, those `filters` all pass.
pub fn list(
    state: &State,
    scope: &Scope,
    filters: &[ParameterFilter],
) -> Vec<Arc<ParameterRecord>> {
    state
        .secrets()
        .parameters
        .range(keys::parameters(&scope.region).as_bytes())
        .into_iter()
        .map(|(_, e)| e.value)
        .filter(|p| filters.iter().all(|f| f.matches(p)))
        .collect()
}

/// GetParametersByPath: the parameters under `path` (directly, or at any depth when
/// `recursive`) that `filters` all pass, in name order.
pub fn by_path(
    state: &State,
    scope: &Scope,
    path: &str,
    recursive: bool,
    filters: &[ParameterFilter],
) -> Result<Vec<Arc<ParameterRecord>>, SsmError> {
    check_path(path)?;
    let mut found = list(state, scope, filters);
    found.retain(|p| in_path(&p.name, path, recursive));
    Ok(found)
}

/// DeleteParameter.
pub async fn delete(state: &State, scope: &Scope, name: &str) -> Result<(), SsmError> {
    let key = keys::parameter(&scope.region, name);
    for _ in 0..ATTEMPTS {
        let entry = state
            .secrets()
            .parameters
            .get(key.as_bytes())
            .ok_or_else(|| not_found(name))?;
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key.clone())],
            failure: vec![],
        };
        // A put that won meanwhile made a version the caller did not see: delete again.
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The parameter {name} kept changing; retry.")).into())
}

/// DeleteParameters: the names deleted and the names not found, each in request order.
pub async fn delete_many(
    state: &State,
    scope: &Scope,
    names: &[String],
) -> Result<(Vec<String>, Vec<String>), SsmError> {
    let (mut deleted, mut invalid) = (vec![], vec![]);
    for name in names {
        match delete(state, scope, name).await {
            Ok(()) => deleted.push(name.clone()),
            Err(SsmError::NotFound(_)) => invalid.push(name.clone()),
            Err(e) => return Err(e),
        }
    }
    Ok((deleted, invalid))
}
