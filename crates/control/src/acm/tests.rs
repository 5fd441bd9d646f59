//! Parsing and checking imports (certificates made with rcgen, and openssl-made fixtures
//! in `testdata/` for what ring cannot make), and the operations over the memory store.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::acm::{CertificateStatus, KeyAlgorithm};
use flotilla_model::tag::Tag;
use flotilla_model::Scope;
use flotilla_store::MemoryStore;
use rcgen::{
    date_time_ymd, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};

use super::parse::parse;
use super::{AcmError, Import, ListFilter};
use crate::{ControlConfig, State};

const RSA2048_PKCS8: &str = include_str!("testdata/rsa2048.pkcs8.pem");
const RSA2048_PKCS1: &str = include_str!("testdata/rsa2048.pkcs1.pem");

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A self-signed certificate for `names` (the first is the CN) and its key.
fn self_signed(names: &[&str], key: &KeyPair) -> String {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Flotilla Tests");
    params.self_signed(key).unwrap().pem()
}

fn p256() -> KeyPair {
    KeyPair::generate().unwrap()
}

#[test]
fn reads_the_facts_of_an_ecdsa_certificate() {
    let key = p256();
    let mut params =
        CertificateParams::new(vec!["Web.Example.com".into(), "*.example.com".into()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Web.Example.com");
    params.serial_number = Some(SerialNumber::from(vec![0x0a, 0xff, 0x01]));
    params.not_before = date_time_ymd(2020, 1, 2);
    params.not_after = date_time_ymd(2090, 3, 4);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).unwrap().pem();
    let got = parse(cert.as_bytes(), key.serialize_pem().as_bytes(), None, now()).unwrap();
    let f = &got.facts;
    assert_eq!(f.domain_name, "Web.Example.com");
    assert_eq!(
        f.subject_alternative_names,
        vec!["Web.Example.com", "*.example.com"]
    );
    assert_eq!(f.serial, "0a:ff:01");
    assert_eq!(f.subject, "CN=Web.Example.com");
    assert_eq!(f.issuer, "Web.Example.com", "no O: the issuer's CN");
    assert_eq!(f.key_algorithm, KeyAlgorithm::EcPrime256v1);
    assert_eq!(f.signature_algorithm, "SHA256WITHECDSA");
    assert_eq!(
        f.not_before,
        "2020-01-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(
        f.not_after,
        "2090-03-04T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(f.key_usages, vec!["DIGITAL_SIGNATURE"]);
    assert_eq!(f.extended_key_usages, vec!["1.3.6.1.5.5.7.3.1"]);
    assert!(got
        .certificate_pem
        .starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(got
        .private_key_pem
        .starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(got.certificate_pem.lines().all(|l| l.len() <= 64));
}

#[test]
fn takes_rsa_keys_in_pkcs8_and_pkcs1_and_ec_keys_in_sec1() {
    let key = KeyPair::from_pem(RSA2048_PKCS8).unwrap();
    let cert = self_signed(&["rsa.example.com"], &key);
    for (pem, label) in [
        (RSA2048_PKCS8, "PRIVATE KEY"),
        (RSA2048_PKCS1, "RSA PRIVATE KEY"),
    ] {
        let got = parse(cert.as_bytes(), pem.as_bytes(), None, now()).unwrap();
        assert_eq!(got.facts.key_algorithm, KeyAlgorithm::Rsa2048);
        assert_eq!(got.facts.signature_algorithm, "SHA256WITHRSA");
        assert_eq!(got.facts.issuer, "Flotilla Tests", "the issuer's O");
        assert!(got
            .private_key_pem
            .starts_with(&format!("-----BEGIN {label}-----\n")));
    }
    // openssl's SEC1 output starts with an EC PARAMETERS block, which is skipped.
    let got = parse(
        include_bytes!("testdata/p256.cert.pem"),
        include_bytes!("testdata/p256.sec1.pem"),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(got.facts.key_algorithm, KeyAlgorithm::EcPrime256v1);
    assert_eq!(
        got.facts.subject_alternative_names,
        vec!["sec1.example.com", "*.sec1.example.com", "10.0.0.1"]
    );
    assert_eq!(got.facts.subject, "O=Sec One,CN=sec1.example.com");
    assert!(got
        .private_key_pem
        .starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
    assert!(!got.private_key_pem.contains("EC PARAMETERS"));
}

#[test]
fn refuses_what_it_cannot_use_with_a_message_that_says_why() {
    let key = p256();
    let cert = self_signed(&["a.example.com"], &key);
    let key_pem = key.serialize_pem();
    let other = p256().serialize_pem();
    let der = rcgen::CertificateParams::new(vec!["a.example.com".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec();
    let two = format!("{cert}{cert}");
    let huge = vec![b'a'; 40_000];
    let cases: Vec<(&[u8], &[u8], &str)> =
        vec![
        (b"garbage", key_pem.as_bytes(), "not PEM-encoded"),
        (&der, key_pem.as_bytes(), "not PEM-encoded"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            key_pem.as_bytes(),
            "not a valid X.509 certificate",
        ),
        (two.as_bytes(), key_pem.as_bytes(), "holds 2 certificates"),
        (key_pem.as_bytes(), key_pem.as_bytes(), "only CERTIFICATE blocks"),
        (&huge, key_pem.as_bytes(), "at most 32768 bytes"),
        (b"", key_pem.as_bytes(), "must not be empty"),
        (cert.as_bytes(), other.as_bytes(), "does not match"),
        (cert.as_bytes(), b"nope", "private key is not PEM-encoded"),
        (cert.as_bytes(), cert.as_bytes(), "holds a Certificate block"),
        (
            cert.as_bytes(),
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "encrypted",
        ),
        (cert.as_bytes(), RSA2048_PKCS8.as_bytes(), "does not match"),
        (
            include_bytes!("testdata/rsa1024.cert.pem"),
            include_bytes!("testdata/rsa1024.key.pem"),
            "RSA_1024 cannot be served",
        ),
        (
            include_bytes!("testdata/p521.cert.pem"),
            include_bytes!("testdata/p521.key.pem"),
            "EC_secp521r1 cannot be served",
        ),
    ];
    for (cert, key, want) in cases {
        let err = parse(cert, key, None, now()).unwrap_err();
        assert!(err.contains(want), "wanted '{want}', got '{err}'");
    }
}

#[test]
fn refuses_a_certificate_outside_its_validity() {
    let key = p256();
    let mut params = CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
    params.not_before = date_time_ymd(2001, 1, 1);
    params.not_after = date_time_ymd(2002, 1, 1);
    let cert = params.self_signed(&key).unwrap().pem();
    let err = parse(cert.as_bytes(), key.serialize_pem().as_bytes(), None, now()).unwrap_err();
    assert!(err.contains("expired"), "{err}");
    let then = "2000-06-01T00:00:00Z".parse().unwrap();
    let err = parse(cert.as_bytes(), key.serialize_pem().as_bytes(), None, then).unwrap_err();
    assert!(err.contains("not valid yet"), "{err}");
}

/// A CA and a leaf it signed: (leaf PEM, leaf key, CA PEM).
fn signed_leaf() -> (String, KeyPair, String) {
    let ca_key = p256();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = p256();
    let mut leaf = CertificateParams::new(vec!["app.example.com".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "app.example.com");
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    (leaf_cert.pem(), leaf_key, ca_cert.pem())
}

#[test]
fn a_chain_must_hold_the_issuer() {
    let (leaf, key, ca) = signed_leaf();
    let key = key.serialize_pem();
    let got = parse(leaf.as_bytes(), key.as_bytes(), Some(ca.as_bytes()), now()).unwrap();
    assert_eq!(got.facts.issuer, "Test CA");
    assert_eq!(
        got.chain_pem.as_deref(),
        Some(ca.replace("\r\n", "\n").as_str())
    );
    let stranger = self_signed(&["other.example.com"], &p256());
    let err = parse(
        leaf.as_bytes(),
        key.as_bytes(),
        Some(stranger.as_bytes()),
        now(),
    )
    .unwrap_err();
    assert!(
        err.contains("does not hold the certificate's issuer"),
        "{err}"
    );
    let err = parse(leaf.as_bytes(), key.as_bytes(), Some(b"junk"), now()).unwrap_err();
    assert!(
        err.contains("certificate chain is not PEM-encoded"),
        "{err}"
    );
}

// === the operations ===

async fn state() -> State {
    State::new(
        Arc::new(MemoryStore::new()),
        ControlConfig::new("000000000000"),
    )
    .await
    .unwrap()
}

fn scope() -> Scope {
    Scope::new("us-east-1", "000000000000")
}

fn tag(k: &str, v: &str) -> Tag {
    Tag {
        key: Some(k.into()),
        value: Some(v.into()),
    }
}

fn ec_import(names: &[&str]) -> Import {
    let key = p256();
    Import {
        certificate: self_signed(names, &key).into_bytes(),
        private_key: key.serialize_pem().into_bytes(),
        ..Import::default()
    }
}

#[tokio::test]
async fn import_list_reimport_and_delete() {
    let state = state().await;
    let scope = scope();
    let mut first = ec_import(&["a.example.com", "www.a.example.com"]);
    first.tags = vec![tag("team", "web")];
    let a = super::import(&state, &scope, first).await.unwrap();
    assert!(a
        .certificate_arn
        .starts_with("arn:aws:acm:us-east-1:000000000000:certificate/"));
    assert!(super::exists(&state, &scope, &a.certificate_arn));
    let rsa_key = KeyPair::from_pem(RSA2048_PKCS8).unwrap();
    let rsa = Import {
        certificate: self_signed(&["b.example.com"], &rsa_key).into_bytes(),
        private_key: RSA2048_PKCS1.as_bytes().to_vec(),
        ..Import::default()
    };
    let b = super::import(&state, &scope, rsa).await.unwrap();

    // ACM lists RSA_1024 and RSA_2048 only unless asked for other key types.
    let arns = |filter: &ListFilter| -> Vec<String> {
        super::list(&state, &scope, filter)
            .iter()
            .map(|r| r.certificate_arn.clone())
            .collect()
    };
    assert_eq!(
        arns(&ListFilter::default()),
        vec![b.certificate_arn.clone()]
    );
    let all = ListFilter {
        key_types: KeyAlgorithm::ALL.to_vec(),
        ..ListFilter::default()
    };
    assert_eq!(arns(&all).len(), 2);
    let expired = ListFilter {
        statuses: vec![CertificateStatus::Expired],
        ..all.clone()
    };
    assert!(arns(&expired).is_empty());
    let elsewhere = Scope::new("eu-west-1", "000000000000");
    assert!(super::list(&state, &elsewhere, &all).is_empty());
    assert_eq!(super::plane_certificates(&state).len(), 2);

    // Re-import: same ARN, tags and creation time; new material; same key type only.
    let mut again = ec_import(&["c.example.com"]);
    again.certificate_arn = Some(a.certificate_arn.clone());
    let c = super::import(&state, &scope, again.clone()).await.unwrap();
    assert_eq!(c.certificate_arn, a.certificate_arn);
    assert_eq!(c.facts.domain_name, "c.example.com");
    assert_eq!(c.tags, vec![tag("team", "web")]);
    assert_eq!(c.created_at, a.created_at);
    let plane = super::plane_certificates(&state);
    let served = &plane[&a.certificate_arn];
    assert_eq!(served.names, vec!["c.example.com"]);
    assert_eq!(served.private_key_pem, c.private_key_pem);
    again.tags = vec![tag("x", "y")];
    let err = super::import(&state, &scope, again).await.unwrap_err();
    assert!(matches!(err, AcmError::InvalidParameter(_)), "{err}");
    let mut to_rsa = Import {
        certificate: self_signed(&["d.example.com"], &rsa_key).into_bytes(),
        private_key: RSA2048_PKCS8.as_bytes().to_vec(),
        ..Import::default()
    };
    to_rsa.certificate_arn = Some(a.certificate_arn.clone());
    let err = super::import(&state, &scope, to_rsa.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AcmError::Invalid(m) if m.contains("key algorithm")),
        "{err}"
    );
    let unknown = format!("{}0", a.certificate_arn);
    to_rsa.certificate_arn = Some(unknown.clone());
    let err = super::import(&state, &scope, to_rsa).await.unwrap_err();
    assert!(matches!(err, AcmError::NotFound(_)), "{err}");

    // Delete: refused while in use, then gone.
    let err = super::delete(&state, &scope, &a.certificate_arn, |_| true)
        .await
        .unwrap_err();
    assert!(matches!(err, AcmError::InUse(_)), "{err}");
    super::delete(&state, &scope, &a.certificate_arn, |_| false)
        .await
        .unwrap();
    assert!(!super::exists(&state, &scope, &a.certificate_arn));
    let err = super::delete(&state, &scope, &a.certificate_arn, |_| false)
        .await
        .unwrap_err();
    assert!(matches!(err, AcmError::NotFound(_)), "{err}");
    let err = super::get(&state, &scope, "arn:aws:acm:us-east-1:000000000000:nope").unwrap_err();
    assert!(matches!(err, AcmError::InvalidArn(_)), "{err}");
    let err = super::get(&state, &elsewhere, &b.certificate_arn).unwrap_err();
    assert!(matches!(err, AcmError::InvalidArn(_)), "{err}");
}

#[tokio::test]
async fn tags_are_added_replaced_removed_and_bounded() {
    let state = state().await;
    let scope = scope();
    let arn = super::import(&state, &scope, ec_import(&["t.example.com"]))
        .await
        .unwrap()
        .certificate_arn;
    let tags = |state: &State| super::get(state, &scope, &arn).unwrap().value.tags.clone();
    super::add_tags(&state, &scope, &arn, vec![tag("a", "1"), tag("b", "2")])
        .await
        .unwrap();
    super::add_tags(&state, &scope, &arn, vec![tag("b", "3")])
        .await
        .unwrap();
    assert_eq!(tags(&state), vec![tag("a", "1"), tag("b", "3")]);
    // By key and value: a value that differs removes nothing; no value removes the key.
    super::remove_tags(&state, &scope, &arn, &[tag("b", "2")])
        .await
        .unwrap();
    assert_eq!(tags(&state).len(), 2);
    let by_key = Tag {
        key: Some("b".into()),
        value: None,
    };
    super::remove_tags(&state, &scope, &arn, &[by_key])
        .await
        .unwrap();
    assert_eq!(tags(&state), vec![tag("a", "1")]);
    let err = super::add_tags(&state, &scope, &arn, vec![tag("aws:x", "1")])
        .await
        .unwrap_err();
    assert!(matches!(err, AcmError::InvalidTag(_)), "{err}");
    let many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    let err = super::add_tags(&state, &scope, &arn, many)
        .await
        .unwrap_err();
    assert!(matches!(err, AcmError::TooManyTags(_)), "{err}");
    assert_eq!(tags(&state), vec![tag("a", "1")]);
}
