//! CloudWatch Logs' log groups: create, look up, list, delete, retention and tags. One
//! record per group at `keys::log_group(region, name)`, so a lookup by name is one read of
//! the view and a region's groups are one key range in name order (DescribeLogGroups'
//! order).
//!
//! Streams and events are not the control plane's: they live in `flotilla-telemetry`'s
//! log storage, which the API drives next to these records (creating a group here before
//! its streams there, deleting its streams there after the group here). The rules that
//! need no storage are `flotilla_model::logs`'. Errors are [`LogsError`], which
//! `flotilla-api` maps to Logs' wire codes in one place.

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_model::logs::{
    validate_group_name, validate_retention, validate_tag, LogGroupRecord, GROUP_CLASSES, MAX_TAGS,
};
use flotilla_model::record::encode;
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Txn};

use crate::{keys, ControlError, Entry, State};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// Why a Logs operation failed, in terms the wire mapping picks Logs' codes by.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogsError {
    /// No group (or stream) has this name.
    #[error("{0}")]
    NotFound(String),
    /// A group (or stream) of this name exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// A parameter breaks Logs' rules.
    #[error("{0}")]
    InvalidParameter(String),
    /// The group has deletion protection.
    #[error("{0}")]
    Protected(String),
    /// The group would have more than [`MAX_TAGS`] tags.
    #[error("{0}")]
    TooManyTags(String),
    /// The control plane failed (the store, a contended write, shutdown).
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<flotilla_store::StoreError> for LogsError {
    fn from(e: flotilla_store::StoreError) -> Self {
        LogsError::Control(e.into())
    }
}

fn not_found() -> LogsError {
    LogsError::NotFound("The specified log group does not exist.".into())
}

/// What CreateLogGroup is given.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    pub kms_key_id: Option<String>,
    /// `STANDARD` when absent.
    pub log_group_class: Option<String>,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    if tags.len() > MAX_TAGS {
        return Err(LogsError::TooManyTags(format!(
            "A log group may have at most {MAX_TAGS} tags; this would give it {}.",
            tags.len()
        )));
    }
    tags.iter()
        .try_for_each(|(k, v)| validate_tag(k, v))
        .map_err(LogsError::InvalidParameter)
}

/// Create a log group (ResourceAlreadyExists when the name is taken).
pub async fn create(
    state: &State,
    scope: &Scope,
    group: NewGroup,
) -> Result<LogGroupRecord, LogsError> {
    validate_group_name(&group.name).map_err(LogsError::InvalidParameter)?;
    check_tags(&group.tags)?;
    let class = group
        .log_group_class
        .unwrap_or_else(|| GROUP_CLASSES[0].to_string());
    if !GROUP_CLASSES.contains(&class.as_str()) {
        return Err(LogsError::InvalidParameter(format!(
            "logGroupClass '{class}' is not one of {}.",
            GROUP_CLASSES.join(", ")
        )));
    }
    let record = LogGroupRecord {
        name: group.name,
        created_at: state.clock().now().timestamp_millis(),
        retention_in_days: None,
        kms_key_id: group.kms_key_id,
        log_group_class: class,
        deletion_protection: group.deletion_protection,
        tags: group.tags,
    };
    let key = keys::log_group(&scope.region, &record.name);
    if !state.put_if_unchanged(&key, 0, encode(&record)).await? {
        return Err(LogsError::AlreadyExists(
            "The specified log group already exists".into(),
        ));
    }
    Ok(record)
}

