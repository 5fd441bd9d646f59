//! IAM: users and access keys (here), groups ([`groups`]), roles and STS sessions
//! ([`roles`]), the account's own managed policies ([`policies`]), attaching and inline
//! policies on any identity ([`identities`]), and deciding a request ([`authorize`]).
//! IAM is global: one set per account, whatever the region of the request.
//!
//! One record per user at `keys::iam_user(name)` (the name lower-cased: IAM names are
//! unique without regard to case) and one per access key at `keys::iam_access_key(id)`.
//! A key is created in one transaction with the user's record unchanged, so a user never
//! holds more than [`MAX_ACCESS_KEYS`] and a deleted user holds none. Errors are
//! [`IamError`], which `flotilla-api` maps to IAM's codes in one place.

use std::sync::Arc;

use flotilla_model::iam::customer::PolicyRecord;
use flotilla_model::iam::group::GroupRecord;
use flotilla_model::iam::role::{RoleRecord, SessionRecord};
use flotilla_model::iam::user::{
    check_name, check_path, new_id, new_secret, AccessKeyRecord, UserRecord, MAX_ACCESS_KEYS,
};
use flotilla_model::record::encode;
use flotilla_store::view::View;
use flotilla_store::{Compare, Op, Revision, Store, StoreError, Txn};

use crate::{keys, ControlError, Entry, State};

pub mod authorize;
pub mod groups;
pub mod identities;
pub mod policies;
pub mod roles;

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// Why an IAM operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IamError {
    /// A malformed parameter (ValidationError).
    #[error("{0}")]
    Validation(String),
    /// A value IAM refuses (InvalidInput).
    #[error("{0}")]
    InvalidInput(String),
    /// NoSuchEntity.
    #[error("{0}")]
    NoSuchEntity(String),
    /// EntityAlreadyExists.
    #[error("{0}")]
    AlreadyExists(String),
    /// DeleteConflict: the entity still has subordinate entities.
    #[error("{0}")]
    DeleteConflict(String),
    /// MalformedPolicyDocument.
    #[error("{0}")]
    MalformedPolicy(String),
    /// AccessDenied (STS: a role that does not trust the caller, or does not exist).
    #[error("{0}")]
    AccessDenied(String),
    /// LimitExceeded.
    #[error("{0}")]
    Limit(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// The live IAM records of this process.
pub struct Views {
    pub users: View<UserRecord>,
    pub access_keys: View<AccessKeyRecord>,
    pub groups: View<GroupRecord>,
    pub roles: View<RoleRecord>,
    pub policies: View<PolicyRecord>,
    pub sessions: View<SessionRecord>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        use crate::state::decoder as d;
        let at = |prefix: &str| prefix.as_bytes().to_vec();
        Ok(Views {
            users: View::start(store.clone(), at(keys::IAM_USERS), d).await?,
            access_keys: View::start(store.clone(), at(keys::IAM_ACCESS_KEYS), d).await?,
            groups: View::start(store.clone(), at(keys::IAM_GROUPS), d).await?,
            roles: View::start(store.clone(), at(keys::IAM_ROLES), d).await?,
            policies: View::start(store.clone(), at(keys::IAM_POLICIES), d).await?,
            sessions: View::start(store.clone(), at(keys::IAM_SESSIONS), d).await?,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        let (a, b, c, d, e, f) = tokio::join!(
            self.users.wait_for(rev),
            self.access_keys.wait_for(rev),
            self.groups.wait_for(rev),
            self.roles.wait_for(rev),
            self.policies.wait_for(rev),
            self.sessions.wait_for(rev),
        );
        a.and(b).and(c).and(d).and(e).and(f)
    }
}

/// A compare-and-swap that kept losing: ServiceFailure, retriable.
pub(crate) fn contended(what: &str) -> IamError {
    ControlError::Contended(format!("{what} kept changing; retry.")).into()
}

/// The user named `name`.
pub fn get_user(state: &State, name: &str) -> Result<Entry<UserRecord>, IamError> {
    identities::get::<UserRecord>(state, name)
}

/// CreateUser.
pub async fn create_user(
    state: &State,
    name: &str,
    path: Option<&str>,
    tags: Vec<(String, String)>,
) -> Result<Arc<UserRecord>, IamError> {
    check_name("User", name).map_err(IamError::Validation)?;
    let path = path.unwrap_or("/");
    check_path(path).map_err(IamError::Validation)?;
    let user = UserRecord {
        user_name: name.to_string(),
        user_id: new_id("AIDA", 17),
        path: path.to_string(),
        created_at: chrono::Utc::now(),
        tags,
        attached_policies: vec![],
        inline_policies: Default::default(),
        groups: vec![],
    };
    let key = keys::iam_user(name);
    if !state.put_if_unchanged(&key, 0, encode(&user)).await? {
        return Err(IamError::AlreadyExists(format!(
            "User with name {name} already exists."
        )));
    }
    Ok(Arc::new(user))
}

/// ListUsers: every user whose path starts with `prefix`, by name.
pub fn list_users(state: &State, prefix: &str) -> Vec<Arc<UserRecord>> {
    identities::list::<UserRecord>(state, prefix, |u| &u.path)
}

/// The access keys of `user`, oldest first.
pub fn keys_of(state: &State, user: &str) -> Vec<Entry<AccessKeyRecord>> {
    let mut out: Vec<Entry<AccessKeyRecord>> = state
        .iam()
        .access_keys
        .range(keys::IAM_ACCESS_KEYS.as_bytes())
        .iter()
        .filter(|(_, e)| e.value.user_name.eq_ignore_ascii_case(user))
        .map(|(_, e)| e.clone())
        .collect();
    out.sort_by_key(|e| e.value.created_at);
    out
}

/// DeleteUser: refused while the user has access keys, policies or groups.
pub async fn delete_user(state: &State, name: &str) -> Result<(), IamError> {
    for _ in 0..ATTEMPTS {
        let user = get_user(state, name)?;
        if !keys_of(state, name).is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        identities::check_no_policies(user.value.as_ref())?;
        if !user.value.groups.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        let key = keys::iam_user(name);
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), user.mod_revision)],
            success: vec![Op::delete(key)],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(contended(&format!("The user {name}")))
}

