//! Managed policies, AWS's (built in, one version `v1`) and the account's own (up to five
//! versions): CreatePolicy, GetPolicy, ListPolicies, DeletePolicy and the version
//! operations.

use chrono::{DateTime, Utc};
use flotilla_aws::xml::XmlWriter;
use flotilla_control::iam::identities as ids;
use flotilla_control::iam::{policies, IamError};
use flotilla_model::iam::customer::{PolicyRecord, PolicyVersion};
use flotilla_model::iam::group::GroupRecord;
use flotilla_model::iam::managed::{self, ManagedPolicy};
use flotilla_model::iam::role::RoleRecord;
use flotilla_model::iam::user::UserRecord;

use super::{iso, page, tags, tags_shape, truncated, urlencoding};
use crate::query::Params;
use crate::State;

/// A managed policy as IAM describes it, whoever manages it.
struct Described {
    name: String,
    id: String,
    arn: String,
    path: String,
    default_version: String,
    attachments: usize,
    description: String,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    tags: Vec<(String, String)>,
}

fn aws(s: &State, m: &ManagedPolicy) -> Described {
    let arn = m.arn();
    Described {
        name: m.name.to_string(),
        id: format!("ANPA{}", digest(&arn)),
        attachments: attachments(s, &arn),
        arn,
        path: m.path.to_string(),
        default_version: "v1".into(),
        description: m.description.to_string(),
        created: DateTime::UNIX_EPOCH,
        updated: DateTime::UNIX_EPOCH,
        tags: vec![],
    }
}

fn own(s: &State, p: &PolicyRecord) -> Described {
    Described {
        name: p.policy_name.clone(),
        id: p.policy_id.clone(),
        arn: p.arn(s.account()),
        path: p.path.clone(),
        default_version: p.default_version.clone(),
        attachments: p.attachment_count as usize,
        description: p.description.clone(),
        created: p.created_at,
        updated: p.updated_at,
        tags: p.tags.clone(),
    }
}

/// The managed policy `arn`, AWS's or the account's.
fn describe(s: &State, arn: &str) -> Result<Described, IamError> {
    match managed::by_arn(arn) {
        Some(m) => Ok(aws(s, &m)),
        None => Ok(own(s, &policies::get(s, arn)?.value)),
    }
}

/// How many users, groups and roles have the AWS-managed policy `arn` attached.
fn attachments(s: &State, arn: &str) -> usize {
    fn count<T: ids::Stored>(s: &State, arn: &str, path: impl Fn(&T) -> &str) -> usize {
        ids::list::<T>(s, "/", path)
            .iter()
            .filter(|i| i.attached().iter().any(|p| p == arn))
            .count()
    }
    count::<UserRecord>(s, arn, |u| &u.path)
        + count::<GroupRecord>(s, arn, |g| &g.path)
        + count::<RoleRecord>(s, arn, |r| &r.path)
}

/// A stable id of 17 characters for an AWS-managed policy, from its ARN.
fn digest(arn: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    arn.hash(&mut h);
    format!("{:017X}", h.finish())
}

fn policy_shape(w: &mut XmlWriter, d: &Described) {
    w.leaf("PolicyName", &d.name);
    w.leaf("PolicyId", &d.id);
    w.leaf("Arn", &d.arn);
    w.leaf("Path", &d.path);
    w.leaf("DefaultVersionId", &d.default_version);
    w.leaf("AttachmentCount", &d.attachments.to_string());
    w.leaf("PermissionsBoundaryUsageCount", "0");
    w.leaf("IsAttachable", "true");
    if !d.description.is_empty() {
        w.leaf("Description", &d.description);
    }
    w.leaf("CreateDate", &iso(d.created));
    w.leaf("UpdateDate", &iso(d.updated));
    tags_shape(w, &d.tags);
}

fn version_shape(w: &mut XmlWriter, v: &PolicyVersion, default: bool, document: bool) {
    if document {
        w.leaf("Document", &urlencoding(&v.document));
    }
    w.leaf("VersionId", &v.version_id);
    w.leaf("IsDefaultVersion", &default.to_string());
    w.leaf("CreateDate", &iso(v.created_at));
}

