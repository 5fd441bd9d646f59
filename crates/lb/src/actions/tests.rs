//! Redirect locations and the balancer's own responses.

use super::*;

fn redirect_to(protocol: &str, host: &str, port: &str, path: &str, query: &str) -> Redirect {
    Redirect {
        protocol: protocol.into(),
        host: host.into(),
        port: port.into(),
        path: path.into(),
        query: query.into(),
        status_code: 301,
    }
}

fn original<'a>(port: u16, path: &'a str, query: &'a str) -> Original<'a> {
    Original {
        protocol: ListenerProtocol::Http,
        host: "www.example.com",
        port,
        path,
        query,
    }
}

#[test]
fn http_to_https_keeps_host_path_and_query() {
    let r = redirect_to("HTTPS", "#{host}", "443", "/#{path}", "#{query}");
    assert_eq!(
        location(&r, &original(80, "/a/b", "x=1")),
        "https://www.example.com/a/b?x=1"
    );
    assert_eq!(
        location(&r, &original(80, "/", "")),
        "https://www.example.com/"
    );
}

#[test]
fn ports_are_kept_unless_default() {
    let r = redirect_to(
        "#{protocol}",
        "new.example.com",
        "#{port}",
        "/#{path}",
        "#{query}",
    );
    assert_eq!(
        location(&r, &original(8080, "/x", "")),
        "http://new.example.com:8080/x"
    );
    assert_eq!(
        location(&r, &original(80, "/x", "")),
        "http://new.example.com/x"
    );
    let r = redirect_to(
        "HTTPS",
        "#{host}",
        "#{port}",
        "/new/#{path}",
        "a=b&#{query}",
    );
    assert_eq!(
        location(&r, &original(80, "/x", "q=1")),
        "https://www.example.com:80/new/x?a=b&q=1"
    );
}

#[test]
fn unknown_placeholders_stay_as_written() {
    let r = redirect_to("HTTPS", "#{nope}.example.com", "#{port", "/p", "");
    assert_eq!(
        location(&r, &original(80, "/", "")),
        "https://#{nope}.example.com:#{port/p"
    );
}

#[test]
fn errors_look_like_albs() {
    let r = error(StatusCode::BAD_GATEWAY);
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()[header::SERVER], "awselb/2.0");
    let f = fixed(404, None, Some("nope"));
    assert_eq!(f.status(), 404);
    assert!(f.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
}
