//! Names outside every zone: who may have them forwarded ([`allowed`]), and the relay to
//! the upstream resolvers ([`relay`]).
//!
//! A query is sent to each forwarder in turn over UDP from a fresh socket with a random
//! id, waiting [`Forwarding::timeout`] for a reply with that id and the same question;
//! a reply that is truncated is asked again of the same forwarder over TCP when the client
//! came over TCP (a UDP client gets the truncated reply and retries over TCP itself).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a forwarded query got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// The query could not be read back to be relayed (too short to carry an id).
    #[error("the query is too short to relay")]
    Short,
    /// Every forwarder failed or timed out; the last failure is given.
    #[error("no forwarder answered: {0}")]
    NoAnswer(String),
    /// Too many queries are being forwarded already.
    #[error("too many queries in flight to the forwarders")]
    Busy,
}

/// The forwarders and the limits of forwarding.
pub(crate) struct Forwarding {
    pub servers: Vec<SocketAddr>,
    pub allow: Vec<(IpAddr, u8)>,
    /// How long one forwarder has to answer.
    pub timeout: Duration,
    /// One permit per query being forwarded (or CNAME chain being followed).
    pub slots: Arc<Semaphore>,
}

impl Forwarding {
    /// Whether `client` may have names outside Flotilla's zones resolved.
    pub(crate) fn allows(&self, client: IpAddr) -> bool {
        allowed(client, &self.allow)
    }

    /// A forwarding slot, held by a query for as long as it waits for the forwarders.
    pub(crate) fn slot(&self) -> Result<OwnedSemaphorePermit, ForwardError> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| ForwardError::Busy)
    }

    /// Relay `query` (a whole DNS message as the client sent it) and return the reply,
    /// its id set back to the client's. The caller holds a [`Forwarding::slot`].
    pub(crate) async fn relay(
        &self,
        query: &[u8],
        over_tcp: bool,
    ) -> Result<Message, ForwardError> {
        let (Some(&hi), Some(&lo)) = (query.first(), query.get(1)) else {
            return Err(ForwardError::Short);
        };
        let client_id = u16::from_be_bytes([hi, lo]);
        let question = Message::from_vec(query)
            .ok()
            .and_then(|m| m.queries.into_iter().next());
        let mut last = String::from("no forwarders");
        for &server in &self.servers {
            let id: u16 = rand::random();
            let mut packet = query.to_vec();
            packet[..2].copy_from_slice(&id.to_be_bytes());
            let result =
                match udp_exchange(server, &packet, id, question.as_ref(), self.timeout).await {
                    Ok(reply) if reply.metadata.truncation && over_tcp => {
                        tcp_exchange(server, &packet, id, question.as_ref(), self.timeout).await
                    }
                    other => other,
                };
            match result {
                Ok(mut reply) => {
                    reply.metadata.id = client_id;
                    return Ok(reply);
                }
                Err(e) => {
                    tracing::debug!(forwarder = %server, error = %e, "forwarder failed; trying the next");
                    last = format!("{server}: {e}");
                }
            }
        }
        Err(ForwardError::NoAnswer(last))
    }
}

/// Whether `ip` is inside one of `cidrs` (an IPv4-mapped IPv6 address counts as IPv4).
pub(crate) fn allowed(ip: IpAddr, cidrs: &[(IpAddr, u8)]) -> bool {
    let ip = ip.to_canonical();
    cidrs
        .iter()
        .any(|&(net, prefix)| match (ip, net.to_canonical()) {
            (IpAddr::V4(ip), IpAddr::V4(net)) => {
                let bits = u32::from(prefix.min(32));
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                u32::from(ip) & mask == u32::from(net) & mask
            }
            (IpAddr::V6(ip), IpAddr::V6(net)) => {
                let bits = u32::from(prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                u128::from(ip) & mask == u128::from(net) & mask
            }
            _ => false,
        })
}

/// Whether `reply` answers the query with `id` and `question`.
fn matches(reply: &Message, id: u16, question: Option<&Query>) -> bool {
    reply.metadata.id == id
        && reply.metadata.message_type == MessageType::Response
        && match question {
            Some(q) => reply.queries.first() == Some(q),
            None => true,
        }
}

async fn udp_exchange(
    server: SocketAddr,
    packet: &[u8],
    id: u16,
    question: Option<&Query>,
    timeout: Duration,
) -> std::io::Result<Message> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(packet).await?;
    let wait = async {
        let mut buf = vec![0u8; 65535];
        loop {
            let n = socket.recv(&mut buf).await?;
            // Anything else arriving on this socket (late or forged) is ignored.
            if let Ok(reply) = Message::from_vec(&buf[..n]) {
                if matches(&reply, id, question) {
                    return Ok(reply);
                }
            }
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))?
}

async fn tcp_exchange(
    server: SocketAddr,
    packet: &[u8],
    id: u16,
    question: Option<&Query>,
    timeout: Duration,
) -> std::io::Result<Message> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        let len = u16::try_from(packet.len())
            .map_err(|_| std::io::Error::other("query too long for TCP"))?;
        let mut framed = Vec::with_capacity(packet.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(packet);
        stream.write_all(&framed).await?;
        loop {
            let n = stream.read_u16().await?;
            let mut buf = vec![0u8; usize::from(n)];
            stream.read_exact(&mut buf).await?;
            if let Ok(reply) = Message::from_vec(&buf) {
                if matches(&reply, id, question) {
                    return Ok(reply);
                }
            }
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))?
}

/// The nameservers of `/etc/resolv.conf`, on port 53. [`crate::Plane::start`] leaves out
/// any that is the plane's own address, so that it never forwards to itself.
pub fn system_forwarders() -> Vec<SocketAddr> {
    match std::fs::read_to_string("/etc/resolv.conf") {
        Ok(text) => parse_resolv_conf(&text),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read /etc/resolv.conf: no system forwarders");
            Vec::new()
        }
    }
}

/// The `nameserver` lines of a resolv.conf (addresses with a zone index are skipped: a
/// socket address cannot carry one by name).
pub(crate) fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_ascii_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        let addr = SocketAddr::new(ip, 53);
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// Whether `forwarder` is the server at `local` itself: the same address, or, when the
/// server listens on every address, any address of this host on its port.
pub(crate) fn is_self(forwarder: SocketAddr, local: SocketAddr) -> bool {
    if forwarder.port() != local.port() {
        return false;
    }
    let f = forwarder.ip().to_canonical();
    let l = local.ip().to_canonical();
    f == l || (l.is_unspecified() && (f.is_unspecified() || is_local_address(f)))
}

/// Whether `ip` is an address of this host: binding a socket to it succeeds only then
/// (nothing is sent).
fn is_local_address(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

#[cfg(test)]
mod tests;
