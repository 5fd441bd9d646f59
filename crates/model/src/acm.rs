//! ACM's imported certificates as stored, and ACM's rules that need no parsing: the
//! certificate ARN, key algorithms and statuses by their wire names, tag rules, what a
//! re-import may change, and the bounds of the PEM blobs.
//!
//! Parsing X.509 and keys happens in the control plane (`flotilla_control::acm::parse`),
//! which fills a [`CertificateFacts`]; this module only holds and judges the facts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::tag::Tag;
use crate::Scope;

/// `Certificate` may be at most this many bytes (botocore's `CertificateBodyBlob`).
pub const MAX_CERTIFICATE_BYTES: usize = 32_768;
/// `PrivateKey` (`PrivateKeyBlob`).
pub const MAX_PRIVATE_KEY_BYTES: usize = 5_120;
/// `CertificateChain` (`CertificateChainBlob`).
pub const MAX_CHAIN_BYTES: usize = 2_097_152;
/// At most this many tags per certificate (TooManyTagsException beyond).
pub const MAX_TAGS: usize = 50;
/// At most this many certificates per region (ACM's default quota of imported
/// certificates; LimitExceededException beyond).
pub const MAX_CERTIFICATES: usize = 2_500;

/// ACM's `KeyAlgorithm`, by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "RSA_1024")]
    Rsa1024,
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    #[serde(rename = "RSA_3072")]
    Rsa3072,
    #[serde(rename = "RSA_4096")]
    Rsa4096,
    #[serde(rename = "EC_prime256v1")]
    EcPrime256v1,
    #[serde(rename = "EC_secp384r1")]
    EcSecp384r1,
    #[serde(rename = "EC_secp521r1")]
    EcSecp521r1,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 7] = [
        Self::Rsa1024,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::EcPrime256v1,
        Self::EcSecp384r1,
        Self::EcSecp521r1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa1024 => "RSA_1024",
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EcPrime256v1 => "EC_prime256v1",
            Self::EcSecp384r1 => "EC_secp384r1",
            Self::EcSecp521r1 => "EC_secp521r1",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The RSA modulus size in bits this algorithm names, if it is one of ACM's.
    pub fn rsa(bits: usize) -> Option<Self> {
        match bits {
            1024 => Some(Self::Rsa1024),
            2048 => Some(Self::Rsa2048),
            3072 => Some(Self::Rsa3072),
            4096 => Some(Self::Rsa4096),
            _ => None,
        }
    }

    /// Whether Flotilla's load balancer (rustls with ring) can serve a key of this kind:
    /// ring signs with RSA keys of 2048 bits and more, and with P-256 and P-384 only.
    pub fn servable(self) -> bool {
        !matches!(self, Self::Rsa1024 | Self::EcSecp521r1)
    }
}

/// ACM's `CertificateStatus`. An imported certificate is ISSUED until its NotAfter passes,
/// then EXPIRED; the other statuses belong to certificates ACM issues, which Flotilla does
/// not, but they are valid filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    PendingValidation,
    Issued,
    Inactive,
    Expired,
    ValidationTimedOut,
    Revoked,
    Failed,
}

