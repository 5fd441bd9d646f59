//! Secrets Manager's operations on secrets: every write a compare-and-swap of the secret's
//! one record, every value sealed with the server's key before it is written and opened
//! only to answer GetSecretValue (or to compare a retried request's value).
//!
//! A secret is named by its name, its full ARN (with the six-character suffix) or a
//! partial ARN (without it), in the request's region ([`find`]). A secret whose deletion
//! date passed is gone for every operation, whether or not [`reap`] removed its record
//! yet. Errors are [`SecretsError`], which `flotilla-api` maps to Secrets Manager's codes in
//! one place; none of them carries a value.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::record::encode;
use flotilla_model::secrets::sealed::SecretValue;
use flotilla_model::secrets::secret::{
    self, check_client_token, check_description, check_name, check_stage, check_tag, SecretRecord,
    SecretVersion, AWSCURRENT, MAX_RECOVERY_DAYS, MAX_STAGES, MAX_TAGS, MAX_VALUE_BYTES,
    MIN_RECOVERY_DAYS,
};
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Txn};

use super::crypto::CryptoError;
use super::ATTEMPTS;
use crate::{keys, ControlError, Entry, State};

/// Why a Secrets Manager operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretsError {
    /// No such secret, version or label (ResourceNotFoundException).
    #[error("{0}")]
    NotFound(String),
    /// The secret or version exists already (ResourceExistsException).
    #[error("{0}")]
    Exists(String),
    /// A parameter value Secrets Manager refuses (InvalidParameterException).
    #[error("{0}")]
    InvalidParameter(String),
    /// Not allowed in the secret's state, e.g. scheduled for deletion
    /// (InvalidRequestException).
    #[error("{0}")]
    InvalidRequest(String),
    /// A parameter breaks the API's constraints (ValidationException).
    #[error("{0}")]
    Validation(String),
    /// A quota, such as the 64 KiB value (LimitExceededException).
    #[error("{0}")]
    Limit(String),
    /// A value could not be sealed or opened with the server's key.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Control(#[from] ControlError),
}

fn not_found() -> SecretsError {
    SecretsError::NotFound("Secrets Manager can't find the specified secret.".into())
}

fn marked_for_deletion() -> SecretsError {
    SecretsError::InvalidRequest(
        "You can't perform this operation on the secret because it was marked for deletion.".into(),
    )
}

fn contended(id: &str) -> SecretsError {
    ControlError::Contended(format!("The secret {id} kept changing; retry.")).into()
}

/// The additional data a version's value is sealed with: which secret and version it is.
fn context(arn: &str, version_id: &str) -> String {
    format!("secretsmanager:{arn}#{version_id}")
}

/// Check a value against the 64 KiB quota (and the 1-byte minimum).
fn check_value(value: &SecretValue) -> Result<(), SecretsError> {
    if value.is_empty() {
        return Err(SecretsError::Validation(
            "A secret value must not be empty.".into(),
        ));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(SecretsError::Limit(format!(
            "The secret value is {} bytes long; Secrets Manager stores at most {MAX_VALUE_BYTES} bytes per version.",
            value.len()
        )));
    }
    Ok(())
}

fn check_tags(tags: &[(String, String)]) -> Result<(), SecretsError> {
    if tags.len() > MAX_TAGS {
        return Err(SecretsError::Limit(format!(
            "A secret can have at most {MAX_TAGS} tags."
        )));
    }
    tags.iter()
        .try_for_each(|(k, v)| check_tag(k, v))
        .map_err(SecretsError::InvalidParameter)
}

