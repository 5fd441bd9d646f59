//! ACM's domain operations on imported certificates: import (new, or re-import under the
//! same ARN), lookups by ARN, listing with ACM's filters, delete (refused while a user of
//! the certificate says it is in use), tags, and the certificates as the load balancer's
//! data plane takes them ([`plane_certificates`]).
//!
//! One record per certificate at `keys::certificate(region, id)`, the id being the ARN's
//! last part, so a lookup by ARN is one read of the view. Reading the PEM blobs is
//! [`parse`]'s; the rules that need no parsing are `flotilla_model::acm`'s. Errors are
//! [`AcmError`], which `flotilla-api` maps to ACM's wire codes in one place.

pub mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_model::acm::{
    certificate_arn, certificate_id, check_reimport, extended_key_usage_name, validate_tag,
    CertificateRecord, CertificateStatus, KeyAlgorithm, MAX_CERTIFICATES, MAX_TAGS,
};
use flotilla_model::elbv2::plane::CertificatePem;
use flotilla_model::record::encode;
use flotilla_model::tag::Tag;
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Txn};

use crate::{keys, ControlError, Entry, State};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// Why an ACM operation failed, in terms the wire mapping picks ACM's codes by.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AcmError {
    /// The ARN is malformed, or of another region or account.
    #[error("{0}")]
    InvalidArn(String),
    /// No certificate has this ARN.
    #[error("{0}")]
    NotFound(String),
    /// The certificate, key or chain was refused: not PEM, not X.509, a key that is not
    /// the certificate's, out of bounds, not valid now, or a re-import that may not
    /// replace the certificate.
    #[error("{0}")]
    Invalid(String),
    /// A parameter not allowed in this request (tags on a re-import).
    #[error("{0}")]
    InvalidParameter(String),
    /// A tag key or value is malformed or reserved.
    #[error("{0}")]
    InvalidTag(String),
    /// The certificate would have more than [`MAX_TAGS`] tags.
    #[error("{0}")]
    TooManyTags(String),
    /// Something uses the certificate (a load balancer's listener), so it stays.
    #[error("{0}")]
    InUse(String),
    /// The region holds [`MAX_CERTIFICATES`] certificates already.
    #[error("{0}")]
    LimitExceeded(String),
    /// The control plane failed (the store, a contended write, shutdown).
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl AcmError {
    /// Whether sending the same request again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            AcmError::Control(e) => e.is_retriable(),
            _ => false,
        }
    }
}

impl From<flotilla_store::StoreError> for AcmError {
    fn from(e: flotilla_store::StoreError) -> Self {
        AcmError::Control(e.into())
    }
}

/// What ImportCertificate is given.
#[derive(Debug, Clone, Default)]
pub struct Import {
    pub certificate: Vec<u8>,
    pub private_key: Vec<u8>,
    pub chain: Option<Vec<u8>>,
    /// Re-import under this ARN instead of making a new certificate.
    pub certificate_arn: Option<String>,
    pub tags: Vec<Tag>,
}

