//! Names outside every zone: forwarded for allowed clients to a small fake upstream on
//! loopback, REFUSED for others, SERVFAIL without a forwarder.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::fixtures::example;
use super::harness::*;
use crate::Options;

/// A resolver that answers every A query with 203.0.113.7 (TTL 42), NXDOMAIN for
/// `missing.example.org.`, and counts the queries it gets.
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start() -> Upstream {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut reply = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                reply.metadata.recursion_desired = q.metadata.recursion_desired;
                reply.metadata.recursion_available = true;
                reply.add_queries(q.queries.clone());
                if let Some(question) = q.queries.first() {
                    if question.name().to_ascii() == "missing.example.org." {
                        reply.metadata.response_code = ResponseCode::NXDomain;
                    } else if question.query_type() == RecordType::A {
                        reply.add_answer(Record::from_rdata(
                            question.name().clone(),
                            42,
                            RData::A(A(Ipv4Addr::new(203, 0, 113, 7))),
                        ));
                    }
                }
                let _ = socket.send_to(&reply.to_vec().unwrap(), from).await;
            }
        });
        Upstream { addr, hits, task }
    }
}

fn forwarding_to(forwarders: Vec<SocketAddr>) -> Options {
    Options {
        forwarders,
        forward_timeout: Duration::from_millis(300),
        ..Options::default()
    }
}

#[tokio::test]
async fn allowed_clients_get_outside_names_from_the_forwarders() {
    let upstream = Upstream::start().await;
    let h = Harness::start_with(example(), forwarding_to(vec![upstream.addr]));

    let m = h.udp("www.example.org.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_available);
    assert!(!m.metadata.authoritative);
    assert_eq!(addresses(&m), ["203.0.113.7"]);
    assert_eq!(m.answers[0].ttl, 42);

    let tcp = h.tcp("api.example.org.", RecordType::A).await;
    assert_eq!(addresses(&tcp), ["203.0.113.7"]);

    let nx = h.udp("missing.example.org.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);

    // Flotilla's own zones are not forwarded.
    let before = upstream.hits.load(Ordering::SeqCst);
    let own = h.udp("www.example.com.", RecordType::A).await;
    assert!(own.metadata.authoritative);
    assert!(own.metadata.recursion_available);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), before);

    // A CNAME out of Flotilla's zones is followed through the forwarders.
    let ext = h.udp("ext.example.com.", RecordType::A).await;
    assert_eq!(values(&ext), ["www.example.org.", "203.0.113.7"]);
    h.stop().await;
}

#[tokio::test]
async fn a_silent_forwarder_is_passed_over_for_the_next() {
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let upstream = Upstream::start().await;
    let h = Harness::start_with(
        example(),
        forwarding_to(vec![silent.local_addr().unwrap(), upstream.addr]),
    );
    let m = h.udp("www.example.org.", RecordType::A).await;
    assert_eq!(addresses(&m), ["203.0.113.7"]);
    h.stop().await;

    // With only the silent one: SERVFAIL after the timeout.
    let h = Harness::start_with(example(), forwarding_to(vec![silent.local_addr().unwrap()]));
    let m = h.udp("www.example.org.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    h.stop().await;
}

#[tokio::test]
async fn clients_outside_the_allowed_networks_are_refused() {
    let upstream = Upstream::start().await;
    let options = Options {
        forward_allow: vec![("10.0.0.0".parse().unwrap(), 8)],
        ..forwarding_to(vec![upstream.addr])
    };
    let h = Harness::start_with(example(), options);
    let m = h.udp("www.example.org.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(m.answers.is_empty());
    assert!(!m.metadata.recursion_available);
    assert_eq!(
        upstream.hits.load(Ordering::SeqCst),
        0,
        "nothing was forwarded"
    );
    // Its own zones are answered to everyone.
    let own = h.udp("www.example.com.", RecordType::A).await;
    assert_eq!(addresses(&own), ["192.0.2.1", "192.0.2.2"]);
    // And a CNAME out of them is not chased for it.
    let ext = h.udp("ext.example.com.", RecordType::A).await;
    assert_eq!(values(&ext), ["www.example.org."]);
    h.stop().await;
}

#[tokio::test]
async fn without_forwarders_an_allowed_client_gets_servfail() {
    let h = Harness::start(example());
    let m = h.udp("www.example.org.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(!m.metadata.recursion_available);
    h.stop().await;
}

#[tokio::test]
async fn the_server_never_forwards_to_itself() {
    // Bind first to learn the port, then start a plane that names itself as forwarder.
    let probe = Harness::start(example());
    let addr = probe.addr;
    probe.stop().await;
    let options = Options {
        udp: addr,
        tcp: addr,
        ..forwarding_to(vec![addr])
    };
    let h = Harness::start_with(example(), options);
    let m = h.udp("www.example.org.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(!m.metadata.recursion_available, "no forwarder is left");
    h.stop().await;
}

#[tokio::test]
async fn a_query_waiting_for_a_forwarder_holds_up_no_other() {
    // One UDP loop, and a forwarder that never answers within the test.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let options = Options {
        udp_workers: 1,
        forward_timeout: Duration::from_secs(60),
        ..forwarding_to(vec![silent.local_addr().unwrap()])
    };
    let h = Harness::start_with(example(), options);
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let outside = query("www.example.org.", RecordType::A).to_vec().unwrap();
    client.send_to(&outside, h.addr).await.unwrap();
    // The forwarder got it: the query is waiting now.
    let mut buf = [0u8; 512];
    silent.recv_from(&mut buf).await.unwrap();
    let own = h.udp("www.example.com.", RecordType::A).await;
    assert_eq!(addresses(&own), ["192.0.2.1", "192.0.2.2"]);
    // And stopping does not wait for it.
    h.stop().await;
}
