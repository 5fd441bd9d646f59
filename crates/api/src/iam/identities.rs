//! Groups and roles, and the policy operations every kind of identity shares:
//! Attach/Detach/ListAttached{User,Group,Role}Policy(ies) and
//! Put/Get/Delete/List{User,Group,Role}Policy(ies), one generic handler for each verb.

use flotilla_aws::xml::XmlWriter;
use flotilla_control::iam::identities::{self as ids, Stored};
use flotilla_control::iam::roles::{self, NewRole};
use flotilla_control::iam::{groups, policies, IamError};
use flotilla_model::iam::group::GroupRecord;
use flotilla_model::iam::managed;
use flotilla_model::iam::role::RoleRecord;
use flotilla_model::iam::user::UserRecord;

use super::{iso, page, tags, tags_shape, truncated, urlencoding, user_shape};
use crate::query::Params;
use crate::State;

/// What an operation does to an identity's policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Attach,
    Detach,
    ListAttached,
    Put,
    Get,
    Delete,
    List,
}

/// `AttachRolePolicy` → (Attach, "Role"), `ListUserPolicies` → (List, "User"), ...
fn split(operation: &str) -> Option<(Verb, &str)> {
    const VERBS: &[(&str, Verb)] = &[
        ("ListAttached", Verb::ListAttached),
        ("Attach", Verb::Attach),
        ("Detach", Verb::Detach),
        ("Put", Verb::Put),
        ("Get", Verb::Get),
        ("Delete", Verb::Delete),
        ("List", Verb::List),
    ];
    let (prefix, verb) = VERBS.iter().find(|(p, _)| operation.starts_with(p))?;
    let rest = &operation[prefix.len()..];
    let plural = matches!(verb, Verb::ListAttached | Verb::List);
    let kind = rest.strip_suffix(if plural { "Policies" } else { "Policy" })?;
    ["User", "Group", "Role"]
        .contains(&kind)
        .then_some((*verb, kind))
}

