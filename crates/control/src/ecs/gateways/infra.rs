//! What a gateway builds, one step per pass of the gateway controller: a route for each
//! service of an associated cluster whose gateway connector applies to the gateway (a
//! target group for the connector's port and a host-header rule forwarding to it on a
//! shared load balancer's listener), and nothing for the others. Load balancers are made
//! when the first route needs one, up to `maxAlbCount`, each carrying at most
//! [`ROUTES_PER_ALB`] routes. Names are derived from what they stand for, so a pass that
//! stopped half way finds what it made and carries on (ELBv2's creates are idempotent).
//!
//! Traffic reaches a route's tasks because the service controller registers them in the
//! route's target group as it does for `loadBalancers` (`controllers/services/targets.rs`).

use flotilla_model::arn::Arn;
use flotilla_model::elbv2::listener::{Action, Condition, ListenerProtocol, WeightedGroup};
use flotilla_model::elbv2::{TargetGroupProtocol, TargetType};
use flotilla_model::gateway::{
    AssociationStatus, GatewayAlb, GatewayConnector, GatewayRecord, GatewayRoute, GatewayStatus,
    RouteStatus, ROUTES_PER_ALB,
};
use flotilla_model::service::{ServiceRecord, ServiceStatus};
use flotilla_model::{ErrorKind, ModelError, Scope};

use crate::elbv2::{listeners, load_balancers, rules, target_groups};
use crate::{keys, ControlError, State};

/// One pass over every gateway.
pub async fn reconcile_all(state: &State) -> Result<(), ControlError> {
    let gateways: Vec<_> = state
        .gateways()
        .range(keys::GATEWAYS.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect();
    for g in gateways {
        let Some(scope) = scope_of(&g.arn) else {
            continue;
        };
        if let Err(e) = reconcile(state, &scope, &g.name).await {
            tracing::warn!(gateway = %g.arn, error = %e, "a gateway pass failed");
        }
    }
    Ok(())
}

fn scope_of(arn: &str) -> Option<Scope> {
    let a = Arn::parse(arn)?;
    Some(Scope::new(a.region, a.account))
}

/// A route the gateway should have: a service of an associated cluster and its connector.
struct Wanted {
    service: ServiceRecord,
    connector: GatewayConnector,
}

fn wanted(state: &State, scope: &Scope, g: &GatewayRecord) -> Vec<Wanted> {
    let mut out = Vec::new();
    for a in &g.associations {
        let cluster = a.cluster_arn.rsplit('/').next().unwrap_or_default();
        let prefix = keys::in_cluster(keys::SERVICES, &scope.region, cluster);
        for (_, e) in state.services().range(prefix.as_bytes()).iter() {
            let svc = &e.value;
            let Some(c) = svc.gateway_connectors.first() else {
                continue;
            };
            if svc.status != ServiceStatus::Active || !c.applies_to(g.access_type()) {
                continue;
            }
            let existing = route_of(g, &svc.service_arn, &c.port_name).is_some();
            // A disassociating cluster gets no new route; its routes stay until their
            // services drop their connectors.
            if a.status == AssociationStatus::Active || existing {
                out.push(Wanted {
                    service: (**svc).clone(),
                    connector: c.clone(),
                });
            }
        }
    }
    out
}

fn route_of<'a>(g: &'a GatewayRecord, service_arn: &str, port: &str) -> Option<&'a GatewayRoute> {
    g.routes
        .iter()
        .find(|r| r.service_arn == service_arn && r.port_name == port)
}

