//! Route 53 health checks as records: create (idempotent by caller reference), get, list,
//! update (compared on HealthCheckVersion), delete (refused while a record set names the
//! check) and tags. Each check is one key (`keys::health_check`). What the probes find is
//! not stored: see [`super::checker`].

use std::sync::Arc;

use flotilla_model::record::encode;
use flotilla_model::route53::health_checks::{
    HealthCheckConfig, HealthCheckRecord, MAX_HEALTH_CHECKS,
};
use flotilla_store::{Compare, Op, Txn};

use super::{Route53Error, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// The check `id` names.
pub fn get(state: &State, id: &str) -> Result<Entry<HealthCheckRecord>, Route53Error> {
    state
        .route53()
        .health_checks
        .get(keys::health_check(id).as_bytes())
        .ok_or_else(|| {
            Route53Error::NoSuchHealthCheck(format!("No health check exists with the ID {id}."))
        })
}

/// Every check, by id.
pub fn all(state: &State) -> Vec<Arc<HealthCheckRecord>> {
    state
        .route53()
        .health_checks
        .range(keys::HEALTH_CHECKS.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// Create a check (Route 53's idempotency: the same caller reference with the same
/// configuration is the check made before; with another configuration, an error).
/// Ok: the check and whether it is new.
pub async fn create(
    state: &State,
    caller_reference: String,
    mut config: HealthCheckConfig,
) -> Result<(HealthCheckRecord, bool), Route53Error> {
    if caller_reference.is_empty() || caller_reference.chars().count() > 64 {
        return Err(Route53Error::InvalidInput(
            "CallerReference must be 1 to 64 characters long.".into(),
        ));
    }
    config.validate().map_err(Route53Error::InvalidInput)?;
    let views = state.route53();
    for _ in 0..ATTEMPTS {
        let existing = views.health_checks.range(keys::HEALTH_CHECKS.as_bytes());
        if let Some((_, e)) = existing
            .iter()
            .find(|(_, e)| e.value.caller_reference == caller_reference)
        {
            if e.value.config == config {
                return Ok(((*e.value).clone(), false));
            }
            return Err(Route53Error::HealthCheckAlreadyExists(format!(
                "A health check with the caller reference {caller_reference} already exists \
                 with another configuration."
            )));
        }
        if existing.len() >= MAX_HEALTH_CHECKS {
            return Err(Route53Error::TooManyHealthChecks(format!(
                "This account has {MAX_HEALTH_CHECKS} health checks, the most it may have."
            )));
        }
        let record = HealthCheckRecord {
            id: uuid::Uuid::new_v4().to_string(),
            caller_reference: caller_reference.clone(),
            config: config.clone(),
            version: 1,
            tags: vec![],
            created_at: state.clock().now(),
        };
        let key = keys::health_check(&record.id);
        let mut compares = vec![Compare::absent(key.clone())];
        // The caller reference is unique: a check created meanwhile fails the compare
        // and is seen on the next attempt.
        compares.extend(
            existing
                .iter()
                .map(|(k, e)| Compare::unchanged(k.to_vec(), e.mod_revision)),
        );
        let txn = Txn {
            compares,
            success: vec![Op::put(key, encode(&record))],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok((record, true));
        }
    }
    Err(ControlError::Contended("Health checks kept changing; retry.".into()).into())
}

/// What UpdateHealthCheck may change; `None` leaves a member as it is.
#[derive(Debug, Clone, Default)]
pub struct Update {
    /// The version the caller read; the update is refused if it is not the current one.
    pub version: Option<u64>,
    pub ip_address: Option<std::net::IpAddr>,
    pub port: Option<u16>,
    pub resource_path: Option<String>,
    pub fqdn: Option<String>,
    pub search_string: Option<String>,
    pub failure_threshold: Option<u32>,
    pub inverted: Option<bool>,
    pub disabled: Option<bool>,
    pub enable_sni: Option<bool>,
    pub regions: Option<Vec<String>>,
    /// `ResetElements`: members put back to their defaults.
    pub reset: Vec<String>,
}

impl Update {
    fn apply(&self, c: &mut HealthCheckConfig) -> Result<(), String> {
        for element in &self.reset {
            match element.as_str() {
                "FullyQualifiedDomainName" => c.fqdn = None,
                "Regions" => c.regions.clear(),
                "ResourcePath" => c.resource_path = None,
                "ChildHealthChecks" => {}
                other => {
                    return Err(format!(
                        "ResetElements may name FullyQualifiedDomainName, Regions, \
                         ResourcePath or ChildHealthChecks, not {other}."
                    ))
                }
            }
        }
        let set = |field: &mut Option<String>, value: &Option<String>| {
            if let Some(v) = value {
                *field = Some(v.clone());
            }
        };
        if self.ip_address.is_some() {
            c.ip_address = self.ip_address;
        }
        if self.port.is_some() {
            c.port = self.port;
        }
        set(&mut c.resource_path, &self.resource_path);
        set(&mut c.fqdn, &self.fqdn);
        set(&mut c.search_string, &self.search_string);
        if let Some(t) = self.failure_threshold {
            c.failure_threshold = t;
        }
        if let Some(i) = self.inverted {
            c.inverted = i;
        }
        if let Some(d) = self.disabled {
            c.disabled = d;
        }
        if self.enable_sni.is_some() {
            c.enable_sni = self.enable_sni;
        }
        if let Some(r) = &self.regions {
            c.regions = r.clone();
        }
        c.validate()
    }
}

/// Change a check's configuration; its version grows by one.
pub async fn update(
    state: &State,
    id: &str,
    update: Update,
) -> Result<HealthCheckRecord, Route53Error> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, id)?;
        let mut record = (*entry.value).clone();
        if let Some(v) = update.version {
            if v != record.version {
                return Err(Route53Error::HealthCheckVersionMismatch(format!(
                    "The health check {id} is at version {}, not {v}.",
                    record.version
                )));
            }
        }
        update
            .apply(&mut record.config)
            .map_err(Route53Error::InvalidInput)?;
        record.version += 1;
        let key = keys::health_check(&record.id);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!("The health check {id} kept changing; retry.")).into())
}