/// The secret `secret_id` names (a name, a full ARN or a partial ARN) in the scope,
/// scheduled for deletion or not; a secret whose deletion date passed is not found.
pub fn find(
    state: &State,
    scope: &Scope,
    secret_id: &str,
) -> Result<Entry<SecretRecord>, SecretsError> {
    let view = &state.secrets().secrets;
    let now = state.clock().now();
    let get = |name: &str| {
        view.get(keys::secret(&scope.region, name).as_bytes())
            .filter(|e| !e.value.lapsed(now))
    };
    let Some(arn) = secret::parse_arn(secret_id) else {
        return get(secret_id).ok_or_else(not_found);
    };
    if arn.region != scope.region || arn.account != scope.account {
        return Err(not_found());
    }
    // A full ARN: the name, `-` and six characters.
    let full = arn
        .rest
        .len()
        .checked_sub(7)
        .filter(|&cut| arn.rest.as_bytes()[cut] == b'-')
        .and_then(|cut| arn.rest.get(..cut))
        .and_then(get)
        .filter(|e| e.value.arn == secret_id);
    full.or_else(|| get(arn.rest)).ok_or_else(not_found)
}

/// The secret `secret_id` names, refused when it is scheduled for deletion.
fn find_live(
    state: &State,
    scope: &Scope,
    secret_id: &str,
) -> Result<Entry<SecretRecord>, SecretsError> {
    let entry = find(state, scope, secret_id)?;
    if entry.value.scheduled_for_deletion() {
        return Err(marked_for_deletion());
    }
    Ok(entry)
}

/// What CreateSecret is given.
#[derive(Debug, Clone, Default)]
pub struct NewSecret {
    pub name: String,
    pub client_token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub value: Option<SecretValue>,
    pub tags: Vec<(String, String)>,
}

/// A secret and, when a value was written, the version that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub arn: String,
    pub name: String,
    pub version_id: Option<String>,
    /// The labels of that version.
    pub stages: Vec<String>,
}

/// A version id: the client's token, checked, or a new UUID.
fn version_id(token: Option<&str>) -> Result<String, SecretsError> {
    match token {
        Some(t) => {
            check_client_token(t).map_err(SecretsError::Validation)?;
            Ok(t.to_string())
        }
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// CreateSecret. Sent again with the same client token and value, it answers as the first
/// time.
pub async fn create(state: &State, scope: &Scope, new: NewSecret) -> Result<Written, SecretsError> {
    check_name(&new.name).map_err(SecretsError::Validation)?;
    if let Some(d) = &new.description {
        check_description(d).map_err(SecretsError::Validation)?;
    }
    if let Some(v) = &new.value {
        check_value(v)?;
    }
    check_tags(&new.tags)?;
    let version = version_id(new.client_token.as_deref())?;
    let key = keys::secret(&scope.region, &new.name);
    let now = state.clock().now();
    for _ in 0..ATTEMPTS {
        let existing = state.secrets().secrets.get(key.as_bytes());
        let replaces = match &existing {
            Some(e) if e.value.lapsed(now) => e.mod_revision,
            Some(e) if e.value.scheduled_for_deletion() => {
                return Err(SecretsError::InvalidRequest(
                    "You can't create this secret because a secret with this name is already scheduled for deletion.".into(),
                ))
            }
            Some(e) => return retried_create(state, &e.value, &new, &version),
            None => 0,
        };
        let arn = secret::arn(
            &scope.region,
            &scope.account,
            &new.name,
            &secret::new_suffix(),
        );
        let mut record = SecretRecord {
            name: new.name.clone(),
            arn: arn.clone(),
            description: new.description.clone(),
            kms_key_id: new.kms_key_id.clone(),
            created_at: now,
            last_changed_at: now,
            deletion_date: None,
            tags: new.tags.clone(),
            versions: vec![],
        };
        let mut stages = vec![];
        if let Some(value) = &new.value {
            let sealed = state
                .secrets_key()
                .seal(&context(&arn, &version), &value.encode())?;
            record.add_version(
                SecretVersion {
                    version_id: version.clone(),
                    stages: vec![],
                    created_at: now,
                    value: sealed,
                },
                &[],
            );
            stages.push(AWSCURRENT.to_string());
        }
        if state
            .put_if_unchanged(&key, replaces, encode(&record))
            .await?
        {
            return Ok(Written {
                arn,
                name: record.name,
                version_id: new.value.is_some().then_some(version),
                stages,
            });
        }
    }
    Err(contended(&new.name))
}

/// CreateSecret for a name that exists: the first answer again when this is a retry of
/// the request that made it (same token, same value), ResourceExists otherwise.
fn retried_create(
    state: &State,
    existing: &SecretRecord,
    new: &NewSecret,
    version: &str,
) -> Result<Written, SecretsError> {
    let exists = || {
        SecretsError::Exists(format!(
            "The operation failed because the secret {} already exists.",
            new.name
        ))
    };
    let (Some(token), Some(value)) = (&new.client_token, &new.value) else {
        return Err(exists());
    };
    match existing.by_id(token) {
        Some(v) if &reveal(state, existing, v)? == value => Ok(Written {
            arn: existing.arn.clone(),
            name: existing.name.clone(),
            version_id: Some(version.to_string()),
            stages: v.stages.clone(),
        }),
        _ => Err(exists()),
    }
}

/// Open a version's value.
fn reveal(
    state: &State,
    secret: &SecretRecord,
    version: &SecretVersion,
) -> Result<SecretValue, SecretsError> {
    let plain = state
        .secrets_key()
        .open(&context(&secret.arn, &version.version_id), &version.value)?;
    SecretValue::decode(&plain).map_err(|_| CryptoError::Damaged.into())
}

/// A version's value as GetSecretValue answers it. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Revealed {
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub stages: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub value: SecretValue,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed")
            .field("arn", &self.arn)
            .field("version_id", &self.version_id)
            .field("stages", &self.stages)
            .field("value", &self.value)
            .finish()
    }
}

