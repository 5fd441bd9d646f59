//! UDP and TCP: TCP answers, EDNS payload sizes and truncation, the TCP idle timeout and
//! connection cap, and bad input of every kind (including arbitrary bytes).

use std::net::SocketAddr;
use std::time::Duration;

use flotilla_model::dns::RecordType as M;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use proptest::prelude::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::fixtures::*;
use super::harness::*;
use crate::handler::Transport;
use crate::Options;

/// `big.example.com.` with `n` TXT values of about 60 bytes each.
fn big_txt(n: usize) -> flotilla_model::dns::DnsConfig {
    let values: Vec<String> = (0..n)
        .map(|i| format!("\"value {i:03} padded to be long enough to fill a datagram fast\""))
        .collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    config(
        1,
        vec![zone(
            "Z",
            "example.com.",
            900,
            300,
            vec![rec("big.example.com.", M::Txt, 77, &refs)],
        )],
    )
}

#[tokio::test]
async fn tcp_answers_like_udp() {
    let h = Harness::start(example());
    let m = h.tcp("www.example.com.", RecordType::A).await;
    assert!(m.metadata.authoritative);
    assert_eq!(addresses(&m), ["192.0.2.1", "192.0.2.2"]);
    let nx = h.tcp("missing.example.com.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities[0].ttl, 300);

    // Several queries on one connection.
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    for _ in 0..3 {
        let q = query("alias.example.com.", RecordType::A);
        let m = tcp_on(&mut stream, &q).await.unwrap();
        assert_eq!(m.metadata.id, q.metadata.id);
        assert_eq!(m.answers.len(), 3);
    }
    h.stop().await;
}

/// The question section of a query built by [`query`] (no EDNS: nothing follows it).
fn question_bytes(query: &[u8]) -> &[u8] {
    &query[12..]
}

#[tokio::test]
async fn answer_names_point_back_at_the_question() {
    let h = Harness::start(example());
    // A client that randomises letter case (0x20) gets its question back byte for byte,
    // and the owner of each answer is a pointer to it (offset 12, right after the header).
    let q = query("wWw.ExAmPle.COM.", RecordType::A).to_vec().unwrap();
    let question = question_bytes(&q);
    for reply in [
        udp_raw(h.addr, &q, Duration::from_secs(3)).await.unwrap(),
        super::handler_for(&example())
            .answer(&q, "127.0.0.1:5353".parse().unwrap(), Transport::Tcp)
            .await
            .unwrap(),
    ] {
        assert_eq!(&reply[12..12 + question.len()], question);
        let first = 12 + question.len();
        assert_eq!(&reply[first..first + 2], &[0xC0, 0x0C]);
        // Header, question, then two A records: pointer, type, class, TTL, length and
        // four bytes of address each.
        assert_eq!(reply.len(), 12 + question.len() + 2 * (2 + 10 + 4));
        let m = Message::from_vec(&reply).unwrap();
        assert_eq!(addresses(&m), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(m.queries[0].name().to_ascii(), "wWw.ExAmPle.COM.");
    }

    // The SOA of a negative answer points at the zone's name inside the question.
    let q = query("missing.example.com.", RecordType::A)
        .to_vec()
        .unwrap();
    let reply = udp_raw(h.addr, &q, Duration::from_secs(3)).await.unwrap();
    let authority = 12 + question_bytes(&q).len();
    // "example.com." starts after the 8 bytes of the label "missing".
    assert_eq!(&reply[authority..authority + 2], &[0xC0, 12 + 8]);
    let m = Message::from_vec(&reply).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities[0].name.to_ascii(), "example.com.");
    h.stop().await;
}

#[tokio::test]
async fn a_large_answer_is_truncated_over_udp_and_whole_over_tcp() {
    let h = Harness::start(big_txt(60));

    let small = udp_exchange(
        h.addr,
        &query_edns("big.example.com.", RecordType::TXT, 1232),
    )
    .await;
    assert!(small.metadata.truncation, "TC set");
    assert!(small.answers.len() < 60);
    let bytes = udp_raw(
        h.addr,
        &query_edns("big.example.com.", RecordType::TXT, 1232)
            .to_vec()
            .unwrap(),
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    assert!(bytes.len() <= 1232, "{} bytes", bytes.len());

    let plain = udp_raw(
        h.addr,
        &query("big.example.com.", RecordType::TXT).to_vec().unwrap(),
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    assert!(
        plain.len() <= 512,
        "no EDNS: 512 bytes at most, got {}",
        plain.len()
    );
    assert!(Message::from_vec(&plain).unwrap().metadata.truncation);

    let full = h.tcp("big.example.com.", RecordType::TXT).await;
    assert!(!full.metadata.truncation);
    assert_eq!(full.answers.len(), 60);
    assert!(full.answers.iter().all(|r| r.ttl == 77));
    h.stop().await;
}

#[tokio::test]
async fn the_clients_edns_payload_size_is_honoured() {
    // About 1,800 bytes: too big for 1232, fits in 4096.
    let h = Harness::start(big_txt(25));
    let big = udp_exchange(
        h.addr,
        &query_edns("big.example.com.", RecordType::TXT, 4096),
    )
    .await;
    assert!(!big.metadata.truncation);
    assert_eq!(big.answers.len(), 25);
    let edns = big.edns.expect("an OPT record answers an OPT record");
    assert_eq!(edns.max_payload(), 4096);
    let small = udp_exchange(
        h.addr,
        &query_edns("big.example.com.", RecordType::TXT, 1232),
    )
    .await;
    assert!(small.metadata.truncation);
    h.stop().await;

    // The server's own limit wins over a larger client size.
    let options = Options {
        max_udp_payload: 1232,
        ..Options::default()
    };
    let h = Harness::start_with(big_txt(25), options);
    let capped = udp_exchange(
        h.addr,
        &query_edns("big.example.com.", RecordType::TXT, 4096),
    )
    .await;
    assert!(capped.metadata.truncation);
    h.stop().await;
}

#[tokio::test]
async fn several_udp_sockets_share_the_port_and_all_answer() {
    for workers in [1, 3] {
        let options = Options {
            udp_workers: workers,
            ..Options::default()
        };
        // The harness checks that UDP and TCP got the same port.
        let h = Harness::start_with(example(), options);
        // Clients on many source ports, which the kernel spreads over the sockets.
        for _ in 0..24 {
            let m = h.udp("www.example.com.", RecordType::A).await;
            assert_eq!(addresses(&m), ["192.0.2.1", "192.0.2.2"]);
        }
        h.stop().await;
    }
}

#[tokio::test]
async fn extra_addresses_answer_too_and_one_that_cannot_be_bound_is_left_out() {
    let options = Options {
        // 192.0.2.1 (TEST-NET-1) is no address of this host.
        also: vec![
            "127.0.0.2:0".parse().unwrap(),
            "192.0.2.1:0".parse().unwrap(),
        ],
        ..Options::default()
    };
    let h = Harness::start_with(example(), options);
    assert_eq!(h.also.len(), 1, "{:?}", h.also);
    let extra = h.also[0];
    assert_eq!(extra.ip().to_string(), "127.0.0.2");
    for m in [
        udp_exchange(extra, &query("www.example.com.", RecordType::A)).await,
        tcp_exchange(extra, &query("www.example.com.", RecordType::A)).await,
    ] {
        assert_eq!(addresses(&m), ["192.0.2.1", "192.0.2.2"]);
    }
    h.stop().await;
}

#[tokio::test]
async fn idle_tcp_connections_are_closed() {
    let options = Options {
        tcp_idle_timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let h = Harness::start_with(example(), options);
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("closed well within the wait");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    h.stop().await;
}

#[tokio::test]
async fn tcp_connections_past_the_cap_are_closed() {
    let options = Options {
        max_tcp_connections: 2,
        ..Options::default()
    };
    let h = Harness::start_with(example(), options);
    let q = query("www.example.com.", RecordType::A);
    let mut first = TcpStream::connect(h.addr).await.unwrap();
    let mut second = TcpStream::connect(h.addr).await.unwrap();
    assert!(tcp_on(&mut first, &q).await.is_some());
    assert!(tcp_on(&mut second, &q).await.is_some());
    let mut third = TcpStream::connect(h.addr).await.unwrap();
    assert!(
        tcp_on(&mut third, &q).await.is_none(),
        "the third is closed"
    );
    assert!(
        tcp_on(&mut first, &q).await.is_some(),
        "the others still work"
    );
    drop(first);
    // A slot frees when a connection ends.
    let mut fourth = None;
    for _ in 0..50 {
        let mut s = TcpStream::connect(h.addr).await.unwrap();
        if tcp_on(&mut s, &q).await.is_some() {
            fourth = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fourth.is_some());
    h.stop().await;
}

#[tokio::test]
async fn bad_requests_get_their_error_codes() {
    let h = Harness::start(example());

    // Too short for a header: no reply; the server goes on.
    assert_eq!(
        udp_raw(h.addr, &[1, 2, 3, 4, 5], Duration::from_millis(300)).await,
        None
    );

    // A header with a body that does not read: FORMERR with the same id.
    let mut broken = query("www.example.com.", RecordType::A).to_vec().unwrap();
    broken.truncate(broken.len() - 3);
    let reply = udp_raw(h.addr, &broken, Duration::from_secs(3))
        .await
        .unwrap();
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(
        reply.metadata.id,
        u16::from_be_bytes([broken[0], broken[1]])
    );
    assert_eq!(reply.metadata.message_type, MessageType::Response);

    // Opcodes other than QUERY.
    let mut status = Message::new(4321, MessageType::Query, OpCode::Status);
    status.add_query(Query::query(name("www.example.com."), RecordType::A));
    let reply = udp_exchange(h.addr, &status).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NotImp);
    let mut notify = Message::new(4322, MessageType::Query, OpCode::Notify);
    notify.add_query(Query::query(name("example.com."), RecordType::SOA));
    assert_eq!(
        udp_exchange(h.addr, &notify).await.metadata.response_code,
        ResponseCode::NotImp
    );

    // Two questions, or none.
    let mut two = query("www.example.com.", RecordType::A);
    two.add_query(Query::query(name("www.example.com."), RecordType::AAAA));
    assert_eq!(
        udp_exchange(h.addr, &two).await.metadata.response_code,
        ResponseCode::FormErr
    );
    let none = Message::new(4323, MessageType::Query, OpCode::Query);
    assert_eq!(
        udp_exchange(h.addr, &none).await.metadata.response_code,
        ResponseCode::FormErr
    );

    // Another class.
    let mut chaos = Message::query();
    let mut q = Query::query(name("version.bind."), RecordType::TXT);
    q.set_query_class(DNSClass::CH);
    chaos.add_query(q);
    assert_eq!(
        udp_exchange(h.addr, &chaos).await.metadata.response_code,
        ResponseCode::Refused
    );

    // An EDNS version we do not speak.
    let mut v1 = query("www.example.com.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_version(1);
    v1.edns = Some(edns);
    let reply = udp_exchange(h.addr, &v1).await;
    // BADVERS and BADSIG share the code 16; hickory reads it back as the latter.
    assert_eq!(
        u16::from(reply.metadata.response_code),
        u16::from(ResponseCode::BADVERS)
    );
    assert_eq!(reply.edns.map(|e| e.version()), Some(0));

    // Zone transfers.
    let axfr = h.tcp("example.com.", RecordType::AXFR).await;
    assert_eq!(axfr.metadata.response_code, ResponseCode::Refused);

    // A response sent to the server is ignored.
    let mut response = query("www.example.com.", RecordType::A);
    response.metadata.message_type = MessageType::Response;
    assert_eq!(
        udp_raw(
            h.addr,
            &response.to_vec().unwrap(),
            Duration::from_millis(300)
        )
        .await,
        None
    );

    // Over TCP, a message that is not even a header closes the connection.
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, &[0, 3, 1, 2, 3])
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)));

    // And through all that the server kept answering.
    let ok = h.udp("www.example.com.", RecordType::A).await;
    assert_eq!(addresses(&ok), ["192.0.2.1", "192.0.2.2"]);
    h.stop().await;
}

/// Arbitrary bytes, or a valid query with some bytes overwritten and the end cut off.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let valid = query_edns("www.example.com.", RecordType::A, 1232)
        .to_vec()
        .unwrap();
    let len = valid.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..700),
        (
            proptest::collection::vec((0..len, any::<u8>()), 1..8),
            0..=len
        )
            .prop_map(move |(edits, keep)| {
                let mut v = valid.clone();
                for (i, b) in edits {
                    v[i] = b;
                }
                v.truncate(keep);
                v
            }),
    ]
}

