//! Traffic totals in the health report: per load balancer (requests, the balancer's own
//! answers by class, client connections) and per target group it forwards to (requests,
//! targets' answers by class, their response time).

use super::harness::*;

#[tokio::test]
async fn requests_are_counted_per_load_balancer_and_target_group() {
    let a = Backend::start("a").await;
    let port = free_port();
    let rules = vec![
        rule(1, vec![path("/none")], forward("tg/empty")),
        rule(2, vec![path("/old/*")], redirect_https()),
    ];
    let lb = load_balancer(vec![listener("l/1", port, rules, forward("tg/a"))]);
    let mut h = Harness::start(plane_config(
        lb,
        vec![group("tg/a", &[&a]), group("tg/empty", &[])],
    ));
    h.wait_healthy("tg/a", &[&a]).await;
    wait_listening(port).await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(send(&c, port, "/", &[]).await.status.as_u16(), 200);
    }
    for _ in 0..2 {
        assert_eq!(send(&c, port, "/none", &[]).await.status.as_u16(), 503);
    }
    assert_eq!(send(&c, port, "/old/x", &[]).await.status.as_u16(), 301);

    let key = |g: &str| ("lb/test".to_string(), g.to_string());
    let r = h
        .wait_report("traffic totals", |r| {
            r.traffic.get("lb/test").is_some_and(|t| t.requests == 6)
        })
        .await;
    let lb = r.traffic["lb/test"];
    assert_eq!((lb.elb_3xx, lb.elb_4xx, lb.elb_5xx), (1, 0, 2));
    assert!(lb.connections_opened >= 1, "{lb:?}");
    let served = r.group_traffic[&key("tg/a")];
    assert_eq!(
        (served.requests, served.target_2xx, served.responses()),
        (3, 3, 3)
    );
    assert!(served.response_time_us > 0, "{served:?}");
    let empty = r.group_traffic[&key("tg/empty")];
    assert_eq!((empty.requests, empty.responses()), (2, 0));

    // A new configuration keeps the totals; connections closed are counted.
    drop(c);
    let mut config = (**h.config.borrow()).clone();
    config.load_balancers[0].idle_timeout = std::time::Duration::from_secs(30);
    h.set(config);
    let r = h
        .wait_report("connections closed", |r| {
            r.traffic["lb/test"].connections_closed == r.traffic["lb/test"].connections_opened
        })
        .await;
    assert_eq!(r.traffic["lb/test"].requests, 6);
    assert_eq!(r.group_traffic[&key("tg/a")].target_2xx, 3);
    h.stop().await;
}
