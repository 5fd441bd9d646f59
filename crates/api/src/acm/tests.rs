//! In-process tests of the ACM operations over the memory store: the wire shapes (base64
//! blobs in, PascalCase out), the error codes, a listener's use blocking a delete (set up
//! behind the API's back), pagination, and arbitrary input against every operation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Input, Output};
use flotilla_model::elbv2::listener::{Action, ListenerProtocol, ListenerRecord};
use flotilla_model::record::encode;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{Acm, OPERATIONS};
use crate::{keys, State};

use crate::testing::ctx;

async fn acm() -> (Acm, State) {
    let state = crate::testing::state().await;
    (Acm::new(state.clone()), state)
}

async fn call(acm: &Acm, op: &str, body: Value) -> Result<Value, AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match acm.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

/// A self-signed P-256 certificate for `names` and its key, as PEM.
fn pair(names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

async fn import(acm: &Acm, names: &[&str]) -> String {
    let (cert, key) = pair(names);
    let out = call(
        acm,
        "ImportCertificate",
        json!({"Certificate": b64(&cert), "PrivateKey": b64(&key),
               "Tags": [{"Key": "team", "Value": "web"}, {"Key": "bare"}]}),
    )
    .await
    .unwrap();
    out["CertificateArn"].as_str().unwrap().to_string()
}

fn code(e: AwsError) -> String {
    assert!(!e.is_server_fault(), "{e}");
    e.code
}

#[tokio::test]
async fn import_describe_get_and_tags_speak_acm() {
    let (acm, _) = acm().await;
    let arn = import(&acm, &["web.example.com", "api.example.com"]).await;
    let d = &call(&acm, "DescribeCertificate", json!({"CertificateArn": arn}))
        .await
        .unwrap()["Certificate"];
    assert_eq!(d["DomainName"], "web.example.com");
    assert_eq!(
        d["SubjectAlternativeNames"],
        json!(["web.example.com", "api.example.com"])
    );
    assert_eq!(d["Status"], "ISSUED");
    assert_eq!(d["Type"], "IMPORTED");
    assert_eq!(d["KeyAlgorithm"], "EC_prime256v1");
    assert_eq!(d["InUseBy"], json!([]));
    assert!(d["NotAfter"].as_f64().unwrap() > d["NotBefore"].as_f64().unwrap());
    assert!(d["ImportedAt"].is_number() && d["Serial"].is_string());

    let got = call(&acm, "GetCertificate", json!({"CertificateArn": arn}))
        .await
        .unwrap();
    assert!(got["Certificate"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(got.get("CertificateChain").is_none(), "no chain was given");

    let tags = call(
        &acm,
        "ListTagsForCertificate",
        json!({"CertificateArn": arn}),
    )
    .await
    .unwrap();
    assert_eq!(
        tags["Tags"],
        json!([{"Key": "team", "Value": "web"}, {"Key": "bare"}])
    );
    call(
        &acm,
        "RemoveTagsFromCertificate",
        json!({"CertificateArn": arn, "Tags": [{"Key": "bare"}]}),
    )
    .await
    .unwrap();
    call(
        &acm,
        "AddTagsToCertificate",
        json!({"CertificateArn": arn, "Tags": [{"Key": "team", "Value": "api"}]}),
    )
    .await
    .unwrap();
    let tags = call(
        &acm,
        "ListTagsForCertificate",
        json!({"CertificateArn": arn}),
    )
    .await
    .unwrap();
    assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "api"}]));
}

#[tokio::test]
async fn errors_carry_acm_codes() {
    let (acm, _) = acm().await;
    let arn = import(&acm, &["e.example.com"]).await;
    let (cert, key) = pair(&["e.example.com"]);
    let (_, other_key) = pair(&["x.example.com"]);
    let missing =
        "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000";
    let cases = [
        (
            "DescribeCertificate",
            json!({"CertificateArn": missing}),
            "ResourceNotFoundException",
        ),
        (
            "DescribeCertificate",
            json!({"CertificateArn": "arn:nope"}),
            "InvalidArnException",
        ),
        ("DescribeCertificate", json!({}), "ValidationException"),
        (
            "GetCertificate",
            json!({"CertificateArn": missing}),
            "ResourceNotFoundException",
        ),
        (
            "DeleteCertificate",
            json!({"CertificateArn": "bad"}),
            "InvalidArnException",
        ),
        (
            "ImportCertificate",
            json!({"Certificate": b64("garbage"), "PrivateKey": b64(&key)}),
            "ValidationException",
        ),
        (
            "ImportCertificate",
            json!({"Certificate": b64(&cert), "PrivateKey": b64(&other_key)}),
            "ValidationException",
        ),
        (
            "ImportCertificate",
            json!({"Certificate": "%%%", "PrivateKey": b64(&key)}),
            "ValidationException",
        ),
        (
            "ImportCertificate",
            json!({"Certificate": b64(&cert), "PrivateKey": b64(&key), "CertificateArn": arn,
                   "Tags": [{"Key": "a"}]}),
            "InvalidParameterException",
        ),
        (
            "ImportCertificate",
            json!({"Certificate": b64(&cert), "PrivateKey": b64(&key), "CertificateArn": missing}),
            "ResourceNotFoundException",
        ),
        (
            "AddTagsToCertificate",
            json!({"CertificateArn": arn, "Tags": [{"Key": "aws:x"}]}),
            "InvalidTagException",
        ),
        (
            "AddTagsToCertificate",
            json!({"CertificateArn": arn, "Tags": (0..51).map(|i| json!({"Key": format!("k{i}")})).collect::<Vec<_>>()}),
            "TooManyTagsException",
        ),
        (
            "AddTagsToCertificate",
            json!({"CertificateArn": arn, "Tags": []}),
            "ValidationException",
        ),
        (
            "ListCertificates",
            json!({"MaxItems": 0}),
            "ValidationException",
        ),
        (
            "ListCertificates",
            json!({"NextToken": "%%%"}),
            "InvalidArgsException",
        ),
        (
            "ListCertificates",
            json!({"SortBy": "CREATED_AT"}),
            "ValidationException",
        ),
        (
            "ListCertificates",
            json!({"CertificateStatuses": ["GOOD"]}),
            "ValidationException",
        ),
        (
            "ListCertificates",
            json!({"Includes": {"keyTypes": ["RSA_9"]}}),
            "ValidationException",
        ),
        (
            "RequestCertificate",
            json!({"DomainName": "x.example.com"}),
            "UnknownOperationException",
        ),
    ];
    for (op, body, want) in cases {
        let err = call(&acm, op, body.clone()).await.unwrap_err();
        assert_eq!(code(err), want, "{op} {body}");
    }
}

