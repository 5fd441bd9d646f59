//! The authoritative DNS data plane: it answers exactly what the control plane's
//! [`DnsConfig`] says and reports the version it serves ([`DnsReport`]), both on `watch`
//! channels; it never reads the store.
//!
//! Structure (the path of one query, top to bottom):
//! - [`Plane`] (here) binds the UDP socket and the TCP listener, compiles every
//!   configuration into a lookup table (`table`, values parsed once by `values`), swaps
//!   it in whole and publishes the report.
//! - UDP is served by hickory's `Server`; TCP by our own accept loop (`tcp`), which hickory
//!   cannot bound, with a connection cap and an idle timeout. Both hand each message to
//!   `handler`, which checks the request, asks `lookup` (longest-suffix zone, delegations,
//!   exact names, empty non-terminals, wildcards, CNAME chains) and `routing` (simple,
//!   weighted, multivalue with health) for the answer, and encodes it (EDNS payload size
//!   honoured; a UDP reply that does not fit is truncated with TC set, the full reply
//!   goes over TCP).
//! - `forward` relays names outside every zone to upstream resolvers.
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
mod values;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use flotilla_model::dns::{DnsConfig, DnsReport};
use hickory_server::Server;
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
    /// More addresses to answer on, UDP and TCP each (the address containers are given
    /// as their resolver, say). Unlike `udp` and `tcp` these are bound if possible: one
    /// that cannot be is logged and left out, and [`Plane::also_addrs`] lists those bound.
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
        let (udp, tcp) = bind(options.udp, options.tcp)?;
        let udp_addr = udp.local_addr()?;
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
                slots: Semaphore::new(options.max_forwards.max(1)),
            },
            max_udp_payload: options.max_udp_payload.max(512),
        });
        let (report_tx, report) = watch::channel(Arc::new(DnsReport::default()));
        let current = config.borrow_and_update().clone();
        apply(&shared, &current, &report_tx);

        let handler = Handler {
            shared: shared.clone(),
        };
        let mut server = Server::new(handler.clone());
        server.register_socket(udp);
        let (stop_tcp, tcp_stopped) = watch::channel(false);
        let serve_tcp = |listener: TcpListener| {
            tokio::spawn(tcp::run(
                listener,
                handler.clone(),
                options.tcp_idle_timeout,
                options.max_tcp_connections,
                tcp_stopped.clone(),
            ))
        };
        let mut tcp_tasks = vec![serve_tcp(tcp)];
        let mut also = Vec::new();
        for &addr in &options.also {
            match bind(addr, addr) {
                Ok((udp, tcp)) => {
                    also.push(udp.local_addr()?);
                    server.register_socket(udp);
                    tcp_tasks.push(serve_tcp(tcp));
                }
                Err(error) => {
                    tracing::warn!(%addr, %error, "the DNS server cannot listen here too; leaving it out");
                }
            }
        }
        tracing::info!(udp = %udp_addr, tcp = %tcp_addr, also = ?also, "DNS server listening");
        let task = tokio::spawn(supervise(
            shared, config, shutdown, report_tx, server, tcp_tasks, stop_tcp,
        ));
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
    /// The lookup table now in force.
    pub(crate) fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
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

/// Apply every configuration as it comes; on shutdown stop both transports.
async fn supervise(
    shared: Arc<Shared>,
    mut config: watch::Receiver<Arc<DnsConfig>>,
    mut shutdown: watch::Receiver<bool>,
    report: watch::Sender<Arc<DnsReport>>,
    mut server: Server<Handler>,
    tcp: Vec<JoinHandle<()>>,
    stop_tcp: watch::Sender<bool>,
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
    stop_tcp.send_replace(true);
    if let Err(e) = server.shutdown_gracefully().await {
        tracing::debug!(error = %e, "the DNS UDP server ended with an error");
    }
    for task in tcp {
        let _ = task.await;
    }
}

/// Resolves once `flag` is true or its sender is gone (holding no borrow of it after).
pub(crate) async fn until_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

/// How many times to look for a port free for both UDP and TCP when the system chooses.
const SHARED_PORT_TRIES: usize = 16;

/// Bind the UDP socket and the TCP listener; when both addresses are the same with port
/// 0, TCP takes the port the system gave UDP.
fn bind(udp: SocketAddr, tcp: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    if udp == tcp && udp.port() == 0 {
        let mut last = None;
        for _ in 0..SHARED_PORT_TRIES {
            let socket = bind_udp(udp)?;
            let port = socket.local_addr()?.port();
            match bind_tcp(SocketAddr::new(tcp.ip(), port)) {
                Ok(listener) => return Ok((socket, listener)),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        return Err(last.unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP")));
    }
    Ok((bind_udp(udp)?, bind_tcp(tcp)?))
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
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
