//! Listeners: create, find, modify, certificates, delete (with their rules), tags, and
//! which listeners and rules use a target group. A listener's default action is its
//! default rule; the other rules are in `rules.rs`.

use std::sync::Arc;

use chrono::Utc;
use flotilla_model::elbv2::{self, Action, ListenerProtocol, ListenerRecord, LoadBalancerRecord};
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use super::{arn_prefix, load_balancers, resource_of, target_groups, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// What CreateListener asks for.
#[derive(Debug, Clone)]
pub struct NewListener {
    pub load_balancer_arn: String,
    pub port: u16,
    pub protocol: ListenerProtocol,
    pub certificates: Vec<String>,
    pub ssl_policy: Option<String>,
    pub alpn_policy: Vec<String>,
    pub default_action: Action,
    pub tags: Vec<Tag>,
}

fn listener_not_found(arn: &str) -> ControlError {
    ControlError::not_found(
        Resource::Listener,
        format!("One or more listeners not found: '{arn}'"),
    )
}

/// (load balancer id, listener id) of a listener ARN of this scope.
pub(super) fn listener_ids<'a>(scope: &Scope, arn: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = resource_of(scope, arn)?.strip_prefix("listener/app/")?;
    let mut parts = rest.split('/');
    let (_name, lb, id) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then_some((lb, id))
}

/// The listener an ARN names; ListenerNotFound otherwise.
pub fn by_arn(
    state: &State,
    scope: &Scope,
    arn: &str,
) -> Result<Entry<ListenerRecord>, ControlError> {
    let (lb, id) = listener_ids(scope, arn)
        .ok_or_else(|| ControlError::invalid(format!("'{arn}' is not a valid listener ARN")))?;
    state
        .elbv2()
        .listeners
        .get(keys::listener(&scope.region, lb, id).as_bytes())
        .filter(|e| e.value.arn == arn)
        .ok_or_else(|| listener_not_found(arn))
}

/// The listeners of a load balancer, by port.
pub fn of_load_balancer(
    state: &State,
    scope: &Scope,
    lb: &LoadBalancerRecord,
) -> Vec<Arc<ListenerRecord>> {
    let mut out: Vec<Arc<ListenerRecord>> = state
        .elbv2()
        .listeners
        .range(keys::listeners_of(&scope.region, &lb.id).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect();
    out.sort_by_key(|l| l.port);
    out
}

pub(super) fn listener_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or_default()
}

/// Check an action's own fields and that every target group it names exists, speaks a
/// protocol the listener can forward to and belongs to no other load balancer.
pub(super) fn check_action(
    state: &State,
    scope: &Scope,
    lb_arn: &str,
    action: &Action,
) -> Result<(), ControlError> {
    action.validate()?;
    for tg in action.target_groups() {
        target_groups::by_arn(state, scope, tg)?;
        let others: Vec<String> = target_groups::load_balancers_of(state, scope, tg)
            .into_iter()
            .filter(|l| l != lb_arn)
            .collect();
        if !others.is_empty() {
            return Err(ModelError::new(
                ErrorKind::Client,
                format!(
                    "Target group '{tg}' is already associated with load balancer '{}'; a target group can be used by one load balancer only",
                    others[0]
                ),
            )
            .into());
        }
    }
    Ok(())
}

fn check_protocol(protocol: ListenerProtocol, certificates: &[String]) -> Result<(), ControlError> {
    match protocol {
        ListenerProtocol::Http if !certificates.is_empty() => Err(ModelError::new(
            ErrorKind::Client,
            "Certificates can only be given for HTTPS listeners",
        )
        .into()),
        ListenerProtocol::Https if certificates.is_empty() => Err(ControlError::invalid(
            "A certificate must be specified for HTTPS listeners",
        )),
        _ => Ok(()),
    }
}

