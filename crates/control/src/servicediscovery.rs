//! AWS Cloud Map's domain operations: namespaces ([`namespaces`]), services
//! ([`services`]), instances and their health ([`instances`]), the operations that record
//! asynchronous changes, and tags.
//!
//! Cloud Map is regional: every key carries the region (`keys::SD_*`). A write that
//! changes what a service's instances are (register, deregister, health) is one
//! transaction that also rewrites the service's record (compared on its revision, its
//! `instances_revision` bumped), so registrations of one service are serialised and
//! DeleteService cannot miss one; a service's creation likewise rewrites its namespace.
//!
//! An operation (`OperationRecord`) is written in the same commit as its change. Its
//! status is PENDING until the DNS data plane reports serving a configuration at least as
//! new as that commit, then SUCCESS, the rule Route 53's changes follow (`crate::route53`);
//! an operation on an HTTP namespace or service has nothing to serve and is SUCCESS once
//! committed. Nothing fails after it is committed, so FAIL is never reported.
//!
//! The ECS service controller registers tasks through [`register_instance`] and
//! [`deregister_instance`] and finds a service with [`service_by_arn`]. Cloud Map's rules
//! live in `flotilla_model::servicediscovery`; errors are [`ServiceDiscoveryError`], which
//! `flotilla-api` maps to Cloud Map's wire codes in one place.

pub mod instances;
pub mod namespaces;
pub mod services;

use std::sync::Arc;

use flotilla_model::record::encode;
use flotilla_model::servicediscovery::{id_of, rules};
use flotilla_model::servicediscovery::{
    new_operation_id, DiscoveryServiceRecord, InstanceRecord, NamespaceRecord, OperationRecord,
    OperationStatus, OperationType, MAX_TAGS,
};
use flotilla_store::view::View;
use flotilla_store::{Op, Revision, Store, StoreError};
use rand::Rng;

use crate::{keys, ControlError, Entry, State};

