//! Rules of listeners: the stored ones ([`RuleRecord`]) and each listener's default rule
//! (its default action, with the listener's own id). Every rule write also rewrites its
//! listener, so priorities stay unique under concurrent writes.

use std::collections::BTreeSet;

use flotilla_model::elbv2::listener::validate_conditions;
use flotilla_model::elbv2::{self, Action, Condition, ListenerRecord, RuleRecord};
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use super::listeners::{by_arn, check_action, listener_id, listener_ids, modify, ListenerChange};
use super::{arn_prefix, resource_of, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// Rules a listener may have besides its default.
pub const MAX_RULES: usize = 100;

fn rule_not_found(arn: &str) -> ControlError {
    ControlError::not_found(
        Resource::Rule,
        format!("One or more rules not found: '{arn}'"),
    )
}

/// (listener ARN, rule id) of a rule ARN of this scope.
fn rule_ids(scope: &Scope, arn: &str) -> Option<(String, String)> {
    let rest = resource_of(scope, arn)?.strip_prefix("listener-rule/app/")?;
    let (listener, rule) = rest.rsplit_once('/')?;
    let listener_arn = format!("{}listener/app/{listener}", arn_prefix(scope));
    listener_ids(scope, &listener_arn)?;
    Some((listener_arn, rule.to_string()))
}

/// A rule as DescribeRules shows it: the stored ones and each listener's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    pub arn: String,
    pub listener_arn: String,
    /// `None`: the default rule.
    pub priority: Option<u32>,
    pub conditions: Vec<Condition>,
    pub action: Action,
    pub tags: Vec<Tag>,
}

fn default_rule(l: &ListenerRecord) -> RuleView {
    RuleView {
        arn: default_rule_arn(&l.arn),
        listener_arn: l.arn.clone(),
        priority: None,
        conditions: vec![],
        action: l.default_action.clone(),
        tags: vec![],
    }
}

/// The default rule's ARN: the listener's, as a rule, with the listener's id as its own.
fn default_rule_arn(listener_arn: &str) -> String {
    format!(
        "{}/{}",
        listener_arn.replacen(":listener/", ":listener-rule/", 1),
        listener_id(listener_arn)
    )
}

fn view(r: &RuleRecord) -> RuleView {
    RuleView {
        arn: r.arn.clone(),
        listener_arn: r.listener_arn.clone(),
        priority: Some(r.priority),
        conditions: r.conditions.clone(),
        action: r.action.clone(),
        tags: r.tags.clone(),
    }
}

/// A listener's rules in evaluation order: by priority, the default last.
pub fn rules_of(state: &State, scope: &Scope, listener: &ListenerRecord) -> Vec<RuleView> {
    let mut rules: Vec<RuleView> = state
        .elbv2()
        .rules
        .range(keys::rules_of(&scope.region, listener_id(&listener.arn)).as_bytes())
        .iter()
        .map(|(_, e)| view(&e.value))
        .collect();
    rules.sort_by_key(|r| r.priority);
    rules.push(default_rule(listener));
    rules
}

/// The rule an ARN names (the default rule included).
pub fn rule_by_arn(state: &State, scope: &Scope, arn: &str) -> Result<RuleView, ControlError> {
    let (listener_arn, rid) = rule_ids(scope, arn)
        .ok_or_else(|| ControlError::invalid(format!("'{arn}' is not a valid rule ARN")))?;
    let listener = by_arn(state, scope, &listener_arn).map_err(|_| rule_not_found(arn))?;
    if rid == listener_id(&listener_arn) {
        return Ok(default_rule(&listener.value));
    }
    state
        .elbv2()
        .rules
        .get(keys::rule(&scope.region, listener_id(&listener_arn), &rid).as_bytes())
        .filter(|e| e.value.arn == arn)
        .map(|e| view(&e.value))
        .ok_or_else(|| rule_not_found(arn))
}

fn check_priority(priority: u32) -> Result<(), ControlError> {
    if (1..=50_000).contains(&priority) {
        Ok(())
    } else {
        Err(ControlError::invalid(format!(
            "Priority '{priority}' must be between 1 and 50000"
        )))
    }
}

fn priority_in_use(priority: u32) -> ControlError {
    ModelError::new(
        ErrorKind::AlreadyExists(Resource::Rule),
        format!("Priority '{priority}' is currently in use"),
    )
    .into()
}

/// What CreateRule asks for.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub listener_arn: String,
    pub priority: u32,
    pub conditions: Vec<Condition>,
    pub action: Action,
    pub tags: Vec<Tag>,
}

