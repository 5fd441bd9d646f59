//! A single-member etcd started as a child process (Debian's `etcd-server`), for tests
//! and benchmarks that need a real etcd and must not depend on one being run by hand.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The etcd binary: `$FLOTILLA_ETCD_BIN`, else `etcd` on the PATH.
pub fn etcd_binary() -> PathBuf {
    std::env::var_os("FLOTILLA_ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("etcd"))
}

/// A running etcd member on loopback; killed (and waited for) when dropped.
pub struct LocalEtcd {
    child: Child,
    /// `127.0.0.1:PORT` of its client listener.
    pub endpoint: String,
}

/// PEM files for an etcd that serves TLS and asks clients for a certificate.
pub struct EtcdTlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    /// The CA client certificates must chain to.
    pub client_ca: &'a Path,
}

impl LocalEtcd {
    /// Starts etcd with its data in `dir` on free loopback ports and waits until it
    /// answers, at most 20 seconds.
    pub fn start(dir: &Path) -> Result<LocalEtcd, String> {
        LocalEtcd::start_with(dir, &[])
    }

    /// [`LocalEtcd::start`] with more of etcd's flags (`--quota-backend-bytes=...`).
    pub fn start_with(dir: &Path, flags: &[&str]) -> Result<LocalEtcd, String> {
        LocalEtcd::launch(dir, flags, None)
    }

    /// [`LocalEtcd::start`] serving TLS to clients with a client certificate required.
    pub fn start_tls(dir: &Path, tls: &EtcdTlsFiles) -> Result<LocalEtcd, String> {
        LocalEtcd::launch(dir, &[], Some(tls))
    }

    fn launch(dir: &Path, flags: &[&str], tls: Option<&EtcdTlsFiles>) -> Result<LocalEtcd, String> {
        let client = free_port()?;
        let peer = free_port()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let client_url = format!("{scheme}://127.0.0.1:{client}");
        let mut tls_flags = Vec::new();
        if let Some(t) = tls {
            tls_flags.push(format!("--cert-file={}", t.cert.display()));
            tls_flags.push(format!("--key-file={}", t.key.display()));
            tls_flags.push(format!("--trusted-ca-file={}", t.client_ca.display()));
            tls_flags.push("--client-cert-auth".to_string());
        }
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.join("etcd.log"))
            .map_err(|e| format!("creating {}: {e}", dir.join("etcd.log").display()))?;
        let binary = etcd_binary();
        let child = Command::new(&binary)
            .arg("--name=local")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=local={peer_url}"))
            .arg("--log-level=warn")
            .args(flags)
            .args(&tls_flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!(
                    "starting {}: {e} (install Debian's etcd-server, or set FLOTILLA_ETCD_BIN)",
                    binary.display()
                )
            })?;
        let mut etcd = LocalEtcd {
            child,
            endpoint: format!("127.0.0.1:{client}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = etcd.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("etcd.log")).unwrap_or_default();
                return Err(format!("etcd exited at start ({status}): {log}"));
            }
            // Over TLS, a listening port is what can be checked without a client.
            let up = match tls {
                Some(_) => std::net::TcpStream::connect(&etcd.endpoint).is_ok(),
                None => healthy(&etcd.endpoint),
            };
            if up {
                return Ok(etcd);
            }
            if Instant::now() > deadline {
                let _ = etcd.child.kill();
                return Err(format!(
                    "etcd at {} did not answer within 20 s",
                    etcd.endpoint
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The store URL for it: `etcd://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("etcd://{}", self.endpoint)
    }

    /// The process id, for tests that stop or kill it themselves.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether etcd's `/health` answers `"health":"true"` (plain HTTP on the client port).
fn healthy(endpoint: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(endpoint) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /health HTTP/1.0\r\nHost: {endpoint}\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}