/// The record sets (zone id, name, type) that name the check.
pub fn users(state: &State, id: &str) -> Vec<(String, String, String)> {
    state
        .route53()
        .record_sets
        .range(keys::RECORD_SETS.as_bytes())
        .iter()
        .filter(|(_, e)| e.value.health_check_id.as_deref() == Some(id))
        .map(|(k, e)| {
            let key = String::from_utf8_lossy(k);
            let zone = key[keys::RECORD_SETS.len()..]
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            (
                zone,
                e.value.name.clone(),
                e.value.rtype.as_str().to_string(),
            )
        })
        .collect()
}

/// Delete a check no record set names.
pub async fn delete(state: &State, id: &str) -> Result<(), Route53Error> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, id)?;
        if let Some((zone, name, rtype)) = users(state, id).into_iter().next() {
            return Err(Route53Error::HealthCheckInUse(format!(
                "The health check {id} is used by the {rtype} record set {name} in hosted \
                 zone {zone}; remove it from the record set first."
            )));
        }
        let key = keys::health_check(id);
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key)],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The health check {id} kept changing; retry.")).into())
}

/// Add and remove a check's tags (at most 10 each way, 50 in all).
pub async fn change_tags(
    state: &State,
    id: &str,
    add: Vec<(String, String)>,
    remove: Vec<String>,
) -> Result<(), Route53Error> {
    super::check_tags(&add)?;
    for _ in 0..ATTEMPTS {
        let entry = get(state, id)?;
        let mut record = (*entry.value).clone();
        super::merge_tags(&mut record.tags, &add, &remove)?;
        let key = keys::health_check(&record.id);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The health check {id} kept changing; retry.")).into())
}