/// Create a rule; PriorityInUse when the listener has one of that priority.
pub async fn create_rule(
    state: &State,
    scope: &Scope,
    new: NewRule,
) -> Result<RuleRecord, ControlError> {
    check_priority(new.priority)?;
    validate_conditions(&new.conditions)?;
    validate_tags(&new.tags)?;
    for _ in 0..ATTEMPTS {
        let listener = by_arn(state, scope, &new.listener_arn)?;
        check_action(state, scope, &listener.value.load_balancer_arn, &new.action)?;
        let existing = rules_of(state, scope, &listener.value);
        if existing.iter().any(|r| r.priority == Some(new.priority)) {
            return Err(priority_in_use(new.priority));
        }
        if existing.len() > MAX_RULES {
            return Err(ModelError::new(
                ErrorKind::LimitExceeded,
                format!("A listener can have at most {MAX_RULES} rules besides its default"),
            )
            .into());
        }
        let lid = listener_id(&new.listener_arn);
        let rid = elbv2::new_id();
        let record = RuleRecord {
            arn: format!(
                "{}/{rid}",
                new.listener_arn
                    .replacen(":listener/", ":listener-rule/", 1)
            ),
            listener_arn: new.listener_arn.clone(),
            priority: new.priority,
            conditions: new.conditions.clone(),
            action: new.action.clone(),
            tags: new.tags.clone(),
        };
        if commit_rules(
            state,
            scope,
            &listener,
            vec![(keys::rule(&scope.region, lid, &rid), record.clone())],
        )
        .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(
        "The listener kept changing while the rule was being created; retry.".into(),
    ))
}

/// Write rules of one listener, guarded by the listener's revision (so priorities stay
/// unique: every rule write also rewrites the listener).
async fn commit_rules(
    state: &State,
    scope: &Scope,
    listener: &Entry<ListenerRecord>,
    rules: Vec<(String, RuleRecord)>,
) -> Result<bool, ControlError> {
    let (lb, lid) = listener_ids(scope, &listener.value.arn).unwrap_or_default();
    let lkey = keys::listener(&scope.region, lb, lid);
    let mut ops: Vec<Op> = rules
        .into_iter()
        .map(|(k, r)| Op::put(k, encode(&r)))
        .collect();
    ops.push(Op::put(lkey.clone(), encode(&*listener.value)));
    let txn = Txn {
        compares: vec![Compare::unchanged(lkey, listener.mod_revision)],
        success: ops,
        failure: vec![],
    };
    Ok(state.commit(txn).await?.succeeded)
}

/// ModifyRule: new conditions and/or action. The default rule's action is its listener's
/// default action; its conditions cannot be set.
pub async fn modify_rule(
    state: &State,
    scope: &Scope,
    arn: &str,
    conditions: Option<Vec<Condition>>,
    action: Option<Action>,
) -> Result<RuleView, ControlError> {
    if let Some(c) = &conditions {
        validate_conditions(c)?;
    }
    for _ in 0..ATTEMPTS {
        let rule = rule_by_arn(state, scope, arn)?;
        let listener = by_arn(state, scope, &rule.listener_arn)?;
        if let Some(a) = &action {
            check_action(state, scope, &listener.value.load_balancer_arn, a)?;
        }
        if rule.priority.is_none() {
            if conditions.is_some() {
                return Err(ModelError::new(
                    ErrorKind::Conflict,
                    "The conditions of a default rule cannot be modified",
                )
                .into());
            }
            let change = ListenerChange {
                default_action: action.clone(),
                ..Default::default()
            };
            modify(state, scope, &rule.listener_arn, change, |_| true).await?;
            return rule_by_arn(state, scope, arn);
        }
        let (_, rid) = rule_ids(scope, arn).unwrap_or_default();
        let key = keys::rule(&scope.region, listener_id(&rule.listener_arn), &rid);
        let Some(entry) = state.elbv2().rules.get(key.as_bytes()) else {
            return Err(rule_not_found(arn));
        };
        let mut record = (*entry.value).clone();
        if let Some(c) = &conditions {
            record.conditions.clone_from(c);
        }
        if let Some(a) = &action {
            record.action = a.clone();
        }
        if commit_rules(state, scope, &listener, vec![(key, record.clone())]).await? {
            return Ok(view(&record));
        }
    }
    Err(ControlError::Contended(format!(
        "The rule {arn} kept changing; retry."
    )))
}

