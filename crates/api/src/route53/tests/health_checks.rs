//! Health checks over the wire: create (idempotent by caller reference), get, list with
//! pagination, count, update with versions, delete while in use, tags, status, and the
//! errors Route 53 answers with.

use super::*;

const NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

fn create_body(reference: &str, config: &str) -> String {
    format!(
        r#"<CreateHealthCheckRequest xmlns="{NS}"><CallerReference>{reference}</CallerReference><HealthCheckConfig>{config}</HealthCheckConfig></CreateHealthCheckRequest>"#
    )
}

const HTTP: &str = "<IPAddress>127.0.0.1</IPAddress><Port>9</Port><Type>HTTP</Type><ResourcePath>/health</ResourcePath><RequestInterval>10</RequestInterval><FailureThreshold>1</FailureThreshold>";

async fn create(r: &Route53, reference: &str, config: &str) -> Result<(u16, String), AwsError> {
    send(
        r,
        Method::POST,
        "/2013-04-01/healthcheck",
        &create_body(reference, config),
    )
    .await
}

fn code(e: AwsError) -> (u16, String) {
    (e.status.as_u16(), e.code)
}

#[tokio::test]
async fn health_checks_round_trip() {
    let (r, _state) = route53().await;
    let (status, doc) = create(&r, "hc-1", HTTP).await.unwrap();
    assert_eq!(status, 201);
    let id = field(&doc, "Id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(field(&doc, "Type"), "HTTP");
    assert_eq!(field(&doc, "RequestInterval"), "10");
    assert_eq!(field(&doc, "HealthCheckVersion"), "1");

    // The same reference and configuration: the same check; another configuration: 409.
    let (_, again) = create(&r, "hc-1", HTTP).await.unwrap();
    assert_eq!(field(&again, "Id"), id);
    let other = HTTP.replace("<Port>9</Port>", "<Port>10</Port>");
    let e = create(&r, "hc-1", &other).await.unwrap_err();
    assert_eq!(code(e), (409, "HealthCheckAlreadyExists".into()));

    let path = format!("/2013-04-01/healthcheck/{id}");
    let (_, doc) = send(&r, Method::GET, &path, "").await.unwrap();
    assert_eq!(field(&doc, "ResourcePath"), "/health");

    // Updates compare the version and raise it.
    let update = |body: &str| {
        format!(r#"<UpdateHealthCheckRequest xmlns="{NS}">{body}</UpdateHealthCheckRequest>"#)
    };
    let (_, doc) = send(
        &r,
        Method::POST,
        &path,
        &update("<HealthCheckVersion>1</HealthCheckVersion><FailureThreshold>5</FailureThreshold><Inverted>true</Inverted>"),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            field(&doc, "FailureThreshold"),
            field(&doc, "Inverted"),
            field(&doc, "HealthCheckVersion")
        ),
        ("5".into(), "true".into(), "2".into())
    );
    let e = send(
        &r,
        Method::POST,
        &path,
        &update("<HealthCheckVersion>1</HealthCheckVersion><Disabled>true</Disabled>"),
    )
    .await
    .unwrap_err();
    assert_eq!(code(e), (409, "HealthCheckVersionMismatch".into()));
    let (_, doc) = send(&r, Method::POST, &path, &update("<ResetElements><ResettableElementName>ResourcePath</ResettableElementName></ResetElements>"))
        .await
        .unwrap();
    assert!(!doc.contains("<ResourcePath>"), "{doc}");

    // No probe has finished in this test: no observation yet.
    let (_, doc) = send(&r, Method::GET, &format!("{path}/status"), "")
        .await
        .unwrap();
    assert!(doc.contains("<HealthCheckObservations"), "{doc}");
    assert!(!doc.contains("<HealthCheckObservation>"), "{doc}");

    // Tags.
    let tags = format!(
        r#"<ChangeTagsForResourceRequest xmlns="{NS}"><AddTags><Tag><Key>team</Key><Value>web</Value></Tag></AddTags></ChangeTagsForResourceRequest>"#
    );
    send(
        &r,
        Method::POST,
        &format!("/2013-04-01/tags/healthcheck/{id}"),
        &tags,
    )
    .await
    .unwrap();
    let (_, doc) = send(
        &r,
        Method::GET,
        &format!("/2013-04-01/tags/healthcheck/{id}"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        (field(&doc, "ResourceType"), field(&doc, "Value")),
        ("healthcheck".into(), "web".into())
    );

    let (_, doc) = send(&r, Method::GET, "/2013-04-01/healthcheckcount", "")
        .await
        .unwrap();
    assert_eq!(field(&doc, "HealthCheckCount"), "1");
    send(&r, Method::DELETE, &path, "").await.unwrap();
    let e = send(&r, Method::GET, &path, "").await.unwrap_err();
    assert_eq!(code(e), (404, "NoSuchHealthCheck".into()));
}

#[tokio::test]
async fn listing_pages_by_id() {
    let (r, _state) = route53().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, doc) = create(&r, &format!("page-{i}"), HTTP).await.unwrap();
        ids.push(field(&doc, "Id"));
    }
    ids.sort();
    let (_, doc) = send(&r, Method::GET, "/2013-04-01/healthcheck?maxitems=2", "")
        .await
        .unwrap();
    assert_eq!(field(&doc, "IsTruncated"), "true");
    assert_eq!(field(&doc, "NextMarker"), ids[2]);
    let (_, doc) = send(
        &r,
        Method::GET,
        &format!("/2013-04-01/healthcheck?maxitems=2&marker={}", ids[2]),
        "",
    )
    .await
    .unwrap();
    assert_eq!(field(&doc, "IsTruncated"), "false");
    assert_eq!(doc.matches("<HealthCheck>").count(), 1);
}