/// Check that the load balancer's address (this server's, see [`crate::nodes`]) and the
/// port can be bound before the listener is committed, so a port some other process holds
/// is a clear error and nothing is half-created. A listener deleted a moment ago may still hold it: ask a few times.
pub async fn probe(s: &State, address: std::net::IpAddr, port: u16) -> Result<(), ControlError> {
    let offset = s.config().lb_port_offset;
    let bound = port.checked_add(offset).ok_or_else(|| {
        ControlError::invalid(format!(
            "Port {port} plus the server's --lb-port-offset {offset} is beyond 65535"
        ))
    })?;
    // Where this server's listener for that load balancer binds.
    let addr = std::net::SocketAddr::new(crate::nodes::local_address(s, address), bound);
    let mut last = None;
    for _ in 0..10 {
        match std::net::TcpListener::bind(addr) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let e = last
        .map(|e| (e.kind(), e.to_string()))
        .unwrap_or((std::io::ErrorKind::Other, String::new()));
    let hint = if e.0 == std::io::ErrorKind::PermissionDenied {
        " Ports below 1024 need root or CAP_NET_BIND_SERVICE; start the server with --lb-port-offset (e.g. 8000) to bind port+offset instead."
    } else {
        ""
    };
    Err(ControlError::client(format!(
        "The listener cannot bind {addr}: {}.{hint}",
        e.1
    )))
}

/// Create a listener; DuplicateListener when its load balancer already listens on the port.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewListener,
    certificate_exists: impl Fn(&str) -> bool,
) -> Result<ListenerRecord, ControlError> {
    validate_tags(&new.tags)?;
    if new.port == 0 {
        return Err(ControlError::invalid(
            "Listener port must be between 1 and 65535",
        ));
    }
    check_protocol(new.protocol, &new.certificates)?;
    if let Some(c) = new.certificates.iter().find(|c| !certificate_exists(c)) {
        return Err(ControlError::not_found(
            Resource::Certificate,
            format!("Certificate '{c}' not found"),
        ));
    }
    let lb = load_balancers::by_arn(state, scope, &new.load_balancer_arn)?;
    check_action(state, scope, &lb.value.arn, &new.default_action)?;
    for _ in 0..ATTEMPTS {
        let lb = load_balancers::by_arn(state, scope, &new.load_balancer_arn)?;
        if of_load_balancer(state, scope, &lb.value)
            .iter()
            .any(|l| l.port == new.port)
        {
            return Err(ModelError::new(
                ErrorKind::AlreadyExists(Resource::Listener),
                format!(
                    "A listener already exists on port {} of load balancer '{}'",
                    new.port, lb.value.arn
                ),
            )
            .into());
        }
        let id = elbv2::new_id();
        let record = ListenerRecord {
            arn: format!(
                "{}listener/app/{}/{}/{id}",
                arn_prefix(scope),
                lb.value.name,
                lb.value.id
            ),
            load_balancer_arn: lb.value.arn.clone(),
            port: new.port,
            protocol: new.protocol,
            certificates: new.certificates.clone(),
            ssl_policy: match new.protocol {
                ListenerProtocol::Https => Some(
                    new.ssl_policy
                        .clone()
                        .unwrap_or_else(|| "ELBSecurityPolicy-2016-08".into()),
                ),
                ListenerProtocol::Http => None,
            },
            alpn_policy: new.alpn_policy.clone(),
            default_action: new.default_action.clone(),
            tags: new.tags.clone(),
            created_at: Utc::now(),
        };
        let lb_key = keys::load_balancer(&scope.region, &lb.value.name);
        let key = keys::listener(&scope.region, &lb.value.id, &id);
        // The load balancer's revision guards the port check: two listeners created at
        // once on one port cannot both commit, because each touches the load balancer.
        let txn = Txn {
            compares: vec![Compare::unchanged(lb_key.clone(), lb.mod_revision)],
            success: vec![
                Op::put(key, encode(&record)),
                Op::put(lb_key, encode(&*lb.value)),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(
        "The load balancer kept changing while the listener was being created; retry.".into(),
    ))
}

/// What ModifyListener changes.
#[derive(Debug, Clone, Default)]
pub struct ListenerChange {
    pub port: Option<u16>,
    pub protocol: Option<ListenerProtocol>,
    pub certificates: Option<Vec<String>>,
    pub ssl_policy: Option<String>,
    pub alpn_policy: Option<Vec<String>>,
    pub default_action: Option<Action>,
}

pub async fn modify(
    state: &State,
    scope: &Scope,
    arn: &str,
    change: ListenerChange,
    certificate_exists: impl Fn(&str) -> bool,
) -> Result<ListenerRecord, ControlError> {
    for _ in 0..ATTEMPTS {
        let entry = by_arn(state, scope, arn)?;
        let lb = load_balancers::by_arn(state, scope, &entry.value.load_balancer_arn)?;
        let mut record = (*entry.value).clone();
        if let Some(port) = change.port {
            if port == 0 {
                return Err(ControlError::invalid(
                    "Listener port must be between 1 and 65535",
                ));
            }
            if port != record.port
                && of_load_balancer(state, scope, &lb.value)
                    .iter()
                    .any(|l| l.port == port)
            {
                return Err(ModelError::new(
                    ErrorKind::AlreadyExists(Resource::Listener),
                    format!("A listener already exists on port {port} of this load balancer"),
                )
                .into());
            }
            record.port = port;
        }
        if let Some(p) = change.protocol {
            record.protocol = p;
            if p == ListenerProtocol::Http {
                record.certificates.clear();
                record.ssl_policy = None;
            }
        }
        if let Some(c) = &change.certificates {
            if let Some(missing) = c.iter().find(|c| !certificate_exists(c)) {
                return Err(ControlError::not_found(
                    Resource::Certificate,
                    format!("Certificate '{missing}' not found"),
                ));
            }
            // ModifyListener names the default certificate; the SNI ones stay.
            let mut certs = c.clone();
            certs.extend(
                record
                    .certificates
                    .iter()
                    .skip(1)
                    .filter(|x| !c.contains(x))
                    .cloned(),
            );
            record.certificates = certs;
        }
        if let Some(p) = &change.ssl_policy {
            record.ssl_policy = Some(p.clone());
        }
        if record.protocol == ListenerProtocol::Https && record.ssl_policy.is_none() {
            record.ssl_policy = Some("ELBSecurityPolicy-2016-08".into());
        }
        if let Some(a) = &change.alpn_policy {
            record.alpn_policy.clone_from(a);
        }
        if let Some(a) = &change.default_action {
            check_action(state, scope, &lb.value.arn, a)?;
            record.default_action = a.clone();
        }
        check_protocol(record.protocol, &record.certificates)?;
        let key = keys::listener(&scope.region, &lb.value.id, listener_id(arn));
        let lb_key = keys::load_balancer(&scope.region, &lb.value.name);
        let txn = Txn {
            compares: vec![
                Compare::unchanged(key.clone(), entry.mod_revision),
                Compare::unchanged(lb_key.clone(), lb.mod_revision),
            ],
            success: vec![
                Op::put(key, encode(&record)),
                Op::put(lb_key, encode(&*lb.value)),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!(
        "The listener {arn} kept changing; retry."
    )))
}

/// Add (`add`) or remove certificates of a listener's SNI list.
pub async fn change_certificates(
    state: &State,
    scope: &Scope,
    arn: &str,
    certificates: &[String],
    add: bool,
    certificate_exists: impl Fn(&str) -> bool,
) -> Result<ListenerRecord, ControlError> {
    if add {
        if let Some(missing) = certificates.iter().find(|c| !certificate_exists(c)) {
            return Err(ControlError::not_found(
                Resource::Certificate,
                format!("Certificate '{missing}' not found"),
            ));
        }
    }
    for _ in 0..ATTEMPTS {
        let entry = by_arn(state, scope, arn)?;
        let mut record = (*entry.value).clone();
        if record.protocol != ListenerProtocol::Https {
            return Err(ModelError::new(
                ErrorKind::Client,
                "Certificates can only be added to HTTPS listeners",
            )
            .into());
        }
        if add {
            for c in certificates {
                if !record.certificates.contains(c) {
                    record.certificates.push(c.clone());
                }
            }
        } else {
            if certificates
                .first()
                .is_some_and(|c| record.certificates.first() == Some(c))
                || certificates
                    .iter()
                    .any(|c| record.certificates.first() == Some(c))
            {
                return Err(ModelError::new(
                    ErrorKind::Conflict,
                    "The default certificate of a listener cannot be removed; use ModifyListener to replace it",
                )
                .into());
            }
            record.certificates.retain(|c| !certificates.contains(c));
        }
        let (lb, id) = listener_ids(scope, arn).unwrap_or_default();
        let key = keys::listener(&scope.region, lb, id);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!(
        "The listener {arn} kept changing; retry."
    )))
}

/// Delete a listener and its rules.
pub async fn delete(state: &State, scope: &Scope, arn: &str) -> Result<(), ControlError> {
    let entry = by_arn(state, scope, arn)?;
    let (lb, id) = listener_ids(scope, arn).unwrap_or_default();
    let mut ops = vec![Op::delete(keys::listener(&scope.region, lb, id))];
    for (k, _) in state
        .elbv2()
        .rules
        .range(keys::rules_of(&scope.region, id).as_bytes())
        .iter()
    {
        ops.push(Op::delete(k.to_vec()));
    }
    let txn = Txn {
        compares: vec![Compare::unchanged(
            keys::listener(&scope.region, lb, id),
            entry.mod_revision,
        )],
        success: ops,
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::Contended(format!(
            "The listener {arn} changed while it was being deleted; retry."
        )));
    }
    Ok(())
}

/// Listeners and rules that forward to a target group.
pub struct GroupUser {
    pub arn: String,
    pub load_balancer_arn: String,
}

pub fn using_group(state: &State, scope: &Scope, tg_arn: &str) -> Vec<GroupUser> {
    let views = state.elbv2();
    let mut out = Vec::new();
    let listeners = views
        .listeners
        .range(format!("{}{}/", keys::LISTENERS, scope.region).as_bytes());
    for (_, l) in listeners.iter() {
        if l.value.default_action.target_groups().contains(&tg_arn) {
            out.push(GroupUser {
                arn: l.value.arn.clone(),
                load_balancer_arn: l.value.load_balancer_arn.clone(),
            });
        }
        let id = listener_id(&l.value.arn);
        for (_, r) in views
            .rules
            .range(keys::rules_of(&scope.region, id).as_bytes())
            .iter()
        {
            if r.value.action.target_groups().contains(&tg_arn) {
                out.push(GroupUser {
                    arn: r.value.arn.clone(),
                    load_balancer_arn: l.value.load_balancer_arn.clone(),
                });
            }
        }
    }
    out
}

/// Update a listener's tags.
pub async fn update_listener_tags(
    state: &State,
    scope: &Scope,
    arn: &str,
    change: impl Fn(&mut Vec<Tag>),
) -> Result<(), ControlError> {
    for _ in 0..ATTEMPTS {
        let entry = by_arn(state, scope, arn)?;
        let mut rec = (*entry.value).clone();
        change(&mut rec.tags);
        validate_tags(&rec.tags)?;
        let (lb, id) = listener_ids(scope, arn).unwrap_or_default();
        if state
            .put_if_unchanged(
                &keys::listener(&scope.region, lb, id),
                entry.mod_revision,
                encode(&rec),
            )
            .await?
        {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!(
        "The listener {arn} kept changing; retry."
    )))
}