/// Import a certificate: a new one with a new ARN, or new material for an existing one
/// (its ARN, tags and users stay).
pub async fn import(
    state: &State,
    scope: &Scope,
    import: Import,
) -> Result<CertificateRecord, AcmError> {
    let now = state.clock().now();
    let parsed = parse::parse(
        &import.certificate,
        &import.private_key,
        import.chain.as_deref(),
        now,
    )
    .map_err(AcmError::Invalid)?;
    if let Some(arn) = &import.certificate_arn {
        if !import.tags.is_empty() {
            return Err(AcmError::InvalidParameter(
                "Tags cannot be applied when re-importing a certificate; use \
                 AddTagsToCertificate."
                    .into(),
            ));
        }
        return reimport(state, scope, arn, parsed, now).await;
    }
    check_tags(&import.tags)?;
    let region_prefix = keys::certificate(&scope.region, "");
    if state.certificates().count_prefix(region_prefix.as_bytes()) >= MAX_CERTIFICATES {
        return Err(AcmError::LimitExceeded(format!(
            "The region {} holds {MAX_CERTIFICATES} certificates, the most it may hold; \
             delete some first.",
            scope.region
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let record = CertificateRecord {
        certificate_arn: certificate_arn(scope, &id),
        facts: parsed.facts,
        certificate_pem: parsed.certificate_pem,
        chain_pem: parsed.chain_pem,
        private_key_pem: parsed.private_key_pem,
        tags: import.tags,
        created_at: now,
        imported_at: now,
    };
    let key = keys::certificate(&scope.region, &id);
    if !state.put_if_unchanged(&key, 0, encode(&record)).await? {
        return Err(
            ControlError::Contended("A new certificate id was taken; retry.".into()).into(),
        );
    }
    Ok(record)
}

async fn reimport(
    state: &State,
    scope: &Scope,
    arn: &str,
    parsed: parse::Imported,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CertificateRecord, AcmError> {
    let record = update(state, scope, arn, |r| {
        check_reimport(&r.facts, &parsed.facts).map_err(AcmError::Invalid)?;
        r.facts = parsed.facts.clone();
        r.certificate_pem = parsed.certificate_pem.clone();
        r.chain_pem = parsed.chain_pem.clone();
        r.private_key_pem = parsed.private_key_pem.clone();
        r.imported_at = now;
        Ok(())
    })
    .await?;
    Ok(record)
}

/// The certificate `arn` names.
pub fn get(state: &State, scope: &Scope, arn: &str) -> Result<Entry<CertificateRecord>, AcmError> {
    let id = certificate_id(scope, arn).map_err(AcmError::InvalidArn)?;
    state
        .certificates()
        .get(keys::certificate(&scope.region, id).as_bytes())
        .ok_or_else(|| AcmError::NotFound(format!("Could not find certificate {arn}.")))
}

/// Whether `arn` names a certificate of the scope (what a listener may use).
pub fn exists(state: &State, scope: &Scope, arn: &str) -> bool {
    get(state, scope, arn).is_ok()
}

/// ListCertificates' filters (`CertificateStatuses` and `Includes`).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Empty: every status.
    pub statuses: Vec<CertificateStatus>,
    /// Empty: ACM's default, RSA_1024 and RSA_2048 only.
    pub key_types: Vec<KeyAlgorithm>,
    /// Key Usage names; a certificate with any of them matches. Empty: no filter.
    pub key_usages: Vec<String>,
    /// Extended Key Usage names (`NONE` for a certificate without any); any matches.
    pub extended_key_usages: Vec<String>,
}

impl ListFilter {
    /// Whether `record` passes, at `now` (its status depends on it).
    pub fn matches(&self, record: &CertificateRecord, now: chrono::DateTime<chrono::Utc>) -> bool {
        let f = &record.facts;
        let status = self.statuses.is_empty() || self.statuses.contains(&record.status(now));
        let key_type = if self.key_types.is_empty() {
            matches!(
                f.key_algorithm,
                KeyAlgorithm::Rsa1024 | KeyAlgorithm::Rsa2048
            )
        } else {
            self.key_types.contains(&f.key_algorithm)
        };
        let ku = self.key_usages.is_empty()
            || self
                .key_usages
                .iter()
                .any(|u| u == "ANY" || f.key_usages.contains(u));
        let eku = self.extended_key_usages.is_empty()
            || self.extended_key_usages.iter().any(|u| {
                (u == "NONE" && f.extended_key_usages.is_empty())
                    || f.extended_key_usages
                        .iter()
                        .any(|oid| extended_key_usage_name(oid) == u)
            });
        status && key_type && ku && eku
    }
}

/// The scope's certificates that pass `filter`, oldest first (ties by ARN).
pub fn list(state: &State, scope: &Scope, filter: &ListFilter) -> Vec<Arc<CertificateRecord>> {
    let now = state.clock().now();
    let mut found: Vec<Arc<CertificateRecord>> = state
        .certificates()
        .range(keys::certificate(&scope.region, "").as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .filter(|r| filter.matches(r, now))
        .collect();
    found.sort_by(|a, b| {
        (a.created_at, &a.certificate_arn).cmp(&(b.created_at, &b.certificate_arn))
    });
    found
}

/// Delete a certificate unless `in_use` says something uses it (ResourceInUseException).
///
/// The check and the delete are not one transaction with the user's writes: a listener
/// created in between keeps an ARN that no longer resolves, as one naming a certificate
/// deleted behind its back would.
pub async fn delete(
    state: &State,
    scope: &Scope,
    arn: &str,
    in_use: impl Fn(&str) -> bool,
) -> Result<(), AcmError> {
    let id = certificate_id(scope, arn).map_err(AcmError::InvalidArn)?;
    let key = keys::certificate(&scope.region, id);
    for _ in 0..ATTEMPTS {
        let entry = get(state, scope, arn)?;
        if in_use(&entry.value.certificate_arn) {
            return Err(AcmError::InUse(format!(
                "Certificate {arn} is in use by a load balancer listener; remove it from \
                 the listener first."
            )));
        }
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key.clone())],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The certificate {arn} kept changing; retry.")).into())
}

/// Change a certificate with `change` and write it back, retrying on a concurrent change.
async fn update(
    state: &State,
    scope: &Scope,
    arn: &str,
    mut change: impl FnMut(&mut CertificateRecord) -> Result<(), AcmError>,
) -> Result<CertificateRecord, AcmError> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, scope, arn)?;
        let mut record = (*entry.value).clone();
        change(&mut record)?;
        let id = certificate_id(scope, arn).map_err(AcmError::InvalidArn)?;
        let key = keys::certificate(&scope.region, id);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!("The certificate {arn} kept changing; retry.")).into())
}

