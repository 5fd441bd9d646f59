//! The Docker driver against the real Docker Engine, with the local test image built by
//! `scripts/test-image` (busybox; no registry involved).
//!
//! Each test names what it creates `flotilla-rt-test-<pid>-<test>-...`, removes it when
//! it ends, pass or fail, and bounds every wait.

mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use flotilla_runtime::{
    ContainerSpec, Health, HealthCheck, NetworkMode, NetworkSpec, PortBinding, Protocol, Runtime,
    RuntimeError, Ulimit,
};
use futures::StreamExt;
use support::{bounded, docker_inspect, http_get_until, Fixture, WAIT};

const LIMIT: Duration = Duration::from_secs(90);
const PAGE: &str = "hello from flotilla";

fn httpd() -> [&'static str; 6] {
    ["httpd", "-f", "-p", "80", "-h", "/www"]
}

fn dynamic_port(container_port: u16) -> PortBinding {
    PortBinding {
        container_port,
        host_port: 0,
        protocol: Protocol::Tcp,
        host_ip: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_container_serves_on_a_dynamic_host_port() {
    let fx = Fixture::new("http").await;
    bounded(LIMIT, async {
        let spec = ContainerSpec {
            network: Some(NetworkMode::Bridge),
            ports: vec![dynamic_port(80)],
            ..fx.spec("web", &httpd())
        };
        let id = fx.run(&spec).await;
        let state = fx.wait_for(&id, "running", |s| s.running).await;
        let port = state
            .ports
            .iter()
            .find(|p| p.container_port == 80 && p.protocol == Protocol::Tcp && p.host_port != 0)
            .unwrap_or_else(|| panic!("no resolved host port: {state:?}"))
            .host_port;
        assert!(state.ip_addresses.contains_key("bridge"), "{state:?}");
        assert_eq!(state.name, spec.name);
        assert_eq!(state.image, fx.image);
        let answer = http_get_until(port, PAGE).await;
        assert!(answer.starts_with("HTTP/1."), "{answer}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_round_trip_and_filter_listings() {
    let fx = Fixture::new("labels").await;
    bounded(LIMIT, async {
        let key = "flotilla.test.run".to_string();
        let mine = format!("{}-labels", std::process::id());
        let labelled = |suffix: &str, value: &str| ContainerSpec {
            labels: BTreeMap::from([
                (key.clone(), value.to_string()),
                ("flotilla.test.role".to_string(), suffix.to_string()),
            ]),
            ..fx.spec(suffix, &["true"])
        };
        let a = fx
            .runtime
            .create_container(&labelled("a", &mine))
            .await
            .expect("create a");
        let b = fx
            .runtime
            .create_container(&labelled("b", &mine))
            .await
            .expect("create b");
        let other = format!("{mine}-other");
        let c = fx
            .runtime
            .create_container(&labelled("c", &other))
            .await
            .expect("create c");

        let state = fx.runtime.inspect_container(&a).await.expect("inspect");
        assert_eq!(state.labels.get(&key), Some(&mine));
        assert_eq!(
            state.labels.get("flotilla.test.role").map(String::as_str),
            Some("a")
        );
        assert!(
            state.created && !state.running && !state.exited,
            "{state:?}"
        );

        let listed = fx
            .runtime
            .list_containers(&[(key.clone(), Some(mine.clone()))])
            .await
            .expect("list");
        let mut ids: Vec<_> = listed.iter().map(|s| s.id.clone()).collect();
        ids.sort();
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        assert_eq!(ids, expected);

        let both = fx
            .runtime
            .list_containers(&[
                (key.clone(), Some(other)),
                ("flotilla.test.role".to_string(), None),
            ])
            .await
            .expect("list");
        assert_eq!(
            both.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            [c.as_str()]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_is_reported_and_stop_remove_are_forgiving() {
    let fx = Fixture::new("exit").await;
    bounded(LIMIT, async {
        let id = fx.run(&fx.spec("three", &["sh", "-c", "exit 3"])).await;
        let state = fx.wait_for(&id, "exit", |s| s.exited).await;
        assert_eq!(state.exit_code, Some(3));
        assert!(!state.running && !state.oom_killed, "{state:?}");
        assert!(
            state.started_at.is_some() && state.finished_at.is_some(),
            "{state:?}"
        );

        // Stopping a stopped container and removing a missing one are not errors.
        fx.runtime
            .stop_container(&id, Duration::from_secs(1))
            .await
            .expect("stop stopped");
        fx.runtime.remove_container(&id).await.expect("remove");
        fx.runtime
            .remove_container(&id)
            .await
            .expect("remove again");
        let missing = fx.runtime.inspect_container(&id).await;
        assert!(
            matches!(missing, Err(RuntimeError::NotFound(_))),
            "{missing:?}"
        );
        let start = fx.runtime.start_container(&id).await;
        assert!(matches!(start, Err(RuntimeError::NotFound(_))), "{start:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_reaches_healthy() {
    let fx = Fixture::new("health").await;
    bounded(LIMIT, async {
        let check = HealthCheck {
            test: vec![
                "CMD-SHELL".to_string(),
                "wget -q -O /dev/null http://localhost/ || exit 1".to_string(),
            ],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            retries: 3,
            start_period: Duration::ZERO,
        };
        let spec = ContainerSpec {
            health_check: Some(check.clone()),
            ..fx.spec("healthy", &httpd())
        };
        let id = fx.run(&spec).await;
        let state = fx
            .wait_for(&id, "healthy", |s| s.health == Health::Healthy)
            .await;
        assert!(state.running, "{state:?}");

        // "NONE" switches the check off.
        let spec = ContainerSpec {
            health_check: Some(HealthCheck {
                test: vec!["NONE".to_string()],
                ..check
            }),
            ..fx.spec("unchecked", &["sleep", "1000"])
        };
        let id = fx.run(&spec).await;
        let state = fx.wait_for(&id, "running", |s| s.running).await;
        assert_eq!(state.health, Health::None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_are_visible_in_docker_inspect() {
    let fx = Fixture::new("resources").await;
    bounded(LIMIT, async {
        let spec = ContainerSpec {
            memory_bytes: Some(64 << 20),
            memory_reservation_bytes: Some(32 << 20),
            cpu_shares: Some(1),
            cpu_quota: Some(50_000),
            stop_timeout: Some(Duration::from_secs(7)),
            ..fx.spec("limits", &["sleep", "1000"])
        };
        fx.runtime.create_container(&spec).await.expect("create");
        let host = docker_inspect(
            &spec.name,
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} \
             {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} {{.Config.StopTimeout}}",
        );
        assert_eq!(host, "67108864 33554432 2 50000 100000 7");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_options_apply_inside_the_container() {
    let fx = Fixture::new("options").await;
    bounded(LIMIT, async {
        // Each failed check exits with its own code.
        let script = r#"
            [ "$(id -u)" = 65534 ] || exit 10
            [ "$PWD" = /tmp ] || exit 11
            [ "$GREETING" = "hi there" ] || exit 12
            [ "$(ulimit -n)" = 256 ] || exit 13
            [ "$(cat /etc/hostname)" = flotilla-host ] || exit 14
            found=no
            while read ip name; do [ "$name" = db ] && [ "$ip" = 10.1.2.3 ] && found=yes; done < /etc/hosts
            [ $found = yes ] || exit 15
            (echo x > /written) 2>/dev/null && exit 16
            [ $$ != 1 ] || exit 17
            exit 0
        "#;
        let spec = ContainerSpec {
            entrypoint: Some(vec!["sh".to_string(), "-c".to_string()]),
            command: Some(vec![script.to_string()]),
            env: BTreeMap::from([("GREETING".to_string(), "hi there".to_string())]),
            working_dir: Some("/tmp".to_string()),
            user: Some("nobody".to_string()),
            ulimits: vec![Ulimit {
                name: "nofile".to_string(),
                soft: 256,
                hard: 512,
            }],
            hostname: Some("flotilla-host".to_string()),
            extra_hosts: vec!["db:10.1.2.3".to_string()],
            read_only_root: true,
            init: true,
            network: Some(NetworkMode::None),
            ..fx.spec("options", &[])
        };
        let id = fx.run(&spec).await;
        let state = fx.wait_for(&id, "exit", |s| s.exited).await;
        assert_eq!(state.exit_code, Some(0), "{state:?}");
        assert!(state.ip_addresses.is_empty(), "{state:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_the_timeout_then_kills() {
    let fx = Fixture::new("stop").await;
    bounded(LIMIT, async {
        // `sleep` as PID 1 has no SIGTERM handler, so the kernel drops SIGTERM.
        let id = fx.run(&fx.spec("sleeper", &["sleep", "1000"])).await;
        fx.wait_for(&id, "running", |s| s.running).await;
        let started = Instant::now();
        fx.runtime
            .stop_container(&id, Duration::from_secs(2))
            .await
            .expect("stop");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1800),
            "stopped too soon: {took:?}"
        );
        assert!(took < Duration::from_secs(10), "stopped too late: {took:?}");
        let state = fx.runtime.inspect_container(&id).await.expect("inspect");
        assert!(state.exited && !state.running, "{state:?}");
        assert_eq!(state.exit_code, Some(137));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_fails_with_a_pull_error() {
    let fx = Fixture::new("pull").await;
    bounded(LIMIT, async {
        assert!(fx.runtime.image_exists(&fx.image).await.expect("exists"));
        let missing = "flotilla-rt-test.invalid/nothing-here:1";
        assert!(!fx.runtime.image_exists(missing).await.expect("exists"));
        match fx.runtime.pull_image(missing, None).await {
            Err(RuntimeError::Pull { image, message }) => {
                assert_eq!(image, missing);
                assert!(!message.is_empty());
            }
            other => panic!("expected a pull error, got {other:?}"),
        }
        let spec = ContainerSpec {
            image: missing.to_string(),
            ..fx.spec("no-image", &[])
        };
        let created = fx.runtime.create_container(&spec).await;
        assert!(
            matches!(created, Err(RuntimeError::NotFound(_))),
            "{created:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_report_the_death_of_a_killed_container() {
    let fx = Fixture::new("events").await;
    bounded(LIMIT, async {
        let mut events = fx.runtime.events().await.expect("events");
        let id = fx.run(&fx.spec("victim", &["sleep", "1000"])).await;
        fx.runtime
            .stop_container(&id, Duration::ZERO)
            .await
            .expect("kill");
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let event = tokio::time::timeout_at(deadline, events.next())
                .await
                .unwrap_or_else(|_| panic!("no die event; saw {seen:?}"))
                .expect("stream ended")
                .expect("event");
            if event.id == id {
                seen.push(event.action.clone());
                if event.action == "die" {
                    break;
                }
            }
        }
        assert!(seen.contains(&"start".to_string()), "{seen:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_host_port_is_invalid() {
    let fx = Fixture::new("ports").await;
    bounded(LIMIT, async {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let fixed = |suffix: &str| ContainerSpec {
            network: Some(NetworkMode::Bridge),
            ports: vec![PortBinding {
                host_port: port,
                ..dynamic_port(80)
            }],
            ..fx.spec(suffix, &httpd())
        };
        fx.run(&fixed("first")).await;
        let second = fx
            .runtime
            .create_container(&fixed("second"))
            .await
            .expect("create");
        let started = fx.runtime.start_container(&second).await;
        assert!(
            matches!(started, Err(RuntimeError::Invalid(_))),
            "{started:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_network_is_idempotent_and_fixed_addresses_hold() {
    let fx = Fixture::new("net").await;
    bounded(LIMIT, async {
        let pid = std::process::id();
        let (second, third) = (50 + (pid >> 8) % 150, pid % 256);
        let spec = NetworkSpec {
            name: fx.network_name("awsvpc"),
            subnet: format!("10.{second}.{third}.0/24"),
            gateway: format!("10.{second}.{third}.1"),
            labels: BTreeMap::from([("flotilla.test".to_string(), "true".to_string())]),
            options: Default::default(),
        };
        let (a, b) = tokio::join!(
            fx.runtime.ensure_network(&spec),
            fx.runtime.ensure_network(&spec)
        );
        a.expect("ensure");
        b.expect("ensure concurrently");
        fx.runtime
            .ensure_network(&spec)
            .await
            .expect("ensure again");
        assert_eq!(
            docker_inspect(
                &spec.name,
                "{{len .IPAM.Config}} {{(index .IPAM.Config 0).Subnet}}"
            ),
            format!("1 {}", spec.subnet)
        );

        // A second runtime, as a second agent process would be.
        let other = flotilla_runtime::docker::DockerRuntime::connect()
            .await
            .expect("connect");
        other
            .ensure_network(&spec)
            .await
            .expect("ensure from elsewhere");

        let ip = format!("10.{second}.{third}.10");
        let container = ContainerSpec {
            network: Some(NetworkMode::Network {
                name: spec.name.clone(),
                ipv4: Some(ip.clone()),
            }),
            ..fx.spec("fixed-ip", &["sleep", "1000"])
        };
        let id = fx.run(&container).await;
        let state = fx.wait_for(&id, "running", |s| s.running).await;
        assert_eq!(state.ip_addresses.get(&spec.name), Some(&ip), "{state:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_container_holds_a_shared_network_namespace() {
    let fx = Fixture::new("pause").await;
    bounded(LIMIT, async {
        let image = fx.runtime.ensure_pause_image().await.expect("pause image");
        assert_eq!(fx.runtime.ensure_pause_image().await.expect("again"), image);
        assert!(fx.runtime.image_exists(&image).await.expect("exists"));

        let holder = ContainerSpec {
            name: fx.name("holder"),
            image: image.clone(),
            network: Some(NetworkMode::Bridge),
            ..Default::default()
        };
        let holder_id = fx.run(&holder).await;
        let joined = |spec: ContainerSpec| ContainerSpec {
            network: Some(NetworkMode::Container(holder_id.clone())),
            ..spec
        };
        fx.run(&joined(fx.spec("server", &httpd()))).await;
        let probe = r#"
            for i in 1 2 3 4 5 6 7 8 9 10; do
                case "$(wget -q -O - http://127.0.0.1/ 2>/dev/null)" in
                    *"hello from flotilla"*) exit 0 ;;
                esac
                sleep 1
            done
            exit 1
        "#;
        let client = fx
            .run(&joined(fx.spec("client", &["sh", "-c", probe])))
            .await;
        let state = fx.wait_for(&client, "client exit", |s| s.exited).await;
        assert_eq!(
            state.exit_code,
            Some(0),
            "joined container could not reach the server"
        );

        // The holder ends on SIGTERM at once, cleanly.
        let started = Instant::now();
        fx.runtime
            .stop_container(&holder_id, Duration::from_secs(10))
            .await
            .expect("stop");
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "pause ignored SIGTERM: {took:?}"
        );
        let state = fx
            .runtime
            .inspect_container(&holder_id)
            .await
            .expect("inspect");
        assert!(state.exited, "{state:?}");
        assert_eq!(state.exit_code, Some(0), "{state:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_version_is_negotiated_down_to_the_engine() {
    let fx = Fixture::new("version").await;
    let engine = docker_inspect_version();
    let parse = |v: &str| -> (u32, u32) {
        let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
        (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
    };
    let bollard_default = bollard::API_DEFAULT_VERSION.to_string();
    let expected = parse(&engine).min(parse(&bollard_default));
    assert_eq!(parse(&fx.runtime.api_version()), expected);
}

fn docker_inspect_version() -> String {
    let output = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .expect("docker version");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
