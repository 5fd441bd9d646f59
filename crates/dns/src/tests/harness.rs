//! Real sockets on loopback: the plane started on port 0 with a hand-made configuration,
//! and a client that sends real DNS messages over UDP and TCP.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::dns::{DnsConfig, DnsReport};
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;

use crate::{Options, Plane};

/// A running plane and the channels that drive it.
pub struct Harness {
    pub addr: SocketAddr,
    /// The extra addresses bound ([`Options::also`]).
    pub also: Vec<SocketAddr>,
    pub config: watch::Sender<Arc<DnsConfig>>,
    pub report: watch::Receiver<Arc<DnsReport>>,
    shutdown: watch::Sender<bool>,
    plane: Option<Plane>,
}

impl Harness {
    pub fn start(config: DnsConfig) -> Harness {
        Harness::start_with(config, Options::default())
    }

    pub fn start_with(config: DnsConfig, options: Options) -> Harness {
        let (config, config_rx) = watch::channel(Arc::new(config));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let plane = Plane::start(config_rx, options, shutdown_rx).unwrap();
        assert_eq!(plane.local_addr(), plane.tcp_local_addr());
        Harness {
            addr: plane.local_addr(),
            also: plane.also_addrs().to_vec(),
            config,
            report: plane.report(),
            shutdown,
            plane: Some(plane),
        }
    }

    /// Stop the plane and wait until it has.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        if let Some(plane) = self.plane.take() {
            tokio::time::timeout(Duration::from_secs(5), plane.join())
                .await
                .expect("the plane stops");
        }
    }

    pub async fn udp(&self, name: &str, rtype: RecordType) -> Message {
        udp_exchange(self.addr, &query(name, rtype)).await
    }

    pub async fn tcp(&self, name: &str, rtype: RecordType) -> Message {
        tcp_exchange(self.addr, &query(name, rtype)).await
    }
}

/// A query for `name`/`rtype` with RD set and no EDNS.
pub fn query(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

/// The same query advertising an EDNS payload size.
pub fn query_edns(name: &str, rtype: RecordType, payload: u16) -> Message {
    let mut m = query(name, rtype);
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    m.edns = Some(edns);
    m
}

pub async fn udp_exchange(addr: SocketAddr, message: &Message) -> Message {
    let bytes = message.to_vec().unwrap();
    let reply = udp_raw(addr, &bytes, Duration::from_secs(3))
        .await
        .expect("a reply over UDP");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, message.metadata.id);
    reply
}

/// Send `bytes` from a fresh socket; the first datagram back, if one comes in time.
pub async fn udp_raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    socket.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

pub async fn tcp_exchange(addr: SocketAddr, message: &Message) -> Message {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let reply = tcp_on(&mut stream, message)
        .await
        .expect("a reply over TCP");
    assert_eq!(reply.metadata.id, message.metadata.id);
    reply
}

/// One exchange on an open connection; `None` when the server closed it.
pub async fn tcp_on(stream: &mut TcpStream, message: &Message) -> Option<Message> {
    let bytes = message.to_vec().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).await.ok()?;
    let exchange = async {
        let n = stream.read_u16().await.ok()?;
        let mut buf = vec![0u8; usize::from(n)];
        stream.read_exact(&mut buf).await.ok()?;
        Some(Message::from_vec(&buf).unwrap())
    };
    tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .ok()
        .flatten()
}

/// The answer's values in presentation-like form, in answer order.
pub fn values(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| show(&r.data)).collect()
}

pub fn show(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(n) => n.0.to_string(),
        RData::NS(n) => n.0.to_string(),
        RData::PTR(n) => n.0.to_string(),
        RData::MX(mx) => format!("{} {}", mx.preference, mx.exchange),
        RData::SRV(s) => format!("{} {} {} {}", s.priority, s.weight, s.port, s.target),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
            .collect::<Vec<_>>()
            .join(" "),
        RData::SOA(s) => format!("{} {} {}", s.mname, s.rname, s.serial),
        RData::CAA(c) => format!(
            "{} {} {:?}",
            c.flags(),
            c.tag,
            String::from_utf8_lossy(&c.value)
        ),
        other => format!("{other:?}"),
    }
}

/// The A addresses of the answer, sorted.
pub fn addresses(m: &Message) -> Vec<String> {
    let mut out: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}
