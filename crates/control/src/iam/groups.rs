//! IAM groups and their members. Membership is kept on the user's record (the names of
//! its groups); adding or removing a member rewrites the group's record in the same
//! transaction, so DeleteGroup, which reads the members, never misses one added meanwhile.

use std::sync::Arc;

use flotilla_model::iam::group::{GroupRecord, MAX_GROUPS_PER_USER};
use flotilla_model::iam::user::{check_name, check_path, new_id, UserRecord};
use flotilla_model::record::encode;
use flotilla_store::{Compare, Op, Txn};

use super::identities::{self, delete_if_unchanged, Stored};
use super::{contended, IamError, ATTEMPTS};
use crate::State;

/// CreateGroup.
pub async fn create(
    state: &State,
    name: &str,
    path: Option<&str>,
) -> Result<Arc<GroupRecord>, IamError> {
    check_name("Group", name).map_err(IamError::Validation)?;
    let path = path.unwrap_or("/");
    check_path(path).map_err(IamError::Validation)?;
    let group = GroupRecord {
        group_name: name.to_string(),
        group_id: new_id("AGPA", 17),
        path: path.to_string(),
        created_at: chrono::Utc::now(),
        attached_policies: vec![],
        inline_policies: Default::default(),
    };
    if !state
        .put_if_unchanged(&GroupRecord::key(name), 0, encode(&group))
        .await?
    {
        return Err(IamError::AlreadyExists(format!(
            "Group with name {name} already exists."
        )));
    }
    Ok(Arc::new(group))
}

/// The users in the group `name` (as its record spells it), by name.
pub fn members(state: &State, name: &str) -> Vec<Arc<UserRecord>> {
    identities::list::<UserRecord>(state, "/", |u| &u.path)
        .into_iter()
        .filter(|u| u.groups.iter().any(|g| g.eq_ignore_ascii_case(name)))
        .collect()
}

/// The groups of `user`, in the order the user was added to them.
pub fn of_user(state: &State, user: &str) -> Result<Vec<Arc<GroupRecord>>, IamError> {
    let user = identities::get::<UserRecord>(state, user)?;
    Ok(user
        .value
        .groups
        .iter()
        .filter_map(|g| identities::get::<GroupRecord>(state, g).ok())
        .map(|e| e.value)
        .collect())
}

/// AddUserToGroup (`add`; adding a member again changes nothing) or RemoveUserFromGroup.
pub async fn set_member(state: &State, group: &str, user: &str, add: bool) -> Result<(), IamError> {
    for _ in 0..ATTEMPTS {
        let g = identities::get::<GroupRecord>(state, group)?;
        let u = identities::get::<UserRecord>(state, user)?;
        let mut record = (*u.value).clone();
        let name = &g.value.group_name;
        let has = record.groups.iter().any(|x| x.eq_ignore_ascii_case(name));
        match (add, has) {
            (true, true) => return Ok(()),
            (false, false) => {
                return Err(IamError::NoSuchEntity(format!(
                    "The user with name {user} cannot be found in group {group}."
                )))
            }
            (true, false) => {
                if record.groups.len() >= MAX_GROUPS_PER_USER {
                    return Err(IamError::Limit(format!(
                        "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
                    )));
                }
                record.groups.push(name.clone());
            }
            (false, true) => record.groups.retain(|x| !x.eq_ignore_ascii_case(name)),
        }
        let (ukey, gkey) = (UserRecord::key(user), GroupRecord::key(group));
        let txn = Txn {
            compares: vec![
                Compare::unchanged(ukey.clone(), u.mod_revision),
                Compare::unchanged(gkey.clone(), g.mod_revision),
            ],
            success: vec![
                Op::put(ukey, encode(&record)),
                Op::put(gkey, encode(g.value.as_ref())),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(contended(&format!("The group {group}")))
}

/// DeleteGroup: refused while it has members or policies.
pub async fn delete(state: &State, name: &str) -> Result<(), IamError> {
    for _ in 0..ATTEMPTS {
        let entry = identities::get::<GroupRecord>(state, name)?;
        if !members(state, name).is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        if delete_if_unchanged(state, &entry, vec![]).await? {
            return Ok(());
        }
    }
    Err(contended(&format!("The group {name}")))
}