/// Handle `operation` if it is one of this module's; false otherwise.
pub(super) async fn dispatch(
    s: &State,
    operation: &str,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<bool, IamError> {
    if let Some((verb, kind)) = split(operation) {
        match kind {
            "User" => on::<UserRecord>(s, verb, "UserName", p, w).await?,
            "Group" => on::<GroupRecord>(s, verb, "GroupName", p, w).await?,
            _ => on::<RoleRecord>(s, verb, "RoleName", p, w).await?,
        }
        return Ok(true);
    }
    let account = s.account();
    match operation {
        "CreateGroup" => {
            let g = groups::create(s, p.required("GroupName")?, p.get("Path")).await?;
            w.node("Group", |w| group_shape(w, account, &g));
        }
        "GetGroup" => {
            let g = ids::get::<GroupRecord>(s, p.required("GroupName")?)?;
            let members = groups::members(s, &g.value.group_name);
            let (members, marker) = page(p, members, |u| u.user_name.clone())?;
            w.node("Group", |w| group_shape(w, account, &g.value));
            w.node("Users", |w| {
                for u in &members {
                    w.node("member", |w| user_shape(w, account, u));
                }
            });
            truncated(w, marker);
        }
        "ListGroups" => {
            let prefix = p.get("PathPrefix").unwrap_or("/");
            let all = ids::list::<GroupRecord>(s, prefix, |g| &g.path);
            let (all, marker) = page(p, all, |g| g.group_name.clone())?;
            w.node("Groups", |w| {
                for g in &all {
                    w.node("member", |w| group_shape(w, account, g));
                }
            });
            truncated(w, marker);
        }
        "ListGroupsForUser" => {
            let of = groups::of_user(s, p.required("UserName")?)?;
            let (of, marker) = page(p, of, |g| g.group_name.clone())?;
            w.node("Groups", |w| {
                for g in &of {
                    w.node("member", |w| group_shape(w, account, g));
                }
            });
            truncated(w, marker);
        }
        "DeleteGroup" => groups::delete(s, p.required("GroupName")?).await?,
        "AddUserToGroup" | "RemoveUserFromGroup" => {
            let add = operation == "AddUserToGroup";
            groups::set_member(s, p.required("GroupName")?, p.required("UserName")?, add).await?
        }
        "CreateRole" => {
            let max = p
                .int("MaxSessionDuration", 0, i64::from(u32::MAX))?
                .map(|m| m as u32);
            let role = roles::create(
                s,
                NewRole {
                    name: p.required("RoleName")?,
                    path: p.get("Path"),
                    trust_policy: p.required("AssumeRolePolicyDocument")?,
                    description: p.get("Description"),
                    max_session_duration: max,
                    tags: tags(p)?,
                },
            )
            .await?;
            w.node("Role", |w| role_shape(w, account, &role));
        }
        "GetRole" => {
            let role = ids::get::<RoleRecord>(s, p.required("RoleName")?)?;
            w.node("Role", |w| role_shape(w, account, &role.value));
        }
        "ListRoles" => {
            let prefix = p.get("PathPrefix").unwrap_or("/");
            let all = ids::list::<RoleRecord>(s, prefix, |r| &r.path);
            let (all, marker) = page(p, all, |r| r.role_name.clone())?;
            w.node("Roles", |w| {
                for r in &all {
                    w.node("member", |w| role_shape(w, account, r));
                }
            });
            truncated(w, marker);
        }
        "DeleteRole" => roles::delete(s, p.required("RoleName")?).await?,
        "UpdateAssumeRolePolicy" => {
            roles::update_trust(s, p.required("RoleName")?, p.required("PolicyDocument")?).await?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// One of the shared policy operations on the identity of kind `T` named by `param`.
async fn on<T: Stored>(
    s: &State,
    verb: Verb,
    param: &str,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), IamError> {
    let name = p.required(param)?;
    match verb {
        Verb::Attach | Verb::Detach => {
            let arn = p.required("PolicyArn")?;
            ids::set_attached::<T>(s, name, arn, verb == Verb::Attach).await?
        }
        Verb::ListAttached => {
            let identity = ids::get::<T>(s, name)?;
            let attached: Vec<(String, String)> = identity
                .value
                .attached()
                .iter()
                .map(|arn| (policy_name(s, arn), arn.clone()))
                .collect();
            let (attached, marker) = page(p, attached, |(_, arn)| arn.clone())?;
            w.node("AttachedPolicies", |w| {
                for (n, arn) in &attached {
                    w.node("member", |w| {
                        w.leaf("PolicyName", n);
                        w.leaf("PolicyArn", arn);
                    });
                }
            });
            truncated(w, marker);
        }
        Verb::Put => {
            let policy = p.required("PolicyName")?;
            ids::put_inline::<T>(s, name, policy, p.required("PolicyDocument")?).await?
        }
        Verb::Get => {
            let policy = p.required("PolicyName")?;
            let document = ids::get_inline::<T>(s, name, policy)?;
            w.leaf(param, name);
            w.leaf("PolicyName", policy);
            w.leaf("PolicyDocument", &urlencoding(&document));
        }
        Verb::Delete => ids::delete_inline::<T>(s, name, p.required("PolicyName")?).await?,
        Verb::List => {
            let identity = ids::get::<T>(s, name)?;
            let names: Vec<String> = identity.value.inline().keys().cloned().collect();
            let (names, marker) = page(p, names, Clone::clone)?;
            w.node("PolicyNames", |w| {
                for n in &names {
                    w.leaf("member", n);
                }
            });
            truncated(w, marker);
        }
    }
    Ok(())
}

/// The name of a managed policy (AWS's or the account's) by its ARN.
fn policy_name(s: &State, arn: &str) -> String {
    if let Some(m) = managed::by_arn(arn) {
        return m.name.to_string();
    }
    policies::get(s, arn)
        .map(|e| e.value.policy_name.clone())
        .unwrap_or_else(|_| arn.rsplit('/').next().unwrap_or(arn).to_string())
}

fn group_shape(w: &mut XmlWriter, account: &str, g: &GroupRecord) {
    w.leaf("Path", &g.path);
    w.leaf("GroupName", &g.group_name);
    w.leaf("GroupId", &g.group_id);
    w.leaf("Arn", &g.arn(account));
    w.leaf("CreateDate", &iso(g.created_at));
}

fn role_shape(w: &mut XmlWriter, account: &str, r: &RoleRecord) {
    w.leaf("Path", &r.path);
    w.leaf("RoleName", &r.role_name);
    w.leaf("RoleId", &r.role_id);
    w.leaf("Arn", &r.arn(account));
    w.leaf("CreateDate", &iso(r.created_at));
    w.leaf(
        "AssumeRolePolicyDocument",
        &urlencoding(&r.assume_role_policy),
    );
    if !r.description.is_empty() {
        w.leaf("Description", &r.description);
    }
    w.leaf("MaxSessionDuration", &r.max_session_duration.to_string());
    tags_shape(w, &r.tags);
}

#[cfg(test)]
mod tests {
    use super::{split, Verb};

    #[test]
    fn operations_split_into_verb_and_kind() {
        assert_eq!(split("AttachRolePolicy"), Some((Verb::Attach, "Role")));
        assert_eq!(
            split("ListAttachedUserPolicies"),
            Some((Verb::ListAttached, "User"))
        );
        assert_eq!(split("ListGroupPolicies"), Some((Verb::List, "Group")));
        assert_eq!(split("GetUserPolicy"), Some((Verb::Get, "User")));
        assert_eq!(split("GetPolicy"), None);
        assert_eq!(split("ListPolicies"), None);
        assert_eq!(split("DeletePolicy"), None);
        assert_eq!(split("ListRoles"), None);
        assert_eq!(split("GetRole"), None);
    }
}