/// GetSecretValue: the version `version_id` names, or the one labelled `stage`
/// (AWSCURRENT when neither is given; both must name the same version).
pub fn get_value(
    state: &State,
    scope: &Scope,
    secret_id: &str,
    version_id: Option<&str>,
    stage: Option<&str>,
) -> Result<Revealed, SecretsError> {
    let entry = find_live(state, scope, secret_id)?;
    let secret = &entry.value;
    let version = match (version_id, stage) {
        (Some(id), stage) => {
            let v = secret.by_id(id).ok_or_else(|| {
                SecretsError::NotFound(format!(
                    "Secrets Manager can't find the specified secret value for VersionId: {id}"
                ))
            })?;
            if let Some(stage) = stage.filter(|s| !v.stages.iter().any(|have| have == s)) {
                return Err(SecretsError::NotFound(format!(
                    "Secrets Manager can't find the specified secret value for VersionId: {id} and staging label: {stage}"
                )));
            }
            v
        }
        (None, stage) => {
            let stage = stage.unwrap_or(AWSCURRENT);
            secret.by_stage(stage).ok_or_else(|| {
                SecretsError::NotFound(format!(
                    "Secrets Manager can't find the specified secret value for staging label: {stage}"
                ))
            })?
        }
    };
    Ok(Revealed {
        arn: secret.arn.clone(),
        name: secret.name.clone(),
        version_id: version.version_id.clone(),
        stages: version.stages.clone(),
        created_at: version.created_at,
        value: reveal(state, secret, version)?,
    })
}

/// A new version: PutSecretValue's (or UpdateSecret's) value and labels.
#[derive(Clone)]
pub struct NewVersion {
    pub client_token: Option<String>,
    pub value: SecretValue,
    /// AWSCURRENT when empty.
    pub stages: Vec<String>,
}

/// Add `new` to `secret` (already a copy of the stored record); `false` when it is a retry
/// of a version that exists with the same value (nothing to write).
fn add_version(
    state: &State,
    secret: &mut SecretRecord,
    new: &NewVersion,
    version: &str,
    now: DateTime<Utc>,
) -> Result<bool, SecretsError> {
    if let Some(existing) = secret.by_id(version) {
        if reveal(state, secret, existing)? == new.value {
            return Ok(false);
        }
        return Err(SecretsError::Exists(
            "You can't modify an existing version, you can only create new versions.".into(),
        ));
    }
    let sealed = state
        .secrets_key()
        .seal(&context(&secret.arn, version), &new.value.encode())?;
    secret.add_version(
        SecretVersion {
            version_id: version.to_string(),
            stages: vec![],
            created_at: now,
            value: sealed,
        },
        &new.stages,
    );
    Ok(true)
}

