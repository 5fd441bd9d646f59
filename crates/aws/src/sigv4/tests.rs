//! Verification against a minimal SigV4 signer (POST to `/`, no query string), enough to
//! show each way a request is refused. Real clients (botocore) are exercised by the
//! end-to-end tests.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::*;

const KEY: &str = "AKIDFLOTILLATEST0001";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFLOTILLA00";

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn signed(
    secret: &str,
    key: &str,
    when: chrono::DateTime<chrono::Utc>,
    body: &str,
) -> (Parts, Bytes) {
    let amz_date = when.format("%Y%m%dT%H%M%SZ").to_string();
    let date = when.format("%Y%m%d").to_string();
    let payload_hash = hex::encode(Sha256::digest(body.as_bytes()));
    let canonical = format!(
        "POST\n/\n\nhost:localhost\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{payload_hash}"
    );
    let scope = format!("{date}/us-east-1/ecs/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), &date);
    let k = hmac(&k, "us-east-1");
    let k = hmac(&k, "ecs");
    let k = hmac(&k, "aws4_request");
    let sig = hex::encode(hmac(&k, &to_sign));
    let req = http::Request::post("/")
        .header("host", "localhost")
        .header("x-amz-date", amz_date)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders=host;x-amz-date, \
                 Signature={sig}"
            ),
        )
        .body(())
        .unwrap();
    (req.into_parts().0, Bytes::from(body.to_string()))
}

fn creds() -> Credentials {
    Credentials::single("000000000000", KEY, SECRET).unwrap()
}

#[tokio::test]
async fn accepts_a_correct_signature_and_reports_the_scope() {
    let (parts, body) = signed(SECRET, KEY, chrono::Utc::now(), "{}");
    let v = verify(&creds(), &parts, &body).await.unwrap();
    assert_eq!(
        v,
        Verified {
            access_key: KEY.into(),
            region: "us-east-1".into(),
            service: "ecs".into(),
            principal: Principal::Root,
            principal_arn: "arn:aws:iam::000000000000:root".into(),
        }
    );
}

struct OneAgent;

impl KeySource for OneAgent {
    fn key(&self, access_key_id: &str) -> Option<Key> {
        (access_key_id == "FAKAGENT000000000000").then(|| Key {
            secret: "a".repeat(40),
            principal: Principal::Agent,
            region: "us-east-1".into(),
            arn: "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i".into(),
            session_token: None,
        })
    }
}

#[tokio::test]
async fn a_source_key_verifies_as_its_principal_in_its_region_only() {
    let creds = creds().with_source(std::sync::Arc::new(OneAgent));
    let secret = "a".repeat(40);
    let (parts, body) = signed(&secret, "FAKAGENT000000000000", chrono::Utc::now(), "{}");
    let v = verify(&creds, &parts, &body).await.unwrap();
    assert_eq!(v.principal, Principal::Agent);
    assert!(v.principal_arn.contains("container-instance/c/i"));
    // The root key still verifies as root.
    let (parts, body) = signed(SECRET, KEY, chrono::Utc::now(), "{}");
    assert_eq!(
        verify(&creds, &parts, &body).await.unwrap().principal,
        Principal::Root
    );
    // A wrong secret for the source key fails like any other.
    let (parts, body) = signed(
        &"b".repeat(40),
        "FAKAGENT000000000000",
        chrono::Utc::now(),
        "{}",
    );
    assert_eq!(
        verify(&creds, &parts, &body).await.unwrap_err().code,
        "SignatureDoesNotMatch"
    );
}

#[tokio::test]
async fn refuses_a_wrong_secret() {
    let (parts, body) = signed(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGWRONG",
        KEY,
        chrono::Utc::now(),
        "{}",
    );
    let e = verify(&creds(), &parts, &body).await.unwrap_err();
    assert_eq!(e.code, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn refuses_a_tampered_body() {
    let (parts, _) = signed(SECRET, KEY, chrono::Utc::now(), "{}");
    let e = verify(&creds(), &parts, &Bytes::from_static(b"{\"a\":1}"))
        .await
        .unwrap_err();
    assert_eq!(e.code, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn refuses_an_unknown_key() {
    let (parts, body) = signed(SECRET, "AKIDUNKNOWN000000000", chrono::Utc::now(), "{}");
    let e = verify(&creds(), &parts, &body).await.unwrap_err();
    assert_eq!(e.code, "InvalidClientTokenId");
}

#[tokio::test]
async fn refuses_a_missing_signature() {
    let parts = http::Request::post("/").body(()).unwrap().into_parts().0;
    let e = verify(&creds(), &parts, &Bytes::new()).await.unwrap_err();
    assert_eq!(e.code, "MissingAuthenticationToken");
}

#[tokio::test]
async fn refuses_a_request_outside_the_clock_skew() {
    let when = chrono::Utc::now() - chrono::Duration::minutes(20);
    let (parts, body) = signed(SECRET, KEY, when, "{}");
    let e = verify(&creds(), &parts, &body).await.unwrap_err();
    assert_eq!(e.code, "SignatureDoesNotMatch");
    assert!(e.message.contains("Signature expired"), "{}", e.message);
}

#[test]
fn secrets_are_one_to_forty_bytes() {
    assert!(Credentials::single("000000000000", KEY, "").is_err());
    assert!(Credentials::single("000000000000", KEY, &"a".repeat(41)).is_err());
    assert!(Credentials::single("000000000000", "", SECRET).is_err());
    assert!(is_weak_secret("test") && !is_weak_secret(SECRET));
}

#[tokio::test]
async fn short_secrets_sign_like_any_other() {
    for secret in ["t", "test", "0123456789012345678901234567890123456789"] {
        let creds = Credentials::single("000000000000", KEY, secret).unwrap();
        let (parts, body) = signed(secret, KEY, chrono::Utc::now(), "{}");
        verify(&creds, &parts, &body).await.unwrap();
        let (parts, body) = signed("tesu", KEY, chrono::Utc::now(), "{}");
        let e = verify(&creds, &parts, &body).await.unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
    }
}

#[test]
fn region_names_have_the_aws_shape() {
    for ok in [
        "us-east-1",
        "eu-west-9",
        "us-gov-west-1",
        "cn-north-1",
        "ap-southeast-2",
    ] {
        assert!(is_region_name(ok), "{ok}");
    }
    for bad in [
        "",
        "..",
        "US-EAST-1",
        "us",
        "us-",
        "-us-east-1",
        "us--east-1",
        "us-east-1/x",
    ] {
        assert!(!is_region_name(bad), "{bad}");
    }
}

#[tokio::test]
async fn refuses_a_credential_scope_that_is_not_a_region() {
    for region in ["US-EAST-1", "..", ""] {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={KEY}/20260101/{region}/ecs/aws4_request, \
             SignedHeaders=host, Signature=00"
        );
        let (parts, _) = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("host", "localhost")
            .header("authorization", auth)
            .body(())
            .unwrap()
            .into_parts();
        let err = verify(&creds(), &parts, &Bytes::new()).await.unwrap_err();
        assert_eq!(err.code, "SignatureDoesNotMatch", "{region}: {err:?}");
    }
}
