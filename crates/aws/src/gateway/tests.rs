//! Routing and error rendering of requests that fail before any service runs.

use super::*;

fn gateway() -> Gateway {
    let config = GatewayConfig {
        credentials: Credentials::single(
            "000000000000",
            "AKIDTEST",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFLOTILLA00",
        )
        .unwrap(),
        account: "000000000000".into(),
        max_body_bytes: 1024,
        body_timeout: std::time::Duration::from_secs(30),
        max_buffered_bytes: 4096,
    };
    Gateway::new(config, vec![])
}

async fn body_text(resp: Response) -> String {
    use http_body_util::BodyExt;
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn unsigned_json_request_gets_missing_token_in_json() {
    let req = Request::post("/")
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.ListClusters",
        )
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from("{}"))
        .unwrap();
    let resp = gateway().handle(req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    assert!(resp.headers().contains_key("x-amzn-requestid"));
    let body: serde_json::Value = serde_json::from_str(&body_text(resp).await).unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
}

#[tokio::test]
async fn unsigned_query_request_gets_xml_error_response() {
    let req = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("Action=GetCallerIdentity&Version=2011-06-15"))
        .unwrap();
    let resp = gateway().handle(req).await;
    let text = body_text(resp).await;
    assert!(text.starts_with("<ErrorResponse>"), "{text}");
    assert!(
        text.contains("<Code>MissingAuthenticationToken</Code>"),
        "{text}"
    );
    assert!(text.contains("<Type>Sender</Type>"), "{text}");
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let req = Request::post("/")
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.ListClusters",
        )
        .body(Body::from(vec![b'x'; 4096]))
        .unwrap();
    let resp = gateway().handle(req).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "RequestEntityTooLargeException"
    );
}

#[tokio::test]
async fn a_declared_length_above_the_limit_is_refused_before_the_body_is_read() {
    // Declares 100 GB, sends two bytes: refused on the header alone.
    let req = Request::post("/")
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.ListClusters",
        )
        .header("content-length", "100000000000")
        .body(Body::from("{}"))
        .unwrap();
    let resp = gateway().handle(req).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_comes_is_refused_with_408() {
    let never = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
    let req = Request::post("/")
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.ListClusters",
        )
        .header("content-length", "100")
        .body(Body::from_stream(never))
        .unwrap();
    let resp = gateway().handle(req).await;
    assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn bodies_held_before_authentication_share_one_budget() {
    let gw = gateway();
    let pending = || {
        let never = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
        Request::post("/").body(Body::from_stream(never)).unwrap()
    };
    // A body of unknown length may take the whole limit (1024): four fill the budget.
    let held: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn({
                let gw = gw.clone();
                async move { gw.handle(pending()).await.status() }
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let small = || Request::post("/").body(Body::from("{}")).unwrap();
    let resp = gw.handle(small()).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Once the held bodies time out, the budget is back.
    for h in held {
        assert_eq!(h.await.unwrap(), StatusCode::REQUEST_TIMEOUT);
    }
    assert_eq!(gw.handle(small()).await.status(), StatusCode::FORBIDDEN);
}

#[test]
fn json_operation_comes_from_the_target_header() {
    let spec = AwsServiceSpec {
        signing_name: "ecs",
        protocol: Protocol::Json11,
        target_prefix: "AmazonEC2ContainerServiceV20141113",
        xmlns: "",
    };
    let parts = |target: &str| {
        Request::post("/")
            .header("x-amz-target", target)
            .body(())
            .unwrap()
            .into_parts()
            .0
    };
    let (op, input) = decode(
        &spec,
        &parts("AmazonEC2ContainerServiceV20141113.ListClusters"),
        Bytes::new(),
    )
    .unwrap();
    assert_eq!(op, "ListClusters");
    assert!(matches!(input, Input::Json(b) if &b[..] == b"{}"));
    let err = decode(&spec, &parts("Other.ListClusters"), Bytes::new()).unwrap_err();
    assert_eq!(err.code, "UnknownOperationException");
}

#[test]
fn query_parameters_come_from_url_and_form_body() {
    let spec = AwsServiceSpec {
        signing_name: "sts",
        protocol: Protocol::Query,
        target_prefix: "",
        xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
    };
    let parts = Request::post("/?Version=2011-06-15")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let (op, input) = decode(
        &spec,
        &parts,
        Bytes::from_static(b"Action=GetCallerIdentity"),
    )
    .unwrap();
    assert_eq!(op, "GetCallerIdentity");
    assert_eq!(input.param("Version"), Some("2011-06-15"));
}
