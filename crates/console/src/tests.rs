//! The console's sign-in, session and CSRF rules, against a stand-in for the gateway that
//! checks signatures with the gateway's own verifier (the real gateway is driven in
//! tests/e2e/test_console.py).

use axum::body::Body;
use flotilla_aws::Credentials;
use http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use super::*;

const KEY: &str = "AKIAEXAMPLEKEY000001";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Answers GetCallerIdentity and ECS calls for requests signed with [`KEY`]; the ECS
/// answer says which operation it saw.
fn gateway() -> axum::Router {
    axum::Router::new().fallback(|req: Request<Body>| async move {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let creds = Credentials::single("000000000000", KEY, SECRET).unwrap();
        if flotilla_aws::verify_signature(&creds, &parts, &body).await.is_err() {
            let xml = "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></ErrorResponse>";
            return (StatusCode::FORBIDDEN, xml).into_response();
        }
        match parts.headers.get("x-amz-target").and_then(|t| t.to_str().ok()) {
            Some(target) => (StatusCode::OK, json!({"target": target}).to_string()).into_response(),
            None => (
                StatusCode::OK,
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:root</Arn>\
                 </GetCallerIdentityResult></GetCallerIdentityResponse>",
            )
                .into_response(),
        }
    })
}

fn console(failures: u32) -> axum::Router {
    router(
        Config {
            sign_in_failures: failures,
            ..Config::default()
        },
        gateway(),
    )
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let r = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn sign_in_request(secret: &str) -> Request<Body> {
    Request::post("/console/session")
        .header("host", "console.test")
        .body(Body::from(
            json!({"accessKeyId": KEY, "secretAccessKey": secret}).to_string(),
        ))
        .unwrap()
}

/// Signed in: the cookie's `name=value` and the CSRF token.
async fn signed_in(app: &axum::Router) -> (String, String) {
    let (status, headers, body) = send(app, sign_in_request(SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    let pair = cookie.split(';').next().unwrap().to_string();
    (pair, body["csrf"].as_str().unwrap().to_string())
}

fn call(cookie: Option<&str>, csrf: Option<&str>, origin: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/console/api/ecs/ListClusters").header("host", "console.test");
    if let Some(c) = cookie {
        b = b.header("cookie", format!("theme=dark; {c}"));
    }
    if let Some(t) = csrf {
        b = b.header(CSRF_HEADER, t);
    }
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    b.body(Body::from("{}")).unwrap()
}

#[tokio::test]
async fn a_key_signs_in_and_its_session_cookie_is_httponly_strict_and_expires() {
    let app = console(20);
    let (status, headers, body) = send(&app, sign_in_request(SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["arn"], "arn:aws:iam::000000000000:root");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "not over plain HTTP");
    assert!(!body.to_string().contains(SECRET));
}

#[tokio::test]
async fn a_wrong_secret_gets_no_session_and_failures_are_limited() {
    let app = console(3);
    for _ in 0..3 {
        let (status, headers, body) = send(&app, sign_in_request("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "SignInFailed");
        assert!(!headers.contains_key(header::SET_COOKIE));
    }
    let (status, _, body) = send(&app, sign_in_request(SECRET)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, _, body) = send(
        &app,
        Request::post("/console/session")
            .body(Body::from("{\"accessKeyId\": \"short\"}"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn calls_need_the_session_and_its_csrf_token_from_this_origin() {
    let app = console(20);
    let (cookie, csrf) = signed_in(&app).await;
    let (status, _, body) = send(&app, call(None, Some(&csrf), None)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("NotSignedIn"))
    );
    let (status, _, body) = send(&app, call(Some(&cookie), None, None)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("InvalidCsrfToken"))
    );
    let (status, _, body) = send(&app, call(Some(&cookie), Some("x"), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let evil = Some("https://evil.example");
    let (status, _, body) = send(&app, call(Some(&cookie), Some(&csrf), evil)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("CrossOrigin"))
    );
    // The page's own call: signed with the session's key, in ECS's protocol.
    let own = Some("http://console.test");
    let (status, _, body) = send(&app, call(Some(&cookie), Some(&csrf), own)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["target"],
        "AmazonEC2ContainerServiceV20141113.ListClusters"
    );

    let unknown = Request::post("/console/api/nosuch/Op")
        .header("cookie", &cookie)
        .header(CSRF_HEADER, &csrf)
        .body(Body::from("[]"))
        .unwrap();
    let (status, _, body) = send(&app, unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = console(20);
    let (cookie, csrf) = signed_in(&app).await;
    let whoami = || {
        Request::get("/console/session")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, body) = send(&app, whoami()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["csrf"], csrf.as_str());
    let out = Request::delete("/console/session")
        .header("cookie", &cookie)
        .header(CSRF_HEADER, &csrf)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&app, out).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _, _) = send(&app, whoami()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_page_is_served_with_its_policy_and_nothing_else_is() {
    let app = console(20);
    for (path, status) in [
        ("/", 200),
        ("/assets/app.js", 200),
        ("/assets/app.css", 200),
        ("/assets/nope.js", 404),
    ] {
        let r = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let policy = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"));
    }
}

proptest::proptest! {
    /// Any cookie and origin headers get an answer (a session or none), never a panic.
    #[test]
    fn arbitrary_cookie_and_origin_headers(cookie_header in "\\PC{0,120}", origin in "\\PC{0,60}") {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&cookie_header) {
            headers.insert(header::COOKIE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&origin) {
            headers.insert(header::ORIGIN, v);
        }
        let _ = cookie(&headers);
        let _ = foreign(&headers, &Uri::from_static("/"));
    }
}

#[test]
fn over_http2_the_origin_is_checked_against_the_authority() {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ORIGIN,
        HeaderValue::from_static("https://console.test:4568"),
    );
    let uri: Uri = "https://console.test:4568/console/session".parse().unwrap();
    assert!(!foreign(&headers, &uri));
    let other: Uri = "https://elsewhere.test/console/session".parse().unwrap();
    assert!(foreign(&headers, &other));
    assert!(foreign(&headers, &Uri::from_static("/")));
    headers.insert(header::HOST, HeaderValue::from_static("console.test:4568"));
    assert!(!foreign(&headers, &Uri::from_static("/")));
}

#[tokio::test]
async fn arbitrary_sign_in_bodies_are_refused_as_bad_input() {
    let app = console(1000);
    for body in [
        "",
        "null",
        "[]",
        "{\"accessKeyId\": 5}",
        "\u{0}\u{1}",
        "{\"accessKeyId\": \"AKIA../../\"}",
    ] {
        let req = Request::post("/console/session")
            .body(Body::from(body))
            .unwrap();
        let (status, _, reply) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {reply}");
    }
}
