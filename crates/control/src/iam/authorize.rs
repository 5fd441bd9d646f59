//! Deciding a request: who signed it ([`acting`]: a user with its groups, or a role
//! session) and the policies it acts with, then the decision for each action and resource
//! the request touches. Policy documents are parsed once per distinct text and shared.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use flotilla_model::iam::customer::policy_name_of;
use flotilla_model::iam::eval::{evaluate, Context, Decision, Request};
use flotilla_model::iam::group::GroupRecord;
use flotilla_model::iam::identity::Identity;
use flotilla_model::iam::managed;
use flotilla_model::iam::policy::{parse, PolicyDocument, PolicyKind};
use flotilla_model::iam::role::RoleRecord;
use flotilla_model::iam::user::UserRecord;

use super::{identities, IamError};
use crate::{keys, State};

/// Parsed documents by a key that names their text: a managed policy's id and version
/// (a version's text never changes, and a policy made again has a new id), or an inline
/// policy's text itself. Stored documents were checked when written, so every one parses;
/// the cache is emptied when it grows past this many.
const CACHE_LIMIT: usize = 4_096;
static PARSED: LazyLock<Mutex<HashMap<String, Arc<PolicyDocument>>>> =
    LazyLock::new(Default::default);

fn parsed(key: &str, text: &str) -> Option<Arc<PolicyDocument>> {
    let mut cache = PARSED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(doc) = cache.get(key) {
        return Some(doc.clone());
    }
    let doc = Arc::new(parse(text, PolicyKind::Identity).ok()?);
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(key.to_string(), doc.clone());
    Some(doc)
}

/// A policy an identity acts with: AWS's (built in) or the account's (parsed, shared).
#[derive(Clone)]
enum Document {
    Builtin(&'static PolicyDocument),
    Parsed(Arc<PolicyDocument>),
}

impl Document {
    fn get(&self) -> &PolicyDocument {
        match self {
            Document::Builtin(d) => d,
            Document::Parsed(d) => d,
        }
    }
}

/// The identity that signed a request and every policy it acts with.
#[derive(Clone)]
pub struct Acting {
    /// The user's ARN, or the session's `assumed-role` ARN.
    pub arn: String,
    /// What GetCallerIdentity answers as `UserId`: the user's id, or `ROLEID:SESSION`.
    pub user_id: String,
    documents: Vec<Document>,
    context: Context,
}

impl Acting {
    /// The decision for `action` on `resource`, with `extra` condition keys besides the
    /// principal's own.
    pub fn decide(&self, action: &str, resource: &str, extra: &Context) -> Decision {
        let mut context = self.context.clone();
        context.extend(extra);
        evaluate(
            self.documents.iter().map(Document::get),
            &Request {
                action,
                resource,
                context: &context,
            },
        )
    }
}

/// The documents of an identity's attached and inline policies.
fn documents_of<T: Identity>(state: &State, identity: &T, out: &mut Vec<Document>) {
    for arn in identity.attached() {
        if let Some(doc) = managed::document(arn) {
            out.push(Document::Builtin(doc));
        } else if let Some(name) = policy_name_of(arn, state.account()) {
            let own = state.iam().policies.get(keys::iam_policy(name).as_bytes());
            let doc = own.and_then(|p| {
                let key = format!("{}:{}", p.value.policy_id, p.value.default_version);
                parsed(&key, p.value.document())
            });
            if let Some(doc) = doc {
                out.push(Document::Parsed(doc));
            }
        }
    }
    out.extend(
        identity
            .inline()
            .values()
            .filter_map(|t| parsed(t, t))
            .map(Document::Parsed),
    );
}

/// The documents a user acts with: its own and its groups'.
fn documents_of_user(state: &State, user: &UserRecord, out: &mut Vec<Document>) {
    documents_of(state, user, out);
    for group in &user.groups {
        if let Ok(g) = identities::get::<GroupRecord>(state, group) {
            documents_of(state, g.value.as_ref(), out);
        }
    }
}

/// The policies of the user, group or role `arn` (SimulatePrincipalPolicy's source).
pub fn of_arn(state: &State, arn: &str) -> Result<Acting, IamError> {
    let account = state.account();
    let missing = || IamError::NoSuchEntity(format!("The entity {arn} cannot be found."));
    let resource = arn
        .strip_prefix(&format!("arn:aws:iam::{account}:"))
        .ok_or_else(|| {
            IamError::InvalidInput(format!(
                "Invalid ARN {arn}: not a user, group or role of this account."
            ))
        })?;
    let (kind, rest) = resource.split_once('/').ok_or_else(missing)?;
    let name = rest.rsplit('/').next().unwrap_or(rest);
    let mut documents = Vec::new();
    let mut context = Context::default();
    match kind {
        "user" => {
            let u = identities::get::<UserRecord>(state, name)?.value;
            documents_of_user(state, &u, &mut documents);
            context.set_one("aws:username", u.user_name.clone());
        }
        "group" => {
            let g = identities::get::<GroupRecord>(state, name)?.value;
            documents_of(state, g.as_ref(), &mut documents);
        }
        "role" => {
            let r = identities::get::<RoleRecord>(state, name)?.value;
            documents_of(state, r.as_ref(), &mut documents);
        }
        _ => return Err(missing()),
    }
    context.set_one("aws:PrincipalArn", arn);
    Ok(Acting {
        arn: arn.to_string(),
        user_id: String::new(),
        documents,
        context,
    })
}

/// Who signed with `access_key` (a user's active key, or an unexpired session's), and
/// the policies it acts with; `None` for any other key.
pub fn acting(state: &State, access_key: &str) -> Option<Acting> {
    let account = state.account();
    let mut documents = Vec::new();
    let mut context = Context::default();
    // aws:PrincipalArn is the role's ARN for a session (IAM's rule), the user's otherwise.
    let (arn, user_id, principal_arn) =
        if let Some((_, user)) = super::active_key(state, access_key) {
            documents_of_user(state, &user, &mut documents);
            context.set_one("aws:username", user.user_name.clone());
            (user.arn(account), user.user_id.clone(), user.arn(account))
        } else if let Some((session, role)) = super::roles::active_session(state, access_key) {
            documents_of(state, role.as_ref(), &mut documents);
            (
                session.arn(account),
                format!("{}:{}", role.role_id, session.session_name),
                role.arn(account),
            )
        } else {
            return None;
        };
    context
        .set_one("aws:userid", user_id.clone())
        .set_one("aws:PrincipalArn", principal_arn)
        .set_one("aws:PrincipalAccount", account.to_string());
    Some(Acting {
        arn,
        user_id,
        documents,
        context,
    })
}
