//! Policies on users, groups and roles alike: attaching and detaching managed policies
//! (AWS's or the account's own) and putting, reading and deleting inline policies. One
//! function per operation, generic over the kind of identity ([`Stored`]).

use std::sync::Arc;

use flotilla_model::iam::customer::policy_name_of;
use flotilla_model::iam::group::GroupRecord;
use flotilla_model::iam::identity::{check_inline, InlineError, Kind, MAX_ATTACHED_POLICIES};
use flotilla_model::iam::managed;
use flotilla_model::iam::role::RoleRecord;
use flotilla_model::iam::user::UserRecord;
use flotilla_model::record::encode;
use flotilla_store::view::View;
use flotilla_store::{Compare, Op, Txn};

use super::{contended, IamError, Views, ATTEMPTS};
use crate::{keys, Entry, State};

pub use flotilla_model::iam::identity::Identity;

/// An identity kind as the control plane keeps it: where its records are.
pub trait Stored: Identity {
    fn view(views: &Views) -> &View<Self>;
    fn key(name: &str) -> String;
}

impl Stored for UserRecord {
    fn view(views: &Views) -> &View<Self> {
        &views.users
    }
    fn key(name: &str) -> String {
        keys::iam_user(name)
    }
}

impl Stored for GroupRecord {
    fn view(views: &Views) -> &View<Self> {
        &views.groups
    }
    fn key(name: &str) -> String {
        keys::iam_group(name)
    }
}

impl Stored for RoleRecord {
    fn view(views: &Views) -> &View<Self> {
        &views.roles
    }
    fn key(name: &str) -> String {
        keys::iam_role(name)
    }
}

/// IAM's message for an identity that does not exist.
pub fn no_such<T: Stored>(name: &str) -> IamError {
    let kind = T::IDENTITY.as_str().to_lowercase();
    IamError::NoSuchEntity(format!("The {kind} with name {name} cannot be found."))
}

/// The identity of kind `T` named `name`.
pub fn get<T: Stored>(state: &State, name: &str) -> Result<Entry<T>, IamError> {
    T::view(state.iam())
        .get(T::key(name).as_bytes())
        .ok_or_else(|| no_such::<T>(name))
}

/// Every identity of kind `T` whose path starts with `prefix`, by name.
pub fn list<T: Stored>(state: &State, prefix: &str, path: impl Fn(&T) -> &str) -> Vec<Arc<T>> {
    let mut out: Vec<Arc<T>> = T::view(state.iam())
        .range(T::key("").as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .filter(|i| path(i).starts_with(prefix))
        .collect();
    out.sort_by(|a, b| a.name().cmp(b.name()));
    out
}

/// DeleteConflict unless the identity has no policies left.
pub fn check_no_policies<T: Identity>(identity: &T) -> Result<(), IamError> {
    if !identity.attached().is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must detach all policies first.".into(),
        ));
    }
    if !identity.inline().is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must delete policies first.".into(),
        ));
    }
    Ok(())
}

fn what<T: Stored>(name: &str) -> String {
    format!("The {} {name}", T::IDENTITY.as_str().to_lowercase())
}