/// SetRulePriorities: every change applies, or none (all rules must be of one listener).
pub async fn set_priorities(
    state: &State,
    scope: &Scope,
    changes: &[(String, u32)],
) -> Result<Vec<RuleView>, ControlError> {
    for (_, p) in changes {
        check_priority(*p)?;
    }
    let mut seen = BTreeSet::new();
    if let Some((_, p)) = changes.iter().find(|(_, p)| !seen.insert(*p)) {
        return Err(priority_in_use(*p));
    }
    for _ in 0..ATTEMPTS {
        let mut listener_arn: Option<String> = None;
        let mut records = Vec::new();
        for (arn, p) in changes {
            let rule = rule_by_arn(state, scope, arn)?;
            if rule.priority.is_none() {
                return Err(ModelError::new(
                    ErrorKind::Conflict,
                    "The priority of a default rule cannot be set",
                )
                .into());
            }
            if listener_arn
                .as_ref()
                .is_some_and(|l| *l != rule.listener_arn)
            {
                return Err(ControlError::invalid(
                    "All rules in SetRulePriorities must belong to the same listener",
                ));
            }
            listener_arn = Some(rule.listener_arn.clone());
            records.push((arn.clone(), *p));
        }
        let Some(listener_arn) = listener_arn else {
            return Ok(vec![]);
        };
        let listener = by_arn(state, scope, &listener_arn)?;
        let lid = listener_id(&listener_arn);
        let mut writes = Vec::new();
        let all = rules_of(state, scope, &listener.value);
        for r in &all {
            let Some(old) = r.priority else { continue };
            let new = records
                .iter()
                .find(|(a, _)| *a == r.arn)
                .map_or(old, |(_, p)| *p);
            if all.iter().any(|o| {
                o.arn != r.arn
                    && o.priority.is_some()
                    && records
                        .iter()
                        .find(|(a, _)| *a == o.arn)
                        .map_or(o.priority, |(_, p)| Some(*p))
                        == Some(new)
            }) {
                return Err(priority_in_use(new));
            }
            if new != old {
                let (_, rid) = rule_ids(scope, &r.arn).unwrap_or_default();
                let key = keys::rule(&scope.region, lid, &rid);
                let Some(e) = state.elbv2().rules.get(key.as_bytes()) else {
                    continue;
                };
                let mut rec = (*e.value).clone();
                rec.priority = new;
                writes.push((key, rec));
            }
        }
        if commit_rules(state, scope, &listener, writes).await? {
            return Ok(changes
                .iter()
                .filter_map(|(a, _)| rule_by_arn(state, scope, a).ok())
                .collect());
        }
    }
    Err(ControlError::Contended(
        "The listener's rules kept changing; retry.".into(),
    ))
}

pub async fn delete_rule(state: &State, scope: &Scope, arn: &str) -> Result<(), ControlError> {
    let rule = rule_by_arn(state, scope, arn)?;
    if rule.priority.is_none() {
        return Err(ModelError::new(
            ErrorKind::Conflict,
            "A listener's default rule cannot be deleted",
        )
        .into());
    }
    let (_, rid) = rule_ids(scope, arn).unwrap_or_default();
    let txn = Txn {
        compares: vec![],
        success: vec![Op::delete(keys::rule(
            &scope.region,
            listener_id(&rule.listener_arn),
            &rid,
        ))],
        failure: vec![],
    };
    state.commit(txn).await?;
    Ok(())
}

/// Update a stored rule's tags (the default rule has none to keep).
pub async fn update_rule_tags(
    state: &State,
    scope: &Scope,
    arn: &str,
    change: impl Fn(&mut Vec<Tag>),
) -> Result<(), ControlError> {
    for _ in 0..ATTEMPTS {
        let rule = rule_by_arn(state, scope, arn)?;
        if rule.priority.is_none() {
            return Err(ModelError::new(
                ErrorKind::Client,
                "A listener's default rule cannot be tagged",
            )
            .into());
        }
        let (_, rid) = rule_ids(scope, arn).unwrap_or_default();
        let key = keys::rule(&scope.region, listener_id(&rule.listener_arn), &rid);
        let Some(e) = state.elbv2().rules.get(key.as_bytes()) else {
            return Err(rule_not_found(arn));
        };
        let mut rec = (*e.value).clone();
        change(&mut rec.tags);
        validate_tags(&rec.tags)?;
        if state
            .put_if_unchanged(&key, e.mod_revision, encode(&rec))
            .await?
        {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!(
        "The rule {arn} kept changing; retry."
    )))
}
