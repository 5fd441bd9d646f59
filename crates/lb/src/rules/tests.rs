//! Rule matching: examples, and property tests that throw arbitrary input at the parsers and the wildcard matcher.

use super::*;
use flotilla_model::elbv2::listener::{Action, Condition, KeyValue};
use http::HeaderValue;
use proptest::prelude::*;

fn view<'a>(
    headers: &'a HeaderMap,
    host: &'a str,
    path: &'a str,
    query: &'a str,
) -> RequestView<'a> {
    RequestView {
        method: "GET",
        host,
        path,
        query,
        headers,
        peer: "10.1.2.3".parse().unwrap(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn wildcards_match_runs_and_single_characters() {
    assert!(wildcard("/api/*", "/api/users/1", false));
    assert!(wildcard("/api/*", "/api/", false));
    assert!(!wildcard("/api/*", "/api", false));
    assert!(wildcard("/v?/x", "/v1/x", false));
    assert!(!wildcard("/v?/x", "/v12/x", false));
    assert!(wildcard("*.example.com", "www.EXAMPLE.com", true));
    assert!(!wildcard("*.example.com", "example.com", true));
    assert!(!wildcard("/API/*", "/api/x", false));
    assert!(wildcard("*", "", false));
    assert!(wildcard("a*b*c", "aXXbYYc", false));
    assert!(!wildcard("a*b*c", "aXXbYY", false));
    assert!(wildcard("é?", "éü", false));
}

#[test]
fn hosts_lose_their_port() {
    assert_eq!(host_without_port("example.com:8080"), "example.com");
    assert_eq!(host_without_port("example.com"), "example.com");
    assert_eq!(host_without_port("[::1]:80"), "[::1]");
    assert_eq!(host_without_port("::1"), "::1");
    assert_eq!(host_without_port("a:b"), "a:b");
}

#[test]
fn source_ip_uses_cidr_blocks() {
    let peer: IpAddr = "10.1.2.3".parse().unwrap();
    assert!(in_cidr("10.0.0.0/8", peer));
    assert!(in_cidr("0.0.0.0/0", peer));
    assert!(in_cidr("10.1.2.3/32", peer));
    assert!(!in_cidr("10.1.2.4/32", peer));
    assert!(!in_cidr("::/0", peer));
    assert!(in_cidr("10.0.0.0/8", "::ffff:10.9.9.9".parse().unwrap()));
    assert!(in_cidr("fd00::/8", "fd12::1".parse().unwrap()));
    assert!(!in_cidr("garbage", peer));
}

#[test]
fn conditions_and_together_values_or_together() {
    let mut headers = HeaderMap::new();
    headers.append("x-env", HeaderValue::from_static("Staging"));
    headers.append("x-env", HeaderValue::from_static("blue"));
    let req = view(
        &headers,
        "api.example.com",
        "/v1/users",
        "a=1&Lang=EN%20us&flag",
    );
    let host = Condition::HostHeader {
        values: strings(&["www.example.com", "API.*"]),
    };
    let path = Condition::PathPattern {
        values: strings(&["/v1/*"]),
    };
    let header = Condition::HttpHeader {
        name: "X-Env".into(),
        values: strings(&["staging"]),
    };
    let header2 = Condition::HttpHeader {
        name: "x-env".into(),
        values: strings(&["BL*"]),
    };
    let method = Condition::HttpRequestMethod {
        values: strings(&["POST", "GET"]),
    };
    let query = Condition::QueryString {
        values: vec![KeyValue {
            key: Some("lang".into()),
            value: "en us".into(),
        }],
    };
    let keyless = Condition::QueryString {
        values: vec![KeyValue {
            key: None,
            value: "1".into(),
        }],
    };
    let source = Condition::SourceIp {
        values: strings(&["192.168.0.0/16", "10.0.0.0/8"]),
    };
    for c in [
        &host, &path, &header, &header2, &method, &query, &keyless, &source,
    ] {
        assert!(condition_matches(c, &req), "{c:?}");
    }
    let misses = [
        Condition::HostHeader {
            values: strings(&["example.com"]),
        },
        Condition::PathPattern {
            values: strings(&["/V1/*"]),
        },
        Condition::HttpHeader {
            name: "x-other".into(),
            values: strings(&["*"]),
        },
        Condition::HttpRequestMethod {
            values: strings(&["get"]),
        },
        Condition::QueryString {
            values: vec![KeyValue {
                key: Some("a".into()),
                value: "2".into(),
            }],
        },
        Condition::SourceIp {
            values: strings(&["192.168.0.0/16"]),
        },
    ];
    for c in &misses {
        assert!(!condition_matches(c, &req), "{c:?}");
    }
    let fixed = Action::FixedResponse {
        status_code: 200,
        content_type: None,
        message_body: None,
    };
    let rule = |priority, conditions| RulePlane {
        arn: format!("rule-{priority:?}"),
        priority,
        conditions,
        action: fixed.clone(),
    };
    let rules = vec![
        rule(Some(1), vec![host.clone(), misses[1].clone()]),
        rule(Some(2), vec![host, path]),
        rule(None, vec![]),
    ];
    assert_eq!(first_match(&rules, &req).unwrap().priority, Some(2));
    let other = view(&headers, "x", "/", "");
    assert_eq!(first_match(&rules, &other).unwrap().priority, None);
}

#[test]
fn cookies_are_found_among_others() {
    let mut headers = HeaderMap::new();
    headers.append(
        "cookie",
        HeaderValue::from_static("a=1; AWSALB=xyz ; b=\"q\""),
    );
    headers.append("cookie", HeaderValue::from_static("AWSALB=second"));
    let found: Vec<&str> = cookies(&headers, "AWSALB").collect();
    assert_eq!(found, ["xyz", "second"]);
    assert_eq!(cookies(&headers, "b").next(), Some("q"));
    assert_eq!(cookies(&headers, "AWSALBTG").next(), None);
}

proptest! {
    #[test]
    fn a_literal_pattern_matches_itself(s in ".*", ci in any::<bool>()) {
        prop_assert!(wildcard(&s, &s, ci));
        prop_assert!(wildcard("*", &s, ci));
        prop_assert!(wildcard(&s.to_ascii_uppercase(), &s, true));
        let prefixed = format!("{s}*");
        let extended = format!("{s}tail");
        prop_assert!(wildcard(&prefixed, &extended, ci));
    }

    #[test]
    fn question_marks_count_characters(s in ".{0,40}") {
        let qs = "?".repeat(s.chars().count());
        prop_assert!(wildcard(&qs, &s, false));
        let one_more = format!("{qs}?");
        prop_assert!(!wildcard(&one_more, &s, false));
    }

    #[test]
    fn arbitrary_input_never_panics(p in ".{0,64}", t in ".{0,256}", bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = wildcard(&p, &t, true);
        let _ = wildcard(&p, &t, false);
        let host = host_without_port(&t);
        prop_assert!(t.starts_with(host));
        let _ = query_params(&t);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = query_params(&lossy);
        let _ = in_cidr(&p, "127.0.0.1".parse().unwrap());
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&bytes) {
            headers.append("cookie", v.clone());
            headers.append("x-h", v);
        }
        let _ = cookies(&headers, "AWSALB").count();
        let req = view(&headers, host, &t, &lossy);
        let conditions = [
            Condition::HttpHeader { name: p.clone(), values: vec![p.clone()] },
            Condition::QueryString { values: vec![KeyValue { key: Some(p.clone()), value: p.clone() }] },
            Condition::SourceIp { values: vec![p.clone()] },
        ];
        for c in &conditions {
            let _ = condition_matches(c, &req);
        }
    }

    #[test]
    fn query_values_round_trip(k in "[a-zA-Z0-9 &=%+]{1,20}", v in "[a-zA-Z0-9 &=%+]{0,20}") {
        let q: String = form_urlencoded::Serializer::new(String::new()).append_pair(&k, &v).finish();
        let params = query_params(&q);
        prop_assert_eq!(params, vec![(k.clone(), v.clone())]);
    }
}
