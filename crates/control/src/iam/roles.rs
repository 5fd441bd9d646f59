//! IAM roles and STS sessions: CreateRole with a trust policy, GetRole, ListRoles,
//! DeleteRole, UpdateAssumeRolePolicy; AssumeRole hands out temporary credentials (a
//! session record at `keys::iam_session(id)`, so every server verifies them) once the
//! role's trust policy and the caller's own policies allow it; ECS asks for a task role's
//! credentials as the service `ecs-tasks.amazonaws.com`. Expired sessions are deleted by
//! the retention controller ([`reap_sessions`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::iam::eval::{trusts, Caller, Context, Decision};
use flotilla_model::iam::policy::{parse, quota_size, PolicyKind};
use flotilla_model::iam::role::{
    check_session_name, new_session_token, role_name_of, RoleRecord, SessionRecord,
    DEFAULT_DURATION_SECONDS, MAX_SESSION_SECONDS, MIN_DURATION_SECONDS, MIN_SESSION_SECONDS,
    TRUST_POLICY_QUOTA,
};
use flotilla_model::iam::user::{check_name, check_path, new_id, new_secret};
use flotilla_model::record::encode;

use super::identities::{self, delete_if_unchanged, Stored};
use super::{contended, IamError, ATTEMPTS};
use crate::{keys, Entry, State};

/// Deletes per transaction when reaping expired sessions.
const REAP_BATCH: usize = 500;

fn check_trust(text: &str) -> Result<(), IamError> {
    parse(text, PolicyKind::Trust).map_err(|e| IamError::MalformedPolicy(e.0))?;
    if quota_size(text) > TRUST_POLICY_QUOTA {
        return Err(IamError::Limit(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_QUOTA}"
        )));
    }
    Ok(())
}

/// What CreateRole takes.
pub struct NewRole<'a> {
    pub name: &'a str,
    pub path: Option<&'a str>,
    pub trust_policy: &'a str,
    pub description: Option<&'a str>,
    pub max_session_duration: Option<u32>,
    pub tags: Vec<(String, String)>,
}

/// CreateRole.
pub async fn create(state: &State, new: NewRole<'_>) -> Result<Arc<RoleRecord>, IamError> {
    check_name("Role", new.name).map_err(IamError::Validation)?;
    let path = new.path.unwrap_or("/");
    check_path(path).map_err(IamError::Validation)?;
    let max = new.max_session_duration.unwrap_or(MIN_SESSION_SECONDS);
    if !(MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS).contains(&max) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between {MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS}"
        )));
    }
    let description = new.description.unwrap_or("");
    if description.chars().count() > 1000 {
        return Err(IamError::Validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000".into(),
        ));
    }
    check_trust(new.trust_policy)?;
    let role = RoleRecord {
        role_name: new.name.to_string(),
        role_id: new_id("AROA", 17),
        path: path.to_string(),
        created_at: Utc::now(),
        assume_role_policy: new.trust_policy.to_string(),
        description: description.to_string(),
        max_session_duration: max,
        tags: new.tags,
        attached_policies: vec![],
        inline_policies: Default::default(),
    };
    if !state
        .put_if_unchanged(&RoleRecord::key(new.name), 0, encode(&role))
        .await?
    {
        return Err(IamError::AlreadyExists(format!(
            "Role with name {} already exists.",
            new.name
        )));
    }
    Ok(Arc::new(role))
}

/// UpdateAssumeRolePolicy.
pub async fn update_trust(state: &State, name: &str, text: &str) -> Result<(), IamError> {
    check_trust(text)?;
    for _ in 0..ATTEMPTS {
        let entry = identities::get::<RoleRecord>(state, name)?;
        let mut record = (*entry.value).clone();
        record.assume_role_policy = text.to_string();
        if state
            .put_if_unchanged(&RoleRecord::key(name), entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(());
        }
    }
    Err(contended(&format!("The role {name}")))
}

/// DeleteRole: refused while policies remain.
pub async fn delete(state: &State, name: &str) -> Result<(), IamError> {
    for _ in 0..ATTEMPTS {
        let entry = identities::get::<RoleRecord>(state, name)?;
        if delete_if_unchanged(state, &entry, vec![]).await? {
            return Ok(());
        }
    }
    Err(contended(&format!("The role {name}")))
}

/// The role an ARN names, if it exists with that path.
pub fn by_arn(state: &State, arn: &str) -> Option<Entry<RoleRecord>> {
    let name = role_name_of(arn)?;
    identities::get::<RoleRecord>(state, name)
        .ok()
        .filter(|e| e.value.arn(state.account()) == arn)
}

