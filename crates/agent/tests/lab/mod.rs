//! A network lab made of namespaces: hosts with a bridge, tasks attached to them by veth
//! pairs, and sockets opened inside any of them. Everything a lab creates lives inside
//! its own namespaces (named `flt<pid>x<lab><role>`), so deleting them on drop removes
//! every interface, route and table with them, even when a test fails half-way.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flotilla_agent::firewall::NetNs;

/// How long a connection attempt may take before it counts as dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

static LABS: AtomicUsize = AtomicUsize::new(0);

/// A set of namespaces deleted together.
pub struct Lab {
    id: String,
    namespaces: Vec<String>,
}

/// One namespace of a lab.
#[derive(Debug, Clone)]
pub struct Ns {
    pub name: String,
    pub path: PathBuf,
}

/// A process that holds a namespace; killed on drop.
pub struct Pause(std::process::Child);

impl Pause {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How a connection attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Reach {
    Connected,
    Refused,
    TimedOut,
    Other(String),
}

impl Lab {
    /// A new lab, or `None` (with the reason printed) where namespaces cannot be made:
    /// not root, or `ip`, `nft` or `nsenter` missing.
    pub fn new(test: &str) -> Option<Lab> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping {test}: needs root (network namespaces, nftables)");
            return None;
        }
        for tool in ["ip", "nft", "nsenter"] {
            if !installed(tool) {
                eprintln!("skipping {test}: `{tool}` is not installed");
                return None;
            }
        }
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        Some(Lab {
            id: format!("flt{}x{n}", std::process::id()),
            namespaces: Vec::new(),
        })
    }

    /// A new namespace with its loopback up.
    pub fn ns(&mut self, role: &str) -> Ns {
        let name = format!("{}{role}", self.id);
        sh(&["ip", "netns", "add", &name]);
        self.namespaces.push(name.clone());
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Ns {
            path: Path::new("/run/netns").join(&name),
            name,
        }
    }

    /// A host: a namespace that forwards, with a bridge `br0` holding `gateway/24`.
    pub fn host(&mut self, role: &str, gateway: Ipv4Addr) -> Ns {
        let host = self.ns(role);
        host.ip(&["link", "add", "br0", "type", "bridge"]);
        host.ip(&["addr", "add", &format!("{gateway}/24"), "dev", "br0"]);
        host.ip(&["link", "set", "br0", "up"]);
        host.sysctl("net/ipv4/ip_forward", "1");
        host
    }

    /// A task on `host`'s bridge with `address/24`, its default route via `gateway`.
    pub fn task(&mut self, host: &Ns, role: &str, address: Ipv4Addr, gateway: Ipv4Addr) -> Ns {
        let task = self.ns(role);
        let port = format!("v{role}");
        sh(&[
            "ip", "link", "add", &port, "netns", &host.name, "type", "veth", "peer", "name",
            "eth0", "netns", &task.name,
        ]);
        host.ip(&["link", "set", &port, "master", "br0", "up"]);
        task.ip(&["addr", "add", &format!("{address}/24"), "dev", "eth0"]);
        task.ip(&["link", "set", "eth0", "up"]);
        task.ip(&["route", "add", "default", "via", &gateway.to_string()]);
        task
    }

    /// A veth pair between two namespaces, each end with an address.
    pub fn link(&self, a: &Ns, a_addr: &str, b: &Ns, b_addr: &str) {
        sh(&[
            "ip", "link", "add", "ul0", "netns", &a.name, "type", "veth", "peer", "name", "ul0",
            "netns", &b.name,
        ]);
        for (ns, addr) in [(a, a_addr), (b, b_addr)] {
            ns.ip(&["addr", "add", addr, "dev", "ul0"]);
            ns.ip(&["link", "set", "ul0", "up"]);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in self.namespaces.drain(..).rev() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

impl Ns {
    /// The namespace as the agent's API names it.
    pub fn netns(&self) -> NetNs {
        NetNs::at(&self.path)
    }

    /// `ip -n NAME args...`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        sh(&all);
    }

    /// Write a sysctl under `/proc/sys/` inside this namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.enter(|| std::fs::write(Path::new("/proc/sys").join(key), value))
            .unwrap_or_else(|e| panic!("sysctl {key} in {}: {e}", self.name));
    }

    /// Run `f` on a thread that has entered this namespace; sockets it opens stay in the
    /// namespace wherever they are used afterwards.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = File::open(&self.path).expect("open the namespace");
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: setns only changes this thread's namespace; the descriptor
                    // is open for the whole call.
                    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                    f()
                })
                .join()
                .expect("thread in namespace")
        })
    }

    /// A listener on `0.0.0.0:port` in this namespace.
    pub fn listen(&self, port: u16) -> TcpListener {
        self.enter(|| TcpListener::bind(("0.0.0.0", port)))
            .unwrap_or_else(|e| panic!("listen on {port} in {}: {e}", self.name))
    }

    /// A process holding this namespace, as a task's pause container does; the agent
    /// finds the namespace through its PID. Waits until the process has entered it.
    pub fn pause(&self) -> Pause {
        use std::os::unix::fs::MetadataExt;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, "sleep", "600"])
            .spawn()
            .expect("start a holder process");
        let pause = Pause(child);
        let want = std::fs::metadata(&self.path).unwrap().ino();
        let theirs = format!("/proc/{}/ns/net", pause.pid());
        let deadline = std::time::Instant::now() + CONNECT_TIMEOUT;
        while std::fs::metadata(&theirs).map(|m| m.ino()).ok() != Some(want) {
            assert!(
                std::time::Instant::now() < deadline,
                "holder never entered {}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        pause
    }

    /// Try to connect from this namespace, from `source` if given.
    pub fn connect(&self, to: SocketAddrV4, source: Option<Ipv4Addr>) -> Result<TcpStream, Reach> {
        self.enter(|| {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .map_err(|e| Reach::Other(e.to_string()))?;
            if let Some(source) = source {
                let any_port = SocketAddr::from(SocketAddrV4::new(source, 0));
                socket
                    .bind(&any_port.into())
                    .map_err(|e| Reach::Other(format!("bind {source}: {e}")))?;
            }
            match socket.connect_timeout(&SocketAddr::from(to).into(), CONNECT_TIMEOUT) {
                Ok(()) => Ok(TcpStream::from(socket)),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Reach::Refused),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(Reach::TimedOut),
                Err(e) => Err(Reach::Other(e.to_string())),
            }
        })
    }

    /// How a connection attempt from this namespace ends.
    pub fn reach(&self, to: SocketAddrV4) -> Reach {
        self.reach_from(to, None)
    }

    /// How a connection attempt from `source` in this namespace ends.
    pub fn reach_from(&self, to: SocketAddrV4, source: Option<Ipv4Addr>) -> Reach {
        match self.connect(to, source) {
            Ok(_) => Reach::Connected,
            Err(reach) => reach,
        }
    }
}

/// Send `bytes` one way and read them on the other end, with a bounded wait.
pub fn exchange(from: &mut TcpStream, to: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    to.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    from.write_all(bytes)?;
    let mut got = vec![0; bytes.len()];
    to.read_exact(&mut got)?;
    assert_eq!(got, bytes);
    Ok(())
}

/// Accept one connection, with a bounded wait.
pub fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + CONNECT_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(std::time::Instant::now() < deadline, "nothing to accept");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Run a command that must succeed.
pub fn sh(args: &[&str]) {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn installed(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir| dir.join(tool).is_file())
}
