//! Daemon task definitions: registered (revisions count up per daemon family, as task
//! definitions' do, through the same counter transaction), found by `family`,
//! `family:revision` or ARN, and deleted.

use chrono::{DateTime, Utc};
use flotilla_model::daemon::task_definition::{DaemonTaskDefinitionRecord, Extras, Status};
use flotilla_model::record::encode;
use flotilla_model::task_definition::{RegisterTaskDefinitionInput, TaskDefinition};
use flotilla_model::{Arn, ModelError, Scope};
use flotilla_store::view::Entry;

use crate::ecs::task_definitions::{next_revision, parse_revision_ref};
use crate::{keys, ControlError, State};

/// What a `daemonTaskDefinition` parameter names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// A family's latest ACTIVE revision.
    Latest(String),
    Revision(String, i64),
}

/// The ARN of revision `revision` of daemon family `family`.
pub fn arn(scope: &Scope, family: &str, revision: i64) -> String {
    (scope.arn("ecs", format!("daemon-task-definition/{family}:{revision}"))).to_string()
}

/// Parse `family`, `family:revision` or a daemon task definition ARN.
pub fn parse_ref(s: &str, scope: &Scope) -> Result<Ref, ModelError> {
    let body = if s.starts_with("arn:") {
        let a = Arn::parse(s)
            .filter(|a| a.service == "ecs" && a.resource_parts().0 == "daemon-task-definition")
            .ok_or_else(|| {
                ModelError::invalid(format!(
                    "'{s}' is not a daemon task definition ARN \
                     (arn:aws:ecs:REGION:ACCOUNT:daemon-task-definition/FAMILY:REVISION)."
                ))
            })?;
        a.within(scope)?;
        a.resource_parts().1.to_string()
    } else {
        s.to_string()
    };
    if body.is_empty() {
        return Err(ModelError::invalid(
            "daemonTaskDefinition must not be empty.",
        ));
    }
    if body.contains(':') {
        let (family, revision) = parse_revision_ref(&body)?;
        Ok(Ref::Revision(family, revision))
    } else {
        Ok(Ref::Latest(body))
    }
}

/// The stored revision a reference names, if any.
pub fn find(state: &State, scope: &Scope, r: &Ref) -> Option<Entry<DaemonTaskDefinitionRecord>> {
    let defs = state.daemon_task_definitions();
    match r {
        Ref::Revision(family, revision) => {
            defs.get(keys::daemon_task_definition(&scope.region, family, *revision).as_bytes())
        }
        Ref::Latest(family) => defs
            .range(keys::daemon_family_revisions(&scope.region, family).as_bytes())
            .into_iter()
            .rev()
            .map(|(_, e)| e)
            .find(|e| e.value.status == Status::Active),
    }
}

/// The ACTIVE revision `id` names, for a daemon to run (ClientException otherwise).
pub fn usable(
    state: &State,
    scope: &Scope,
    id: &str,
) -> Result<Entry<DaemonTaskDefinitionRecord>, ControlError> {
    let r = parse_ref(id, scope)?;
    find(state, scope, &r)
        .filter(|e| e.value.status == Status::Active)
        .ok_or_else(|| {
            ControlError::client(format!(
                "The daemon task definition {id} does not exist or is not ACTIVE."
            ))
        })
}

/// Register the next revision of `input.family` (validated by the caller).
pub async fn register(
    state: &State,
    scope: &Scope,
    input: RegisterTaskDefinitionInput,
    extras: Extras,
    principal: &str,
    now: DateTime<Utc>,
) -> Result<DaemonTaskDefinitionRecord, ControlError> {
    let family = input.family.clone();
    next_revision(
        state,
        &keys::daemon_family(&scope.region, &family),
        &family,
        |revision| keys::daemon_task_definition(&scope.region, &family, revision),
        |revision, revision32| DaemonTaskDefinitionRecord {
            definition: TaskDefinition::from_input(
                input.clone(),
                arn(scope, &family, revision),
                revision32,
                now,
                Some(principal.to_string()),
            ),
            volumes: extras.volumes.clone(),
            pid_mode: extras.pid_mode.clone(),
            ipc_mode: extras.ipc_mode.clone(),
            status: Status::Active,
            delete_requested_at: None,
            tags: extras.tags.clone(),
        },
    )
    .await
}

/// DeleteDaemonTaskDefinition: the ACTIVE revision `entry` is DELETED, or
/// DELETE_IN_PROGRESS while a daemon still runs it (existing daemons keep running it).
pub async fn delete(
    state: &State,
    scope: &Scope,
    entry: Entry<DaemonTaskDefinitionRecord>,
    now: DateTime<Utc>,
) -> Result<DaemonTaskDefinitionRecord, ControlError> {
    let mut record = (*entry.value).clone();
    if record.status != Status::Active {
        return Err(ControlError::client(format!(
            "The daemon task definition {} is not ACTIVE: it is {}.",
            record.arn(),
            record.status.as_str()
        )));
    }
    let in_use = (state.daemons().range(keys::DAEMONS.as_bytes()).into_iter()).any(|(_, d)| {
        d.value
            .target()
            .is_some_and(|r| r.daemon_task_definition_arn == record.arn())
    });
    record.status = if in_use {
        Status::DeleteInProgress
    } else {
        Status::Deleted
    };
    record.delete_requested_at = Some(now);
    let key = keys::daemon_task_definition(&scope.region, record.family(), record.revision());
    if !state
        .put_if_unchanged(&key, entry.mod_revision, encode(&record))
        .await?
    {
        return Err(ControlError::changed_meanwhile("daemon task definition"));
    }
    Ok(record)
}