/// Bring one gateway one pass closer to what its associations and services ask for.
async fn reconcile(state: &State, scope: &Scope, name: &str) -> Result<(), ControlError> {
    let g = super::find(state, scope, name)?.value;
    let wanted = wanted(state, scope, &g);
    for r in &g.routes {
        let keep = wanted.iter().any(|w| {
            w.service.service_arn == r.service_arn && w.connector.port_name == r.port_name
        });
        if !keep {
            remove_route(state, scope, name, r).await?;
        }
    }
    for w in &wanted {
        let g = super::find(state, scope, name)?.value;
        if route_of(&g, &w.service.service_arn, &w.connector.port_name).is_some() {
            continue;
        }
        if let Err(e) = add_route(state, scope, &g, w).await {
            tracing::warn!(gateway = %g.arn, service = %w.service.service_arn, error = %e,
                "a gateway route could not be made yet");
        }
    }
    super::update(state, scope, name, |g| {
        let routes = g.routes.clone();
        g.associations.retain(|a| {
            a.status != AssociationStatus::Disassociating
                || routes.iter().any(|r| r.cluster_arn == a.cluster_arn)
        });
        // Nothing of an update waits on the load balancers (see docs/gateways.md).
        if g.status == GatewayStatus::UpdateInProgress {
            g.status = GatewayStatus::UpdateComplete;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// A stable 64-bit FNV-1a hash, for names derived from what they stand for.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The container and port a connector's `portName` names in the service's task
/// definition, and whether the tasks have their own addresses (awsvpc).
fn port_of(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    port_name: &str,
) -> Result<(String, u16, bool), ControlError> {
    let td = crate::ecs::task_definitions::by_ref(state, scope, &svc.task_definition)
        .ok_or_else(|| ControlError::invalid("The service's task definition is gone."))?;
    let def = &td.value.definition;
    let awsvpc = def.network_mode.as_deref() == Some("awsvpc");
    port_in(def, port_name)
        .map(|(c, p)| (c, p, awsvpc))
        .ok_or_else(|| {
            ControlError::invalid(format!(
                "No port mapping of the task definition {} is named '{port_name}'.",
                svc.task_definition
            ))
        })
}

/// The container and container port of the port mapping called `port_name`.
pub fn port_in(
    def: &flotilla_model::task_definition::TaskDefinition,
    port_name: &str,
) -> Option<(String, u16)> {
    def.container_definitions.iter().find_map(|c| {
        c.port_mappings
            .iter()
            .find(|m| m.name.as_deref() == Some(port_name))
            .and_then(|m| m.container_port)
            .map(|p| (c.name.clone().unwrap_or_default(), p as u16))
    })
}

fn target_group_of(
    w: &Wanted,
    name: String,
    port: u16,
    awsvpc: bool,
    tags: Vec<flotilla_model::tag::Tag>,
) -> target_groups::NewTargetGroup {
    let hc = w.connector.health_check.clone().unwrap_or_default();
    let protocol = |p: &str| {
        if p == "HTTPS" {
            TargetGroupProtocol::Https
        } else {
            TargetGroupProtocol::Http
        }
    };
    target_groups::NewTargetGroup {
        name,
        protocol: Some(TargetGroupProtocol::Http),
        protocol_version: None,
        port: Some(port),
        vpc_id: None,
        target_type: Some(if awsvpc {
            TargetType::Ip
        } else {
            TargetType::Instance
        }),
        health_check: target_groups::HealthCheckChange {
            enabled: None,
            protocol: hc.health_check_protocol.as_deref().map(protocol),
            port: hc.health_check_port.map(|p| Some(p as u16)),
            path: hc.health_check_path.clone(),
            interval_seconds: hc.health_check_interval_seconds.map(|v| v as u32),
            timeout_seconds: hc.health_check_timeout_seconds.map(|v| v as u32),
            healthy_threshold: hc.healthy_threshold_count.map(|v| v as u32),
            unhealthy_threshold: hc.unhealthy_threshold_count.map(|v| v as u32),
            matcher: hc.matcher.and_then(|m| m.http_code),
        },
        ip_address_type: None,
        tags,
    }
}

/// What the gateway's tags become on what it makes (`propagateTags`).
fn propagated(g: &GatewayRecord) -> Vec<flotilla_model::tag::Tag> {
    if g.propagate_tags == "GATEWAY" {
        g.tags.clone()
    } else {
        vec![]
    }
}

/// Make one route: its target group, a load balancer with room, the rule, the record.
async fn add_route(
    state: &State,
    scope: &Scope,
    g: &GatewayRecord,
    w: &Wanted,
) -> Result<(), ControlError> {
    let svc = &w.service;
    let port_name = &w.connector.port_name;
    let (container, port, awsvpc) = port_of(state, scope, svc, port_name)?;
    let hash = fnv(&[&g.arn, &svc.service_arn, port_name]);
    let tg_name = format!("gw-{hash:016x}");
    let group = target_groups::create(
        state,
        scope,
        target_group_of(w, tg_name, port, awsvpc, propagated(g)),
    )
    .await?;
    if let Some(t) = w
        .connector
        .deregistration_delay
        .as_ref()
        .and_then(|d| d.timeout_seconds)
    {
        let attr = (
            "deregistration_delay.timeout_seconds".to_string(),
            t.to_string(),
        );
        target_groups::modify_attributes(state, scope, &group.arn, &[attr]).await?;
    }
    let alb = alb_with_room(state, scope, &g.name).await?;
    let lb = load_balancers::by_arn(state, scope, &alb.load_balancer_arn)?.value;
    let label: String = svc
        .service_name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let host = format!("{label}-{:08x}.{}", hash as u32, lb.dns_name);
    let cfg = &g.host_shared_alb;
    let service_url = if cfg.port == 80 {
        format!("http://{host}")
    } else {
        format!("http://{host}:{}", cfg.port)
    };
    let rule_arn = rule_for(state, scope, &alb.listener_arn, &host, &group.arn, g).await?;
    let route = GatewayRoute {
        arn: scope
            .arn("ecs", format!("gateway-route/{}/{hash:016x}", g.name))
            .to_string(),
        cluster_arn: svc.cluster_arn.clone(),
        service_arn: svc.service_arn.clone(),
        port_name: port_name.clone(),
        container_name: container,
        container_port: port,
        host,
        service_url,
        status: RouteStatus::Active,
        load_balancer_arn: alb.load_balancer_arn.clone(),
        listener_arn: alb.listener_arn.clone(),
        target_group_arn: group.arn.clone(),
        listener_rule_arn: rule_arn,
        created_at: state.clock().now(),
    };
    super::update(state, scope, &g.name, |g| {
        if route_of(g, &route.service_arn, &route.port_name).is_none() {
            g.routes.push(route.clone());
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// The rule of `listener` matching `host` (made by an earlier pass), or a new one after
/// the listener's last.
async fn rule_for(
    state: &State,
    scope: &Scope,
    listener_arn: &str,
    host: &str,
    group_arn: &str,
    g: &GatewayRecord,
) -> Result<String, ControlError> {
    let listener = listeners::by_arn(state, scope, listener_arn)?.value;
    let existing = rules::rules_of(state, scope, &listener);
    let condition = Condition::HostHeader {
        values: vec![host.to_string()],
    };
    if let Some(r) = existing
        .iter()
        .find(|r| r.conditions == [condition.clone()])
    {
        return Ok(r.arn.clone());
    }
    let priority = existing
        .iter()
        .filter_map(|r| r.priority)
        .max()
        .unwrap_or(0)
        + 1;
    let rule = rules::create_rule(
        state,
        scope,
        rules::NewRule {
            listener_arn: listener_arn.to_string(),
            priority,
            conditions: vec![condition],
            action: Action::Forward {
                target_groups: vec![WeightedGroup {
                    arn: group_arn.to_string(),
                    weight: 1,
                }],
                stickiness_seconds: None,
            },
            tags: propagated(g),
        },
    )
    .await?;
    Ok(rule.arn)
}

/// A load balancer of the gateway with room for one more route, made (with its listener)
/// when every one is full and `maxAlbCount` allows another.
async fn alb_with_room(
    state: &State,
    scope: &Scope,
    gateway: &str,
) -> Result<GatewayAlb, ControlError> {
    let g = super::find(state, scope, gateway)?.value;
    let room = g.load_balancers.iter().find(|alb| {
        g.routes
            .iter()
            .filter(|r| r.load_balancer_arn == alb.load_balancer_arn)
            .count()
            < ROUTES_PER_ALB
    });
    if let Some(alb) = room {
        return Ok(alb.clone());
    }
    let cfg = &g.host_shared_alb;
    let n = g.load_balancers.len();
    if n >= cfg.max_alb_count as usize {
        return Err(ModelError::new(
            ErrorKind::LimitExceeded,
            format!(
                "The gateway's {n} load balancers are full and maxAlbCount is {}.",
                cfg.max_alb_count
            ),
        )
        .into());
    }
    let lb = load_balancers::create(
        state,
        scope,
        load_balancers::NewLoadBalancer {
            name: format!("gw-{:012x}-{n}", fnv(&[&g.arn]) >> 16),
            scheme: Some(cfg.scheme.clone()),
            ip_address_type: None,
            subnets: cfg.network_configuration.subnets.clone(),
            security_groups: vec![],
            tags: propagated(&g),
        },
    )
    .await?;
    let listener = match listeners::of_load_balancer(state, scope, &lb)
        .into_iter()
        .find(|l| l.port == cfg.port)
    {
        Some(l) => l.arn.clone(),
        None => {
            let new = listeners::NewListener {
                load_balancer_arn: lb.arn.clone(),
                port: cfg.port,
                protocol: ListenerProtocol::Http,
                certificates: vec![],
                ssl_policy: None,
                alpn_policy: vec![],
                default_action: Action::FixedResponse {
                    status_code: 404,
                    content_type: Some("text/plain".into()),
                    message_body: Some("No gateway route matches this host.\n".into()),
                },
                tags: propagated(&g),
            };
            listeners::create(state, scope, new, |_| false).await?.arn
        }
    };
    let alb = GatewayAlb {
        load_balancer_arn: lb.arn,
        listener_arn: listener,
    };
    super::update(state, scope, gateway, |g| {
        if !g.load_balancers.contains(&alb) {
            g.load_balancers.push(alb.clone());
        }
        Ok(())
    })
    .await?;
    Ok(alb)
}

/// Remove a route: its rule, its target group (with its targets), then the record.
async fn remove_route(
    state: &State,
    scope: &Scope,
    gateway: &str,
    r: &GatewayRoute,
) -> Result<(), ControlError> {
    match rules::delete_rule(state, scope, &r.listener_rule_arn).await {
        Ok(()) => {}
        Err(ControlError::Model(e)) if matches!(e.kind, ErrorKind::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    target_groups::delete(state, scope, &r.target_group_arn).await?;
    super::update(state, scope, gateway, |g| {
        g.routes.retain(|x| x.arn != r.arn);
        Ok(())
    })
    .await?;
    Ok(())
}