/// CreateAccessKey: a new active key of `user` (at most [`MAX_ACCESS_KEYS`]).
pub async fn create_access_key(state: &State, user: &str) -> Result<AccessKeyRecord, IamError> {
    for _ in 0..ATTEMPTS {
        let owner = get_user(state, user)?;
        if keys_of(state, user).len() >= MAX_ACCESS_KEYS {
            return Err(IamError::Limit(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}"
            )));
        }
        let record = AccessKeyRecord {
            access_key_id: new_id("AKIA", 16),
            secret_access_key: new_secret(),
            user_name: owner.value.user_name.clone(),
            active: true,
            created_at: chrono::Utc::now(),
        };
        let user_key = keys::iam_user(user);
        let key = keys::iam_access_key(&record.access_key_id);
        // Rewriting the user's record makes two concurrent creations conflict, so the
        // quota holds.
        let txn = Txn {
            compares: vec![
                Compare::unchanged(user_key.clone(), owner.mod_revision),
                Compare::absent(key.clone()),
            ],
            success: vec![
                Op::put(user_key, encode(owner.value.as_ref())),
                Op::put(key, encode(&record)),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(record);
        }
    }
    Err(contended(&format!("The user {user}")))
}

/// The key `id` of `user` (any user's when `user` is `None`).
fn key_of(state: &State, user: Option<&str>, id: &str) -> Result<Entry<AccessKeyRecord>, IamError> {
    let missing =
        || IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."));
    let entry = state
        .iam()
        .access_keys
        .get(keys::iam_access_key(id).as_bytes())
        .ok_or_else(missing)?;
    match user {
        Some(u) if !entry.value.user_name.eq_ignore_ascii_case(u) => Err(missing()),
        _ => Ok(entry),
    }
}

/// UpdateAccessKey: make a key active or inactive (an inactive key signs nothing).
pub async fn update_access_key(
    state: &State,
    user: Option<&str>,
    id: &str,
    active: bool,
) -> Result<(), IamError> {
    if let Some(u) = user {
        get_user(state, u)?;
    }
    for _ in 0..ATTEMPTS {
        let entry = key_of(state, user, id)?;
        let mut record = (*entry.value).clone();
        record.active = active;
        if state
            .put_if_unchanged(
                &keys::iam_access_key(id),
                entry.mod_revision,
                encode(&record),
            )
            .await?
        {
            return Ok(());
        }
    }
    Err(contended(&format!("The access key {id}")))
}

/// DeleteAccessKey.
pub async fn delete_access_key(
    state: &State,
    user: Option<&str>,
    id: &str,
) -> Result<(), IamError> {
    if let Some(u) = user {
        get_user(state, u)?;
    }
    let entry = key_of(state, user, id)?;
    let key = keys::iam_access_key(id);
    let txn = Txn {
        compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
        success: vec![Op::delete(key)],
        failure: vec![],
    };
    state.commit(txn).await?;
    Ok(())
}

/// An active access key and its user, for the gateway to verify a signature with.
pub fn active_key(state: &State, id: &str) -> Option<(Arc<AccessKeyRecord>, Arc<UserRecord>)> {
    let key = state
        .iam()
        .access_keys
        .get(keys::iam_access_key(id).as_bytes())?;
    if !key.value.active {
        return None;
    }
    let user = get_user(state, &key.value.user_name).ok()?;
    Some((key.value, user.value))
}

#[cfg(test)]
mod tests;
