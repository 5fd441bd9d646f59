//! The feed that configures the load balancer's data plane: every change to a load
//! balancer, listener, rule, target group, target, certificate or container instance rebuilds the
//! [`PlaneConfig`] from the views and publishes it when it differs. Every server runs it
//! (each serves the data plane), not only the leader.

use std::collections::BTreeMap;
use std::time::Duration;

use flotilla_model::elbv2::plane::{
    Draining, LbPlane, ListenerPlane, PlaneConfig, RulePlane, TargetKey, TargetPlane, TgPlane,
    XffMode,
};
use flotilla_model::{Arn, Scope};
use tokio::sync::watch;

use super::{listeners, rules, target_groups, targets};
use crate::{keys, State};

/// Build the data plane's configuration from the views.
pub fn build(state: &State) -> PlaneConfig {
    let views = state.elbv2();
    let mut config = PlaneConfig::default();
    let mut groups: BTreeMap<String, Scope> = BTreeMap::new();
    for (_, lb) in views
        .load_balancers
        .range(keys::LOAD_BALANCERS.as_bytes())
        .iter()
    {
        let lb = &lb.value;
        let Some(scope) = Arn::parse(&lb.arn).map(|a| Scope::new(a.region, a.account)) else {
            continue;
        };
        let idle = lb
            .attribute("idle_timeout.timeout_seconds")
            .parse()
            .unwrap_or(60);
        let mut plane = LbPlane {
            arn: lb.arn.clone(),
            name: lb.name.clone(),
            address: crate::nodes::local_address(state, lb.address),
            idle_timeout: Duration::from_secs(idle),
            http2: lb.attribute("routing.http2.enabled") == "true",
            xff: match lb
                .attribute("routing.http.xff_header_processing.mode")
                .as_str()
            {
                "preserve" => XffMode::Preserve,
                "remove" => XffMode::Remove,
                _ => XffMode::Append,
            },
            preserve_host: lb.attribute("routing.http.preserve_host_header.enabled") == "true",
            listeners: vec![],
        };
        for l in listeners::of_load_balancer(state, &scope, lb) {
            let rules: Vec<RulePlane> = rules::rules_of(state, &scope, &l)
                .into_iter()
                .map(|r| {
                    for g in r.action.target_groups() {
                        groups.insert(g.to_string(), scope.clone());
                    }
                    RulePlane {
                        arn: r.arn,
                        priority: r.priority,
                        conditions: r.conditions,
                        action: r.action,
                    }
                })
                .collect();
            plane.listeners.push(ListenerPlane {
                arn: l.arn.clone(),
                port: l.port,
                protocol: l.protocol,
                certificates: l.certificates.clone(),
                rules,
                admits: crate::ec2::security_groups::listener_sources(
                    state,
                    &scope,
                    &lb.vpc_id,
                    &lb.security_groups,
                    l.port,
                ),
            });
        }
        config.load_balancers.push(plane);
    }
    for (arn, scope) in groups {
        let Ok(tg) = target_groups::by_arn(state, &scope, &arn) else {
            continue;
        };
        let tg = &tg.value;
        let mut plane = TgPlane {
            arn: tg.arn.clone(),
            protocol: tg.protocol,
            port: tg.port,
            health_check: tg.health_check.clone(),
            algorithm: tg.algorithm(),
            slow_start: Duration::from_secs(tg.slow_start_seconds()),
            stickiness: tg.stickiness_seconds().map(Duration::from_secs),
            deregistration_delay: Duration::from_secs(tg.deregistration_delay_seconds()),
            targets: vec![],
        };
        for t in targets::of_group(state, &scope, tg) {
            let t = &t.value;
            let Some(addr) = targets::address(state, &scope, tg, t) else {
                continue;
            };
            plane.targets.push(TargetPlane {
                key: TargetKey {
                    id: t.id.clone(),
                    port: t.port,
                },
                addr,
                registered_at: t.registered_at,
                draining: t.deregistered_at.map(|since| Draining {
                    since,
                    deadline: targets::drain_deadline(tg, t).unwrap_or(since),
                }),
            });
        }
        config.target_groups.insert(arn, plane);
    }
    config.certificates = crate::acm::plane_certificates(state);
    config
}

/// Keep the published configuration current until `shutdown`.
pub async fn run_feed(state: State, mut shutdown: watch::Receiver<bool>) {
    let views = state.elbv2();
    let mut lbs = views.load_balancers.key_changes();
    let mut tgs = views.target_groups.key_changes();
    let mut ls = views.listeners.key_changes();
    let mut rules = views.rules.key_changes();
    let mut ts = views.targets.key_changes();
    let mut instances = state.instances().key_changes();
    let mut certificates = state.certificates().key_changes();
    let mut groups = state.ec2().security_groups.key_changes();
    loop {
        views.publish_config(build(&state));
        let more = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            c = lbs.next() => c.is_some(),
            c = tgs.next() => c.is_some(),
            c = ls.next() => c.is_some(),
            c = rules.next() => c.is_some(),
            c = ts.next() => c.is_some(),
            c = instances.next() => c.is_some(),
            c = certificates.next() => c.is_some(),
            c = groups.next() => c.is_some(),
        };
        if !more {
            return;
        }
    }
}