#[test]
fn arbitrary_bytes_at_the_udp_socket_never_stop_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(async { Harness::start(example()) });
    let addr = h.addr;
    proptest!(ProptestConfig::with_cases(96), |(bytes in garbage())| {
        rt.block_on(async {
            // Whatever comes back must be a DNS message with the id sent.
            if let Some(reply) = udp_raw(addr, &bytes, Duration::from_millis(20)).await {
                let parsed = Message::from_vec(&reply);
                prop_assert!(parsed.is_ok(), "an unreadable reply to {bytes:?}");
                if let (Ok(m), [a, b, ..]) = (parsed, bytes.as_slice()) {
                    prop_assert_eq!(m.metadata.id, u16::from_be_bytes([*a, *b]));
                }
            }
            let ok = udp_exchange(addr, &query("www.example.com.", RecordType::A)).await;
            prop_assert_eq!(addresses(&ok), ["192.0.2.1", "192.0.2.2"]);
            Ok(())
        })?;
    });
    rt.block_on(h.stop());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The same, straight at the entry point both transports use.
    #[test]
    fn arbitrary_bytes_at_the_handler_never_panic(bytes in garbage(), tcp in any::<bool>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let handler = super::handler_for(&example());
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        let src: SocketAddr = "192.0.2.200:5353".parse().unwrap();
        let reply = rt.block_on(handler.answer(&bytes, src, transport));
        if let Some(reply) = reply {
            let m = Message::from_vec(&reply);
            prop_assert!(m.is_ok());
            if let (Ok(m), [a, b, ..]) = (m, bytes.as_slice()) {
                prop_assert_eq!(m.metadata.id, u16::from_be_bytes([*a, *b]));
                prop_assert_eq!(m.metadata.message_type, MessageType::Response);
            }
            if !tcp {
                prop_assert!(reply.len() <= 4096);
            }
        }
    }
}
