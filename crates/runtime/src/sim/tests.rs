//! Tests of the simulated runtime through the `Runtime` trait.
//!
//! The crate's tokio has no `test-util`, so timed behaviour runs on the real clock with
//! short delays, asserting only what no scheduling hiccup can break (a container seen
//! before its deadline must still run; the `die` event comes no earlier than due).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::*;
use crate::{Health, HealthCheck, NetworkMode, PortBinding, Protocol, RuntimeError as E};

mod output;
mod scale;

type Events = BoxStream<'static, Result<ContainerEvent>>;

pub(super) fn spec(name: &str, labels: &[(&str, &str)]) -> ContainerSpec {
    ContainerSpec {
        name: name.into(),
        image: "nginx:1.27".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

pub(super) fn with_env(mut s: ContainerSpec, env: &[(&str, &str)]) -> ContainerSpec {
    s.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    s
}

pub(super) async fn run(rt: &SimRuntime, s: &ContainerSpec) -> String {
    let id = rt.create_container(s).await.unwrap();
    rt.start_container(&id).await.unwrap();
    id
}

/// The next event, or a panic after 5 s.
async fn next(events: &mut Events) -> (String, String) {
    let item = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream goes on")
        .expect("no stream error");
    (item.id, item.action)
}

fn ev(id: &str, action: &str) -> (String, String) {
    (id.to_string(), action.to_string())
}

#[tokio::test]
async fn lifecycle_create_start_inspect_stop_remove() {
    let rt = SimRuntime::new();
    let mut events = rt.events().await.unwrap();
    let id = rt
        .create_container(&spec("web", &[("app", "shop")]))
        .await
        .unwrap();
    assert_eq!(id.len(), 64);
    let created = rt.inspect_container(&id).await.unwrap();
    assert!(created.created && !created.running && !created.exited);
    assert_eq!(
        (created.name.as_str(), created.image.as_str()),
        ("web", "nginx:1.27")
    );
    assert_eq!(created.started_at, None);

    rt.start_container(&id).await.unwrap();
    let running = rt.inspect_container("web").await.unwrap();
    assert_eq!(running.id, id);
    assert!(running.running && !running.created && !running.exited);
    assert_eq!(running.exit_code, None);
    assert_eq!(running.labels["app"], "shop");
    assert_eq!(running.health, Health::None);
    assert!(running
        .started_at
        .as_deref()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(running.ip_addresses["bridge"], "172.17.0.2");
    rt.start_container(&id).await.unwrap();

    rt.stop_container(&id[..16], Duration::from_secs(30))
        .await
        .unwrap();
    let stopped = rt.inspect_container(&id).await.unwrap();
    assert!(stopped.exited && !stopped.running);
    assert_eq!(stopped.exit_code, Some(143));
    assert!(stopped.finished_at.is_some());
    assert!(stopped.ip_addresses.is_empty());
    rt.stop_container(&id, Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(rt.container_count(), 1);
    rt.remove_container(&id).await.unwrap();
    rt.remove_container(&id).await.unwrap();
    assert_eq!(rt.container_count(), 0);
    assert!(matches!(
        rt.inspect_container(&id).await,
        Err(E::NotFound(_))
    ));
    assert!(matches!(rt.start_container(&id).await, Err(E::NotFound(_))));
    for action in ["start", "die", "destroy"] {
        assert_eq!(next(&mut events).await, ev(&id, action));
    }
}

#[tokio::test]
async fn names_are_unique_until_removed() {
    let rt = SimRuntime::new();
    let first = rt.create_container(&spec("web", &[])).await.unwrap();
    let err = rt.create_container(&spec("web", &[])).await.unwrap_err();
    assert!(
        matches!(&err, E::Invalid(m) if m.contains("already in use")),
        "{err}"
    );
    rt.remove_container("/web").await.unwrap();
    let second = rt.create_container(&spec("web", &[])).await.unwrap();
    assert_ne!(first, second);
    let unnamed = (rt.create_container(&spec("", &[])).await).unwrap();
    let again = (rt.create_container(&spec("", &[])).await).unwrap();
    assert_ne!(unnamed, again);
}

#[tokio::test]
async fn dynamic_ports_are_unique_and_fixed_ones_conflict() {
    let rt = SimRuntime::new();
    let port = |container_port, host_port| PortBinding {
        container_port,
        host_port,
        protocol: Protocol::Tcp,
        host_ip: String::new(),
    };
    let mut seen = BTreeSet::new();
    for i in 0..50 {
        let mut s = spec(&format!("web-{i}"), &[]);
        s.ports = vec![port(80, 0), port(443, 0)];
        let id = run(&rt, &s).await;
        for p in rt.inspect_container(&id).await.unwrap().ports {
            assert!((32768..=60999).contains(&p.host_port), "{p:?}");
            assert_eq!(p.host_ip, "0.0.0.0");
            assert!(
                seen.insert(p.host_port),
                "port {} handed out twice",
                p.host_port
            );
        }
    }
    assert_eq!(seen.len(), 100);

    let mut fixed = spec("fixed", &[]);
    fixed.ports = vec![port(80, 8080)];
    let first = run(&rt, &fixed).await;
    fixed.name = "fixed-2".into();
    let second = rt.create_container(&fixed).await.unwrap();
    let err = rt.start_container(&second).await.unwrap_err();
    assert!(
        matches!(&err, E::Invalid(m) if m.contains("port is already allocated")),
        "{err}"
    );
    assert!(rt.inspect_container(&second).await.unwrap().created);
    rt.stop_container(&first, Duration::ZERO).await.unwrap();
    rt.start_container(&second).await.unwrap();
    let ports = rt.inspect_container(&second).await.unwrap().ports;
    assert_eq!(
        ports.iter().map(|p| p.host_port).collect::<Vec<_>>(),
        [8080]
    );

    let mut host = spec("host", &[]);
    host.network = Some(NetworkMode::Host);
    host.ports = vec![port(80, 8080)];
    let id = run(&rt, &host).await;
    let state = rt.inspect_container(&id).await.unwrap();
    assert!(state.ports.is_empty() && state.ip_addresses.is_empty());
}

#[tokio::test]
async fn missing_images_fail_to_pull() {
    let rt = SimRuntime::new();
    assert!(rt.image_exists("nginx:1.27").await.unwrap());
    rt.pull_image("nginx:1.27", None).await.unwrap();
    for image in ["team/missing-app:v1", "does-not-exist"] {
        assert!(!rt.image_exists(image).await.unwrap());
        match rt.pull_image(image, None).await {
            Err(E::Pull { image: i, message }) => {
                assert_eq!(i, image);
                assert!(message.starts_with("pull access denied for "), "{message}");
                assert!(message.contains("repository does not exist"), "{message}");
            }
            other => panic!("expected a pull failure, got {other:?}"),
        }
        let mut s = spec("x", &[]);
        s.image = image.into();
        assert!(matches!(rt.create_container(&s).await, Err(E::NotFound(_))));
    }
    assert_eq!(rt.ensure_pause_image().await.unwrap(), PAUSE_IMAGE);
    assert!(rt.image_exists(PAUSE_IMAGE).await.unwrap());
}

#[tokio::test]
async fn told_to_fail_exits_right_after_start() {
    let rt = SimRuntime::new();
    let mut events = rt.events().await.unwrap();
    let id = run(&rt, &with_env(spec("a", &[]), &[(EXIT_CODE_ENV, "3")])).await;
    let state = rt.inspect_container(&id).await.unwrap();
    assert!(state.exited && state.started_at.is_some());
    assert_eq!(state.exit_code, Some(3));
    assert_eq!(next(&mut events).await, ev(&id, "start"));
    assert_eq!(next(&mut events).await, ev(&id, "die"));

    let mut f = spec("false", &[]);
    f.command = Some(vec!["false".into()]);
    let id = run(&rt, &f).await;
    assert_eq!(rt.inspect_container(&id).await.unwrap().exit_code, Some(1));

    let bad = with_env(spec("bad", &[]), &[(EXIT_CODE_ENV, "three")]);
    assert!(matches!(
        rt.create_container(&bad).await,
        Err(E::Invalid(_))
    ));
}

#[tokio::test]
async fn told_to_fail_later_exits_when_due_and_says_so() {
    let rt = SimRuntime::new();
    let mut events = rt.events().await.unwrap();
    let delay = Duration::from_millis(300);
    let s = with_env(
        spec("job", &[]),
        &[(EXIT_CODE_ENV, "7"), (EXIT_AFTER_ENV, "300")],
    );
    let lazy = with_env(spec("lazy", &[]), &[(EXIT_AFTER_ENV, "300")]);
    let t0 = Instant::now();
    let id = run(&rt, &s).await;
    let lazy = run(&rt, &lazy).await;
    let early = rt.inspect_container(&id).await.unwrap();
    if t0.elapsed() < delay {
        assert!(early.running && early.exit_code.is_none());
    }
    assert_eq!(next(&mut events).await, ev(&id, "start"));
    assert_eq!(next(&mut events).await, ev(&lazy, "start"));
    // Inspection alone settles the exit once it is due, whether or not the ticker ran.
    tokio::time::sleep(delay).await;
    let state = rt.inspect_container(&lazy).await.unwrap();
    assert_eq!((state.exited, state.exit_code), (true, Some(0)));
    assert_eq!(next(&mut events).await, ev(&id, "die"));
    assert_eq!(next(&mut events).await, ev(&lazy, "die"));
    assert!(t0.elapsed() >= delay);
    let state = rt.inspect_container(&id).await.unwrap();
    assert_eq!((state.exited, state.exit_code), (true, Some(7)));
    // A stop before the deadline wins: exit 143 and no second `die`.
    let stopped = run(
        &rt,
        &with_env(spec("stopped", &[]), &[(EXIT_AFTER_ENV, "100")]),
    )
    .await;
    rt.stop_container(&stopped, Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let state = rt.inspect_container(&stopped).await.unwrap();
    assert_eq!(state.exit_code, Some(143));
    assert_eq!(next(&mut events).await, ev(&stopped, "start"));
    assert_eq!(next(&mut events).await, ev(&stopped, "die"));
    rt.remove_container(&stopped).await.unwrap();
    assert_eq!(next(&mut events).await, ev(&stopped, "destroy"));
}

#[tokio::test]
async fn health_starts_then_turns_healthy_with_an_event() {
    let rt = SimRuntime::new();
    let mut events = rt.events().await.unwrap();
    let check = |start_period| HealthCheck {
        test: vec!["CMD-SHELL".into(), "curl -f localhost".into()],
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(5),
        retries: 3,
        start_period,
    };
    let mut now = spec("now", &[]);
    now.health_check = Some(check(Duration::ZERO));
    let now = run(&rt, &now).await;
    assert_eq!(
        rt.inspect_container(&now).await.unwrap().health,
        Health::Healthy
    );
    assert_eq!(next(&mut events).await, ev(&now, "start"));
    assert_eq!(next(&mut events).await, ev(&now, "health_status: healthy"));

    let period = Duration::from_millis(200);
    let mut later = spec("later", &[]);
    later.health_check = Some(check(period));
    let mut sick = with_env(spec("sick", &[]), &[(HEALTH_ENV, "unhealthy")]);
    sick.health_check = Some(check(period));
    let t0 = Instant::now();
    let later = run(&rt, &later).await;
    let sick = run(&rt, &sick).await;
    let early = rt.inspect_container(&later).await.unwrap().health;
    if t0.elapsed() < period {
        assert_eq!(early, Health::Starting);
    }
    assert_eq!(next(&mut events).await, ev(&later, "start"));
    assert_eq!(next(&mut events).await, ev(&sick, "start"));
    assert_eq!(
        next(&mut events).await,
        ev(&later, "health_status: healthy")
    );
    assert_eq!(
        next(&mut events).await,
        ev(&sick, "health_status: unhealthy")
    );
    assert!(t0.elapsed() >= period);
    assert_eq!(
        rt.inspect_container(&later).await.unwrap().health,
        Health::Healthy
    );
    assert_eq!(
        rt.inspect_container(&sick).await.unwrap().health,
        Health::Unhealthy
    );
}

#[tokio::test]
async fn list_filters_by_labels() {
    let rt = SimRuntime::new();
    let a = run(&rt, &spec("a", &[("task", "1"), ("dir", "x")])).await;
    let b = rt
        .create_container(&spec("b", &[("task", "2"), ("dir", "x")]))
        .await
        .unwrap();
    let _c = run(&rt, &spec("c", &[("task", "3")])).await;
    let ids = |states: Vec<ContainerState>| -> BTreeSet<String> {
        states.into_iter().map(|s| s.id).collect()
    };
    let want = |pairs: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    };
    let list = |pairs| {
        let rt = &rt;
        async move { ids(rt.list_containers(&want(pairs)).await.unwrap()) }
    };
    assert_eq!(
        list(&[("dir", Some("x"))]).await,
        BTreeSet::from([a.clone(), b.clone()])
    );
    assert_eq!(
        list(&[("dir", None), ("task", Some("2"))]).await,
        BTreeSet::from([b])
    );
    assert_eq!(list(&[("task", None)]).await.len(), 3);
    assert_eq!(list(&[]).await.len(), 3);
    assert!(list(&[("dir", Some("y"))]).await.is_empty());
    assert!(list(&[("nope", None)]).await.is_empty());
    rt.remove_container(&a).await.unwrap();
    assert_eq!(list(&[("dir", Some("x"))]).await.len(), 1);
}

#[tokio::test]
async fn kill_ends_a_running_container_with_an_event() {
    let rt = SimRuntime::new();
    let mut events = rt.events().await.unwrap();
    let id = run(&rt, &spec("victim", &[])).await;
    rt.kill(&id, 137);
    let state = rt.inspect_container(&id).await.unwrap();
    assert_eq!((state.exited, state.exit_code), (true, Some(137)));
    rt.kill(&id, 1);
    rt.kill("no-such-container", 1);
    assert_eq!(
        rt.inspect_container(&id).await.unwrap().exit_code,
        Some(137)
    );
    assert_eq!(next(&mut events).await, ev(&id, "start"));
    assert_eq!(next(&mut events).await, ev(&id, "die"));
    // Started again, it runs again.
    rt.start_container(&id).await.unwrap();
    assert!(rt.inspect_container(&id).await.unwrap().running);
}

#[tokio::test]
async fn awsvpc_containers_share_the_holders_address() {
    let rt = SimRuntime::new();
    let network = NetworkSpec {
        name: "flotilla-awsvpc".into(),
        subnet: "172.31.240.0/20".into(),
        gateway: "172.31.240.1".into(),
        labels: BTreeMap::new(),
        options: Default::default(),
    };
    let mut pause = spec("pause", &[]);
    pause.image = rt.ensure_pause_image().await.unwrap();
    pause.network = Some(NetworkMode::Network {
        name: network.name.clone(),
        ipv4: None,
    });
    assert!(matches!(
        rt.create_container(&pause).await,
        Err(E::NotFound(_))
    ));
    rt.ensure_network(&network).await.unwrap();
    rt.ensure_network(&network).await.unwrap();
    let holder = run(&rt, &pause).await;
    let ip = rt.inspect_container(&holder).await.unwrap().ip_addresses;
    assert_eq!(ip[&network.name], "172.31.240.2");

    let mut app = spec("app", &[]);
    app.network = Some(NetworkMode::Container(holder.clone()));
    let app = run(&rt, &app).await;
    assert_eq!(rt.inspect_container(&app).await.unwrap().ip_addresses, ip);

    rt.stop_container(&holder, Duration::ZERO).await.unwrap();
    rt.stop_container(&app, Duration::ZERO).await.unwrap();
    let err = rt.start_container(&app).await.unwrap_err();
    assert!(
        matches!(&err, E::Invalid(m) if m.contains("non running container")),
        "{err}"
    );
    let mut orphan = spec("orphan", &[]);
    orphan.network = Some(NetworkMode::Container("gone".into()));
    assert!(matches!(
        rt.create_container(&orphan).await,
        Err(E::NotFound(_))
    ));
}

#[tokio::test]
async fn a_container_ignoring_sigterm_is_killed_after_the_timeout() {
    let rt = SimRuntime::new();
    let id = run(
        &rt,
        &with_env(spec("stubborn", &[]), &[(IGNORE_SIGTERM_ENV, "1")]),
    )
    .await;
    let t0 = Instant::now();
    rt.stop_container(&id, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        rt.inspect_container(&id).await.unwrap().exit_code,
        Some(137)
    );
}