#[tokio::test]
async fn bad_configurations_are_invalid_input() {
    let (r, _state) = route53().await;
    let bad = [
        "<Type>CALCULATED</Type><HealthThreshold>1</HealthThreshold>",
        "<Type>HTTP</Type>",
        "<IPAddress>300.1.1.1</IPAddress><Type>HTTP</Type>",
        "<IPAddress>127.0.0.1</IPAddress><Port>70000</Port><Type>HTTP</Type>",
        "<IPAddress>127.0.0.1</IPAddress><Type>HTTP</Type><RequestInterval>20</RequestInterval>",
        "<IPAddress>127.0.0.1</IPAddress><Type>HTTP</Type><FailureThreshold>11</FailureThreshold>",
        "<IPAddress>127.0.0.1</IPAddress><Type>TCP</Type>",
        "<IPAddress>127.0.0.1</IPAddress><Type>HTTP_STR_MATCH</Type>",
        "<IPAddress>127.0.0.1</IPAddress><Type>PING</Type>",
    ];
    for (i, config) in bad.iter().enumerate() {
        let e = create(&r, &format!("bad-{i}"), config).await.unwrap_err();
        assert_eq!(code(e), (400, "InvalidInput".into()), "case {i}: {config}");
    }
    let e = send(&r, Method::DELETE, "/2013-04-01/healthcheck/nope", "")
        .await
        .unwrap_err();
    assert_eq!(code(e), (404, "NoSuchHealthCheck".into()));
}

#[tokio::test]
async fn record_sets_must_name_checks_that_exist_and_keep_them_in_use() {
    let (r, _state) = route53().await;
    let (_, doc) = send(
        &r,
        Method::POST,
        "/2013-04-01/hostedzone",
        &create_zone_body("hc.test", "z-1"),
    )
    .await
    .unwrap();
    let zone = field(&doc, "Id")
        .trim_start_matches("/hostedzone/")
        .to_string();
    let rrset = format!("/2013-04-01/hostedzone/{zone}/rrset");
    let weighted = |check: &str| {
        format!(
            r#"<ChangeResourceRecordSetsRequest xmlns="{NS}"><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>www.hc.test</Name><Type>A</Type><SetIdentifier>a</SetIdentifier><Weight>1</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords><HealthCheckId>{check}</HealthCheckId></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"#
        )
    };
    let e = send(
        &r,
        Method::POST,
        &rrset,
        &weighted("00000000-0000-0000-0000-000000000000"),
    )
    .await
    .unwrap_err();
    assert_eq!(code(e), (404, "NoSuchHealthCheck".into()));

    let (_, doc) = create(&r, "in-use", HTTP).await.unwrap();
    let id = field(&doc, "Id");
    send(&r, Method::POST, &rrset, &weighted(&id))
        .await
        .unwrap();
    let (_, doc) = send(&r, Method::GET, &rrset, "").await.unwrap();
    assert_eq!(field(&doc, "HealthCheckId"), id);
    let e = send(
        &r,
        Method::DELETE,
        &format!("/2013-04-01/healthcheck/{id}"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(code(e), (400, "HealthCheckInUse".into()));
}
