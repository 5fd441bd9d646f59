//! Task definitions: what a `taskDefinition` parameter names, and registering,
//! deregistering and deleting revisions. Revisions count up per family from a family record
//! updated in the same transaction as the revision, so concurrent registrations get
//! distinct revisions and a revision number is never reused, even after deletion.

use flotilla_model::daemon::task_definition::DaemonTaskDefinitionRecord;
use flotilla_model::record::{decode, encode, Record};
use flotilla_model::tag::Tag;
use flotilla_model::task::TaskStatus;
use flotilla_model::task_definition::{
    RegisterTaskDefinitionInput, TaskDefinition, TaskDefinitionStatus,
};
use flotilla_model::task_definition_record::{FamilyRecord, TaskDefinitionRecord};
use flotilla_model::{ecs_name, Arn, EcsRef, ModelError, Scope};
use flotilla_store::view::{Entry, View};
use flotilla_store::{Compare, Op, Txn};

use crate::{keys, ControlError, State};

/// What a `taskDefinition` parameter names: a family's latest ACTIVE revision or one
/// revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Latest(String),
    Revision(String, i64),
}

/// `family:revision` → its parts; a client error when the revision is missing or bad.
pub fn parse_revision_ref(s: &str) -> Result<(String, i64), ModelError> {
    let (family, revision) = s.rsplit_once(':').ok_or_else(|| {
        ModelError::client(format!(
            "'{s}' does not name a revision: use family:revision or a full ARN."
        ))
    })?;
    let revision: i64 = revision.parse().ok().filter(|r| *r >= 1).ok_or_else(|| {
        ModelError::client(format!("The revision in '{s}' must be a positive number."))
    })?;
    Ok((family.to_string(), revision))
}

/// Parse `family`, `family:revision` or a task definition ARN.
pub fn parse_ref(s: &str, scope: &Scope) -> Result<Ref, ModelError> {
    let body = ecs_name(s, EcsRef::TaskDefinition, scope)?;
    if body.contains(':') {
        let (family, revision) = parse_revision_ref(&body)?;
        Ok(Ref::Revision(family, revision))
    } else {
        Ok(Ref::Latest(body))
    }
}

/// The stored revision a reference names, if any.
pub fn find(state: &State, scope: &Scope, r: &Ref) -> Option<Entry<TaskDefinitionRecord>> {
    match r {
        Ref::Revision(family, revision) => state
            .task_definitions()
            .get(keys::task_definition(&scope.region, family, *revision).as_bytes()),
        Ref::Latest(family) => state
            .task_definitions()
            .range(keys::family_revisions(&scope.region, family).as_bytes())
            .into_iter()
            .rev()
            .map(|(_, e)| e)
            .find(|e| e.value.status() == TaskDefinitionStatus::Active),
    }
}

/// The definitions a task can run: task definitions and daemon task definitions (a daemon
/// task is an ordinary task whose `taskDefinitionArn` names a daemon task definition).
#[derive(Clone)]
pub struct Definitions {
    pub tasks: View<TaskDefinitionRecord>,
    pub daemons: View<DaemonTaskDefinitionRecord>,
}

impl Definitions {
    /// `f` of the definition a task's `taskDefinitionArn` names, if it is stored.
    pub fn with<R>(&self, arn: &str, f: impl FnOnce(&TaskDefinition) -> R) -> Option<R> {
        let a = Arn::parse(arn)?;
        let (kind, rest) = a.resource_parts();
        let (family, revision) = rest.rsplit_once(':')?;
        let revision: i64 = revision.parse().ok()?;
        match kind {
            "task-definition" => {
                let key = keys::task_definition(&a.region, family, revision);
                self.tasks
                    .get(key.as_bytes())
                    .map(|e| f(&e.value.definition))
            }
            "daemon-task-definition" => {
                let key = keys::daemon_task_definition(&a.region, family, revision);
                self.daemons
                    .get(key.as_bytes())
                    .map(|e| f(&e.value.definition))
            }
            _ => None,
        }
    }
}

/// The definition a task runs, by its `taskDefinitionArn`.
pub fn of_task(state: &State, arn: &str) -> Option<TaskDefinition> {
    state.definitions().with(arn, TaskDefinition::clone)
}

/// The revision a task definition ARN or `family:revision` names, if it exists.
pub fn by_ref(state: &State, scope: &Scope, id: &str) -> Option<Entry<TaskDefinitionRecord>> {
    parse_ref(id, scope)
        .ok()
        .and_then(|r| find(state, scope, &r))
}

/// The task definition `id` names, or "TaskDefinition not found." (InvalidParameter).
pub fn resolve(
    state: &State,
    scope: &Scope,
    id: &str,
) -> Result<Entry<TaskDefinitionRecord>, ControlError> {
    let r = parse_ref(id, scope)?;
    find(state, scope, &r).ok_or_else(|| ControlError::invalid("TaskDefinition not found."))
}