/// Attach{User,Group,Role}Policy (`attach`; attaching one already attached changes
/// nothing) or Detach{User,Group,Role}Policy. An account's own policy counts its
/// attachments in the same transaction, so DeletePolicy never misses one.
pub async fn set_attached<T: Stored>(
    state: &State,
    name: &str,
    policy_arn: &str,
    attach: bool,
) -> Result<(), IamError> {
    let not_attachable = || {
        IamError::NoSuchEntity(format!(
            "Policy {policy_arn} does not exist or is not attachable."
        ))
    };
    let own = policy_name_of(policy_arn, state.account());
    if own.is_none() && managed::by_arn(policy_arn).is_none() {
        return Err(not_attachable());
    }
    for _ in 0..ATTEMPTS {
        let entry = get::<T>(state, name)?;
        let mut record = (*entry.value).clone();
        let has = record.attached().iter().any(|p| p == policy_arn);
        match (attach, has) {
            (true, true) => return Ok(()),
            (false, false) => {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {policy_arn} was not found."
                )))
            }
            (true, false) => {
                if record.attached().len() >= MAX_ATTACHED_POLICIES {
                    return Err(IamError::Limit(format!(
                        "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED_POLICIES}",
                        T::IDENTITY.as_str()
                    )));
                }
                record.attached_mut().push(policy_arn.to_string());
            }
            (false, true) => record.attached_mut().retain(|p| p != policy_arn),
        }
        let key = T::key(name);
        let mut txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::put(key, encode(&record))],
            failure: vec![],
        };
        if let Some(policy_name) = own {
            let policy = super::policies::get(state, policy_arn).map_err(|_| not_attachable())?;
            let mut counted = (*policy.value).clone();
            counted.attachment_count = if attach {
                counted.attachment_count + 1
            } else {
                counted.attachment_count.saturating_sub(1)
            };
            let pkey = keys::iam_policy(policy_name);
            txn.compares
                .push(Compare::unchanged(pkey.clone(), policy.mod_revision));
            txn.success.push(Op::put(pkey, encode(&counted)));
        }
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(contended(&what::<T>(name)))
}

/// Put{User,Group,Role}Policy: add or replace an inline policy.
pub async fn put_inline<T: Stored>(
    state: &State,
    name: &str,
    policy_name: &str,
    document: &str,
) -> Result<(), IamError> {
    for _ in 0..ATTEMPTS {
        let entry = get::<T>(state, name)?;
        check_inline(entry.value.as_ref(), policy_name, document).map_err(|e| match e {
            InlineError::Validation(m) => IamError::Validation(m),
            InlineError::Malformed(m) => IamError::MalformedPolicy(m),
            InlineError::Limit(m) => IamError::Limit(m),
        })?;
        let mut record = (*entry.value).clone();
        record
            .inline_mut()
            .insert(policy_name.to_string(), document.to_string());
        if state
            .put_if_unchanged(&T::key(name), entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(());
        }
    }
    Err(contended(&what::<T>(name)))
}

fn no_inline<T: Stored>(policy_name: &str) -> IamError {
    let kind = match T::IDENTITY {
        Kind::User => "user",
        Kind::Group => "group",
        Kind::Role => "role",
    };
    IamError::NoSuchEntity(format!(
        "The {kind} policy with name {policy_name} cannot be found."
    ))
}

/// Get{User,Group,Role}Policy: the inline policy's document.
pub fn get_inline<T: Stored>(
    state: &State,
    name: &str,
    policy_name: &str,
) -> Result<String, IamError> {
    let entry = get::<T>(state, name)?;
    entry
        .value
        .inline()
        .get(policy_name)
        .cloned()
        .ok_or_else(|| no_inline::<T>(policy_name))
}

/// Delete{User,Group,Role}Policy.
pub async fn delete_inline<T: Stored>(
    state: &State,
    name: &str,
    policy_name: &str,
) -> Result<(), IamError> {
    for _ in 0..ATTEMPTS {
        let entry = get::<T>(state, name)?;
        let mut record = (*entry.value).clone();
        if record.inline_mut().remove(policy_name).is_none() {
            return Err(no_inline::<T>(policy_name));
        }
        if state
            .put_if_unchanged(&T::key(name), entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(());
        }
    }
    Err(contended(&what::<T>(name)))
}

/// Delete an identity with no policies left: its record, unless it changed since
/// `entry` was read (then false: read again).
pub(super) async fn delete_if_unchanged<T: Stored>(
    state: &State,
    entry: &Entry<T>,
    extra: Vec<Compare>,
) -> Result<bool, IamError> {
    check_no_policies(entry.value.as_ref())?;
    let key = T::key(entry.value.name());
    let mut compares = vec![Compare::unchanged(key.clone(), entry.mod_revision)];
    compares.extend(extra);
    let txn = Txn {
        compares,
        success: vec![Op::delete(key)],
        failure: vec![],
    };
    Ok(state.commit(txn).await?.succeeded)
}
