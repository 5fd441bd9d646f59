//! Task definitions: what a `taskDefinition` parameter names.

use flotilla_model::task_definition::TaskDefinitionStatus;
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::{ecs_name, EcsRef, ModelError, Scope};
use flotilla_store::view::Entry;

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
pub fn parse_ref(s: &str) -> Result<Ref, ModelError> {
    let body = ecs_name(s, EcsRef::TaskDefinition)?;
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

/// The revision a task definition ARN or `family:revision` names, if it exists.
pub fn by_ref(state: &State, scope: &Scope, id: &str) -> Option<Entry<TaskDefinitionRecord>> {
    parse_ref(id).ok().and_then(|r| find(state, scope, &r))
}

/// The task definition `id` names, or "TaskDefinition not found." (InvalidParameter).
pub fn resolve(
    state: &State,
    scope: &Scope,
    id: &str,
) -> Result<Entry<TaskDefinitionRecord>, ControlError> {
    let r = parse_ref(id)?;
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