/// Create the group unless it exists (what `awslogs-create-group` does): the group either
/// way.
pub async fn ensure(
    state: &State,
    scope: &Scope,
    name: &str,
) -> Result<Arc<LogGroupRecord>, LogsError> {
    for _ in 0..ATTEMPTS {
        if let Ok(entry) = get(state, scope, name) {
            return Ok(entry.value);
        }
        let group = NewGroup {
            name: name.to_string(),
            ..NewGroup::default()
        };
        match create(state, scope, group).await {
            Ok(record) => return Ok(Arc::new(record)),
            Err(LogsError::AlreadyExists(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ControlError::Contended(format!("The log group {name} kept changing; retry.")).into())
}

/// The group `name` names.
pub fn get(state: &State, scope: &Scope, name: &str) -> Result<Entry<LogGroupRecord>, LogsError> {
    state
        .log_groups()
        .get(keys::log_group(&scope.region, name).as_bytes())
        .ok_or_else(not_found)
}

/// The scope's groups whose names start with `prefix`, in name order, after
/// `start_after` when given; at most `limit` and whether more follow.
pub fn list(
    state: &State,
    scope: &Scope,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
    keep: impl Fn(&LogGroupRecord) -> bool,
) -> (Vec<Arc<LogGroupRecord>>, bool) {
    let base = keys::log_group(&scope.region, "");
    let after = start_after.map(|name| keys::log_group(&scope.region, name));
    let mut out = Vec::new();
    for (_, entry) in state
        .log_groups()
        .range_page(
            format!("{base}{prefix}").as_bytes(),
            after.as_deref().map(str::as_bytes),
            0,
        )
        .0
    {
        if keep(&entry.value) {
            if out.len() == limit {
                return (out, true);
            }
            out.push(entry.value);
        }
    }
    (out, false)
}

/// Every group of every region with a retention period, with its region: what the
/// retention loop enforces.
pub fn with_retention(state: &State) -> Vec<(String, Arc<LogGroupRecord>)> {
    state
        .log_groups()
        .range(keys::LOG_GROUPS.as_bytes())
        .iter()
        .filter(|(_, e)| e.value.retention_in_days.is_some())
        .filter_map(|(k, e)| {
            let rest = std::str::from_utf8(k)
                .ok()?
                .strip_prefix(keys::LOG_GROUPS)?;
            let (region, _) = rest.split_once('/')?;
            Some((region.to_string(), e.value.clone()))
        })
        .collect()
}

/// Delete a group's record (its streams are the caller's to delete from the log storage
/// afterwards).
pub async fn delete(state: &State, scope: &Scope, name: &str) -> Result<(), LogsError> {
    let key = keys::log_group(&scope.region, name);
    for _ in 0..ATTEMPTS {
        let entry = get(state, scope, name)?;
        if entry.value.deletion_protection {
            return Err(LogsError::Protected(format!(
                "The log group {name} has deletion protection; turn it off first."
            )));
        }
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key.clone())],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The log group {name} kept changing; retry.")).into())
}

/// Change a group with `change` and write it back, retrying on a concurrent change.
async fn update(
    state: &State,
    scope: &Scope,
    name: &str,
    mut change: impl FnMut(&mut LogGroupRecord) -> Result<(), LogsError>,
) -> Result<LogGroupRecord, LogsError> {
    let key = keys::log_group(&scope.region, name);
    for _ in 0..ATTEMPTS {
        let entry = get(state, scope, name)?;
        let mut record = (*entry.value).clone();
        change(&mut record)?;
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!("The log group {name} kept changing; retry.")).into())
}

/// Set (`Some`) or remove (`None`) a group's retention period.
pub async fn set_retention(
    state: &State,
    scope: &Scope,
    name: &str,
    days: Option<i32>,
) -> Result<LogGroupRecord, LogsError> {
    if let Some(days) = days {
        validate_retention(days).map_err(LogsError::InvalidParameter)?;
    }
    update(state, scope, name, |r| {
        r.retention_in_days = days;
        Ok(())
    })
    .await
}

/// Add tags (a key the group has gets the new value).
pub async fn tag(
    state: &State,
    scope: &Scope,
    name: &str,
    tags: BTreeMap<String, String>,
) -> Result<(), LogsError> {
    check_tags(&tags)?;
    update(state, scope, name, |r| {
        r.tags.extend(tags.clone());
        check_tags(&r.tags)
    })
    .await
    .map(drop)
}

/// Remove tags by key (keys the group does not have are ignored).
pub async fn untag(
    state: &State,
    scope: &Scope,
    name: &str,
    keys: &[String],
) -> Result<(), LogsError> {
    update(state, scope, name, |r| {
        r.tags.retain(|k, _| !keys.contains(k));
        Ok(())
    })
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ControlConfig;
    use flotilla_store::MemoryStore;

    async fn state() -> State {
        State::new(
            Arc::new(MemoryStore::new()),
            ControlConfig::new("000000000000"),
        )
        .await
        .unwrap()
    }

    fn scope() -> Scope {
        Scope::new("us-east-1".to_string(), "000000000000".to_string())
    }

    fn named(name: &str) -> NewGroup {
        NewGroup {
            name: name.into(),
            ..NewGroup::default()
        }
    }

    #[tokio::test]
    async fn create_list_retention_tags_delete() {
        let state = state().await;
        let s = scope();
        create(&state, &s, named("/ecs/web")).await.unwrap();
        create(&state, &s, named("/ecs/api")).await.unwrap();
        create(&state, &s, named("other")).await.unwrap();
        assert!(matches!(
            create(&state, &s, named("/ecs/web")).await,
            Err(LogsError::AlreadyExists(_))
        ));
        let (page, more) = list(&state, &s, "/ecs/", None, 1, |_| true);
        assert_eq!((page[0].name.as_str(), more), ("/ecs/api", true));
        let (page, more) = list(&state, &s, "/ecs/", Some("/ecs/api"), 1, |_| true);
        assert_eq!((page[0].name.as_str(), more), ("/ecs/web", false));

        set_retention(&state, &s, "/ecs/web", Some(7))
            .await
            .unwrap();
        assert!(matches!(
            set_retention(&state, &s, "/ecs/web", Some(8)).await,
            Err(LogsError::InvalidParameter(_))
        ));
        let kept = with_retention(&state);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0, "us-east-1");

        tag(&state, &s, "/ecs/web", [("team".into(), "a".into())].into())
            .await
            .unwrap();
        untag(&state, &s, "/ecs/web", &["team".into()])
            .await
            .unwrap();
        assert!(get(&state, &s, "/ecs/web").unwrap().value.tags.is_empty());

        delete(&state, &s, "/ecs/web").await.unwrap();
        assert!(matches!(
            delete(&state, &s, "/ecs/web").await,
            Err(LogsError::NotFound(_))
        ));
        ensure(&state, &s, "/ecs/web").await.unwrap();
        ensure(&state, &s, "/ecs/web").await.unwrap();
    }
}
