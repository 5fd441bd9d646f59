//! Target choice: health, fail-open, draining, stickiness, algorithms, slow start, tokens.

use super::*;
use flotilla_model::elbv2::plane::Draining;
use flotilla_model::elbv2::target_group::TargetGroupProtocol;
use proptest::prelude::*;

fn plane(i: u16) -> TargetPlane {
    TargetPlane {
        key: TargetKey {
            id: format!("t{i}"),
            port: 8000 + i,
        },
        addr: ([127, 0, 0, 1], 8000 + i).into(),
        registered_at: chrono::Utc::now(),
        draining: None,
    }
}

fn group_of(planes: Vec<TargetPlane>, algorithm: Algorithm, stickiness: Option<Duration>) -> Group {
    let dirty = Arc::new(Notify::new());
    let targets = planes
        .into_iter()
        .map(|p| Target {
            sticky: target_token("tg", &p.key),
            rt: Arc::new(Runtime::new(&p, 1, dirty.clone())),
            plane: p,
        })
        .collect();
    let tg = TgPlane {
        arn: "tg".into(),
        protocol: TargetGroupProtocol::Http,
        port: 80,
        health_check: HealthCheck::default_for(TargetGroupProtocol::Http),
        algorithm,
        slow_start: Duration::ZERO,
        stickiness,
        deregistration_delay: Duration::from_secs(300),
        targets: vec![],
    };
    Group::new(tg, targets, true)
}

fn set_healthy(g: &Group, i: usize, healthy: bool) {
    let hc = &g.plane.health_check;
    let outcome = if healthy {
        Ok(())
    } else {
        Err(UnhealthyReason::Timeout)
    };
    for _ in 0..hc.unhealthy_threshold.max(hc.healthy_threshold) {
        g.targets[i].rt.record(outcome.clone(), hc, Instant::now());
    }
}

fn picks(g: &Group, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            g.choose(std::iter::empty(), Instant::now())
                .unwrap()
                .plane
                .key
                .id
                .clone()
        })
        .collect()
}

#[tokio::test]
async fn healthy_targets_take_turns_and_unhealthy_ones_are_skipped() {
    let g = group_of((0..3).map(plane).collect(), Algorithm::RoundRobin, None);
    for i in 0..3 {
        set_healthy(&g, i, i != 1);
    }
    let chosen = picks(&g, 6);
    assert!(!chosen.contains(&"t1".to_string()));
    assert_eq!(chosen.iter().filter(|c| *c == "t0").count(), 3);
}

#[tokio::test]
async fn with_no_healthy_target_the_group_fails_open() {
    let g = group_of((0..2).map(plane).collect(), Algorithm::RoundRobin, None);
    set_healthy(&g, 0, false);
    // t1 is still Initial.
    let chosen = picks(&g, 4);
    assert!(chosen.contains(&"t0".to_string()) && chosen.contains(&"t1".to_string()));
}

#[tokio::test]
async fn draining_targets_get_nothing_new_not_even_by_cookie() {
    let mut planes: Vec<TargetPlane> = (0..2).map(plane).collect();
    let now = chrono::Utc::now();
    planes[0].draining = Some(Draining {
        since: now,
        deadline: now + chrono::Duration::seconds(60),
    });
    let g = group_of(planes, Algorithm::RoundRobin, Some(Duration::from_secs(60)));
    set_healthy(&g, 0, true);
    let cookie = g.targets[0].sticky.clone();
    for _ in 0..4 {
        let t = g
            .choose(std::iter::once(cookie.as_str()), Instant::now())
            .unwrap();
        assert_eq!(t.plane.key.id, "t1");
    }
    assert!(matches!(
        g.observed(&g.targets[0]),
        Observed::Draining { in_flight: 0 }
    ));
}

#[tokio::test]
async fn a_sticky_cookie_keeps_a_client_on_its_healthy_target() {
    let g = group_of(
        (0..3).map(plane).collect(),
        Algorithm::RoundRobin,
        Some(Duration::from_secs(60)),
    );
    for i in 0..3 {
        set_healthy(&g, i, true);
    }
    let cookie = g.targets[2].sticky.clone();
    for _ in 0..5 {
        let cookies = ["garbage", cookie.as_str()];
        assert_eq!(
            g.choose(cookies.into_iter(), Instant::now())
                .unwrap()
                .plane
                .key
                .id,
            "t2"
        );
    }
    set_healthy(&g, 2, false);
    let t = g
        .choose(std::iter::once(cookie.as_str()), Instant::now())
        .unwrap();
    assert_ne!(
        t.plane.key.id, "t2",
        "an unhealthy target loses its sticky clients"
    );
}

#[tokio::test]
async fn least_outstanding_requests_prefers_the_idle_target() {
    let g = group_of(
        (0..2).map(plane).collect(),
        Algorithm::LeastOutstandingRequests,
        None,
    );
    set_healthy(&g, 0, true);
    set_healthy(&g, 1, true);
    let _busy: Vec<InFlight> = (0..3)
        .map(|_| InFlight::new(g.targets[0].rt.clone()))
        .collect();
    assert!(picks(&g, 5).iter().all(|t| t == "t1"));
    drop(_busy);
    assert_eq!(g.targets[0].rt.in_flight(), 0);
}

#[test]
fn slow_start_ramps_linearly() {
    let d = Duration::from_secs(100);
    assert_eq!(slow_start_weight(Duration::ZERO, d), 0.05);
    assert!((slow_start_weight(Duration::from_secs(50), d) - 0.5).abs() < 1e-9);
    assert_eq!(slow_start_weight(Duration::from_secs(100), d), 1.0);
    assert_eq!(
        slow_start_weight(Duration::from_secs(5), Duration::ZERO),
        1.0
    );
}

#[test]
fn group_choice_follows_weights_and_cookies() {
    let groups = vec![
        WeightedGroup {
            arn: "a".into(),
            weight: 0,
        },
        WeightedGroup {
            arn: "b".into(),
            weight: 3,
        },
    ];
    for _ in 0..50 {
        assert_eq!(choose_group(&groups, std::iter::empty()).unwrap().arn, "b");
    }
    let sticky = group_token("a");
    assert_eq!(
        choose_group(&groups, std::iter::once(sticky.as_str()))
            .unwrap()
            .arn,
        "a"
    );
    let gone = group_token("c");
    assert_eq!(
        choose_group(&groups, std::iter::once(gone.as_str()))
            .unwrap()
            .arn,
        "b"
    );
    let zero = vec![WeightedGroup {
        arn: "a".into(),
        weight: 0,
    }];
    assert!(choose_group(&zero, std::iter::empty()).is_none());
}

proptest! {
    #[test]
    fn tokens_are_stable_and_garbage_matches_nothing(arn in ".{0,80}", id in ".{0,40}", port in any::<u16>(), junk in ".{0,64}") {
        let key = TargetKey { id, port };
        prop_assert_eq!(target_token(&arn, &key), target_token(&arn, &key));
        prop_assert_eq!(group_token(&arn), group_token(&arn));
        let groups = vec![WeightedGroup { arn: arn.clone(), weight: 1 }];
        let picked = choose_group(&groups, std::iter::once(junk.as_str()));
        prop_assert!(picked.is_some());
    }
}