/// Whether any container of the definition `id` names has a health check (false when it
/// names none).
pub fn has_health_check(state: &State, scope: &Scope, id: &str) -> bool {
    resolve(state, scope, id).is_ok_and(|d| {
        d.value
            .definition
            .container_definitions
            .iter()
            .any(|c| c.health_check.is_some())
    })
}

/// Register the next revision of `input.family` (validated by the caller), with `tags`,
/// registered by `principal`.
pub async fn register(
    state: &State,
    scope: &Scope,
    input: RegisterTaskDefinitionInput,
    tags: Vec<Tag>,
    principal: &str,
) -> Result<TaskDefinitionRecord, ControlError> {
    let family = input.family.clone();
    next_revision(
        state,
        &keys::family(&scope.region, &family),
        &family,
        |revision| keys::task_definition(&scope.region, &family, revision),
        |revision, revision32| TaskDefinitionRecord {
            definition: TaskDefinition::from_input(
                input.clone(),
                scope.task_definition_arn(&family, revision),
                revision32,
                chrono::Utc::now(),
                Some(principal.to_string()),
            ),
            tags: tags.clone(),
        },
    )
    .await
}

/// Store `build(revision)` at `revision_key(revision)` for the next revision of the family
/// whose counter is at `family_key`, in one transaction with the counter (task definitions
/// and daemon task definitions count their families this way).
pub(crate) async fn next_revision<T: Record + serde::Serialize>(
    state: &State,
    family_key: &str,
    family: &str,
    revision_key: impl Fn(i64) -> String,
    build: impl Fn(i64, i32) -> T,
) -> Result<T, ControlError> {
    // Registrations of one family take turns within this process; across processes the
    // compare-and-swap on the counter decides, and the loser retries with the new value.
    let _turn = state.family_locks().lock(family_key).await;
    for _ in 0..16 {
        let current = state.store().get(family_key.as_bytes()).await?;
        let (last, mod_revision) = match &current {
            Some(kv) => {
                let rec: FamilyRecord = decode(&kv.value).map_err(|e| {
                    ControlError::Store(format!("corrupt family record {family_key}: {e}"))
                })?;
                (rec.last_revision, kv.mod_revision)
            }
            None => (0, 0),
        };
        let revision = last + 1;
        let revision32 = i32::try_from(revision).map_err(|_| {
            ControlError::client(format!("Family '{family}' has no revisions left."))
        })?;
        let record = build(revision, revision32);
        let txn = Txn {
            compares: vec![Compare::unchanged(family_key, mod_revision)],
            success: vec![
                Op::put(
                    family_key,
                    encode(&FamilyRecord {
                        last_revision: revision,
                    }),
                ),
                Op::put(revision_key(revision), encode(&record)),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(record);
        }
    }
    Err(ModelError::server(format!(
        "Too many concurrent registrations of family '{family}'; retry the request."
    ))
    .into())
}

/// Make the revision `entry` INACTIVE (a no-op when it is not ACTIVE); answers the record.
pub async fn deregister(
    state: &State,
    scope: &Scope,
    entry: Entry<TaskDefinitionRecord>,
) -> Result<TaskDefinitionRecord, ControlError> {
    let mut record = (*entry.value).clone();
    if record.status() != TaskDefinitionStatus::Active {
        return Ok(record);
    }
    record.definition.status = TaskDefinitionStatus::Inactive;
    record.definition.deregistered_at = Some(chrono::Utc::now());
    let key = keys::task_definition(&scope.region, record.family(), record.revision());
    if !state
        .put_if_unchanged(&key, entry.mod_revision, encode(&record))
        .await?
    {
        return Err(ControlError::changed_meanwhile("task definition"));
    }
    Ok(record)
}

/// Why a revision cannot be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDeleted {
    /// It is still ACTIVE: deregister it first.
    Active,
    /// A task that has not stopped runs it.
    InUse,
    /// It changed while being deleted.
    Changed,
}

/// Delete the INACTIVE revision `entry` (no task that has not stopped may run it).
pub async fn delete(
    state: &State,
    scope: &Scope,
    entry: &Entry<TaskDefinitionRecord>,
) -> Result<Result<(), NotDeleted>, ControlError> {
    let record = &entry.value;
    if record.status() == TaskDefinitionStatus::Active {
        return Ok(Err(NotDeleted::Active));
    }
    let in_use = state
        .tasks()
        .range(keys::TASKS.as_bytes())
        .into_iter()
        .any(|(_, t)| {
            t.value.task_definition_arn == record.arn() && t.value.last_status < TaskStatus::Stopped
        });
    if in_use {
        return Ok(Err(NotDeleted::InUse));
    }
    let key = keys::task_definition(&scope.region, record.family(), record.revision());
    let txn = Txn {
        compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
        success: vec![Op::delete(key)],
        failure: vec![],
    };
    if state.commit(txn).await?.succeeded {
        Ok(Ok(()))
    } else {
        Ok(Err(NotDeleted::Changed))
    }
}
