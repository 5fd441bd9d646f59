//! The shipper against the real Docker Engine and the fake server: a real container's
//! output arrives whole (long lines joined, the last line without a newline kept), and
//! an agent killed mid-stream (its tokio runtime dropped, as `kill -9` leaves it: only the
//! periodic saves on disk) resumes without losing or duplicating a line. The test image
//! is the busybox one `scripts/test-image` builds (no registry).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::LogStreamRef;
use flotilla_runtime::docker::DockerRuntime;
use flotilla_runtime::{ContainerSpec, Runtime};
use tokio::sync::watch;

use super::awslogs::Mode;
use super::*;
use crate::testutil::FakeApi;

const LIMIT: Duration = Duration::from_secs(120);

fn test_image() -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-image");
    let out = Command::new(&script).output().expect("scripts/test-image");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the test's container however the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

async fn run_container(docker: &DockerRuntime, test: &str, script: &str) -> (Container, String) {
    let name = format!("flotilla-agent-test-{}-{test}", std::process::id());
    let guard = Container(name.clone());
    let spec = ContainerSpec {
        name,
        image: test_image(),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        ..Default::default()
    };
    let id = docker.create_container(&spec).await.expect("create");
    docker.start_container(&id).await.expect("start");
    (guard, id)
}

fn target(id: &str, stream: &str) -> Target {
    Target {
        container_id: id.into(),
        task_arn: "arn:aws:ecs:us-east-1:000000000000:task/default/t1".into(),
        stream: LogStreamRef {
            region: "us-east-1".into(),
            log_group_name: "/ecs/docker-test".into(),
            log_stream_name: stream.into(),
        },
        create_group: true,
        mode: Mode::Blocking,
    }
}

fn open(dir: &Path, runtime: Arc<dyn Runtime>, api: &Arc<FakeApi>) -> Arc<LogShipper> {
    let settings = LogSettings {
        region: "us-east-1".into(),
        buffer_bytes: 16 << 20,
        drain_timeout: Duration::from_secs(10),
    };
    let identity = Arc::new(Identity::new("default", "arn:instance/1"));
    LogShipper::open(dir, settings, runtime, api.clone(), identity).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_containers_output_is_shipped_whole() {
    let docker = Arc::new(DockerRuntime::connect().await.expect("Docker"));
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    let shipper = open(dir.path(), docker.clone(), &api);
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(shipper.clone().run(stop_rx));
    let script = "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done; \
                  s=x; for j in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do s=$s$s; done; \
                  echo $s; echo oops >&2; echo -n tail";
    let (_guard, id) = run_container(&docker, "whole", script).await;
    shipper.follow(target(&id, "whole"));
    assert!(
        shipper.drained(std::slice::from_ref(&id), LIMIT).await,
        "not drained"
    );
    let stored = api.logs.stored("whole").messages;
    let mut expected: Vec<String> = (0..3000).map(|i| format!("line {i}")).collect();
    expected.push("x".repeat(64 * 1024));
    expected.push("oops".into());
    expected.push("tail".into());
    let mut got = stored.clone();
    // stderr is copied apart from stdout: compare as sets of lines, then the order of
    // stdout's own lines.
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "lines differ");
    let stdout: Vec<&String> = stored.iter().filter(|l| *l != "oops").collect();
    let want_stdout: Vec<&String> = expected.iter().filter(|l| *l != "oops").collect();
    assert!(stdout == want_stdout, "stdout out of order");
    assert_eq!(shipper.counts().lines_shipped, 3003);
    stop.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_resumes_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    let docker = Arc::new(DockerRuntime::connect().await.expect("Docker"));
    let script = "i=0; while [ $i -lt 4000 ]; do echo \"line $i\"; i=$((i+1)); \
                  if [ $((i % 500)) -eq 0 ]; then sleep 1; fi; done";
    let (_guard, id) = run_container(&docker, "resume", script).await;

    // The first agent, on its own runtime so that it can be dropped mid-flight.
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let runtime: Arc<dyn Runtime> = Arc::new(
        first
            .spawn(DockerRuntime::connect())
            .await
            .unwrap()
            .expect("Docker"),
    );
    let shipper = open(dir.path(), runtime, &api);
    let (_stop, stop_rx) = watch::channel(false);
    first.spawn(shipper.clone().run(stop_rx));
    {
        let _in = first.enter();
        shipper.follow(target(&id, "resume"));
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let before = api.logs.stored("resume").messages.len();
    first.shutdown_background();
    drop(shipper);
    assert!(
        before > 0 && before < 4000,
        "killed mid-stream: {before} lines in"
    );

    let second = open(dir.path(), docker.clone(), &api);
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(second.clone().run(stop_rx));
    second.follow(target(&id, "resume"));
    assert!(
        second.drained(std::slice::from_ref(&id), LIMIT).await,
        "not drained"
    );
    let stored = api.logs.stored("resume");
    let expected: Vec<String> = (0..4000).map(|i| format!("line {i}")).collect();
    assert_eq!(
        stored.messages.len(),
        4000,
        "{} duplicates dropped",
        stored.duplicates
    );
    assert!(stored.messages == expected, "lost or reordered lines");
    eprintln!(
        "killed after {before} lines; the server dropped {} lines sent again",
        stored.duplicates
    );
    stop.send(true).unwrap();
    run.await.unwrap();
}