/// Who asks for a role's credentials.
#[derive(Debug, Clone, Copy)]
pub enum Assumer<'a> {
    /// The account's root key: the trust policy must name the account (or the caller).
    Root { arn: &'a str },
    /// A user or a role session, by the access key it signed with: the trust policy and
    /// its own policies must both allow `sts:AssumeRole` on the role.
    Identity { arn: &'a str, access_key: &'a str },
    /// An AWS service (`ecs-tasks.amazonaws.com` for a task's role): the trust policy
    /// must name it.
    Service(&'a str),
}

/// AssumeRole: a new session of the role `role_arn`, valid for `duration` seconds (900
/// to the role's maximum; an hour by default).
pub async fn assume(
    state: &State,
    who: Assumer<'_>,
    role_arn: &str,
    session_name: &str,
    duration: Option<u32>,
) -> Result<SessionRecord, IamError> {
    check_session_name(session_name).map_err(IamError::Validation)?;
    let account = state.account();
    let (caller, caller_arn) = match who {
        Assumer::Root { arn } | Assumer::Identity { arn, .. } => {
            (Caller::Aws { arn, account }, arn)
        }
        Assumer::Service(service) => (Caller::Service(service), service),
    };
    let denied = || {
        IamError::AccessDenied(format!(
            "User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        ))
    };
    let role = by_arn(state, role_arn).ok_or_else(denied)?.value;
    let trust = parse(&role.assume_role_policy, PolicyKind::Trust).map_err(|_| denied())?;
    let mut context = Context::default();
    context.set_one("aws:PrincipalArn", caller_arn);
    if trusts(&trust, caller, "sts:AssumeRole", &context) != Decision::Allow {
        return Err(denied());
    }
    if let Assumer::Identity { access_key, .. } = who {
        let allowed = super::authorize::acting(state, access_key).is_some_and(|a| {
            a.decide("sts:AssumeRole", role_arn, &Context::default())
                .allowed()
        });
        if !allowed {
            return Err(denied());
        }
    }
    let seconds = duration.unwrap_or(DEFAULT_DURATION_SECONDS);
    // STS's bounds hold for callers of AssumeRole; a service's own sessions (a task
    // role's) last what the server is configured for.
    let service = matches!(who, Assumer::Service(_));
    if !service && seconds < MIN_DURATION_SECONDS {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_DURATION_SECONDS}"
        )));
    }
    if !service && seconds > role.max_session_duration {
        return Err(IamError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        ));
    }
    let session = SessionRecord {
        access_key_id: new_id("ASIA", 16),
        secret_access_key: new_secret(),
        session_token: new_session_token(),
        role_name: role.role_name.clone(),
        session_name: session_name.to_string(),
        expires_at: Utc::now() + chrono::Duration::seconds(i64::from(seconds)),
    };
    if !state
        .put_if_unchanged(
            &keys::iam_session(&session.access_key_id),
            0,
            encode(&session),
        )
        .await?
    {
        return Err(contended("A new session key"));
    }
    Ok(session)
}

/// The service principal ECS tasks assume their roles as.
pub const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// A new session of a task's role for the task `task_id`, lasting the configured task
/// credentials' lifetime; refused (`AccessDenied`) unless the role trusts ECS tasks.
pub async fn task_session(
    state: &State,
    role_arn: &str,
    task_id: &str,
) -> Result<SessionRecord, IamError> {
    let seconds = u32::try_from(state.config().task_credentials.as_secs()).unwrap_or(u32::MAX);
    assume(
        state,
        Assumer::Service(ECS_TASKS),
        role_arn,
        task_id,
        Some(seconds),
    )
    .await
}

/// Whether the role `role_arn` exists and its trust policy lets `service` assume it.
pub fn trusts_service(state: &State, role_arn: &str, service: &str) -> bool {
    let Some(role) = by_arn(state, role_arn) else {
        return false;
    };
    parse(&role.value.assume_role_policy, PolicyKind::Trust).is_ok_and(|trust| {
        trusts(
            &trust,
            Caller::Service(service),
            "sts:AssumeRole",
            &Context::default(),
        ) == Decision::Allow
    })
}

/// A session's temporary key that has not expired, and its role.
pub fn active_session(
    state: &State,
    access_key_id: &str,
) -> Option<(Arc<SessionRecord>, Arc<RoleRecord>)> {
    let session = state
        .iam()
        .sessions
        .get(keys::iam_session(access_key_id).as_bytes())?
        .value;
    if session.expires_at <= Utc::now() {
        return None;
    }
    let role = identities::get::<RoleRecord>(state, &session.role_name)
        .ok()?
        .value;
    Some((session, role))
}

/// Delete the sessions that expired before `now`; how many.
pub async fn reap_sessions(state: &State, now: DateTime<Utc>) -> Result<usize, IamError> {
    let expired: Vec<(Vec<u8>, i64)> = state
        .iam()
        .sessions
        .range(keys::IAM_SESSIONS.as_bytes())
        .iter()
        .filter(|(_, e)| e.value.expires_at <= now)
        .map(|(k, e)| (k.clone(), e.mod_revision))
        .collect();
    Ok(state.delete_unchanged(&expired, REAP_BATCH).await?)
}
