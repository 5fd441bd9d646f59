//! The account's own managed policies: CreatePolicy, versions (at most five, one the
//! default), DeletePolicy (refused while attached or while other versions remain).
//! One record per policy at `keys::iam_policy(name)`.

use std::sync::Arc;

use flotilla_model::iam::customer::{
    policy_name_of, PolicyRecord, PolicyVersion, DOCUMENT_QUOTA, MAX_DESCRIPTION, MAX_VERSIONS,
};
use flotilla_model::iam::identity::check_policy_name;
use flotilla_model::iam::policy::{parse, quota_size, PolicyKind};
use flotilla_model::iam::user::{check_path, new_id};
use flotilla_model::record::encode;
use flotilla_store::{Compare, Op, Txn};

use super::{contended, IamError, ATTEMPTS};
use crate::{keys, Entry, State};

/// Check a managed policy's document: the language and the size quota.
fn check_document(text: &str) -> Result<(), IamError> {
    parse(text, PolicyKind::Identity).map_err(|e| IamError::MalformedPolicy(e.0))?;
    if quota_size(text) > DOCUMENT_QUOTA {
        return Err(IamError::Limit(format!(
            "Cannot exceed quota for PolicySize: {DOCUMENT_QUOTA}"
        )));
    }
    Ok(())
}

fn no_policy(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

/// The account's policy `arn`.
pub fn get(state: &State, arn: &str) -> Result<Entry<PolicyRecord>, IamError> {
    let name = policy_name_of(arn, state.account()).ok_or_else(|| no_policy(arn))?;
    state
        .iam()
        .policies
        .get(keys::iam_policy(name).as_bytes())
        .filter(|e| e.value.arn(state.account()) == arn)
        .ok_or_else(|| no_policy(arn))
}

/// CreatePolicy: version `v1`, the default.
pub async fn create(
    state: &State,
    name: &str,
    path: Option<&str>,
    document: &str,
    description: Option<&str>,
    tags: Vec<(String, String)>,
) -> Result<Arc<PolicyRecord>, IamError> {
    check_policy_name(name).map_err(IamError::Validation)?;
    let path = path.unwrap_or("/");
    check_path(path).map_err(IamError::Validation)?;
    let description = description.unwrap_or("");
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to {MAX_DESCRIPTION}"
        )));
    }
    check_document(document)?;
    let now = chrono::Utc::now();
    let policy = PolicyRecord {
        policy_name: name.to_string(),
        policy_id: new_id("ANPA", 17),
        path: path.to_string(),
        description: description.to_string(),
        created_at: now,
        updated_at: now,
        default_version: "v1".into(),
        versions: vec![PolicyVersion {
            version_id: "v1".into(),
            document: document.to_string(),
            created_at: now,
        }],
        next_version: 2,
        attachment_count: 0,
        tags,
    };
    if !state
        .put_if_unchanged(&keys::iam_policy(name), 0, encode(&policy))
        .await?
    {
        return Err(IamError::AlreadyExists(format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        )));
    }
    Ok(Arc::new(policy))
}

/// The account's policies whose path starts with `prefix`, by name.
pub fn list(state: &State, prefix: &str) -> Vec<Arc<PolicyRecord>> {
    let mut out: Vec<Arc<PolicyRecord>> = state
        .iam()
        .policies
        .range(keys::IAM_POLICIES.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .filter(|p| p.path.starts_with(prefix))
        .collect();
    out.sort_by(|a, b| a.policy_name.cmp(&b.policy_name));
    out
}

/// Read-modify-write of the policy `arn` with `change`, retried on contention.
async fn update<T>(
    state: &State,
    arn: &str,
    mut change: impl FnMut(&mut PolicyRecord) -> Result<T, IamError>,
) -> Result<T, IamError> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, arn)?;
        let mut record = (*entry.value).clone();
        let out = change(&mut record)?;
        let key = keys::iam_policy(&record.policy_name);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(out);
        }
    }
    Err(contended(&format!("The policy {arn}")))
}

/// CreatePolicyVersion: a new version, the default when `set_as_default`.
pub async fn create_version(
    state: &State,
    arn: &str,
    document: &str,
    set_as_default: bool,
) -> Result<PolicyVersion, IamError> {
    check_document(document)?;
    update(state, arn, |p| {
        if p.versions.len() >= MAX_VERSIONS {
            return Err(IamError::Limit(format!(
                "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
            )));
        }
        let now = chrono::Utc::now();
        let version = PolicyVersion {
            version_id: format!("v{}", p.next_version),
            document: document.to_string(),
            created_at: now,
        };
        p.next_version += 1;
        p.versions.push(version.clone());
        if set_as_default {
            p.default_version = version.version_id.clone();
        }
        p.updated_at = now;
        Ok(version)
    })
    .await
}

fn no_version(arn: &str, id: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "Policy {arn} version {id} does not exist or is not attachable."
    ))
}

/// SetDefaultPolicyVersion.
pub async fn set_default(state: &State, arn: &str, version: &str) -> Result<(), IamError> {
    update(state, arn, |p| {
        p.version(version).ok_or_else(|| no_version(arn, version))?;
        p.default_version = version.to_string();
        p.updated_at = chrono::Utc::now();
        Ok(())
    })
    .await
}

/// DeletePolicyVersion: any version but the default.
pub async fn delete_version(state: &State, arn: &str, version: &str) -> Result<(), IamError> {
    update(state, arn, |p| {
        p.version(version).ok_or_else(|| no_version(arn, version))?;
        if p.default_version == version {
            return Err(IamError::DeleteConflict(
                "Cannot delete the default version of a policy.".into(),
            ));
        }
        p.versions.retain(|v| v.version_id != version);
        Ok(())
    })
    .await
}

/// A version of the policy `arn`.
pub fn version(state: &State, arn: &str, id: &str) -> Result<PolicyVersion, IamError> {
    let policy = get(state, arn)?;
    policy
        .value
        .version(id)
        .cloned()
        .ok_or_else(|| no_version(arn, id))
}

/// DeletePolicy: refused while attached to anything or while versions other than the
/// default remain.
pub async fn delete(state: &State, arn: &str) -> Result<(), IamError> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, arn)?;
        if entry.value.attachment_count > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        if entry.value.versions.len() > 1 {
            return Err(IamError::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
            ));
        }
        let key = keys::iam_policy(&entry.value.policy_name);
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key)],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(contended(&format!("The policy {arn}")))
}
