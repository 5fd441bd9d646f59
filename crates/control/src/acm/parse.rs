//! Reading what ImportCertificate is given: the PEM blobs split (rustls-pki-types), the
//! leaf certificate and its chain decoded as X.509 (x509-cert), the private key loaded the
//! way the load balancer's data plane loads it (rustls with ring) and checked against the
//! certificate's public key. Pure: bytes and the time in, facts or a message out.
//!
//! Loading the key with the data plane's own loader is the point: a certificate this
//! accepts is one the load balancer can serve, and one it refuses is refused here, at
//! import, with a message, instead of at the first TLS handshake.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use flotilla_model::acm::{
    CertificateFacts, KeyAlgorithm, MAX_CERTIFICATE_BYTES, MAX_CHAIN_BYTES, MAX_PRIVATE_KEY_BYTES,
};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use x509_cert::der::asn1::{
    Ia5StringRef, ObjectIdentifier, PrintableStringRef, UintRef, Utf8StringRef,
};
use x509_cert::der::{Decode, Reader, SliceReader, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, SubjectAltName};
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoRef;
use x509_cert::{Certificate, Version};

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

/// A certificate ready to store: its facts and its material as normalised PEM.
#[derive(Debug, Clone)]
pub struct Imported {
    pub facts: CertificateFacts,
    pub certificate_pem: String,
    pub chain_pem: Option<String>,
    pub private_key_pem: String,
}