#[tokio::test]
async fn a_certificate_a_listener_uses_cannot_be_deleted() {
    let (acm, state) = acm().await;
    let arn = import(&acm, &["lb.example.com"]).await;
    let listener = ListenerRecord {
        arn: "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/1/2".into(),
        load_balancer_arn:
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/1".into(),
        port: 443,
        protocol: ListenerProtocol::Https,
        certificates: vec![arn.clone()],
        ssl_policy: None,
        alpn_policy: vec![],
        default_action: Action::FixedResponse {
            status_code: 200,
            content_type: None,
            message_body: None,
        },
        tags: vec![],
        created_at: chrono::Utc::now(),
    };
    let key = keys::listener("us-east-1", "1", "2");
    assert!(state
        .put_if_unchanged(&key, 0, encode(&listener))
        .await
        .unwrap());
    let all = json!({"Includes": {"keyTypes": ["EC_prime256v1"]}});
    let listed = call(&acm, "ListCertificates", all.clone()).await.unwrap();
    assert_eq!(listed["CertificateSummaryList"][0]["InUse"], true);
    let err = call(&acm, "DeleteCertificate", json!({"CertificateArn": arn}))
        .await
        .unwrap_err();
    assert_eq!(code(err), "ResourceInUseException");

    let entry = state.elbv2().listeners.get(key.as_bytes()).unwrap();
    let txn = flotilla_store::Txn {
        compares: vec![],
        success: vec![flotilla_store::Op::delete(key.clone())],
        failure: vec![],
    };
    assert!(state.commit(txn).await.unwrap().succeeded, "{entry:?}");
    call(&acm, "DeleteCertificate", json!({"CertificateArn": arn}))
        .await
        .unwrap();
    let listed = call(&acm, "ListCertificates", all).await.unwrap();
    assert_eq!(listed["CertificateSummaryList"], json!([]));
}

#[tokio::test]
async fn lists_page_by_page_in_either_order_with_acm_default_key_types() {
    let (acm, _) = acm().await;
    let mut arns = Vec::new();
    for i in 0..5 {
        arns.push(import(&acm, &[&format!("n{i}.example.com")]).await);
    }
    // ACM lists RSA_1024 and RSA_2048 certificates unless asked for other key types.
    let plain = call(&acm, "ListCertificates", json!({})).await.unwrap();
    assert_eq!(plain["CertificateSummaryList"], json!([]));
    let ec = json!({"Includes": {"keyTypes": ["EC_prime256v1"]}});
    let full: Vec<String> = call(&acm, "ListCertificates", ec).await.unwrap()
        ["CertificateSummaryList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["CertificateArn"].as_str().unwrap().to_string())
        .collect();
    let (mut sorted, mut imported) = (full.clone(), arns.clone());
    sorted.sort();
    imported.sort();
    assert_eq!(sorted, imported);
    let reversed: Vec<String> = full.iter().rev().cloned().collect();
    for (order, want) in [("ASCENDING", full.clone()), ("DESCENDING", reversed)] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"MaxItems": 2, "SortBy": "CREATED_AT", "SortOrder": order,
                                  "Includes": {"keyTypes": ["EC_prime256v1"]},
                                  "CertificateStatuses": ["ISSUED"]});
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let page = call(&acm, "ListCertificates", body).await.unwrap();
            let items = page["CertificateSummaryList"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(
                items
                    .iter()
                    .map(|s| s["CertificateArn"].as_str().unwrap().to_string()),
            );
            match page["NextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, want, "{order}");
    }
    let expired = call(
        &acm,
        "ListCertificates",
        json!({"CertificateStatuses": ["EXPIRED"], "Includes": {"keyTypes": ["EC_prime256v1"]}}),
    )
    .await
    .unwrap();
    assert_eq!(expired["CertificateSummaryList"], json!([]));
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        Just(json!("arn:aws:acm:us-east-1:000000000000:certificate/x")),
        Just(json!(
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQUEKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
        )),
    ];
    let member = prop::sample::select(vec![
        "CertificateArn",
        "Certificate",
        "PrivateKey",
        "CertificateChain",
        "Tags",
        "Key",
        "Value",
        "CertificateStatuses",
        "Includes",
        "keyTypes",
        "NextToken",
        "MaxItems",
        "SortBy",
        "SortOrder",
    ]);
    crate::testing::nested_json(leaf, member, 5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No input makes an operation fail with a server error (or panic).
    #[test]
    fn arbitrary_input_never_causes_a_server_error(
        op in prop::sample::select(OPERATIONS.to_vec()),
        body in arbitrary_json(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (acm, _) = acm().await;
            if let Err(e) = call(&acm, op, body.clone()).await {
                prop_assert!(!e.is_server_fault(), "{op} {body}: {e}");
            }
            Ok(())
        })?;
    }
}