/// The versions of the managed policy `arn` and its default: AWS's have one.
fn versions(s: &State, arn: &str) -> Result<(Vec<PolicyVersion>, String), IamError> {
    if let Some(m) = managed::by_arn(arn) {
        let v1 = PolicyVersion {
            version_id: "v1".into(),
            document: m.document.to_string(),
            created_at: DateTime::UNIX_EPOCH,
        };
        return Ok((vec![v1], "v1".into()));
    }
    let p = policies::get(s, arn)?.value;
    Ok((p.versions.clone(), p.default_version.clone()))
}

fn scope_error(other: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{other}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
    ))
}

/// Handle `operation` if it is one of this module's; false otherwise.
pub(super) async fn dispatch(
    s: &State,
    operation: &str,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<bool, IamError> {
    match operation {
        "CreatePolicy" => {
            let created = policies::create(
                s,
                p.required("PolicyName")?,
                p.get("Path"),
                p.required("PolicyDocument")?,
                p.get("Description"),
                tags(p)?,
            )
            .await?;
            w.node("Policy", |w| policy_shape(w, &own(s, &created)));
        }
        "GetPolicy" => {
            let d = describe(s, p.required("PolicyArn")?)?;
            w.node("Policy", |w| policy_shape(w, &d));
        }
        "ListPolicies" => {
            let scope = p.get("Scope").unwrap_or("All");
            let mut all: Vec<Described> = Vec::new();
            if matches!(scope, "All" | "AWS") {
                all.extend(managed::all().iter().map(|m| aws(s, m)));
            }
            if matches!(scope, "All" | "Local") {
                all.extend(policies::list(s, "/").iter().map(|x| own(s, x)));
            }
            if !matches!(scope, "All" | "AWS" | "Local") {
                return Err(scope_error(scope));
            }
            let only_attached = p.bool("OnlyAttached")?.unwrap_or(false);
            let prefix = p.get("PathPrefix").unwrap_or("/");
            all.retain(|d| d.path.starts_with(prefix) && (!only_attached || d.attachments > 0));
            let (listed, marker) = page(p, all, |d| d.arn.clone())?;
            w.node("Policies", |w| {
                for d in &listed {
                    w.node("member", |w| policy_shape(w, d));
                }
            });
            truncated(w, marker);
        }
        "DeletePolicy" => policies::delete(s, p.required("PolicyArn")?).await?,
        "CreatePolicyVersion" => {
            let arn = p.required("PolicyArn")?;
            let default = p.bool("SetAsDefault")?.unwrap_or(false);
            let v =
                policies::create_version(s, arn, p.required("PolicyDocument")?, default).await?;
            w.node("PolicyVersion", |w| version_shape(w, &v, default, false));
        }
        "GetPolicyVersion" => {
            let arn = p.required("PolicyArn")?;
            let id = p.required("VersionId")?;
            let (all, default) = versions(s, arn)?;
            let v = all.iter().find(|v| v.version_id == id).ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "Policy {arn} version {id} does not exist or is not attachable."
                ))
            })?;
            w.node("PolicyVersion", |w| {
                version_shape(w, v, v.version_id == default, true)
            });
        }
        "ListPolicyVersions" => {
            let (all, default) = versions(s, p.required("PolicyArn")?)?;
            let mut all = all;
            all.reverse();
            w.node("Versions", |w| {
                for v in &all {
                    w.node("member", |w| {
                        version_shape(w, v, v.version_id == default, false)
                    });
                }
            });
            truncated(w, None);
        }
        "DeletePolicyVersion" => {
            policies::delete_version(s, p.required("PolicyArn")?, p.required("VersionId")?).await?
        }
        "SetDefaultPolicyVersion" => {
            policies::set_default(s, p.required("PolicyArn")?, p.required("VersionId")?).await?
        }
        _ => return Ok(false),
    }
    Ok(true)
}
