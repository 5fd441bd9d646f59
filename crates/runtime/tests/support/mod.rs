//! Shared harness of the Docker driver tests: the test image, unique names, cleanup that
//! runs even when a test fails, bounded waits and a plain HTTP GET.
//!
//! Every container and network a test creates is named `flotilla-rt-test-<pid>-<test>-...`
//! through [`Fixture::name`], which also registers it for removal when the fixture drops;
//! nothing else on the engine is ever touched.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use flotilla_runtime::docker::DockerRuntime;
use flotilla_runtime::{ContainerSpec, ContainerState, Runtime};

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// The test image, built once per test binary by `scripts/test-image`.
pub fn test_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-image");
            let output = Command::new(&script)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                output.status.success(),
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        })
        .clone()
}

/// One test's runtime, image and the names it created.
pub struct Fixture {
    pub runtime: DockerRuntime,
    pub image: String,
    test: String,
    cleanup: Cleanup,
}

impl Fixture {
    pub async fn new(test: &str) -> Fixture {
        let image = test_image();
        let runtime = DockerRuntime::connect().await.expect("connect to Docker");
        Fixture {
            runtime,
            image,
            test: test.to_string(),
            cleanup: Cleanup::default(),
        }
    }

    /// A unique container name, removed when the fixture drops.
    pub fn name(&self, suffix: &str) -> String {
        let name = self.unique(suffix);
        lock(&self.cleanup.containers).push(name.clone());
        name
    }

    /// A unique network name, removed (after the containers) when the fixture drops.
    pub fn network_name(&self, suffix: &str) -> String {
        let name = self.unique(suffix);
        lock(&self.cleanup.networks).push(name.clone());
        name
    }

    fn unique(&self, suffix: &str) -> String {
        format!(
            "flotilla-rt-test-{}-{}-{suffix}",
            std::process::id(),
            self.test
        )
    }

    /// A spec for the test image with a registered unique name.
    pub fn spec(&self, suffix: &str, command: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: self.name(suffix),
            image: self.image.clone(),
            command: Some(command.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    /// Create and start; returns the id.
    pub async fn run(&self, spec: &ContainerSpec) -> String {
        let id = self.runtime.create_container(spec).await.expect("create");
        self.runtime.start_container(&id).await.expect("start");
        id
    }

    /// Inspect until `done` holds, failing after [`WAIT`].
    pub async fn wait_for(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&ContainerState) -> bool,
    ) -> ContainerState {
        let deadline = Instant::now() + WAIT;
        loop {
            let state = self.runtime.inspect_container(id).await.expect("inspect");
            if done(&state) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[derive(Default)]
struct Cleanup {
    containers: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut *lock(&self.containers));
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "--force", "--volumes"])
                .args(&containers)
                .output();
        }
        let networks = std::mem::take(&mut *lock(&self.networks));
        if !networks.is_empty() {
            let _ = Command::new("docker")
                .args(["network", "rm"])
                .args(&networks)
                .output();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Run a test body, failing it when it takes longer than `limit`.
pub async fn bounded<T>(limit: Duration, body: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, body)
        .await
        .unwrap_or_else(|_| panic!("test exceeded {limit:?}"))
}

/// GET `/` from `127.0.0.1:port` until the answer contains `expected`; returns the answer.
pub async fn http_get_until(port: u16, expected: &str) -> String {
    let expected = expected.to_string();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = http_get(port).unwrap_or_else(|e| e.to_string());
            if answer.contains(&expected) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "no {expected:?} on port {port}: {answer}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .expect("http thread")
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// `docker inspect --format <template> <name>`, trimmed.
pub fn docker_inspect(name: &str, template: &str) -> String {
    let output = Command::new("docker")
        .args(["inspect", "--format", template, name])
        .output()
        .expect("docker inspect");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
