//! Rules, actions, forwarded headers and the balancer's own errors, end to end.

use std::net::SocketAddr;
use std::time::Duration;

use flotilla_model::elbv2::plane::XffMode;
use http::{header, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::harness::*;
use crate::Options;

#[tokio::test]
async fn rules_route_by_path_and_host_and_answer_fixed_and_redirects() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let rules = vec![
        rule(1, vec![path("/b/*")], forward("tg/b")),
        rule(2, vec![host("api.example.com")], fixed(200, "api")),
        rule(3, vec![path("/missing")], fixed(404, "gone")),
        rule(4, vec![path("/old/*")], redirect_https()),
    ];
    let lb = load_balancer(vec![listener("l/1", port, rules, forward("tg/a"))]);
    let mut h = Harness::start(plane_config(
        lb,
        vec![group("tg/a", &[&a]), group("tg/b", &[&b])],
    ));
    h.wait_healthy("tg/a", &[&a]).await;
    h.wait_healthy("tg/b", &[&b]).await;
    wait_listening(port).await;
    let c = client();

    assert_eq!(send(&c, port, "/b/x", &[]).await.body, "b");
    assert_eq!(
        send(&c, port, "/B/x", &[]).await.body,
        "a",
        "paths are case-sensitive"
    );
    assert_eq!(send(&c, port, "/other?q=/b/x", &[]).await.body, "a");
    let api = send(&c, port, "/anything", &[("host", "API.example.com:8080")]).await;
    assert_eq!((api.status.as_u16(), api.body.as_str()), (200, "api"));
    assert_eq!(api.headers[header::SERVER], "awselb/2.0");
    let missing = send(&c, port, "/missing", &[]).await;
    assert_eq!(
        (missing.status.as_u16(), missing.body.as_str()),
        (404, "gone")
    );
    let moved = send(&c, port, "/old/page?x=1", &[("host", "www.example.com")]).await;
    assert_eq!(moved.status.as_u16(), 301);
    assert_eq!(
        moved.headers[header::LOCATION],
        "https://www.example.com/new/old/page?x=1"
    );
    h.stop().await;
}

#[tokio::test]
async fn weighted_groups_share_requests_by_weight() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let action = weighted(&[("tg/a", 80), ("tg/b", 20), ("tg/never", 0)], None);
    let lb = load_balancer(vec![listener("l/1", port, vec![], action)]);
    let never = Backend::start("never").await;
    let groups = vec![
        group("tg/a", &[&a]),
        group("tg/b", &[&b]),
        group("tg/never", &[&never]),
    ];
    let mut h = Harness::start(plane_config(lb, groups));
    h.wait_healthy("tg/a", &[&a]).await;
    h.wait_healthy("tg/b", &[&b]).await;
    wait_listening(port).await;
    let c = client();
    let mut to_a = 0;
    for _ in 0..500 {
        let answer = send(&c, port, "/", &[]).await;
        assert_eq!(answer.status.as_u16(), 200);
        if answer.body == "a" {
            to_a += 1;
        }
    }
    assert!(
        (350..=450).contains(&to_a),
        "{to_a} of 500 went to the 80% group"
    );
    assert_eq!(never.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    h.stop().await;
}

