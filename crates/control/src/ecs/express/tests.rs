//! Express services over the memory store: a create makes the task definition, target
//! group, load balancer, listener, service and scaling it composes; a refused create
//! leaves nothing behind; an update is a new revision on the same load balancer; a delete
//! drains the service and, once it is INACTIVE, removes the infrastructure.

use std::sync::Arc;

use chrono::Utc;
use flotilla_model::service::express::{Container, Scaling};
use flotilla_model::service::ServiceStatus;
use flotilla_model::Scope;
use flotilla_store::MemoryStore;

use super::*;
use crate::ControlConfig;

const ROLE: &str = "arn:aws:iam::000000000000:role/infra";

async fn state() -> (State, Scope) {
    let mut config = ControlConfig::new("000000000000");
    // Listeners are probed on their address: one of this module's own (the e2e module
    // uses 127.0.34.1-20).
    config.lb_addresses = crate::elbv2::AddressPool::parse("127.0.34.201-127.0.34.250").unwrap();
    let state = State::new(Arc::new(MemoryStore::new()), config)
        .await
        .unwrap();
    let scope = Scope::new("us-east-1", "000000000000");
    clusters::create(&state, &scope, clusters::new_record(&scope, "c", vec![]))
        .await
        .unwrap();
    (state, scope)
}

fn new(name: &str, image: &str) -> NewExpress {
    NewExpress {
        cluster: Some("c".into()),
        service_name: Some(name.into()),
        infrastructure_role_arn: ROLE.into(),
        settings: Settings {
            primary_container: Some(Container {
                image: image.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        tags: vec![],
    }
}

#[tokio::test]
async fn create_update_delete_compose_the_parts() {
    let (state, scope) = state().await;
    let svc = create(&state, &scope, new("web", "web:1"), "me", Utc::now())
        .await
        .unwrap();
    let x = svc.express.as_deref().unwrap();
    let [config] = x.configurations.as_slice() else {
        panic!("one configuration")
    };
    assert_eq!(
        config.service_revision_arn,
        svc.deployments[0].service_revision_arn
    );
    assert_eq!(config.health_check_path, "/ping");
    assert_eq!(svc.launch_type, "FARGATE");
    assert_eq!(svc.desired_count, 1);
    let lb = load_balancers::by_arn(&state, &scope, &x.load_balancer_arn).unwrap();
    assert_eq!(lb.value.dns_name, x.endpoint);
    assert_eq!(
        listeners::of_load_balancer(&state, &scope, &lb.value).len(),
        1
    );
    let target = targets::require(&state, "us-east-1", "service/c/web").unwrap();
    assert_eq!((target.min_capacity, target.max_capacity), (1, 20));
    policies::get(&state, "us-east-1", "service/c/web", POLICY_NAME).unwrap();

    // A taken name, and a bad scaling target, are refused before anything is made.
    let lbs = load_balancers::list(&state, &scope).len();
    assert!(
        create(&state, &scope, new("web", "web:1"), "me", Utc::now())
            .await
            .is_err()
    );
    let mut bad = new("other", "web:1");
    bad.settings.scaling_target = Some(Scaling {
        min_task_count: Some(3),
        max_task_count: Some(2),
        ..Default::default()
    });
    assert!(create(&state, &scope, bad, "me", Utc::now()).await.is_err());
    assert_eq!(load_balancers::list(&state, &scope).len(), lbs);

    let settings = Settings {
        primary_container: Some(Container {
            image: "web:2".into(),
            ..Default::default()
        }),
        health_check_path: Some("/health".into()),
        ..Default::default()
    };
    let updated = update(
        &state,
        &scope,
        &svc.service_arn,
        &settings,
        "me",
        Utc::now(),
    )
    .await
    .unwrap();
    let ux = updated.express.as_deref().unwrap();
    assert_eq!(ux.configurations.len(), 2);
    assert_eq!(ux.load_balancer_arn, x.load_balancer_arn);
    assert_eq!(
        ux.latest().unwrap().service_revision_arn,
        updated.primary().unwrap().service_revision_arn
    );
    let tg = target_groups::by_arn(&state, &scope, &x.target_group_arn).unwrap();
    assert_eq!(tg.value.health_check.path, "/health");

    let drained = delete(&state, &scope, &svc.service_arn, Utc::now())
        .await
        .unwrap();
    assert_eq!(drained.status, ServiceStatus::Draining);
    assert!(targets::require(&state, "us-east-1", "service/c/web").is_err());
    assert!(delete(&state, &scope, &svc.service_arn, Utc::now())
        .await
        .is_err());

    // As the service controller does once the tasks are gone.
    let key = keys::service("us-east-1", "c", "web");
    services::update(&state, &key, |s| {
        s.status = ServiceStatus::Inactive;
        Ok(true)
    })
    .await
    .unwrap();
    let inactive = state.services().get(key.as_bytes()).unwrap();
    assert!(needs_removal(&inactive.value));
    remove_infrastructure(&state, &key, &inactive.value)
        .await
        .unwrap();
    assert!(load_balancers::by_arn(&state, &scope, &x.load_balancer_arn).is_err());
    assert!(target_groups::by_arn(&state, &scope, &x.target_group_arn).is_err());
    let after = state.services().get(key.as_bytes()).unwrap();
    assert!(!needs_removal(&after.value));
}

#[tokio::test]
async fn find_tells_bad_arns_unknown_services_and_missing_clusters_apart() {
    let (state, scope) = state().await;
    let kind = |arn: &str| match find(&state, &scope, arn) {
        Err(ControlError::Model(e)) => e.kind,
        other => panic!("{arn}: {other:?}"),
    };
    use flotilla_model::{ErrorKind, Resource};
    assert_eq!(kind("nope"), ErrorKind::InvalidParameter);
    assert_eq!(
        kind("arn:aws:ecs:us-east-1:000000000000:service/c/none"),
        ErrorKind::NotFound(Resource::Service)
    );
    assert_eq!(
        kind("arn:aws:ecs:us-east-1:000000000000:service/gone/web"),
        ErrorKind::NotFound(Resource::Cluster)
    );
}