fn check_new_version(new: &NewVersion) -> Result<String, SecretsError> {
    check_value(&new.value)?;
    if new.stages.len() > MAX_STAGES {
        return Err(SecretsError::Limit(format!(
            "A version can have at most {MAX_STAGES} staging labels."
        )));
    }
    new.stages
        .iter()
        .try_for_each(|s| check_stage(s))
        .map_err(SecretsError::Validation)?;
    version_id(new.client_token.as_deref())
}

/// Change the secret `secret_id` names (not scheduled for deletion) with `change`, which
/// answers whether there is anything to write, until the write is not raced.
async fn modify(
    state: &State,
    scope: &Scope,
    secret_id: &str,
    mut change: impl FnMut(&mut SecretRecord, DateTime<Utc>) -> Result<bool, SecretsError>,
) -> Result<SecretRecord, SecretsError> {
    for _ in 0..ATTEMPTS {
        let entry = find_live(state, scope, secret_id)?;
        let mut record = (*entry.value).clone();
        if !change(&mut record, state.clock().now())? {
            return Ok(record);
        }
        let key = keys::secret(&scope.region, &record.name);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(contended(secret_id))
}

/// PutSecretValue: a new version, AWSCURRENT unless other labels are asked for (the
/// version that was current becomes AWSPREVIOUS). Sent again with the same client token
/// and value, it changes nothing.
pub async fn put_value(
    state: &State,
    scope: &Scope,
    secret_id: &str,
    new: NewVersion,
) -> Result<Written, SecretsError> {
    let version = check_new_version(&new)?;
    let record = modify(state, scope, secret_id, |secret, now| {
        add_version(state, secret, &new, &version, now)
    })
    .await?;
    let stages = record
        .by_id(&version)
        .map(|v| v.stages.clone())
        .unwrap_or_default();
    Ok(Written {
        arn: record.arn,
        name: record.name,
        version_id: Some(version),
        stages,
    })
}

/// What UpdateSecret changes.
#[derive(Clone, Default)]
pub struct Update {
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    /// A new value, put as PutSecretValue puts one (AWSCURRENT).
    pub value: Option<NewVersion>,
}

/// UpdateSecret.
pub async fn update(
    state: &State,
    scope: &Scope,
    secret_id: &str,
    update: Update,
) -> Result<Written, SecretsError> {
    if let Some(d) = &update.description {
        check_description(d).map_err(SecretsError::Validation)?;
    }
    let version = update.value.as_ref().map(check_new_version).transpose()?;
    let record = modify(state, scope, secret_id, |secret, now| {
        let mut changed = false;
        if let Some(d) = &update.description {
            secret.description = Some(d.clone());
            changed = true;
        }
        if let Some(k) = &update.kms_key_id {
            secret.kms_key_id = Some(k.clone());
            changed = true;
        }
        if let (Some(new), Some(version)) = (&update.value, &version) {
            changed |= add_version(state, secret, new, version, now)?;
        }
        if changed {
            secret.last_changed_at = now;
        }
        Ok(changed)
    })
    .await?;
    Ok(Written {
        arn: record.arn,
        name: record.name,
        version_id: version,
        stages: vec![],
    })
}

/// DeleteSecret: schedule the deletion `window_days` from now (7 to 30, 30 by default), or
/// delete at once with `force`. Answers the ARN, the name and the deletion date.
pub async fn delete(
    state: &State,
    scope: &Scope,
    secret_id: &str,
    window_days: Option<i64>,
    force: bool,
) -> Result<(String, String, DateTime<Utc>), SecretsError> {
    if force && window_days.is_some() {
        return Err(SecretsError::InvalidParameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
                .into(),
        ));
    }
    let days = window_days.unwrap_or(secret::DEFAULT_RECOVERY_DAYS);
    if !(MIN_RECOVERY_DAYS..=MAX_RECOVERY_DAYS).contains(&days) {
        return Err(SecretsError::InvalidParameter(format!(
            "The recovery window must be between {MIN_RECOVERY_DAYS} and {MAX_RECOVERY_DAYS} days; {days} was given."
        )));
    }
    for _ in 0..ATTEMPTS {
        let entry = find(state, scope, secret_id)?;
        let now = state.clock().now();
        let key = keys::secret(&scope.region, &entry.value.name);
        let (arn, name) = (entry.value.arn.clone(), entry.value.name.clone());
        if force {
            let txn = Txn {
                compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
                success: vec![Op::delete(key)],
                failure: vec![],
            };
            if state.commit(txn).await?.succeeded {
                return Ok((arn, name, now));
            }
            continue;
        }
        if entry.value.scheduled_for_deletion() {
            return Err(SecretsError::InvalidRequest(
                "You can't perform this operation on the secret because it was already scheduled for deletion.".into(),
            ));
        }
        let date = now + chrono::Duration::days(days);
        let mut record = (*entry.value).clone();
        record.deletion_date = Some(date);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok((arn, name, date));
        }
    }
    Err(contended(secret_id))
}