#[tokio::test]
async fn targets_see_forwarded_headers() {
    let a = Backend::start("a").await;
    let bound = free_port();
    // The listener's port as the user gave it differs from the port bound.
    let offset = 1000;
    assert!(bound > offset, "ephemeral ports are high");
    let port = bound - offset;
    let lb = load_balancer(vec![listener("l/1", port, vec![], forward("tg/a"))]);
    let options = Options {
        port_offset: offset,
        ..Options::default()
    };
    let mut h = Harness::start_with(
        plane_config(lb.clone(), vec![group("tg/a", &[&a])]),
        options,
    );
    h.wait_healthy("tg/a", &[&a]).await;
    wait_listening(bound).await;
    let c = client();

    send(
        &c,
        bound,
        "/x",
        &[
            ("host", "shop.example.com:81"),
            ("x-forwarded-for", "1.2.3.4"),
        ],
    )
    .await;
    let seen = a.last_seen();
    assert_eq!(seen["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-port"], port.to_string().as_str());
    assert_eq!(seen[header::HOST], "shop.example.com:81");
    let trace = seen["x-amzn-trace-id"].to_str().unwrap().to_string();
    assert!(trace.starts_with("Root=1-"), "{trace}");
    assert_eq!(trace.len(), "Root=1-".len() + 8 + 1 + 24);

    let theirs = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    send(
        &c,
        bound,
        "/y",
        &[
            ("x-amzn-trace-id", theirs),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
        ],
    )
    .await;
    let seen = a.last_seen();
    assert_eq!(seen["x-amzn-trace-id"], theirs);
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    assert!(
        !seen.contains_key("x-private"),
        "headers named by Connection are hop-by-hop"
    );

    let mut removing = lb;
    removing.xff = XffMode::Remove;
    h.set(plane_config(removing, vec![group("tg/a", &[&a])]));
    for _ in 0..100 {
        send(&c, bound, "/z", &[("x-forwarded-for", "1.2.3.4")]).await;
        if !a.last_seen().contains_key("x-forwarded-for") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!a.last_seen().contains_key("x-forwarded-for"));
    h.stop().await;
}

