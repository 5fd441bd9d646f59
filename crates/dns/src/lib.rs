//! The authoritative DNS data plane: it answers exactly what the control plane's
//! [`DnsConfig`] says and reports the version it serves ([`DnsReport`]), both on `watch`
//! channels; it never reads the store.
//!
//! Structure (the path of one query, top to bottom):
//! - [`Plane`] (here) binds the UDP sockets and the TCP listener, compiles every
//!   configuration into a lookup table (`table`, values parsed once by `values`), swaps
//!   it in whole and publishes the report.
//! - Both transports are our own loops on tokio sockets: UDP (`udp`) one loop per socket,
//!   [`Options::udp_workers`] sockets sharing the address through SO_REUSEPORT; TCP
//!   (`tcp`) an accept loop with a connection cap and an idle timeout. Both hand each
//!   message to `handler`, which reads it with hickory-proto, checks it, asks `lookup`
//!   (longest-suffix zone, delegations, exact names, empty non-terminals, wildcards,
//!   CNAME chains) and `routing` (simple, weighted, multivalue with health) for the
//!   answer, and encodes it as a hickory-proto `Message` with name compression against
//!   the question (EDNS payload size honoured; a UDP reply that does not fit is truncated
//!   with TC set, the full reply goes over TCP). An authoritative answer is computed and
//!   sent without waiting; a query for the forwarders is finished in a task of its own.
//! - `forward` relays names outside every zone to upstream resolvers.
//! - hickory-server is not used: its `Server` serves a UDP socket from one loop and its
//!   `MessageRequest` keeps the question only lowercased and as raw bytes, which no answer
//!   name can be compressed against. hickory-proto's types are all the plane needs.
//!
//! Policies, as a client sees them:
//! - **Open resolver.** Only clients whose source address is inside
//!   [`Options::forward_allow`] get names outside Flotilla's zones resolved through
//!   [`Options::forwarders`] (and SERVFAIL when there is none or none answers); everyone
//!   else gets REFUSED for them, so the server is never an open resolver for the Internet.
//!   Answers from Flotilla's zones are given to every client. RA is set only for clients
//!   that may forward, when there is a forwarder. For those clients a CNAME chain that
//!   leaves Flotilla's zones is followed through the forwarders too (stub resolvers do not
//!   follow CNAMEs themselves); other clients get the chain as far as it goes.
//! - **Forwarding over TCP.** A forwarded query is relayed over UDP; when the client came
//!   over TCP and the upstream reply is truncated, it is asked again over TCP.
//! - **Forwarding load.** At most [`Options::max_forwards`] queries wait for the
//!   forwarders at once (a CNAME chain followed out of the zones counts as one); more get
//!   SERVFAIL (a chain: the part inside the zones). They wait apart from the loops that
//!   answer, so a slow forwarder never delays an authoritative answer.
//! - **Bad input.** A message too short for a header is dropped; one whose header reads
//!   but whose body does not is answered FORMERR, as is one without exactly one question;
//!   an opcode other than QUERY gets NOTIMP, an EDNS version other than 0 BADVERS, a class
//!   other than IN REFUSED, and AXFR/IXFR REFUSED (no zone transfers). Responses sent to
//!   the server are ignored.
#![forbid(unsafe_code)]

mod forward;
mod handler;
mod lookup;
mod routing;
mod table;
mod tcp;
mod udp;
mod values;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use flotilla_model::dns::{DnsConfig, DnsReport};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

pub use crate::forward::system_forwarders;
use crate::forward::Forwarding;
use crate::handler::Handler;
use crate::table::Table;

