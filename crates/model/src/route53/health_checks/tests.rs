//! Health check configurations' bounds, status strings and the state machine.

use super::*;

fn http(ip: &str) -> HealthCheckConfig {
    let mut c = HealthCheckConfig::new(CheckType::Http);
    c.ip_address = Some(ip.parse().unwrap());
    c
}

fn at(secs: i64) -> Observation {
    Observation {
        source: None,
        checked_at: DateTime::from_timestamp(secs, 0).unwrap(),
        status: String::new(),
    }
}

#[test]
fn types_parse_and_unsupported_ones_say_what_is() {
    assert_eq!(
        CheckType::parse("HTTPS_STR_MATCH"),
        Ok(CheckType::HttpsStrMatch)
    );
    let e = CheckType::parse("CALCULATED").unwrap_err();
    assert!(e.contains("not supported") && e.contains("TCP"), "{e}");
    assert!(CheckType::parse("http").is_err());
}

/// A change that makes a valid configuration invalid.
type Spoil = Box<dyn Fn(&mut HealthCheckConfig)>;

#[test]
fn validation_fills_defaults_and_enforces_bounds() {
    let mut c = http("127.0.0.1");
    c.validate().unwrap();
    assert_eq!(
        (c.port, c.request_interval, c.failure_threshold),
        (Some(80), 30, 3)
    );
    let mut c = HealthCheckConfig::new(CheckType::Https);
    c.fqdn = Some("www.example.com".into());
    c.validate().unwrap();
    assert_eq!((c.port, c.enable_sni), (Some(443), Some(true)));

    let bad: Vec<Spoil> = vec![
        Box::new(|c| c.ip_address = None),
        Box::new(|c| c.request_interval = 20),
        Box::new(|c| c.failure_threshold = 0),
        Box::new(|c| c.failure_threshold = 11),
        Box::new(|c| c.port = Some(0)),
        Box::new(|c| c.resource_path = Some("x".repeat(256))),
        Box::new(|c| c.fqdn = Some("a..b".into())),
        Box::new(|c| c.search_string = Some("ok".into())),
        Box::new(|c| c.regions = vec!["us-east-1".into()]),
    ];
    for (i, spoil) in bad.iter().enumerate() {
        let mut c = http("192.0.2.1");
        spoil(&mut c);
        assert!(c.validate().is_err(), "case {i} passed: {c:?}");
    }
    let mut tcp = HealthCheckConfig::new(CheckType::Tcp);
    tcp.ip_address = Some("192.0.2.1".parse().unwrap());
    assert!(tcp.validate().is_err(), "TCP needs a port");
    tcp.resource_path = Some("/".into());
    tcp.port = Some(22);
    assert!(tcp.validate().is_err(), "TCP takes no path");
    let mut m = HealthCheckConfig::new(CheckType::HttpStrMatch);
    m.ip_address = Some("192.0.2.1".parse().unwrap());
    assert!(m.validate().is_err(), "string matching needs a string");
    m.search_string = Some("ok".into());
    m.validate().unwrap();
}

#[test]
fn requests_name_the_host_and_path_as_route53_does() {
    let mut c = http("127.0.0.1");
    c.port = Some(8080);
    c.resource_path = Some("health".into());
    assert_eq!(
        (c.host_header(), c.path()),
        ("127.0.0.1:8080".into(), "/health".into())
    );
    c.fqdn = Some("www.example.com.".into());
    c.port = Some(80);
    assert_eq!(c.host_header(), "www.example.com");
    let mut v6 = http("::1");
    v6.resource_path = None;
    assert_eq!((v6.host_header(), v6.path()), ("[::1]".into(), "/".into()));
}

#[test]
fn status_strings_read_as_route53s() {
    let ok = Outcome::Http {
        code: 200,
        reason: "OK".into(),
        found: None,
    };
    assert!(ok.success());
    assert_eq!(ok.status(), "Success: HTTP Status Code 200, OK");
    let err = Outcome::Http {
        code: 500,
        reason: "Internal Server Error".into(),
        found: None,
    };
    assert!(!err.success());
    assert_eq!(
        err.status(),
        "Failure: HTTP Status Code 500, Internal Server Error"
    );
    let redirect = Outcome::Http {
        code: 302,
        reason: "Found".into(),
        found: None,
    };
    assert!(redirect.success());
    let missing = Outcome::Http {
        code: 200,
        reason: "OK".into(),
        found: Some(false),
    };
    assert!(!missing.success());
    assert!(missing
        .status()
        .starts_with("Failure: HTTP Status Code 200, OK. Search string"));
    assert_eq!(
        Outcome::Connected.status(),
        "Success: TCP connection established"
    );
    assert_eq!(Outcome::Refused.status(), "Failure: Connection refused");
    assert!(!Outcome::TimedOut.success());
}

#[test]
fn unknown_is_healthy_and_the_threshold_flips_the_state() {
    let c = http("192.0.2.1");
    let mut t = Tracker::default();
    assert!(t.healthy(&c), "unknown counts healthy");
    t.observe(false, 3, at(1));
    t.observe(false, 3, at(2));
    assert!(t.healthy(&c), "two failures of three");
    t.observe(false, 3, at(3));
    assert!(!t.healthy(&c), "three failures in a row");
    t.observe(true, 3, at(4));
    t.observe(false, 3, at(5));
    t.observe(true, 3, at(6));
    t.observe(true, 3, at(7));
    assert!(!t.healthy(&c), "a failure broke the streak of successes");
    t.observe(true, 3, at(8));
    assert!(t.healthy(&c));
    assert_eq!(t.last().unwrap().checked_at.timestamp(), 8);
}

#[test]
fn a_threshold_of_one_flips_at_once_and_a_first_success_is_known() {
    let c = http("192.0.2.1");
    let mut t = Tracker::default();
    t.observe(true, 3, at(1));
    t.observe(false, 1, at(2));
    assert!(!t.healthy(&c));
    t.observe(true, 1, at(3));
    assert!(t.healthy(&c));
}

#[test]
fn inverted_and_disabled_are_honoured() {
    let mut c = http("192.0.2.1");
    let mut t = Tracker::default();
    c.inverted = true;
    assert!(t.healthy(&c), "unknown is healthy even inverted");
    t.observe(true, 1, at(1));
    assert!(!t.healthy(&c), "inverted: a passing endpoint is unhealthy");
    t.observe(false, 1, at(2));
    assert!(t.healthy(&c));
    c.disabled = true;
    t.observe(true, 1, at(3));
    assert!(t.healthy(&c), "disabled is always healthy");
}
