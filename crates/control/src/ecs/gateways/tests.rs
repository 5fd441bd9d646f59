//! Gateways over an in-memory store: a connected service gets a route (a shared load
//! balancer, a target group, a host rule) on one pass; disassociating a cluster in use
//! waits for its routes; dropping the connector removes the route, its target group and
//! rule, and the association; deleting the gateway removes its load balancer.

use std::sync::Arc;

use chrono::Utc;
use flotilla_model::elbv2::listener::Condition;
use flotilla_model::gateway::{AssociationStatus, GatewayConnector, HostSharedAlbInput};
use flotilla_model::record::encode;
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_store::MemoryStore;

use super::*;
use crate::ecs::services::test_record;
use crate::elbv2::{load_balancers, rules, target_groups};
use crate::{ControlConfig, State};

async fn state() -> State {
    State::new(
        Arc::new(MemoryStore::new()),
        ControlConfig::new("000000000000"),
    )
    .await
    .unwrap()
}

fn scope() -> Scope {
    Scope::new("us-east-1", "000000000000")
}

/// Cluster `c`, task definition `web:1` with a port named `http`, and service `web`.
async fn service(state: &State, connectors: Vec<GatewayConnector>) -> String {
    let scope = scope();
    crate::ecs::clusters::ensure(state, &scope, "c")
        .await
        .unwrap();
    let td: TaskDefinitionRecord = serde_json::from_value(serde_json::json!({
        "definition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
            "family": "web", "revision": 1, "status": "ACTIVE",
            "containerDefinitions": [{ "name": "app", "image": "busybox",
                "portMappings": [{ "containerPort": 8080, "name": "http" }] }],
        },
    }))
    .unwrap();
    let key = keys::task_definition("us-east-1", "web", 1);
    state.put_if_unchanged(&key, 0, encode(&td)).await.unwrap();
    put_service(state, connectors).await
}

async fn put_service(state: &State, connectors: Vec<GatewayConnector>) -> String {
    let mut svc = test_record("c", "web", 1, Utc::now());
    svc.gateway_connectors = connectors;
    let key = keys::service("us-east-1", "c", "web");
    let rev = state
        .services()
        .get(key.as_bytes())
        .map_or(0, |e| e.mod_revision);
    assert!(state
        .put_if_unchanged(&key, rev, encode(&svc))
        .await
        .unwrap());
    svc.service_arn
}

fn http() -> Vec<GatewayConnector> {
    vec![GatewayConnector {
        port_name: "http".into(),
        ..Default::default()
    }]
}

async fn gateway(state: &State) -> GatewayRecord {
    let config = HostSharedAlbInput {
        protocol: Some("HTTP".into()),
        ..Default::default()
    };
    let new = NewGateway {
        name: "gw".into(),
        infrastructure_role_arn: "arn:aws:iam::000000000000:role/gw".into(),
        client_token: None,
        deletion_protection: false,
        config: config.resolve().unwrap(),
        tags: vec![],
        propagate_tags: "GATEWAY".into(),
    };
    create(state, &scope(), new, Utc::now()).await.unwrap()
}

#[tokio::test]
async fn a_connected_service_gets_a_route_and_loses_it_with_its_connector() {
    let state = state().await;
    let scope = scope();
    let service_arn = service(&state, http()).await;
    gateway(&state).await;
    infra::reconcile_all(&state).await.unwrap();
    assert!(
        find(&state, &scope, "gw").unwrap().value.routes.is_empty(),
        "no cluster yet"
    );

    associate(&state, &scope, "gw", "c").await.unwrap();
    infra::reconcile_all(&state).await.unwrap();
    let g = find(&state, &scope, "gw").unwrap().value;
    assert_eq!(g.load_balancers.len(), 1);
    let [route] = &g.routes[..] else {
        panic!("one route: {:?}", g.routes)
    };
    assert_eq!(
        (route.container_name.as_str(), route.container_port),
        ("app", 8080)
    );
    assert_eq!(route.service_arn, service_arn);
    assert!(route.service_url.starts_with("http://web-"));
    let rule = rules::rule_by_arn(&state, &scope, &route.listener_rule_arn).unwrap();
    assert_eq!(
        rule.conditions,
        [Condition::HostHeader {
            values: vec![route.host.clone()]
        }]
    );
    assert!(target_groups::by_arn(&state, &scope, &route.target_group_arn).is_ok());
    assert_eq!(routes_of_service(&state, &scope, &service_arn).len(), 1);
    // A second pass changes nothing.
    infra::reconcile_all(&state).await.unwrap();
    assert_eq!(find(&state, &scope, "gw").unwrap().value, g);

    // In use: the association waits, and the gateway cannot be deleted.
    disassociate(&state, &scope, "gw", "c").await.unwrap();
    infra::reconcile_all(&state).await.unwrap();
    let g = find(&state, &scope, "gw").unwrap().value;
    assert_eq!(g.associations[0].status, AssociationStatus::Disassociating);
    assert_eq!(g.routes.len(), 1);
    assert!(delete(&state, &scope, "gw").await.is_err());

    put_service(&state, vec![]).await;
    infra::reconcile_all(&state).await.unwrap();
    let g = find(&state, &scope, "gw").unwrap().value;
    assert!(g.routes.is_empty() && g.associations.is_empty());
    assert!(target_groups::by_arn(&state, &scope, &route.target_group_arn).is_err());

    let lb = g.load_balancers[0].load_balancer_arn.clone();
    delete(&state, &scope, "gw").await.unwrap();
    assert!(load_balancers::by_arn(&state, &scope, &lb).is_err());
    assert!(find(&state, &scope, "gw").is_err());
}

#[tokio::test]
async fn disassociating_an_unused_cluster_is_immediate_and_names_are_checked() {
    let state = state().await;
    let scope = scope();
    service(&state, vec![]).await;
    gateway(&state).await;
    associate(&state, &scope, "gw", "c").await.unwrap();
    disassociate(&state, &scope, "gw", "c").await.unwrap();
    assert!(find(&state, &scope, "gw")
        .unwrap()
        .value
        .associations
        .is_empty());
    assert!(disassociate(&state, &scope, "gw", "c").await.is_err());
    assert!(associate(&state, &scope, "nope", "c").await.is_err());
    assert!(associate(&state, &scope, "gw", "missing").await.is_err());
    let arn = arn(&scope, "gw");
    assert_eq!(find(&state, &scope, &arn).unwrap().value.name, "gw");
    assert!(find(
        &state,
        &scope,
        "arn:aws:ecs:eu-west-1:000000000000:gateway/gw"
    )
    .is_err());
}