/// How the data plane runs on this host.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to answer UDP queries; port 0 lets the system choose.
    pub udp: SocketAddr,
    /// Where to answer TCP queries, usually the same address; when both are the same
    /// with port 0, TCP gets the port UDP was given.
    pub tcp: SocketAddr,
    /// Upstream resolvers for names outside every zone, tried in order (see
    /// [`system_forwarders`]); one that is this server's own address is left out.
    pub forwarders: Vec<SocketAddr>,
    /// The networks (address, prefix length) whose clients may use the forwarders.
    pub forward_allow: Vec<(IpAddr, u8)>,
    /// How long one forwarder has to answer before the next is tried.
    pub forward_timeout: Duration,
    /// Queries being forwarded at most at once; more get SERVFAIL.
    pub max_forwards: usize,
    /// A TCP connection is closed when no complete message arrives for this long.
    pub tcp_idle_timeout: Duration,
    /// Open TCP connections at most; more are closed at once.
    pub max_tcp_connections: usize,
    /// The largest UDP reply, whatever a client's EDNS says it can take.
    pub max_udp_payload: u16,
    /// UDP sockets (each with its own loop) sharing the `udp` address; 0 means one per
    /// core. More than one needs SO_REUSEPORT (Linux, the BSDs).
    pub udp_workers: usize,
    /// More addresses to answer on, UDP (one socket each) and TCP (the address containers
    /// are given as their resolver, say). Unlike `udp` and `tcp` these are bound if
    /// possible: one that cannot be is logged and left out, and [`Plane::also_addrs`]
    /// lists those bound.
    pub also: Vec<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Options {
            udp: loopback,
            tcp: loopback,
            forwarders: Vec::new(),
            forward_allow: vec![
                (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
            ],
            forward_timeout: Duration::from_secs(2),
            max_forwards: 256,
            tcp_idle_timeout: Duration::from_secs(10),
            max_tcp_connections: 1024,
            max_udp_payload: 4096,
            udp_workers: 0,
            also: Vec::new(),
        }
    }
}

/// A running data plane.
pub struct Plane {
    report: watch::Receiver<Arc<DnsReport>>,
    udp: SocketAddr,
    tcp: SocketAddr,
    also: Vec<SocketAddr>,
    task: JoinHandle<()>,
}

impl Plane {
    /// Bind the sockets and start serving what `config` says until `shutdown` becomes true
    /// (or its sender is dropped); returns at once, with the current configuration already
    /// in force. Must be called within a tokio runtime. A socket that cannot be bound is
    /// an error: the server does not start.
    pub fn start(
        mut config: watch::Receiver<Arc<DnsConfig>>,
        options: Options,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<Plane> {
        let workers = match options.udp_workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let (udp, tcp) = bind(options.udp, options.tcp, workers)?;
        let udp_addr = udp_addr_of(&udp)?;
        let tcp_addr = tcp.local_addr()?;
        let mut forwarders = options.forwarders.clone();
        forwarders.retain(|&f| {
            let own = forward::is_self(f, udp_addr);
            if own {
                tracing::warn!(forwarder = %f, "a forwarder is this DNS server itself; leaving it out");
            }
            !own
        });
        let shared = Arc::new(Shared {
            table: RwLock::new(Arc::new(Table::default())),
            forwarding: Forwarding {
                servers: forwarders,
                allow: options.forward_allow.clone(),
                timeout: options.forward_timeout,
                slots: Arc::new(Semaphore::new(options.max_forwards.max(1))),
            },
            max_udp_payload: options.max_udp_payload.max(512),
        });
        let (report_tx, report) = watch::channel(Arc::new(DnsReport::default()));
        let current = config.borrow_and_update().clone();
        apply(&shared, &current, &report_tx);

        let handler = Handler {
            shared: shared.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut serve = |udp: Vec<UdpSocket>, tcp: TcpListener| {
            for socket in udp {
                tasks.push(tokio::spawn(udp::run(
                    socket,
                    handler.clone(),
                    stopped.clone(),
                )));
            }
            tasks.push(tokio::spawn(tcp::run(
                tcp,
                handler.clone(),
                options.tcp_idle_timeout,
                options.max_tcp_connections,
                stopped.clone(),
            )));
        };
        serve(udp, tcp);
        let mut also = Vec::new();
        for &addr in &options.also {
            match bind(addr, addr, 1) {
                Ok((udp, tcp)) => {
                    also.push(udp_addr_of(&udp)?);
                    serve(udp, tcp);
                }
                Err(error) => {
                    tracing::warn!(%addr, %error, "the DNS server cannot listen here too; leaving it out");
                }
            }
        }
        tracing::info!(udp = %udp_addr, udp_workers = workers, tcp = %tcp_addr, also = ?also, "DNS server listening");
        let task = tokio::spawn(supervise(shared, config, shutdown, report_tx, tasks, stop));
        Ok(Plane {
            report,
            udp: udp_addr,
            tcp: tcp_addr,
            also,
            task,
        })
    }

    /// The version served, updated whenever a configuration is in force.
    pub fn report(&self) -> watch::Receiver<Arc<DnsReport>> {
        self.report.clone()
    }

    /// The UDP address bound (the port chosen when the options said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.udp
    }

    /// The TCP address bound.
    pub fn tcp_local_addr(&self) -> SocketAddr {
        self.tcp
    }

    /// The addresses of [`Options::also`] that could be bound.
    pub fn also_addrs(&self) -> &[SocketAddr] {
        &self.also
    }

    /// Wait for every task to end (after shutdown).
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            if e.is_panic() {
                tracing::error!(error = %e, "the DNS server's supervisor panicked");
            }
        }
    }
}