pub use instances::{deregister_instance, register_instance};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// Why a Cloud Map operation failed, in terms the wire mapping picks Cloud Map's codes by.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceDiscoveryError {
    /// A member breaks a bound or rule of the API.
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    NamespaceNotFound(String),
    #[error("{0}")]
    ServiceNotFound(String),
    #[error("{0}")]
    InstanceNotFound(String),
    #[error("{0}")]
    OperationNotFound(String),
    /// A namespace of that name exists (or another request made one with that
    /// `CreatorRequestId`).
    #[error("{message}")]
    NamespaceAlreadyExists {
        message: String,
        namespace_id: String,
        creator_request_id: Option<String>,
    },
    /// A service of that name exists in the namespace.
    #[error("{message}")]
    ServiceAlreadyExists {
        message: String,
        service_id: String,
        service_arn: String,
        creator_request_id: Option<String>,
    },
    /// The namespace still has services, or the service still has instances.
    #[error("{0}")]
    ResourceInUse(String),
    /// The `CreatorRequestId` was used by another, different request.
    #[error("{message}")]
    DuplicateRequest {
        message: String,
        operation_id: String,
    },
    /// The service has no custom health check.
    #[error("{0}")]
    CustomHealthNotFound(String),
    /// No namespace or service has that ARN (the tagging operations).
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{message}")]
    TooManyTags { message: String, resource: String },
    /// A quota (namespaces per region, instances per service) was reached.
    #[error("{0}")]
    ResourceLimitExceeded(String),
    /// A service would have more than 30 attributes.
    #[error("{0}")]
    ServiceAttributesLimitExceeded(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<StoreError> for ServiceDiscoveryError {
    fn from(e: StoreError) -> Self {
        ServiceDiscoveryError::Control(e.into())
    }
}

pub type Result<T, E = ServiceDiscoveryError> = std::result::Result<T, E>;

pub(crate) fn invalid(message: impl Into<String>) -> ServiceDiscoveryError {
    ServiceDiscoveryError::InvalidInput(message.into())
}

/// A model rule's verdict as `InvalidInput`.
pub(crate) fn check<T>(r: std::result::Result<T, String>) -> Result<T> {
    r.map_err(ServiceDiscoveryError::InvalidInput)
}

pub(crate) fn contended(what: &str) -> ServiceDiscoveryError {
    ControlError::Contended(format!("The {what} kept changing; retry.")).into()
}

/// Cloud Map's views.
pub struct Views {
    pub namespaces: View<NamespaceRecord>,
    pub services: View<DiscoveryServiceRecord>,
    pub instances: View<InstanceRecord>,
    pub operations: View<OperationRecord>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        let p = |s: &str| s.as_bytes().to_vec();
        use crate::state::decoder as d;
        Ok(Views {
            namespaces: View::start(store.clone(), p(keys::SD_NAMESPACES), d).await?,
            services: View::start(store.clone(), p(keys::SD_SERVICES), d).await?,
            instances: View::start(store.clone(), p(keys::SD_INSTANCES), d).await?,
            operations: View::start(store.clone(), p(keys::SD_OPERATIONS), d).await?,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        let (a, b, c, d) = tokio::join!(
            self.namespaces.wait_for(rev),
            self.services.wait_for(rev),
            self.instances.wait_for(rev),
            self.operations.wait_for(rev),
        );
        a.and(b).and(c).and(d)
    }

    /// The lowest revision all four views have applied.
    pub fn revision(&self) -> Revision {
        self.namespaces
            .revision()
            .min(self.services.revision())
            .min(self.instances.revision())
            .min(self.operations.revision())
    }
}

pub(crate) fn random() -> u128 {
    rand::rng().random()
}

/// A new operation record and the op that stores it.
pub(crate) fn new_operation(
    state: &State,
    region: &str,
    operation_type: OperationType,
    targets: &[(&str, &str)],
    dns: bool,
) -> (OperationRecord, Op) {
    let op = OperationRecord {
        id: new_operation_id(random(), random()),
        operation_type,
        targets: targets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        created_at: state.clock().now(),
        dns,
    };
    let put = Op::put(keys::sd_operation(region, &op.id), encode(&op));
    (op, put)
}

/// An operation and its status now.
pub fn operation(
    state: &State,
    region: &str,
    id: &str,
) -> Result<(Arc<OperationRecord>, OperationStatus)> {
    check(rules::max_len("OperationId", id, 255))?;
    let entry = state
        .servicediscovery()
        .operations
        .get(keys::sd_operation(region, id).as_bytes())
        .ok_or_else(|| {
            ServiceDiscoveryError::OperationNotFound(format!("No operation found with ID {id}."))
        })?;
    let status = operation_status(state, &entry);
    Ok((entry.value, status))
}

/// SUCCESS once the DNS server serves the operation's commit (or at once for an
/// operation with nothing to serve), PENDING before.
pub fn operation_status(state: &State, entry: &Entry<OperationRecord>) -> OperationStatus {
    if !entry.value.dns {
        return OperationStatus::Success;
    }
    let served = state.dns().report().version;
    let committed = u64::try_from(entry.mod_revision).unwrap_or(u64::MAX);
    if served >= committed {
        OperationStatus::Success
    } else {
        OperationStatus::Pending
    }
}

/// Every operation of a region, with its status, oldest first.
pub fn operations(state: &State, region: &str) -> Vec<(Arc<OperationRecord>, OperationStatus)> {
    let mut all: Vec<(Arc<OperationRecord>, OperationStatus)> = state
        .servicediscovery()
        .operations
        .range(keys::sd_operations(region).as_bytes())
        .iter()
        .map(|(_, e)| (e.value.clone(), operation_status(state, e)))
        .collect();
    all.sort_by(|a, b| (a.0.created_at, &a.0.id).cmp(&(b.0.created_at, &b.0.id)));
    all
}

/// The operation `id` of a region, if it is still kept.
pub(crate) fn operation_record(state: &State, region: &str, id: &str) -> Option<OperationRecord> {
    state
        .servicediscovery()
        .operations
        .get(keys::sd_operation(region, id).as_bytes())
        .map(|e| (*e.value).clone())
}

/// The service an ARN names (`arn:aws:servicediscovery:REGION:ACCOUNT:service/srv-...`),
/// for the ECS service controller: its `max_ttl()` is how long resolvers may still
/// answer with a deregistered instance, and [`namespace_of`] gives its namespace.
pub fn service_by_arn(state: &State, arn: &str) -> Option<Arc<DiscoveryServiceRecord>> {
    let (id, region) = id_of(arn, "service")?;
    let entry = state
        .servicediscovery()
        .services
        .get(keys::sd_service(region?, id).as_bytes())?;
    (entry.value.arn == arn).then_some(entry.value)
}

/// The namespace of a service.
pub fn namespace_of(
    state: &State,
    service: &DiscoveryServiceRecord,
) -> Option<Arc<NamespaceRecord>> {
    state
        .servicediscovery()
        .namespaces
        .get(keys::sd_namespace(&service.region, &service.namespace_id).as_bytes())
        .map(|e| e.value)
}

/// Every namespace of every region (what the DNS feed serves).
pub fn all_namespaces(state: &State) -> Vec<Arc<NamespaceRecord>> {
    state
        .servicediscovery()
        .namespaces
        .range(keys::SD_NAMESPACES.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// The services of a namespace.
pub fn services_in(state: &State, namespace: &NamespaceRecord) -> Vec<Arc<DiscoveryServiceRecord>> {
    services::list(state, &namespace.region)
        .into_iter()
        .filter(|s| s.namespace_id == namespace.id)
        .collect()
}

/// The instances of a service, by id.
pub fn instances_of(state: &State, service: &DiscoveryServiceRecord) -> Vec<Arc<InstanceRecord>> {
    state
        .servicediscovery()
        .instances
        .range(keys::sd_instances_of(&service.region, &service.id).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// Check tags: their bounds, and at most [`MAX_TAGS`] on `resource`.
pub(crate) fn check_tags(resource: &str, tags: &[(String, String)]) -> Result<()> {
    check(rules::tags(tags))?;
    if tags.len() > MAX_TAGS {
        return Err(ServiceDiscoveryError::TooManyTags {
            message: format!(
                "A resource may have at most {MAX_TAGS} tags; {resource} would have {}.",
                tags.len()
            ),
            resource: resource.to_string(),
        });
    }
    Ok(())
}

/// Merge `add` into `tags` (a key given again takes the new value).
fn merge_tags(tags: &mut Vec<(String, String)>, add: &[(String, String)]) {
    for (k, v) in add {
        match tags.iter_mut().find(|(have, _)| have == k) {
            Some(t) => t.1 = v.clone(),
            None => tags.push((k.clone(), v.clone())),
        }
    }
}

/// What a tagging ARN names.
enum Tagged {
    Namespace(Entry<NamespaceRecord>),
    Service(Entry<DiscoveryServiceRecord>),
}

fn tagged(state: &State, region: &str, arn: &str) -> Result<Tagged> {
    check(rules::len_between("ResourceARN", arn, 1011))?;
    let not_found = || {
        ServiceDiscoveryError::ResourceNotFound(format!(
            "No namespace or service has the ARN {arn}."
        ))
    };
    let views = state.servicediscovery();
    if let Some((id, Some(r))) = id_of(arn, "namespace") {
        if r != region {
            return Err(not_found());
        }
        let e = views
            .namespaces
            .get(keys::sd_namespace(region, id).as_bytes())
            .filter(|e| e.value.arn == arn)
            .ok_or_else(not_found)?;
        return Ok(Tagged::Namespace(e));
    }
    if let Some((id, Some(r))) = id_of(arn, "service") {
        if r != region {
            return Err(not_found());
        }
        let e = views
            .services
            .get(keys::sd_service(region, id).as_bytes())
            .filter(|e| e.value.arn == arn)
            .ok_or_else(not_found)?;
        return Ok(Tagged::Service(e));
    }
    Err(not_found())
}

/// The tags of the namespace or service `arn` names.
pub fn tags(state: &State, region: &str, arn: &str) -> Result<Vec<(String, String)>> {
    Ok(match tagged(state, region, arn)? {
        Tagged::Namespace(e) => e.value.tags.clone(),
        Tagged::Service(e) => e.value.tags.clone(),
    })
}

/// Add tags to, and remove tag keys from, the namespace or service `arn` names.
pub async fn change_tags(
    state: &State,
    region: &str,
    arn: &str,
    add: Vec<(String, String)>,
    remove: Vec<String>,
) -> Result<()> {
    check(rules::tags(&add))?;
    for k in &remove {
        check(rules::len_between("A tag key", k, 128))?;
    }
    let apply = |tags: &mut Vec<(String, String)>| -> Result<()> {
        tags.retain(|(k, _)| !remove.contains(k));
        merge_tags(tags, &add);
        check_tags(arn, tags)
    };
    for _ in 0..ATTEMPTS {
        let (key, rev, value) = match tagged(state, region, arn)? {
            Tagged::Namespace(e) => {
                let mut r = (*e.value).clone();
                apply(&mut r.tags)?;
                (
                    keys::sd_namespace(region, &r.id),
                    e.mod_revision,
                    encode(&r),
                )
            }
            Tagged::Service(e) => {
                let mut r = (*e.value).clone();
                apply(&mut r.tags)?;
                (keys::sd_service(region, &r.id), e.mod_revision, encode(&r))
            }
        };
        if state.put_if_unchanged(&key, rev, value).await? {
            return Ok(());
        }
    }
    Err(contended("resource"))
}