impl CertificateStatus {
    const ALL: [CertificateStatus; 7] = [
        Self::PendingValidation,
        Self::Issued,
        Self::Inactive,
        Self::Expired,
        Self::ValidationTimedOut,
        Self::Revoked,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingValidation => "PENDING_VALIDATION",
            Self::Issued => "ISSUED",
            Self::Inactive => "INACTIVE",
            Self::Expired => "EXPIRED",
            Self::ValidationTimedOut => "VALIDATION_TIMED_OUT",
            Self::Revoked => "REVOKED",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What a certificate says about itself, as parsed from its PEM at import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateFacts {
    /// The subject's common name, else the first DNS subject alternative name.
    pub domain_name: String,
    /// The domain name first, then the DNS and IP subject alternative names, each once.
    pub subject_alternative_names: Vec<String>,
    /// Colon-separated lower-case hex bytes, as ACM shows it (`0a:1b:...`).
    pub serial: String,
    /// The subject's distinguished name (RFC 4514, `CN=example.com,O=Example`).
    pub subject: String,
    /// The issuer's organisation, else its common name, else its distinguished name.
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub key_algorithm: KeyAlgorithm,
    /// ACM's spelling, e.g. `SHA256WITHRSA`; an unknown algorithm by its OID.
    pub signature_algorithm: String,
    /// Key Usage names as ACM spells them (`DIGITAL_SIGNATURE`, ...).
    #[serde(default)]
    pub key_usages: Vec<String>,
    /// Extended Key Usage OIDs (`1.3.6.1.5.5.7.3.1`, ...); see [`extended_key_usage_name`].
    #[serde(default)]
    pub extended_key_usages: Vec<String>,
}

/// One imported certificate, by region and id (the ARN's last part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRecord {
    pub certificate_arn: String,
    #[serde(flatten)]
    pub facts: CertificateFacts,
    /// The leaf certificate, re-encoded as PEM (64-column base64, `\n` line ends).
    pub certificate_pem: String,
    /// The intermediate certificates, re-encoded as PEM, in the order given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_pem: Option<String>,
    /// The private key's one PEM block, re-encoded under its own label.
    pub private_key_pem: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// When it was first imported (kept across re-imports).
    pub created_at: DateTime<Utc>,
    /// When its current material was imported.
    pub imported_at: DateTime<Utc>,
}

impl Record for CertificateRecord {
    const KIND: &'static str = "acm-certificate";
    const VERSION: u32 = 1;
}

impl CertificateRecord {
    /// ISSUED until NotAfter, EXPIRED after.
    pub fn status(&self, now: DateTime<Utc>) -> CertificateStatus {
        if now > self.facts.not_after {
            CertificateStatus::Expired
        } else {
            CertificateStatus::Issued
        }
    }

    /// The names a TLS server answers for with this certificate (SNI): the domain name and
    /// every subject alternative name, lower-cased, each once.
    pub fn server_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let all =
            std::iter::once(&self.facts.domain_name).chain(&self.facts.subject_alternative_names);
        for name in all.map(|n| n.to_ascii_lowercase()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The leaf followed by its chain, as a TLS server sends them.
    pub fn full_chain_pem(&self) -> String {
        match &self.chain_pem {
            Some(chain) => format!("{}{chain}", self.certificate_pem),
            None => self.certificate_pem.clone(),
        }
    }
}

/// A certificate's ARN: `arn:PARTITION:acm:REGION:ACCOUNT:certificate/ID`.
pub fn certificate_arn(scope: &Scope, id: &str) -> String {
    format!(
        "arn:{}:acm:{}:{}:certificate/{id}",
        scope.partition, scope.region, scope.account
    )
}

/// The id a certificate ARN of `scope` names, or why it names none (InvalidArnException:
/// malformed, or of another region or account).
pub fn certificate_id<'a>(scope: &Scope, arn: &'a str) -> Result<&'a str, String> {
    let malformed = || {
        format!(
            "The certificate ARN '{arn}' is not valid: it must look like \
             arn:aws:acm:REGION:ACCOUNT:certificate/ID."
        )
    };
    if arn.len() < 20 || arn.len() > 2048 {
        return Err(malformed());
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(malformed());
    };
    let id = resource
        .strip_prefix("certificate/")
        .ok_or_else(malformed)?;
    let id_ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+=,.@".contains(c));
    if prefix != "arn" || service != "acm" || partition.is_empty() || !id_ok {
        return Err(malformed());
    }
    if region != scope.region || account != scope.account || partition != scope.partition {
        return Err(format!(
            "The certificate ARN '{arn}' is not in this request's region and account \
             ({}, {}).",
            scope.region, scope.account
        ));
    }
    Ok(id)
}

