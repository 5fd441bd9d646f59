//! IAM, query protocol (version 2010-05-08, signing name `iam`): users and their access
//! keys (here), groups, roles and policies on any identity ([`identities`]), managed
//! policies and their versions ([`policies`]), and SimulatePrincipalPolicy
//! ([`simulate`]). IAM is global: every region's endpoint serves the same identities.
//! [`OPERATIONS`] lists what is implemented.

use async_trait::async_trait;
use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_control::iam::{self as control, IamError};
use flotilla_model::iam::user::{AccessKeyRecord, UserRecord};
use http::StatusCode;

use crate::pagination::{paginate, Order};
use crate::query::{ParamError, Params};
use crate::State;

mod identities;
mod policies;
mod simulate;

/// Every IAM operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "AddUserToGroup",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "CreateAccessKey",
    "CreateGroup",
    "CreatePolicy",
    "CreatePolicyVersion",
    "CreateRole",
    "CreateUser",
    "DeleteAccessKey",
    "DeleteGroup",
    "DeleteGroupPolicy",
    "DeletePolicy",
    "DeletePolicyVersion",
    "DeleteRole",
    "DeleteRolePolicy",
    "DeleteUser",
    "DeleteUserPolicy",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "GetGroup",
    "GetGroupPolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "GetRole",
    "GetRolePolicy",
    "GetUser",
    "GetUserPolicy",
    "ListAccessKeys",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "ListAttachedUserPolicies",
    "ListGroupPolicies",
    "ListGroups",
    "ListGroupsForUser",
    "ListPolicies",
    "ListPolicyVersions",
    "ListRolePolicies",
    "ListRoles",
    "ListUserPolicies",
    "ListUsers",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "RemoveUserFromGroup",
    "SetDefaultPolicyVersion",
    "SimulatePrincipalPolicy",
    "UpdateAccessKey",
    "UpdateAssumeRolePolicy",
];

pub struct Iam {
    spec: AwsServiceSpec,
    state: State,
}

impl Iam {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "iam",
            protocol: Protocol::Query,
            target_prefix: "",
            xmlns: "https://iam.amazonaws.com/doc/2010-05-08/",
        };
        Iam { spec, state }
    }
}

#[async_trait]
impl AwsService for Iam {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let p = Params::new(crate::query::form(input, "IAM")?);
        let mut w = XmlWriter::new();
        dispatch(&self.state, ctx, operation, &p, &mut w)
            .await
            .map_err(wire)?;
        Ok(Output::Xml(w.finish()))
    }
}

/// The keys IAM hands out, for the gateway to verify signatures with: users' active
/// access keys, and sessions' unexpired temporary keys with their tokens (an inactive,
/// deleted or expired key is unknown: `InvalidClientTokenId`).
pub struct IamKeys {
    state: State,
}

impl IamKeys {
    pub fn new(state: State) -> Self {
        IamKeys { state }
    }
}

impl flotilla_aws::KeySource for IamKeys {
    fn key(&self, access_key_id: &str) -> Option<flotilla_aws::Key> {
        let account = self.state.account();
        if let Some((key, user)) = control::active_key(&self.state, access_key_id) {
            return Some(flotilla_aws::Key {
                secret: key.secret_access_key.clone(),
                principal: flotilla_aws::Principal::User,
                region: String::new(),
                arn: user.arn(account),
                session_token: None,
            });
        }
        let (session, _) = control::roles::active_session(&self.state, access_key_id)?;
        Some(flotilla_aws::Key {
            secret: session.secret_access_key.clone(),
            principal: flotilla_aws::Principal::User,
            region: String::new(),
            arn: session.arn(account),
            session_token: Some(session.session_token.clone()),
        })
    }
}

/// IAM's code and status for each error.
pub(crate) fn wire(e: IamError) -> AwsError {
    let (status, code) = match &e {
        IamError::Validation(_) => (StatusCode::BAD_REQUEST, "ValidationError"),
        IamError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "InvalidInput"),
        IamError::NoSuchEntity(_) => (StatusCode::NOT_FOUND, "NoSuchEntity"),
        IamError::AlreadyExists(_) => (StatusCode::CONFLICT, "EntityAlreadyExists"),
        IamError::DeleteConflict(_) => (StatusCode::CONFLICT, "DeleteConflict"),
        IamError::Limit(_) => (StatusCode::CONFLICT, "LimitExceeded"),
        IamError::MalformedPolicy(_) => (StatusCode::BAD_REQUEST, "MalformedPolicyDocument"),
        IamError::AccessDenied(_) => (StatusCode::FORBIDDEN, "AccessDenied"),
        IamError::Control(c) if c.is_retriable() => {
            return AwsError::server("ServiceFailure", c.to_string())
        }
        IamError::Control(_) => (StatusCode::BAD_REQUEST, "InvalidInput"),
    };
    AwsError::new(status, code, e.to_string())
}

impl From<ParamError> for IamError {
    fn from(e: ParamError) -> Self {
        IamError::Validation(e.message().to_string())
    }
}

