//! The distribution API driven through the router, over a real blob store in a temporary
//! directory and an in-memory catalog (`http_tests/harness.rs`; the control plane's
//! catalog has its own tests).

use axum::body::Body;
use http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LINK, LOCATION, RANGE,
    WWW_AUTHENTICATE,
};
use http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::json;

use super::reply;
use crate::digest::Digest;
use crate::manifest::{DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

#[path = "http_tests/harness.rs"]
mod harness;

use harness::*;
#[tokio::test]
async fn requests_without_valid_credentials_are_challenged() {
    let h = harness(&["web"]).await;
    let anonymous = Request::builder().uri("/v2/");
    for request in [
        anonymous,
        Request::builder().uri("/v2/web/tags/list"),
        Request::builder()
            .uri("/v2/")
            .header(AUTHORIZATION, basic(USER, "wrong")),
        Request::builder()
            .uri("/v2/")
            .header(AUTHORIZATION, "Bearer token"),
    ] {
        let a = h.send(request, Body::empty()).await;
        a.expect(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        assert_eq!(a.header(WWW_AUTHENTICATE), "Basic realm=\"flotilla\"");
    }
    for uri in ["/v2/", "/v2"] {
        let a = h.call("GET", uri).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.json(), json!({}));
    }
}

#[tokio::test]
async fn the_catalog_decides_each_request_by_its_ecr_action() {
    let h = harness(&["web"]).await;
    let d = h.push_blob("web", b"layer").await;
    let as_reader = |method: &str, uri: &str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, basic(USER, READER_PASSWORD))
    };
    // Pulls are allowed; starting an upload or deleting is denied before anything is done.
    let a = h
        .send(
            as_reader("GET", &format!("/v2/web/blobs/{d}")),
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = h
        .send(as_reader("POST", "/v2/web/blobs/uploads/"), Body::empty())
        .await;
    a.expect(StatusCode::FORBIDDEN, "DENIED");
    assert!(a.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("ecr:InitiateLayerUpload"));
    let a = h
        .send(
            as_reader("DELETE", &format!("/v2/web/manifests/{d}")),
            Body::empty(),
        )
        .await;
    a.expect(StatusCode::FORBIDDEN, "DENIED");
}

#[tokio::test]
async fn a_monolithic_push_is_pulled_whole_and_by_ranges() {
    let h = harness(&["web"]).await;
    let bytes = b"0123456789";
    let d = Digest::of(bytes);
    let a = h
        .send(
            req("POST", &format!("/v2/web/blobs/uploads/?digest={d}")),
            bytes.to_vec(),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.header(LOCATION), format!("/v2/web/blobs/{d}"));
    assert_eq!(a.header(reply::DOCKER_CONTENT_DIGEST), d.to_string());

    let uri = format!("/v2/web/blobs/{d}");
    let a = h.call("GET", &uri).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, bytes);
    assert_eq!(a.header(CONTENT_LENGTH), "10");
    assert_eq!(a.header(CONTENT_TYPE), "application/octet-stream");
    assert_eq!(a.header(http::header::ACCEPT_RANGES), "bytes");
    assert_eq!(a.header(reply::DOCKER_CONTENT_DIGEST), d.to_string());
    let a = h.call("HEAD", &uri).await;
    assert_eq!((a.status, a.body.len()), (StatusCode::OK, 0));
    assert_eq!(a.header(CONTENT_LENGTH), "10");

    for (range, content_range, body) in [
        ("bytes=2-5", "bytes 2-5/10", &b"2345"[..]),
        ("bytes=7-", "bytes 7-9/10", b"789"),
        ("bytes=-3", "bytes 7-9/10", b"789"),
        ("bytes=8-100", "bytes 8-9/10", b"89"),
    ] {
        let a = h
            .send(req("GET", &uri).header(RANGE, range), Body::empty())
            .await;
        assert_eq!(a.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(a.header(CONTENT_RANGE), content_range);
        assert_eq!(a.header(CONTENT_LENGTH), body.len().to_string());
        assert_eq!(a.body, body);
    }
    for range in ["bytes=10-", "bytes=5-2"] {
        let a = h
            .send(req("GET", &uri).header(RANGE, range), Body::empty())
            .await;
        a.expect(StatusCode::RANGE_NOT_SATISFIABLE, "SIZE_INVALID");
        assert_eq!(a.header(CONTENT_RANGE), "bytes */10");
    }
    // Several ranges: ignored, the whole blob.
    let a = h
        .send(
            req("GET", &uri).header(RANGE, "bytes=0-1,3-4"),
            Body::empty(),
        )
        .await;
    assert_eq!((a.status, a.body.as_slice()), (StatusCode::OK, &bytes[..]));
}