fn check_tags(tags: &[Tag]) -> Result<(), AcmError> {
    if tags.len() > MAX_TAGS {
        return Err(AcmError::TooManyTags(format!(
            "A certificate may have at most {MAX_TAGS} tags; this would give it {}.",
            tags.len()
        )));
    }
    tags.iter()
        .try_for_each(validate_tag)
        .map_err(AcmError::InvalidTag)
}

/// Add tags to a certificate; a tag whose key it has replaces that tag's value.
pub async fn add_tags(
    state: &State,
    scope: &Scope,
    arn: &str,
    tags: Vec<Tag>,
) -> Result<(), AcmError> {
    check_tags(&tags)?;
    update(state, scope, arn, |r| {
        flotilla_model::tag::merge_tags(&mut r.tags, tags.clone());
        check_tags(&r.tags)
    })
    .await
    .map(drop)
}

/// Remove tags: each by key, and by value too when a value is given.
pub async fn remove_tags(
    state: &State,
    scope: &Scope,
    arn: &str,
    tags: &[Tag],
) -> Result<(), AcmError> {
    tags.iter()
        .try_for_each(validate_tag)
        .map_err(AcmError::InvalidTag)?;
    update(state, scope, arn, |r| {
        r.tags.retain(|have| {
            !tags.iter().any(|gone| {
                gone.key == have.key && (gone.value.is_none() || gone.value == have.value)
            })
        });
        Ok(())
    })
    .await
    .map(drop)
}

/// Every certificate of every region as the load balancer's data plane takes it, by ARN.
pub fn plane_certificates(state: &State) -> BTreeMap<String, Arc<CertificatePem>> {
    state
        .certificates()
        .range(keys::CERTIFICATES.as_bytes())
        .iter()
        .map(|(_, e)| {
            let r = &e.value;
            let pem = CertificatePem {
                arn: r.certificate_arn.clone(),
                chain_pem: r.full_chain_pem(),
                private_key_pem: r.private_key_pem.clone(),
                names: r.server_names(),
            };
            (r.certificate_arn.clone(), Arc::new(pem))
        })
        .collect()
}
