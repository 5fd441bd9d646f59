//! In-process tests of the Route 53 operations over the memory store: routing by method
//! and path, the XML shapes, error codes, change batches and their sync status, and
//! arbitrary bodies against every writing operation.

use std::sync::Arc;

use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Input, Output, RestRequest};
use flotilla_model::dns::DnsReport;
use http::{HeaderMap, Method};
use proptest::prelude::*;

use super::Route53;
use crate::State;

use crate::testing::ctx;

mod health_checks;

async fn route53() -> (Route53, State) {
    let state = crate::testing::state().await;
    (Route53::new(state.clone()), state)
}

/// Send a request; the status and body of the answer.
async fn send(
    r: &Route53,
    method: Method,
    path: &str,
    body: &str,
) -> Result<(u16, String), AwsError> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let request = RestRequest {
        method,
        path: path.to_string(),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_string()),
    };
    match r.call(&ctx(), "", Input::Rest(request)).await? {
        Output::Xml(doc) => Ok((200, doc)),
        Output::Http(resp) => Ok((
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body()).into_owned(),
        )),
        other => panic!("unexpected output {other:?}"),
    }
}

/// The text of the first element `name` in `doc`.
fn field(doc: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
        + open.len();
    let end = doc[start..].find('<').unwrap() + start;
    doc[start..end].to_string()
}

fn create_zone_body(name: &str, reference: &str) -> String {
    format!(
        r#"<CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Name>{name}</Name><CallerReference>{reference}</CallerReference><HostedZoneConfig><Comment>test</Comment></HostedZoneConfig></CreateHostedZoneRequest>"#
    )
}

fn change_body(action: &str, name: &str, rtype: &str, ttl: u32, values: &[&str]) -> String {
    let records: String = values
        .iter()
        .map(|v| format!("<ResourceRecord><Value>{v}</Value></ResourceRecord>"))
        .collect();
    format!(
        r#"<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>{action}</Action><ResourceRecordSet><Name>{name}</Name><Type>{rtype}</Type><TTL>{ttl}</TTL><ResourceRecords>{records}</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"#
    )
}

#[tokio::test]
async fn zones_and_record_sets_round_trip() {
    let (r, state) = route53().await;
    let (status, doc) = send(
        &r,
        Method::POST,
        "/2013-04-01/hostedzone",
        &create_zone_body("Example.COM", "ref-1"),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let id = field(&doc, "Id");
    assert!(id.starts_with("/hostedzone/Z"), "{id}");
    assert_eq!(field(&doc, "Name"), "example.com.");
    assert!(doc.contains("<NameServer>"));
    let zone = id.trim_start_matches("/hostedzone/").to_string();

    // The same caller reference again: HostedZoneAlreadyExists.
    let again = send(
        &r,
        Method::POST,
        "/2013-04-01/hostedzone",
        &create_zone_body("other.com", "ref-1"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (again.status.as_u16(), again.code.as_str()),
        (409, "HostedZoneAlreadyExists")
    );

    let path = format!("/2013-04-01/hostedzone/{zone}/rrset/");
    let (_, doc) = send(
        &r,
        Method::POST,
        &path,
        &change_body(
            "CREATE",
            "www.example.com",
            "A",
            120,
            &["192.0.2.1", "192.0.2.2"],
        ),
    )
    .await
    .unwrap();
    assert_eq!(field(&doc, "Status"), "PENDING");
    let change = field(&doc, "Id");

    // PENDING until the DNS server reports serving the change's revision.
    let get = format!("/2013-04-01{change}");
    let (_, doc) = send(&r, Method::GET, &get, "").await.unwrap();
    assert_eq!(field(&doc, "Status"), "PENDING");
    state.dns().take_report(Arc::new(DnsReport {
        version: u64::MAX,
        bind_error: None,
    }));
    let (_, doc) = send(&r, Method::GET, &get, "").await.unwrap();
    assert_eq!(field(&doc, "Status"), "INSYNC");

    let (_, doc) = send(
        &r,
        Method::GET,
        &format!("/2013-04-01/hostedzone/{zone}/rrset"),
        "",
    )
    .await
    .unwrap();
    // SOA and NS at the apex come first (by name with labels reversed), then www.
    let apex = doc.find("<Name>example.com.</Name>").unwrap();
    let www = doc.find("<Name>www.example.com.</Name>").unwrap();
    assert!(apex < www);
    assert!(doc.contains("<Value>192.0.2.2</Value>"));
    assert!(doc.contains("<TTL>120</TTL>"));

    // A batch that fails changes nothing.
    let dup = send(
        &r,
        Method::POST,
        &path,
        &change_body("CREATE", "www.example.com.", "A", 60, &["192.0.2.9"]),
    )
    .await
    .unwrap_err();
    assert_eq!(dup.code, "InvalidChangeBatch");
    assert!(dup.message.contains("already exists"), "{}", dup.message);

    let not_empty = send(
        &r,
        Method::DELETE,
        &format!("/2013-04-01/hostedzone/{zone}"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(not_empty.code, "HostedZoneNotEmpty");
    send(
        &r,
        Method::POST,
        &path,
        &change_body(
            "DELETE",
            "www.example.com",
            "A",
            120,
            &["192.0.2.1", "192.0.2.2"],
        ),
    )
    .await
    .unwrap();
    send(
        &r,
        Method::DELETE,
        &format!("/2013-04-01/hostedzone/{zone}"),
        "",
    )
    .await
    .unwrap();
    let gone = send(
        &r,
        Method::GET,
        &format!("/2013-04-01/hostedzone/{zone}"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(
        (gone.status.as_u16(), gone.code.as_str()),
        (404, "NoSuchHostedZone")
    );
}

#[tokio::test]
async fn bad_requests_get_route53s_errors() {
    let (r, _) = route53().await;
    let bad_xml = send(
        &r,
        Method::POST,
        "/2013-04-01/hostedzone",
        "<CreateHostedZoneRequest>",
    )
    .await
    .unwrap_err();
    assert_eq!(bad_xml.code, "InvalidInput");
    let bad_name = send(
        &r,
        Method::POST,
        "/2013-04-01/hostedzone",
        &create_zone_body("a..b", "r"),
    )
    .await
    .unwrap_err();
    assert_eq!(bad_name.code, "InvalidDomainName");
    let missing = send(&r, Method::GET, "/2013-04-01/change/CNOTHERE", "")
        .await
        .unwrap_err();
    assert_eq!(
        (missing.status.as_u16(), missing.code.as_str()),
        (404, "NoSuchChange")
    );
    let max = send(&r, Method::GET, "/2013-04-01/hostedzone?maxitems=0", "")
        .await
        .unwrap_err();
    assert_eq!(max.code, "InvalidInput");
    let unknown = send(&r, Method::PUT, "/2013-04-01/hostedzone", "")
        .await
        .unwrap_err();
    assert_eq!(unknown.status.as_u16(), 404);
    let (_, doc) = send(&r, Method::GET, "/2013-04-01/hostedzonecount", "")
        .await
        .unwrap();
    assert_eq!(field(&doc, "HostedZoneCount"), "0");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_bodies_get_an_answer_not_a_panic(body in ".{0,300}", which in 0usize..4) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (r, _) = route53().await;
            let path = match which {
                0 => "/2013-04-01/hostedzone",
                1 => "/2013-04-01/hostedzone/ZNONE/rrset",
                2 => "/2013-04-01/hostedzone/ZNONE",
                _ => "/2013-04-01/tags/hostedzone/ZNONE",
            };
            let _ = send(&r, Method::POST, path, &body).await;
        });
    }
}