/// Check one tag as ACM does (InvalidTagException): a key of 1-128 and a value of at most
/// 256 letters, digits, spaces and `_.:/=+-@`, and no key starting with `aws:`.
pub fn validate_tag(tag: &Tag) -> Result<(), String> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    let key = tag.key.as_deref().unwrap_or("");
    if key.is_empty() || key.chars().count() > 128 {
        return Err(format!("Tag key '{key}' must be 1 to 128 characters long."));
    }
    if !key.chars().all(allowed) {
        return Err(format!(
            "Tag key '{key}' may hold only letters, digits, spaces and _.:/=+-@."
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!("Tag key '{key}' uses the reserved prefix 'aws:'."));
    }
    let value = tag.value.as_deref().unwrap_or("");
    if value.chars().count() > 256 {
        return Err(format!(
            "The value of tag '{key}' must be at most 256 characters long."
        ));
    }
    if !value.chars().all(allowed) {
        return Err(format!(
            "The value of tag '{key}' may hold only letters, digits, spaces and _.:/=+-@."
        ));
    }
    Ok(())
}

/// Why a re-import may not replace `old` with `new`, if it may not: the key algorithm
/// stays, and Key Usages and Extended Key Usages present before stay (except
/// `KEY_ENCIPHERMENT` of an ECDSA key and TLS client authentication, which may go).
pub fn check_reimport(old: &CertificateFacts, new: &CertificateFacts) -> Result<(), String> {
    if old.key_algorithm != new.key_algorithm {
        return Err(format!(
            "A re-imported certificate must keep its key algorithm: it was {}, the new one \
             is {}.",
            old.key_algorithm.as_str(),
            new.key_algorithm.as_str()
        ));
    }
    let ec = old.key_algorithm.as_str().starts_with("EC_");
    let may_go = |u: &str| ec && u == "KEY_ENCIPHERMENT";
    let dropped_usage = old
        .key_usages
        .iter()
        .find(|u| !new.key_usages.contains(u) && !may_go(u));
    if let Some(u) = dropped_usage {
        return Err(format!(
            "A re-imported certificate must keep the Key Usages of the one it replaces; \
             {u} is missing."
        ));
    }
    let dropped_eku = old
        .extended_key_usages
        .iter()
        .find(|u| !new.extended_key_usages.contains(u) && u.as_str() != CLIENT_AUTH_OID);
    if let Some(u) = dropped_eku {
        return Err(format!(
            "A re-imported certificate must keep the Extended Key Usages of the one it \
             replaces; {} ({u}) is missing.",
            extended_key_usage_name(u)
        ));
    }
    Ok(())
}

const CLIENT_AUTH_OID: &str = "1.3.6.1.5.5.7.3.2";