#[tokio::test]
async fn large_blobs_stream_both_ways_and_the_limit_holds() {
    let h = harness_with_limit(&["web"], 8 << 20).await;
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let d = h.push_blob("web", &bytes).await;
    let uri = format!("/v2/web/blobs/{d}");
    let a = h.call("GET", &uri).await;
    assert_eq!((a.status, a.body.len()), (StatusCode::OK, bytes.len()));
    assert!(a.body == bytes);
    let a = h
        .send(
            req("GET", &uri).header(RANGE, "bytes=100000-2000000"),
            Body::empty(),
        )
        .await;
    assert!(a.body == bytes[100_000..=2_000_000]);

    let small = harness_with_limit(&["web"], 1000).await;
    let big = vec![0u8; 1001];
    let uri = format!("/v2/web/blobs/uploads/?digest={}", Digest::of(&big));
    let a = small.send(req("POST", &uri), big).await;
    a.expect(StatusCode::BAD_REQUEST, "SIZE_INVALID");
}

#[tokio::test]
async fn chunks_out_of_order_are_refused_with_where_the_upload_stands() {
    let h = harness(&["web"]).await;
    let a = h.call("POST", "/v2/web/blobs/uploads/").await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(a.header(RANGE), "0-0");
    let location = a.header(LOCATION).to_string();
    assert!(location.ends_with(a.header(reply::DOCKER_UPLOAD_UUID)));

    let patch = |range: &str| req("PATCH", &location).header(CONTENT_RANGE, range);
    let a = h.send(patch("0-4"), "hello").await;
    assert_eq!((a.status, a.header(RANGE)), (StatusCode::ACCEPTED, "0-4"));
    let a = h.send(patch("2-6"), "llo, ").await;
    a.expect(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
    assert_eq!(
        (a.header(RANGE), a.header(LOCATION)),
        ("0-4", location.as_str())
    );
    let a = h.call("GET", &location).await;
    assert_eq!((a.status, a.header(RANGE)), (StatusCode::NO_CONTENT, "0-4"));
    // A range whose length is not the body's is refused before anything is appended.
    let a = h
        .send(patch("5-10").header(CONTENT_LENGTH, "5"), ", wor")
        .await;
    a.expect(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID");
    let a = h.send(patch("bytes 5-9/*"), ", wor").await;
    assert_eq!((a.status, a.header(RANGE)), (StatusCode::ACCEPTED, "0-9"));
    // A PATCH without Content-Range appends at the end (Docker's streamed push).
    let a = h.send(req("PATCH", &location), "ld").await;
    assert_eq!(a.header(RANGE), "0-11");
    let a = h.send(patch("x-y"), "!").await;
    a.expect(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID");

    let d = Digest::of(b"hello, world!");
    let a = h
        .send(req("PUT", &format!("{location}?digest={d}")), "!")
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.header(LOCATION), format!("/v2/web/blobs/{d}"));
    assert_eq!(a.header(reply::DOCKER_CONTENT_DIGEST), d.to_string());
    let a = h.call("GET", &format!("/v2/web/blobs/{d}")).await;
    assert_eq!(a.body, b"hello, world!");
    h.call("GET", &location)
        .await
        .expect(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn a_last_chunk_out_of_order_is_refused_too() {
    let h = harness(&["web"]).await;
    let location = h
        .call("POST", "/v2/web/blobs/uploads/")
        .await
        .header(LOCATION)
        .to_string();
    let d = Digest::of(b"abc");
    let put =
        |range: &str| req("PUT", &format!("{location}?digest={d}")).header(CONTENT_RANGE, range);
    h.send(put("1-3"), "abc")
        .await
        .expect(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
    assert_eq!(h.send(put("0-2"), "abc").await.status, StatusCode::CREATED);
    // Finishing needs the digest.
    let location = h
        .call("POST", "/v2/web/blobs/uploads/")
        .await
        .header(LOCATION)
        .to_string();
    h.call("PUT", &location)
        .await
        .expect(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn a_digest_mismatch_stores_nothing() {
    let h = harness(&["web"]).await;
    let claimed = Digest::of(b"what the client claims");
    let actual = Digest::of(b"something else");
    let uri = format!("/v2/web/blobs/uploads/?digest={claimed}");
    let a = h.send(req("POST", &uri), "something else").await;
    a.expect(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    assert_eq!(
        a.json()["errors"][0]["detail"]["actual"],
        actual.to_string()
    );

    let location = h
        .call("POST", "/v2/web/blobs/uploads/")
        .await
        .header(LOCATION)
        .to_string();
    let a = h
        .send(
            req("PUT", &format!("{location}?digest={claimed}")),
            "something else",
        )
        .await;
    a.expect(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    for d in [&claimed, &actual] {
        let a = h.call("GET", &format!("/v2/web/blobs/{d}")).await;
        a.expect(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    }
    h.call("GET", &location)
        .await
        .expect(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn a_manifest_naming_a_missing_blob_is_refused() {
    let h = harness(&["web"]).await;
    let config = h.push_blob("web", b"{}").await;
    let layer = Digest::of(b"never pushed");
    let a = h
        .put_manifest("web", "v1", OCI_MANIFEST, &image(&config, &[&layer]))
        .await;
    a.expect(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(a.json()["errors"][0]["detail"]["digest"], layer.to_string());
    h.call("GET", "/v2/web/manifests/v1")
        .await
        .expect(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn a_manifest_pushed_by_tag_is_pulled_by_tag_and_by_digest() {
    let h = harness(&["team/web"]).await;
    let config = h.push_blob("team/web", b"{}").await;
    let layer = h.push_blob("team/web", b"layer").await;
    let bytes = image(&config, &[&layer]);
    let d = Digest::of(&bytes);
    let a = h.put_manifest("team/web", "v1", OCI_MANIFEST, &bytes).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.header(LOCATION), format!("/v2/team/web/manifests/{d}"));
    assert_eq!(a.header(reply::DOCKER_CONTENT_DIGEST), d.to_string());

    for reference in ["v1".to_string(), d.to_string()] {
        let uri = format!("/v2/team/web/manifests/{reference}");
        let a = h.call("GET", &uri).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body, bytes);
        assert_eq!(a.header(CONTENT_TYPE), OCI_MANIFEST);
        assert_eq!(a.header(CONTENT_LENGTH), bytes.len().to_string());
        assert_eq!(a.header(reply::DOCKER_CONTENT_DIGEST), d.to_string());
        let a = h.call("HEAD", &uri).await;
        assert_eq!((a.status, a.body.len()), (StatusCode::OK, 0));
        assert_eq!(a.header(CONTENT_LENGTH), bytes.len().to_string());
        // A client that does not take OCI manifests does not get one.
        let docker_only = req("GET", &uri).header(ACCEPT, DOCKER_MANIFEST);
        h.send(docker_only, Body::empty())
            .await
            .expect(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
        let both = req("GET", &uri).header(ACCEPT, format!("{DOCKER_MANIFEST}, {OCI_MANIFEST}"));
        assert_eq!(h.send(both, Body::empty()).await.status, StatusCode::OK);
    }

    // By digest: the digest must be the manifest's.
    let other = Digest::of(b"other");
    let a = h
        .put_manifest("team/web", &other.to_string(), OCI_MANIFEST, &bytes)
        .await;
    a.expect(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    let a = h
        .put_manifest("team/web", &d.to_string(), OCI_MANIFEST, &bytes)
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    // A type that is not a manifest's, and a body that is not one.
    let a = h.put_manifest("team/web", "v2", "text/plain", &bytes).await;
    a.expect(StatusCode::BAD_REQUEST, "UNSUPPORTED");
    let a = h.put_manifest("team/web", "v2", OCI_MANIFEST, b"{").await;
    a.expect(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
}

#[tokio::test]
async fn an_index_needs_its_manifests_in_the_repository() {
    let h = harness(&["web"]).await;
    let config = h.push_blob("web", b"{}").await;
    let child = image(&config, &[]);
    let child_digest = Digest::of(&child);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(OCI_MANIFEST, &child_digest)],
    }))
    .unwrap();
    let a = h.put_manifest("web", "multi", OCI_INDEX, &index).await;
    a.expect(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    let a = h
        .put_manifest("web", &child_digest.to_string(), OCI_MANIFEST, &child)
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = h.put_manifest("web", "multi", OCI_INDEX, &index).await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = h.call("GET", "/v2/web/manifests/multi").await;
    assert_eq!(a.header(CONTENT_TYPE), OCI_INDEX);
}

#[tokio::test]
async fn a_manifest_over_the_limit_is_too_large() {
    let h = harness(&["web"]).await;
    let huge = vec![b' '; crate::manifest::MAX_MANIFEST_BYTES + 1];
    let a = h.put_manifest("web", "v1", OCI_MANIFEST, &huge).await;
    a.expect(StatusCode::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID");
}

#[tokio::test]
async fn tags_are_listed_in_pages_with_links() {
    let h = harness(&["web"]).await;
    for tag in ["e", "a", "c", "b", "d"] {
        h.push_image("web", tag, b"layer").await;
    }
    let a = h.call("GET", "/v2/web/tags/list").await;
    assert_eq!(
        a.json(),
        json!({"name": "web", "tags": ["a", "b", "c", "d", "e"]})
    );
    assert!(a.headers.get(LINK).is_none());

    let mut uri = "/v2/web/tags/list?n=2".to_string();
    let mut pages = Vec::new();
    loop {
        let a = h.call("GET", &uri).await;
        pages.push(a.json()["tags"].clone());
        let Some(link) = a.headers.get(LINK) else {
            break;
        };
        let link = link.to_str().unwrap();
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        uri = link[1..link.find('>').unwrap()].to_string();
    }
    assert_eq!(pages, [json!(["a", "b"]), json!(["c", "d"]), json!(["e"])]);
    let a = h.call("GET", "/v2/web/tags/list?n=0").await;
    assert_eq!(
        (a.json()["tags"].clone(), a.headers.get(LINK)),
        (json!([]), None)
    );
    let a = h.call("GET", "/v2/web/tags/list?last=c").await;
    assert_eq!(a.json()["tags"], json!(["d", "e"]));
    let a = h.call("GET", "/v2/web/tags/list?n=x").await;
    a.expect(StatusCode::BAD_REQUEST, "UNSUPPORTED");
}

#[tokio::test]
async fn the_catalog_lists_the_repositories() {
    let h = harness(&["web", "api", "team/db"]).await;
    let a = h.call("GET", "/v2/_catalog").await;
    assert_eq!(a.json(), json!({"repositories": ["api", "team/db", "web"]}));
    let a = h.call("GET", "/v2/_catalog?n=1&last=api").await;
    assert_eq!(a.json(), json!({"repositories": ["team/db"]}));
    assert_eq!(
        a.header(LINK),
        "</v2/_catalog?n=1&last=team%2Fdb>; rel=\"next\""
    );
}

#[tokio::test]
async fn a_stored_blob_is_mounted_from_another_repository() {
    let h = harness(&["web", "api"]).await;
    let d = h.push_blob("web", b"shared layer").await;
    let a = h
        .call(
            "POST",
            &format!("/v2/api/blobs/uploads/?mount={d}&from=web"),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.header(LOCATION), format!("/v2/api/blobs/{d}"));
    assert_eq!(a.header(reply::DOCKER_CONTENT_DIGEST), d.to_string());
    // Without `from`, too: blobs are shared.
    let a = h
        .call("POST", &format!("/v2/api/blobs/uploads/?mount={d}"))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    // Not stored, or from nowhere: an upload starts instead.
    let missing = Digest::of(b"missing");
    for uri in [
        format!("/v2/api/blobs/uploads/?mount={missing}&from=web"),
        format!("/v2/api/blobs/uploads/?mount={d}&from=nowhere"),
        format!("/v2/api/blobs/uploads/?mount={d}&from=Bad..Name"),
    ] {
        let a = h.call("POST", &uri).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{uri}");
        assert!(a.header(LOCATION).starts_with("/v2/api/blobs/uploads/"));
    }
}

#[tokio::test]
async fn manifests_tags_blobs_and_uploads_are_deleted() {
    let h = harness(&["web"]).await;
    let (d, bytes) = h.push_image("web", "v1", b"layer").await;
    let layer = Digest::of(b"layer");
    let blob_uri = format!("/v2/web/blobs/{layer}");
    // A blob an image uses stays.
    h.call("DELETE", &blob_uri)
        .await
        .expect(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED");

    assert_eq!(
        h.call("DELETE", "/v2/web/manifests/v1").await.status,
        StatusCode::ACCEPTED
    );
    h.call("GET", "/v2/web/manifests/v1")
        .await
        .expect(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    let by_digest = format!("/v2/web/manifests/{d}");
    assert_eq!(h.call("GET", &by_digest).await.body, bytes);
    assert_eq!(
        h.call("DELETE", &by_digest).await.status,
        StatusCode::ACCEPTED
    );
    h.call("GET", &by_digest)
        .await
        .expect(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    h.call("DELETE", &by_digest)
        .await
        .expect(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");

    assert_eq!(
        h.call("DELETE", &blob_uri).await.status,
        StatusCode::ACCEPTED
    );
    // A HEAD answer has no body to carry the code.
    assert_eq!(
        h.call("HEAD", &blob_uri).await.status,
        StatusCode::NOT_FOUND
    );
    h.call("DELETE", &blob_uri)
        .await
        .expect(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");

    let location = h
        .call("POST", "/v2/web/blobs/uploads/")
        .await
        .header(LOCATION)
        .to_string();
    assert_eq!(
        h.call("DELETE", &location).await.status,
        StatusCode::NO_CONTENT
    );
    h.call("DELETE", &location)
        .await
        .expect(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn names_references_and_routes_are_checked() {
    let h = harness(&["web"]).await;
    let d = Digest::of(b"x");
    let cases = [
        (
            "GET",
            "/v2/nope/tags/list".to_string(),
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
        ),
        (
            "GET",
            "/v2/nope/manifests/v1".into(),
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
        ),
        (
            "POST",
            "/v2/nope/blobs/uploads/".into(),
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
        ),
        (
            "GET",
            format!("/v2/nope/blobs/{d}"),
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
        ),
        (
            "GET",
            "/v2/Web/manifests/v1".into(),
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
        ),
        (
            "GET",
            "/v2/a//b/tags/list".into(),
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
        ),
        (
            "GET",
            "/v2/web/manifests/-v1".into(),
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
        ),
        (
            "PUT",
            "/v2/web/manifests/-v1".into(),
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
        ),
        (
            "GET",
            "/v2/web/manifests/sha256:baddigeststring".into(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        (
            "GET",
            "/v2/web/blobs/sha256:zz".into(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        (
            "GET",
            format!("/v2/web/blobs/sha512:{}", "a".repeat(128)),
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
        ),
        (
            "GET",
            format!("/v2/web/blobs/{d}"),
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
        ),
        (
            "GET",
            "/v2/web/blobs/uploads/../../etc".into(),
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
        ),
        (
            "GET",
            "/v2/web/blobs/uploads/not-an-id".into(),
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            "POST",
            format!("/v2/web/referrers/{d}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
        ),
        (
            "GET",
            "/v2/web/referrers/not-a-digest".into(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        (
            "POST",
            "/v2/web/manifests/v1".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
        ),
        (
            "PUT",
            "/v2/".into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
        ),
        (
            "POST",
            "/v2/web/blobs/uploads/?digest-algorithm=sha512".into(),
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
        ),
    ];
    for (method, uri, status, code) in cases {
        let a = h.call(method, &uri).await;
        assert_eq!(
            (a.status, a.code()),
            (status, code.to_string()),
            "{method} {uri}"
        );
    }
}

#[tokio::test]
async fn an_immutable_tag_cannot_move() {
    let h = harness(&["web"]).await;
    h.catalog
        .repos
        .lock()
        .unwrap()
        .get_mut("web")
        .unwrap()
        .immutable = true;
    h.push_image("web", "v1", b"first").await;
    let config = h.push_blob("web", b"{}").await;
    let layer = h.push_blob("web", b"second").await;
    let a = h
        .put_manifest("web", "v1", OCI_MANIFEST, &image(&config, &[&layer]))
        .await;
    a.expect(StatusCode::BAD_REQUEST, "TAG_INVALID");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the method, path, headers and body, the answer is never a 5xx (nor a
    /// panic, which `oneshot` would pass on).
    #[test]
    fn any_request_is_answered_without_a_server_error(
        method in prop::sample::select(vec!["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]),
        tail in "[a-z0-9/_.:%-]{0,60}",
        kind in prop::sample::select(vec!["", "/manifests/", "/blobs/", "/blobs/uploads/", "/tags/list?n="]),
        range in "[a-z0-9=, */-]{0,20}",
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let h = harness(&["web"]).await;
            let uri = format!("/v2/web{kind}{tail}");
            let Ok(uri) = uri.parse::<http::Uri>() else { return };
            let request = req(method, "/")
                .uri(uri)
                .header(RANGE, range.as_str())
                .header(CONTENT_RANGE, range.as_str())
                .header(CONTENT_TYPE, OCI_MANIFEST);
            let a = h.send(request, body).await;
            assert!(!a.status.is_server_error(), "{} {}", a.status, String::from_utf8_lossy(&a.body));
        });
    }
}