/// Read and check an import: sizes, one PEM certificate valid at `now`, a chain of PEM
/// certificates that holds the leaf's issuer, and an unencrypted private key of the
/// certificate's public key that the load balancer can serve.
pub fn parse(
    certificate: &[u8],
    private_key: &[u8],
    chain: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<Imported, String> {
    check_size("Certificate", certificate, MAX_CERTIFICATE_BYTES)?;
    check_size("PrivateKey", private_key, MAX_PRIVATE_KEY_BYTES)?;
    if let Some(chain) = chain {
        check_size("CertificateChain", chain, MAX_CHAIN_BYTES)?;
    }
    let leaf_der = match certificates(certificate, "certificate")?.as_slice() {
        [one] => one.clone(),
        many => {
            return Err(format!(
                "The certificate field holds {} certificates; give only the certificate \
                 here and its issuers in CertificateChain.",
                many.len()
            ))
        }
    };
    let leaf = Certificate::from_der(&leaf_der)
        .map_err(|e| format!("The certificate is not a valid X.509 certificate: {e}."))?;
    let facts = facts(&leaf)?;
    if now < facts.not_before {
        return Err(format!(
            "The certificate is not valid yet: it is valid from {}.",
            facts.not_before.to_rfc3339()
        ));
    }
    if now > facts.not_after {
        return Err(format!(
            "The certificate has expired: it was valid until {}.",
            facts.not_after.to_rfc3339()
        ));
    }
    let chain_pem = match chain {
        Some(chain) => Some(check_chain(&leaf, chain)?),
        None => None,
    };
    let key = private_key_der(private_key)?;
    check_key(&leaf, &key, facts.key_algorithm)?;
    let (label, key_bytes) = match &key {
        PrivateKeyDer::Pkcs8(k) => ("PRIVATE KEY", k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => ("RSA PRIVATE KEY", k.secret_pkcs1_der()),
        PrivateKeyDer::Sec1(k) => ("EC PRIVATE KEY", k.secret_sec1_der()),
        _ => return Err("The private key is of a kind ACM does not import.".into()),
    };
    Ok(Imported {
        facts,
        certificate_pem: pem("CERTIFICATE", &leaf_der),
        chain_pem,
        private_key_pem: pem(label, key_bytes),
    })
}

fn check_size(member: &str, bytes: &[u8], max: usize) -> Result<(), String> {
    if bytes.is_empty() {
        return Err(format!("{member} must not be empty."));
    }
    if bytes.len() > max {
        return Err(format!(
            "{member} is {} bytes long; it may be at most {max} bytes.",
            bytes.len()
        ));
    }
    Ok(())
}

/// The DER of every CERTIFICATE block of a PEM blob (at least one); `what` names the blob
/// in messages.
fn certificates(blob: &[u8], what: &str) -> Result<Vec<Vec<u8>>, String> {
    if !contains(blob, b"-----BEGIN ") {
        return Err(format!(
            "The {what} is not PEM-encoded: expected a -----BEGIN CERTIFICATE----- block \
             (convert a DER file with `openssl x509 -inform der`)."
        ));
    }
    let mut found = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(blob) {
        match section.map_err(|e| format!("The {what} is not valid PEM: {e}."))? {
            (SectionKind::Certificate, der) => found.push(der),
            (kind, _) => {
                return Err(format!(
                    "The {what} holds a {kind:?} block; only CERTIFICATE blocks belong here."
                ))
            }
        }
    }
    if found.is_empty() {
        return Err(format!(
            "The {what} holds no -----BEGIN CERTIFICATE----- block."
        ));
    }
    Ok(found)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Check a chain and return it as normalised PEM: every block a certificate, and when the
/// leaf is not self-issued, its issuer's name among the chain's subjects. Signatures are
/// not verified.
fn check_chain(leaf: &Certificate, chain: &[u8]) -> Result<String, String> {
    let ders = certificates(chain, "certificate chain")?;
    let mut subjects = Vec::new();
    for (i, der) in ders.iter().enumerate() {
        let cert = Certificate::from_der(der).map_err(|e| {
            format!(
                "Certificate {} of the chain is not a valid X.509 certificate: {e}.",
                i + 1
            )
        })?;
        subjects.push(cert.tbs_certificate.subject);
    }
    let tbs = &leaf.tbs_certificate;
    if tbs.issuer != tbs.subject && !subjects.contains(&tbs.issuer) {
        return Err(format!(
            "The certificate chain does not hold the certificate's issuer ({}).",
            tbs.issuer
        ));
    }
    Ok(ders.iter().map(|d| pem("CERTIFICATE", d)).collect())
}

/// The one private key of a PEM blob, unencrypted.
fn private_key_der(blob: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    if contains(blob, b"ENCRYPTED PRIVATE KEY") || contains(blob, b"Proc-Type: 4,ENCRYPTED") {
        return Err("The private key is encrypted; import it unencrypted \
                    (`openssl pkey -in key.pem -out plain.pem`)."
            .into());
    }
    if !contains(blob, b"-----BEGIN ") {
        return Err(
            "The private key is not PEM-encoded: expected a -----BEGIN PRIVATE KEY----- \
                    (PKCS#8), RSA PRIVATE KEY (PKCS#1) or EC PRIVATE KEY (SEC1) block."
                .into(),
        );
    }
    let mut keys = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(blob) {
        let (kind, der) = section.map_err(|e| format!("The private key is not valid PEM: {e}."))?;
        keys.push(match kind {
            SectionKind::PrivateKey => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
            SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
            SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
            other => {
                return Err(format!(
                    "The private key holds a {other:?} block; give only the private key."
                ))
            }
        });
    }
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => Err(
            "The private key holds no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY \
                  block."
                .into(),
        ),
        n => Err(format!(
            "The private key field holds {n} keys; give exactly one."
        )),
    }
}

/// Load the key as the data plane will and check that it is the certificate's.
fn check_key(
    leaf: &Certificate,
    key: &PrivateKeyDer<'_>,
    algorithm: KeyAlgorithm,
) -> Result<(), String> {
    if !algorithm.servable() {
        return Err(format!(
            "Keys of type {} cannot be served by Flotilla's load balancer; use RSA_2048, \
             RSA_3072, RSA_4096, EC_prime256v1 or EC_secp384r1.",
            algorithm.as_str()
        ));
    }
    let signing = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|e| format!("The private key cannot be read: {e}."))?;
    let spki_der = signing
        .public_key()
        .ok_or("The private key's public key cannot be derived.")?;
    let from_key = SubjectPublicKeyInfoRef::from_der(spki_der.as_ref())
        .map_err(|e| format!("The private key's public key cannot be read: {e}."))?;
    let from_cert = &leaf.tbs_certificate.subject_public_key_info;
    if from_key.algorithm.oid != from_cert.algorithm.oid
        || from_key.subject_public_key.raw_bytes() != from_cert.subject_public_key.raw_bytes()
    {
        return Err("The private key does not match the certificate's public key.".into());
    }
    Ok(())
}

/// What the leaf says about itself.
fn facts(cert: &Certificate) -> Result<CertificateFacts, String> {
    let tbs = &cert.tbs_certificate;
    if tbs.version != Version::V3 {
        return Err(format!(
            "The certificate is X.509 {:?}; ACM imports version 3 certificates only.",
            tbs.version
        ));
    }
    let ext = |e: x509_cert::der::Error, name: &str| {
        format!("The certificate's {name} extension is malformed: {e}.")
    };
    let mut alt_names = Vec::new();
    if let Some((_, san)) = tbs
        .get::<SubjectAltName>()
        .map_err(|e| ext(e, "subject alternative name"))?
    {
        for name in san.0 {
            match name {
                GeneralName::DnsName(dns) => alt_names.push(dns.to_string()),
                GeneralName::IpAddress(ip) => {
                    if let Some(ip) = ip_text(ip.as_bytes()) {
                        alt_names.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    let common_name = attribute(&tbs.subject, COMMON_NAME);
    let domain_name = common_name
        .clone()
        .or_else(|| alt_names.first().cloned())
        .ok_or(
            "The certificate names no domain: it has neither a subject common name (CN) \
                nor a subject alternative name.",
        )?;
    let mut sans = vec![domain_name.clone()];
    for name in alt_names {
        if !sans.contains(&name) {
            sans.push(name);
        }
    }
    let key_usages = match tbs.get::<KeyUsage>().map_err(|e| ext(e, "key usage"))? {
        Some((_, ku)) => key_usage_names(&ku),
        None => vec![],
    };
    let extended_key_usages = match tbs
        .get::<ExtendedKeyUsage>()
        .map_err(|e| ext(e, "extended key usage"))?
    {
        Some((_, eku)) => eku.0.iter().map(|o| o.to_string()).collect(),
        None => vec![],
    };
    let time = |t: x509_cert::time::Time| {
        let d = t.to_unix_duration();
        DateTime::from_timestamp(d.as_secs() as i64, 0).unwrap_or_default()
    };
    let issuer = attribute(&tbs.issuer, ORGANIZATION)
        .or_else(|| attribute(&tbs.issuer, COMMON_NAME))
        .unwrap_or_else(|| tbs.issuer.to_string());
    Ok(CertificateFacts {
        domain_name,
        subject_alternative_names: sans,
        serial: serial_text(tbs.serial_number.as_bytes()),
        subject: tbs.subject.to_string(),
        issuer,
        not_before: time(tbs.validity.not_before),
        not_after: time(tbs.validity.not_after),
        key_algorithm: key_algorithm(cert)?,
        signature_algorithm: signature_name(&cert.signature_algorithm.oid),
        key_usages,
        extended_key_usages,
    })
}

/// The first value of an attribute of a name, as text.
fn attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid)
        .find_map(|atv| match atv.value.tag() {
            Tag::Utf8String => Utf8StringRef::try_from(&atv.value)
                .ok()
                .map(|s| s.to_string()),
            Tag::PrintableString => PrintableStringRef::try_from(&atv.value)
                .ok()
                .map(|s| s.to_string()),
            Tag::Ia5String => Ia5StringRef::try_from(&atv.value)
                .ok()
                .map(|s| s.to_string()),
            _ => None,
        })
}

fn key_algorithm(cert: &Certificate) -> Result<KeyAlgorithm, String> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid == RSA {
        let bits = rsa_modulus_bits(spki.subject_public_key.raw_bytes())
            .ok_or("The certificate's RSA public key is malformed.")?;
        return KeyAlgorithm::rsa(bits).ok_or_else(|| {
            format!(
                "The certificate's RSA key has {bits} bits; ACM imports RSA keys of 1024, \
                 2048, 3072 or 4096 bits."
            )
        });
    }
    if spki.algorithm.oid == EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(c) if c == P256 => Ok(KeyAlgorithm::EcPrime256v1),
            Some(c) if c == P384 => Ok(KeyAlgorithm::EcSecp384r1),
            Some(c) if c == P521 => Ok(KeyAlgorithm::EcSecp521r1),
            _ => Err("The certificate's elliptic curve is not one ACM imports \
                      (prime256v1, secp384r1, secp521r1)."
                .into()),
        };
    }
    Err(format!(
        "The certificate's public key ({}) is not one ACM imports: use an RSA or ECDSA key.",
        spki.algorithm.oid
    ))
}

/// The modulus size of a DER `RSAPublicKey` (`SEQUENCE { modulus, publicExponent }`).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(der).ok()?;
    let modulus = reader
        .sequence(|r| {
            let n: UintRef<'_> = r.decode()?;
            let _e: UintRef<'_> = r.decode()?;
            Ok(n.as_bytes().to_vec())
        })
        .ok()?;
    let first = *modulus.first()?;
    Some(modulus.len() * 8 - first.leading_zeros() as usize)
}

fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    let named = [
        (ku.digital_signature(), "DIGITAL_SIGNATURE"),
        (ku.non_repudiation(), "NON_REPUDIATION"),
        (ku.key_encipherment(), "KEY_ENCIPHERMENT"),
        (ku.data_encipherment(), "DATA_ENCIPHERMENT"),
        (ku.key_agreement(), "KEY_AGREEMENT"),
        (ku.key_cert_sign(), "CERTIFICATE_SIGNING"),
        (ku.crl_sign(), "CRL_SIGNING"),
        (ku.encipher_only(), "ENCIPHER_ONLY"),
        (ku.decipher_only(), "DECIPHER_ONLY"),
    ];
    named
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| name.to_string())
        .collect()
}

fn signature_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.113549.1.1.5" => "SHA1WITHRSA",
        "1.2.840.113549.1.1.11" => "SHA256WITHRSA",
        "1.2.840.113549.1.1.12" => "SHA384WITHRSA",
        "1.2.840.113549.1.1.13" => "SHA512WITHRSA",
        "1.2.840.113549.1.1.10" => "RSASSA_PSS",
        "1.2.840.10045.4.3.2" => "SHA256WITHECDSA",
        "1.2.840.10045.4.3.3" => "SHA384WITHECDSA",
        "1.2.840.10045.4.3.4" => "SHA512WITHECDSA",
        other => return other.to_string(),
    }
    .to_string()
}

/// `0a:1b:...`, without the sign byte DER puts before a high first byte.
fn serial_text(bytes: &[u8]) -> String {
    let bytes = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        all => all,
    };
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}

/// One PEM block: 64-column base64 between the markers, `\n` line ends.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
