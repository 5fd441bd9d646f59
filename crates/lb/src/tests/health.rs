//! Health checks, fail-open, draining and stickiness, end to end.

use std::sync::atomic::Ordering;
use std::time::Duration;

use flotilla_model::elbv2::plane::{Observed, UnhealthyReason};
use http::header;

use super::harness::*;

#[tokio::test]
async fn unhealthy_targets_get_no_traffic_until_all_are_unhealthy() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    a.health_status.store(500, Ordering::SeqCst);
    let port = free_port();
    let lb = load_balancer(vec![listener("l/1", port, vec![], forward("tg/ab"))]);
    let mut h = Harness::start(plane_config(lb, vec![group("tg/ab", &[&a, &b])]));
    let (ka, kb) = (a.key(), b.key());
    let mismatch = Observed::Unhealthy(UnhealthyReason::ResponseCodeMismatch(500));
    h.wait_report("a unhealthy, b healthy", |r| {
        r.target("tg/ab", &ka) == Some(&mismatch)
            && r.target("tg/ab", &kb) == Some(&Observed::Healthy)
    })
    .await;
    wait_listening(port).await;
    let c = client();
    for _ in 0..20 {
        assert_eq!(send(&c, port, "/", &[]).await.body, "b");
    }
    assert_eq!(a.hits.load(Ordering::SeqCst), 0);

    b.health_status.store(503, Ordering::SeqCst);
    h.wait_report("both unhealthy", |r| {
        matches!(r.target("tg/ab", &kb), Some(Observed::Unhealthy(_)))
    })
    .await;
    for _ in 0..20 {
        assert_eq!(send(&c, port, "/", &[]).await.status.as_u16(), 200);
    }
    assert!(
        a.hits.load(Ordering::SeqCst) > 0,
        "all unhealthy: the group fails open"
    );

    a.health_status.store(200, Ordering::SeqCst);
    h.wait_report("a healthy again after the healthy threshold", |r| {
        r.target("tg/ab", &ka) == Some(&Observed::Healthy)
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn draining_lets_requests_in_flight_finish_and_sends_new_ones_elsewhere() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let lb = load_balancer(vec![listener("l/1", port, vec![], forward("tg/x"))]);
    let mut h = Harness::start(plane_config(lb.clone(), vec![group("tg/x", &[&a])]));
    h.wait_healthy("tg/x", &[&a]).await;
    wait_listening(port).await;

    let slow = tokio::spawn(async move { send(&client(), port, "/slow?ms=1500", &[]).await });
    for _ in 0..200 {
        if a.hits.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        a.hits.load(Ordering::SeqCst),
        1,
        "the slow request reached a"
    );

    let mut tg = group("tg/x", &[&b]);
    tg.targets
        .push(draining(a.target(), Duration::from_secs(60)));
    h.set(plane_config(lb, vec![tg]));
    let ka = a.key();
    h.wait_report("a draining with one request", |r| {
        r.target("tg/x", &ka) == Some(&Observed::Draining { in_flight: 1 })
    })
    .await;
    let c = client();
    for _ in 0..10 {
        let answer = send(&c, port, "/", &[]).await;
        assert_eq!(answer.status.as_u16(), 200);
        assert_eq!(answer.body, "b", "new requests avoid the draining target");
    }
    let finished = slow.await.unwrap();
    assert_eq!(
        (finished.status.as_u16(), finished.body.as_str()),
        (200, "a")
    );
    h.wait_report("a drained", |r| {
        r.target("tg/x", &ka) == Some(&Observed::Draining { in_flight: 0 })
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn the_drain_deadline_cuts_requests_still_running() {
    let a = Backend::start("a").await;
    let port = free_port();
    let lb = load_balancer(vec![listener("l/1", port, vec![], forward("tg/x"))]);
    let mut h = Harness::start(plane_config(lb.clone(), vec![group("tg/x", &[&a])]));
    h.wait_healthy("tg/x", &[&a]).await;
    wait_listening(port).await;
    let slow = tokio::spawn(async move { send(&client(), port, "/slow?ms=20000", &[]).await });
    for _ in 0..200 {
        if a.hits.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut tg = group("tg/x", &[]);
    tg.targets
        .push(draining(a.target(), Duration::from_millis(300)));
    h.set(plane_config(lb, vec![tg]));
    let cut = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .expect("the deadline ends the request")
        .unwrap();
    assert_eq!(cut.status.as_u16(), 502);
    let ka = a.key();
    h.wait_report("nothing in flight", |r| {
        r.target("tg/x", &ka) == Some(&Observed::Draining { in_flight: 0 })
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn stickiness_cookies_keep_a_client_on_its_target_and_group() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let c1 = Backend::start("c").await;
    let port = free_port();
    let rules = vec![rule(
        1,
        vec![path("/groups")],
        weighted(&[("tg/ab", 1), ("tg/c", 1)], Some(3600)),
    )];
    let lb = load_balancer(vec![listener("l/1", port, rules, forward("tg/ab"))]);
    let mut ab = group("tg/ab", &[&a, &b]);
    ab.stickiness = Some(Duration::from_secs(86400));
    let mut h = Harness::start(plane_config(lb, vec![ab, group("tg/c", &[&c1])]));
    h.wait_healthy("tg/ab", &[&a, &b]).await;
    h.wait_healthy("tg/c", &[&c1]).await;
    wait_listening(port).await;
    let c = client();

    let first = send(&c, port, "/", &[]).await;
    let set = first.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.starts_with("AWSALB=") && set.contains("Expires=") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    for _ in 0..10 {
        let again = send(&c, port, "/", &[("cookie", &format!("x=1; {cookie}"))]).await;
        assert_eq!(again.body, first.body);
    }
    let garbage = send(&c, port, "/", &[("cookie", "AWSALB=%%%garbage==;;")]).await;
    assert_eq!(garbage.status.as_u16(), 200);

    let grouped = send(&c, port, "/groups", &[]).await;
    let tg_cookie = grouped
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("AWSALBTG="))
        .expect("group stickiness sets AWSALBTG");
    let tg_cookie = tg_cookie.split(';').next().unwrap().to_string();
    let in_c = grouped.body == "c";
    for _ in 0..10 {
        let again = send(&c, port, "/groups", &[("cookie", &tg_cookie)]).await;
        assert_eq!(again.body == "c", in_c);
    }
    h.stop().await;
}