#[tokio::test]
async fn balancer_errors_name_their_cause() {
    let port = free_port();
    let rules = vec![rule(1, vec![path("/unknown")], forward("tg/unknown"))];
    let lb = load_balancer(vec![listener("l/1", port, rules, forward("tg/empty"))]);
    let h = Harness::start(plane_config(lb, vec![group("tg/empty", &[])]));
    wait_listening(port).await;
    let c = client();
    let empty = send(&c, port, "/", &[]).await;
    assert_eq!(empty.status.as_u16(), 503);
    assert!(empty
        .body
        .contains("<title>503 Service Temporarily Unavailable</title>"));
    assert_eq!(empty.headers[header::SERVER], "awselb/2.0");
    assert_eq!(send(&c, port, "/unknown", &[]).await.status.as_u16(), 500);

    // Not HTTP at all: a 400, not a dropped connection.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    raw.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut buf)).await;
    assert!(
        String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    h.stop().await;
}

/// A target that reads a request and answers `reply` (possibly nothing), then hangs up.
async fn raw_target(reply: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(reply).await;
            drop(s);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn failing_targets_are_502s_and_slow_ones_504s() {
    let (rude, rude_task) = raw_target(b"").await;
    let (garbage, garbage_task) = raw_target(b"NOT HTTP AT ALL\r\n\r\n").await;
    let refused: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let slow = Backend::start("slow").await;
    let port = free_port();
    let rules = vec![
        rule(1, vec![path("/rude")], forward("tg/rude")),
        rule(2, vec![path("/garbage")], forward("tg/garbage")),
        rule(3, vec![path("/refused")], forward("tg/refused")),
    ];
    let mut lb = load_balancer(vec![listener("l/1", port, rules, forward("tg/slow"))]);
    lb.idle_timeout = Duration::from_secs(1);
    let mut slow_group = group("tg/slow", &[&slow]);
    slow_group.health_check.enabled = false;
    let groups = vec![
        unchecked_group("tg/rude", rude),
        unchecked_group("tg/garbage", garbage),
        unchecked_group("tg/refused", refused),
        slow_group,
    ];
    let h = Harness::start(plane_config(lb, groups));
    wait_listening(port).await;
    let c = client();
    for path in ["/rude", "/garbage", "/refused"] {
        let answer = send(&c, port, path, &[]).await;
        assert_eq!(answer.status.as_u16(), 502, "{path}");
        assert!(answer.body.contains("502 Bad Gateway"), "{path}");
    }
    let timed_out = send(&c, port, "/slow?ms=5000", &[]).await;
    assert_eq!(timed_out.status.as_u16(), 504);
    assert!(timed_out.body.contains("504 Gateway Time-out"));
    rude_task.abort();
    garbage_task.abort();
    h.stop().await;
}

#[tokio::test]
async fn quiet_slow_and_surplus_clients_are_disconnected() {
    let a = Backend::start("a").await;
    let port = free_port();
    let mut lb = load_balancer(vec![listener("l/1", port, vec![], forward("tg/a"))]);
    lb.idle_timeout = Duration::from_secs(1);
    let options = Options {
        max_connections: 1,
        header_timeout: Duration::from_secs(1),
        ..Options::default()
    };
    let mut h = Harness::start_with(plane_config(lb, vec![group("tg/a", &[&a])]), options);
    h.wait_healthy("tg/a", &[&a]).await;
    wait_listening(port).await;

    let closed = |mut s: tokio::net::TcpStream| async move {
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
            .await
            .expect("the balancer closes the connection")
            .ok();
        buf
    };
    // The one slot is taken by a client that says nothing: the next one is turned away,
    // and the quiet one is closed by the timeouts.
    let quiet = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let surplus = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    assert!(closed(surplus).await.is_empty());
    closed(quiet).await;

    // A client that never finishes its headers.
    let mut slow = None;
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        if s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.is_ok() {
            slow = Some(s);
            break;
        }
    }
    let answer = closed(slow.unwrap()).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );

    // The slot is free again.
    let mut status = 0;
    for _ in 0..100 {
        let c = client();
        let req = Request::get(format!("http://127.0.0.1:{port}/"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        if let Ok(r) = c.request(req).await {
            status = r.status().as_u16();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test]
async fn shutdown_lets_requests_in_progress_finish() {
    let a = Backend::start("a").await;
    let port = free_port();
    let lb = load_balancer(vec![listener("l/1", port, vec![], forward("tg/a"))]);
    let mut h = Harness::start(plane_config(lb, vec![group("tg/a", &[&a])]));
    h.wait_healthy("tg/a", &[&a]).await;
    wait_listening(port).await;
    let slow = tokio::spawn(async move { send(&client(), port, "/slow?ms=800", &[]).await });
    for _ in 0..200 {
        if a.hits.load(std::sync::atomic::Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.stop().await;
    let answer = slow.await.unwrap();
    assert_eq!((answer.status.as_u16(), answer.body.as_str()), (200, "a"));
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}

#[tokio::test]
async fn listeners_are_added_removed_and_retried() {
    let a = Backend::start("a").await;
    let port = free_port();
    let empty = load_balancer(vec![]);
    let mut h = Harness::start(plane_config(empty.clone(), vec![group("tg/a", &[&a])]));
    h.wait_report("the group reported not in use", |r| {
        r.target("tg/a", &a.key()) == Some(&flotilla_model::elbv2::plane::Observed::NotInUse)
    })
    .await;

    let with = load_balancer(vec![listener("l/1", port, vec![], forward("tg/a"))]);
    h.set(plane_config(with.clone(), vec![group("tg/a", &[&a])]));
    h.wait_healthy("tg/a", &[&a]).await;
    wait_listening(port).await;
    assert_eq!(send(&client(), port, "/", &[]).await.body, "a");

    // A rule added later applies without rebinding.
    let rules = vec![rule(1, vec![path("/new")], fixed(202, "new rule"))];
    let changed = load_balancer(vec![listener("l/1", port, rules, forward("tg/a"))]);
    h.set(plane_config(changed, vec![group("tg/a", &[&a])]));
    let c = client();
    let mut body = String::new();
    for _ in 0..100 {
        body = send(&c, port, "/new", &[]).await.body;
        if body == "new rule" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(body, "new rule");

    h.set(plane_config(empty.clone(), vec![group("tg/a", &[&a])]));
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(refused, "a removed listener stops accepting");

    // A port taken by someone else: reported, retried, and served once free.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    h.set(plane_config(with, vec![group("tg/a", &[&a])]));
    h.wait_report("a bind error", |r| r.bind_errors.contains_key("l/1"))
        .await;
    drop(squatter);
    h.wait_report("the bind error cleared", |r| r.bind_errors.is_empty())
        .await;
    wait_listening(port).await;
    assert_eq!(send(&client(), port, "/", &[]).await.body, "a");
    h.stop().await;
}