/// What every query shares.
pub(crate) struct Shared {
    table: RwLock<Arc<Table>>,
    pub(crate) forwarding: Forwarding,
    pub(crate) max_udp_payload: u16,
}

impl Shared {
    /// Look something up in the table now in force (holding it only that long).
    pub(crate) fn with_table<T>(&self, f: impl FnOnce(&Table) -> T) -> T {
        f(&self.table.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn swap(&self, table: Table) {
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
    }
}

/// Compile `config`, put it in force and say so.
fn apply(shared: &Shared, config: &DnsConfig, report: &watch::Sender<Arc<DnsReport>>) {
    let table = table::compile(config);
    shared.swap(table);
    report.send_replace(Arc::new(DnsReport {
        version: config.version,
        bind_error: None,
    }));
    tracing::debug!(
        version = config.version,
        zones = config.zones.len(),
        "DNS configuration in force"
    );
}

/// Apply every configuration as it comes; on shutdown stop both transports and wait for
/// their loops to end.
async fn supervise(
    shared: Arc<Shared>,
    mut config: watch::Receiver<Arc<DnsConfig>>,
    mut shutdown: watch::Receiver<bool>,
    report: watch::Sender<Arc<DnsReport>>,
    loops: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
) {
    let mut config_open = true;
    loop {
        tokio::select! {
            r = config.changed(), if config_open => {
                // A closed configuration channel keeps the last configuration in force.
                config_open = r.is_ok();
                if config_open {
                    let current = config.borrow_and_update().clone();
                    apply(&shared, &current, &report);
                }
            }
            () = until_true(&mut shutdown) => break,
        }
    }
    stop.send_replace(true);
    for task in loops {
        let _ = task.await;
    }
}

/// Resolves once `flag` is true or its sender is gone (holding no borrow of it after).
pub(crate) async fn until_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

/// How many times to look for a port free for both UDP and TCP when the system chooses.
const SHARED_PORT_TRIES: usize = 16;

/// Bind `workers` UDP sockets on one address and the TCP listener; when both addresses
/// are the same with port 0, TCP takes the port the system gave UDP.
fn bind(
    udp: SocketAddr,
    tcp: SocketAddr,
    workers: usize,
) -> std::io::Result<(Vec<UdpSocket>, TcpListener)> {
    let reuse_port = workers > 1;
    let (first, listener) = if udp == tcp && udp.port() == 0 {
        let mut found = None;
        let mut last = None;
        for _ in 0..SHARED_PORT_TRIES {
            let socket = bind_udp(udp, reuse_port)?;
            let port = socket.local_addr()?.port();
            match bind_tcp(SocketAddr::new(tcp.ip(), port)) {
                Ok(listener) => {
                    found = Some((socket, listener));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        found.ok_or_else(|| {
            last.unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP"))
        })?
    } else {
        (bind_udp(udp, reuse_port)?, bind_tcp(tcp)?)
    };
    // The others join the first on the port it was given.
    let addr = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..workers {
        sockets.push(bind_udp(addr, true)?);
    }
    Ok((sockets, listener))
}

/// The address the first of `sockets` is bound to (they all share it).
fn udp_addr_of(sockets: &[UdpSocket]) -> std::io::Result<SocketAddr> {
    sockets
        .first()
        .ok_or_else(|| std::io::Error::other("no UDP socket"))?
        .local_addr()
}

fn bind_udp(addr: SocketAddr, reuse_port: bool) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// How many connections may wait in the listening socket's queue.
const BACKLOG: u32 = 1024;

fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests;