async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), IamError> {
    let account = s.account();
    match operation {
        "CreateUser" => {
            let user =
                control::create_user(s, p.required("UserName")?, p.get("Path"), tags(p)?).await?;
            w.node("User", |w| user_shape(w, account, &user));
        }
        "GetUser" => {
            let caller = control::active_key(s, &ctx.access_key).map(|(_, u)| u);
            match (p.get("UserName"), caller) {
                (Some(name), _) => {
                    let user = control::get_user(s, name)?;
                    w.node("User", |w| user_shape(w, account, &user.value));
                }
                // The caller itself: a user's key answers its user.
                (None, Some(user)) => {
                    w.node("User", |w| user_shape(w, account, &user));
                }
                // With the root key, the account's root user.
                (None, None) => {
                    w.node("User", |w| {
                        w.leaf("Path", "/");
                        w.leaf("UserName", "root");
                        w.leaf("UserId", account);
                        w.leaf("Arn", &ctx.principal_arn);
                        w.leaf("CreateDate", &iso(chrono::DateTime::UNIX_EPOCH));
                    });
                }
            }
        }
        "ListUsers" => {
            let prefix = p.get("PathPrefix").unwrap_or("/");
            let users = control::list_users(s, prefix);
            let (page, marker) = page(p, users, |u| u.user_name.clone())?;
            w.node("Users", |w| {
                for u in &page {
                    w.node("member", |w| user_shape(w, account, u));
                }
            });
            truncated(w, marker);
        }
        "DeleteUser" => control::delete_user(s, p.required("UserName")?).await?,
        "CreateAccessKey" => {
            let user = p
                .get("UserName")
                .ok_or_else(|| root_keys("CreateAccessKey"))?;
            let key = control::create_access_key(s, user).await?;
            w.node("AccessKey", |w| {
                w.leaf("UserName", &key.user_name);
                w.leaf("AccessKeyId", &key.access_key_id);
                w.leaf("Status", key.status());
                w.leaf("SecretAccessKey", &key.secret_access_key);
                w.leaf("CreateDate", &iso(key.created_at));
            });
        }
        "ListAccessKeys" => {
            let name = p
                .get("UserName")
                .ok_or_else(|| root_keys("ListAccessKeys"))?;
            control::get_user(s, name)?;
            let keys: Vec<AccessKeyRecord> = control::keys_of(s, name)
                .into_iter()
                .map(|e| (*e.value).clone())
                .collect();
            let (page, marker) = page(p, keys, |k| k.access_key_id.clone())?;
            w.node("AccessKeyMetadata", |w| {
                for k in &page {
                    w.node("member", |w| {
                        w.leaf("UserName", &k.user_name);
                        w.leaf("AccessKeyId", &k.access_key_id);
                        w.leaf("Status", k.status());
                        w.leaf("CreateDate", &iso(k.created_at));
                    });
                }
            });
            truncated(w, marker);
        }
        "UpdateAccessKey" => {
            let active = match p.required("Status")? {
                "Active" => true,
                "Inactive" => false,
                other => {
                    return Err(IamError::Validation(format!(
                        "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                    )))
                }
            };
            control::update_access_key(s, p.get("UserName"), p.required("AccessKeyId")?, active)
                .await?;
        }
        "DeleteAccessKey" => {
            control::delete_access_key(s, p.get("UserName"), p.required("AccessKeyId")?).await?
        }
        other => {
            let handled = identities::dispatch(s, other, p, w).await?
                || policies::dispatch(s, other, p, w).await?
                || simulate::dispatch(s, other, p, w)?;
            if !handled {
                return Err(IamError::InvalidInput(format!(
                    "Could not find operation {other} for version 2010-05-08."
                )));
            }
        }
    }
    Ok(())
}

/// Percent-encoding of everything but unreserved characters (RFC 3986): how IAM
/// returns policy documents.
fn urlencoding(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `Tags` members of a request.
fn tags(p: &Params) -> Result<Vec<(String, String)>, ParamError> {
    p.members("Tags")
        .iter()
        .map(|t| {
            let key = t.required("Key")?.to_string();
            Ok((key, t.get("Value").unwrap_or("").to_string()))
        })
        .collect()
}

fn tags_shape(w: &mut XmlWriter, tags: &[(String, String)]) {
    if !tags.is_empty() {
        w.node("Tags", |w| {
            for (k, v) in tags {
                w.node("member", |w| {
                    w.leaf("Key", k);
                    w.leaf("Value", v);
                });
            }
        });
    }
}

/// Keys of the root user are not served: the root keys are the server's own.
fn root_keys(op: &str) -> IamError {
    IamError::Validation(format!(
        "{op} needs UserName: the account root's keys are the server's own (FLOTILLA_ACCESS_KEY_ID) and are not managed through IAM."
    ))
}

fn user_shape(w: &mut XmlWriter, account: &str, u: &UserRecord) {
    w.leaf("Path", &u.path);
    w.leaf("UserName", &u.user_name);
    w.leaf("UserId", &u.user_id);
    w.leaf("Arn", &u.arn(account));
    w.leaf("CreateDate", &iso(u.created_at));
    tags_shape(w, &u.tags);
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One page by `Marker` and `MaxItems` (1 to 1,000; 100 by default).
fn page<T>(
    p: &Params,
    items: Vec<T>,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), IamError> {
    let size = p.int("MaxItems", 1, 1000)?.unwrap_or(100) as usize;
    paginate(items, key, Order::Asc, p.get("Marker"), size)
        .map_err(|e| IamError::Validation(e.to_string()))
}

fn truncated(w: &mut XmlWriter, marker: Option<String>) {
    w.leaf("IsTruncated", &marker.is_some().to_string());
    if let Some(m) = marker {
        w.leaf("Marker", &m);
    }
}