/// ACM's name of an Extended Key Usage OID (`CUSTOM` for one it has no name for).
pub fn extended_key_usage_name(oid: &str) -> &'static str {
    match oid {
        "1.3.6.1.5.5.7.3.1" => "TLS_WEB_SERVER_AUTHENTICATION",
        CLIENT_AUTH_OID => "TLS_WEB_CLIENT_AUTHENTICATION",
        "1.3.6.1.5.5.7.3.3" => "CODE_SIGNING",
        "1.3.6.1.5.5.7.3.4" => "EMAIL_PROTECTION",
        "1.3.6.1.5.5.7.3.8" => "TIME_STAMPING",
        "1.3.6.1.5.5.7.3.9" => "OCSP_SIGNING",
        "1.3.6.1.5.5.7.3.5" => "IPSEC_END_SYSTEM",
        "1.3.6.1.5.5.7.3.6" => "IPSEC_TUNNEL",
        "1.3.6.1.5.5.7.3.7" => "IPSEC_USER",
        "2.5.29.37.0" => "ANY",
        _ => "CUSTOM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{decode, encode};

    fn facts() -> CertificateFacts {
        CertificateFacts {
            domain_name: "Example.com".into(),
            subject_alternative_names: vec!["Example.com".into(), "www.example.com".into()],
            serial: "01:02".into(),
            subject: "CN=Example.com".into(),
            issuer: "Example CA".into(),
            not_before: DateTime::from_timestamp(1_000, 0).unwrap(),
            not_after: DateTime::from_timestamp(2_000, 0).unwrap(),
            key_algorithm: KeyAlgorithm::EcPrime256v1,
            signature_algorithm: "SHA256WITHECDSA".into(),
            key_usages: vec!["DIGITAL_SIGNATURE".into(), "KEY_ENCIPHERMENT".into()],
            extended_key_usages: vec!["1.3.6.1.5.5.7.3.1".into(), CLIENT_AUTH_OID.into()],
        }
    }

    fn record() -> CertificateRecord {
        CertificateRecord {
            certificate_arn: "arn:aws:acm:us-east-1:000000000000:certificate/abc".into(),
            facts: facts(),
            certificate_pem: "LEAF\n".into(),
            chain_pem: Some("CHAIN\n".into()),
            private_key_pem: "KEY\n".into(),
            tags: vec![],
            created_at: DateTime::from_timestamp(1_500, 0).unwrap(),
            imported_at: DateTime::from_timestamp(1_500, 0).unwrap(),
        }
    }

    #[test]
    fn record_round_trips_and_knows_its_status_and_names() {
        let r = record();
        assert_eq!(decode::<CertificateRecord>(&encode(&r)), Ok(r.clone()));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["keyAlgorithm"], "EC_prime256v1");
        assert_eq!(
            r.status(DateTime::from_timestamp(2_000, 0).unwrap()),
            CertificateStatus::Issued
        );
        assert_eq!(
            r.status(DateTime::from_timestamp(2_001, 0).unwrap()),
            CertificateStatus::Expired
        );
        assert_eq!(r.server_names(), vec!["example.com", "www.example.com"]);
        assert_eq!(r.full_chain_pem(), "LEAF\nCHAIN\n");
    }

    #[test]
    fn arns_name_an_id_of_this_scope_only() {
        let scope = Scope::new("us-east-1", "000000000000");
        let arn = certificate_arn(&scope, "1234-abcd");
        assert_eq!(certificate_id(&scope, &arn), Ok("1234-abcd"));
        for bad in [
            "nope",
            "arn:aws:acm:us-east-1:000000000000:cert/1234",
            "arn:aws:ecr:us-east-1:000000000000:certificate/1234",
            "arn:aws:acm:us-east-1:000000000000:certificate/",
            "arn:aws:acm:us-east-1:000000000000:certificate/a b",
        ] {
            assert!(
                certificate_id(&scope, bad)
                    .unwrap_err()
                    .contains("not valid"),
                "{bad}"
            );
        }
        let other = certificate_arn(&Scope::new("eu-west-1", "000000000000"), "1234");
        assert!(certificate_id(&scope, &other)
            .unwrap_err()
            .contains("region"));
    }

    #[test]
    fn tags_follow_acm_rules() {
        let tag = |k: &str, v: Option<&str>| Tag {
            key: Some(k.into()),
            value: v.map(Into::into),
        };
        assert!(validate_tag(&tag("team", Some("web 1/2"))).is_ok());
        assert!(validate_tag(&tag("team", None)).is_ok());
        assert!(validate_tag(&tag("", None)).is_err());
        assert!(validate_tag(&tag("aws:x", None)).is_err());
        assert!(validate_tag(&tag("a*b", None)).is_err());
        assert!(validate_tag(&tag("k", Some("v!"))).is_err());
        assert!(validate_tag(&tag(&"k".repeat(129), None)).is_err());
    }

    #[test]
    fn reimport_keeps_algorithm_and_usages() {
        let old = facts();
        let mut new = facts();
        new.subject_alternative_names = vec!["other.example.com".into()];
        assert!(check_reimport(&old, &new).is_ok(), "names may change");
        new.key_usages = vec!["DIGITAL_SIGNATURE".into()];
        new.extended_key_usages = vec!["1.3.6.1.5.5.7.3.1".into()];
        assert!(check_reimport(&old, &new).is_ok(), "the allowed exceptions");
        new.extended_key_usages = vec![];
        assert!(check_reimport(&old, &new)
            .unwrap_err()
            .contains("TLS_WEB_SERVER"));
        let mut rsa = facts();
        rsa.key_algorithm = KeyAlgorithm::Rsa2048;
        assert!(check_reimport(&old, &rsa)
            .unwrap_err()
            .contains("key algorithm"));
    }

    #[test]
    fn wire_names_round_trip() {
        for a in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(
            CertificateStatus::parse("ISSUED"),
            Some(CertificateStatus::Issued)
        );
        assert_eq!(CertificateStatus::parse("issued"), None);
    }
}