/// RestoreSecret: cancel a scheduled deletion (a secret not scheduled stays as it is).
pub async fn restore(
    state: &State,
    scope: &Scope,
    secret_id: &str,
) -> Result<(String, String), SecretsError> {
    for _ in 0..ATTEMPTS {
        let entry = find(state, scope, secret_id)?;
        let secret = &entry.value;
        if !secret.scheduled_for_deletion() {
            return Ok((secret.arn.clone(), secret.name.clone()));
        }
        let mut record = (**secret).clone();
        record.deletion_date = None;
        let key = keys::secret(&scope.region, &record.name);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok((record.arn, record.name));
        }
    }
    Err(contended(secret_id))
}

/// TagResource: add or replace tags (at most 50 in all).
pub async fn tag(
    state: &State,
    scope: &Scope,
    secret_id: &str,
    tags: Vec<(String, String)>,
) -> Result<(), SecretsError> {
    check_tags(&tags)?;
    modify(state, scope, secret_id, |secret, _| {
        for (k, v) in &tags {
            match secret.tags.iter_mut().find(|(have, _)| have == k) {
                Some(existing) => existing.1 = v.clone(),
                None => secret.tags.push((k.clone(), v.clone())),
            }
        }
        check_tags(&secret.tags)?;
        Ok(true)
    })
    .await
    .map(drop)
}

/// UntagResource: remove the tags with these keys.
pub async fn untag(
    state: &State,
    scope: &Scope,
    secret_id: &str,
    keys: &[String],
) -> Result<(), SecretsError> {
    modify(state, scope, secret_id, |secret, _| {
        let before = secret.tags.len();
        secret.tags.retain(|(k, _)| !keys.contains(k));
        Ok(secret.tags.len() != before)
    })
    .await
    .map(drop)
}

/// The scope's secrets ListSecrets may show: those scheduled for deletion only with
/// `include_deleted`, never those whose deletion date passed; in name order.
pub fn list(state: &State, scope: &Scope, include_deleted: bool) -> Vec<Arc<SecretRecord>> {
    let now = state.clock().now();
    state
        .secrets()
        .secrets
        .range(keys::secrets(&scope.region).as_bytes())
        .into_iter()
        .map(|(_, e)| e.value)
        .filter(|s| !s.lapsed(now) && (include_deleted || !s.scheduled_for_deletion()))
        .collect()
}

/// Remove every secret whose deletion date is before `now` (each guarded by its
/// mod-revision, so a secret restored meanwhile stays); how many.
pub async fn reap(state: &State, now: DateTime<Utc>) -> Result<usize, ControlError> {
    let due: Vec<(Vec<u8>, i64)> = state
        .secrets()
        .secrets
        .range(keys::SECRETS.as_bytes())
        .into_iter()
        .filter(|(_, e)| e.value.lapsed(now))
        .map(|(k, e)| (k, e.mod_revision))
        .collect();
    state.delete_unchanged(&due, 100).await
}
