//! ImportCertificate, DescribeCertificate, ListCertificates, GetCertificate,
//! DeleteCertificate and the tagging operations: wire shapes in, `flotilla_control::acm`
//! calls, wire shapes out. Blobs arrive base64-encoded (botocore's `blob` on JSON).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flotilla_aws::Context;
use flotilla_control::acm::{self, Import, ListFilter};
use flotilla_model::acm::{
    extended_key_usage_name, CertificateRecord, CertificateStatus, KeyAlgorithm,
};
use flotilla_model::tag::Tag;
use flotilla_model::timestamp::to_epoch_seconds;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid_args, validation, AcmWireError};
use crate::pagination::{paginate, Order};
use crate::{keys, scope, State};

/// ListCertificates shows at most this many subject alternative names per certificate.
const SUMMARY_NAMES: usize = 100;

/// Whether a load balancer's listener uses the certificate: what DeleteCertificate
/// refuses to delete and ListCertificates calls `InUse`.
fn in_use(state: &State, arn: &str) -> bool {
    state
        .elbv2()
        .listeners
        .range(keys::LISTENERS.as_bytes())
        .iter()
        .any(|(_, l)| l.value.certificates.iter().any(|c| c == arn))
}

/// A tag as ACM spells it (`Key`, `Value`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTag {
    key: Option<String>,
    value: Option<String>,
}

fn model_tags(tags: Vec<WireTag>) -> Vec<Tag> {
    tags.into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

fn wire_tags(tags: &[Tag]) -> Value {
    tags.iter()
        .map(|t| json!({"Key": t.key, "Value": t.value}))
        .collect()
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, AcmWireError> {
    value
        .as_deref()
        .ok_or_else(|| validation(format!("{name} is required.")))
}

/// A blob member: base64 on the wire.
fn blob(value: Option<&str>, name: &str) -> Result<Option<Vec<u8>>, AcmWireError> {
    value
        .map(|v| {
            STANDARD
                .decode(v)
                .map_err(|_| validation(format!("{name} is not base64-encoded.")))
        })
        .transpose()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportInput {
    certificate_arn: Option<String>,
    certificate: Option<String>,
    private_key: Option<String>,
    certificate_chain: Option<String>,
    tags: Option<Vec<WireTag>>,
}

pub async fn import(
    state: &State,
    ctx: &Context,
    input: ImportInput,
) -> Result<Value, AcmWireError> {
    let certificate = blob(input.certificate.as_deref(), "Certificate")?
        .ok_or_else(|| validation("Certificate is required."))?;
    let private_key = blob(input.private_key.as_deref(), "PrivateKey")?
        .ok_or_else(|| validation("PrivateKey is required."))?;
    let chain = blob(input.certificate_chain.as_deref(), "CertificateChain")?;
    if input.tags.as_ref().is_some_and(Vec::is_empty) {
        return Err(validation("Tags, when given, must hold 1 to 50 tags."));
    }
    let import = Import {
        certificate,
        private_key,
        chain,
        certificate_arn: input.certificate_arn,
        tags: model_tags(input.tags.unwrap_or_default()),
    };
    let record = acm::import(state, &scope(state, ctx), import).await?;
    Ok(json!({"CertificateArn": record.certificate_arn}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArnInput {
    certificate_arn: Option<String>,
}

/// DescribeCertificate's `CertificateDetail`.
fn detail(state: &State, r: &CertificateRecord) -> Value {
    let f = &r.facts;
    json!({
        "CertificateArn": r.certificate_arn,
        "DomainName": f.domain_name,
        "SubjectAlternativeNames": f.subject_alternative_names,
        "Serial": f.serial,
        "Subject": f.subject,
        "Issuer": f.issuer,
        "CreatedAt": to_epoch_seconds(&r.created_at),
        "ImportedAt": to_epoch_seconds(&r.imported_at),
        "Status": r.status(state.clock().now()).as_str(),
        "NotBefore": to_epoch_seconds(&f.not_before),
        "NotAfter": to_epoch_seconds(&f.not_after),
        "KeyAlgorithm": f.key_algorithm.as_str(),
        "SignatureAlgorithm": f.signature_algorithm,
        "InUseBy": [],
        "Type": "IMPORTED",
        "KeyUsages": f.key_usages.iter().map(|u| json!({"Name": u})).collect::<Vec<_>>(),
        "ExtendedKeyUsages": f.extended_key_usages.iter()
            .map(|oid| json!({"Name": extended_key_usage_name(oid), "OID": oid}))
            .collect::<Vec<_>>(),
        "RenewalEligibility": "INELIGIBLE",
    })
}

pub fn describe(state: &State, ctx: &Context, input: ArnInput) -> Result<Value, AcmWireError> {
    let arn = required(&input.certificate_arn, "CertificateArn")?;
    let record = acm::get(state, &scope(state, ctx), arn)?.value;
    Ok(json!({"Certificate": detail(state, &record)}))
}

pub fn get(state: &State, ctx: &Context, input: ArnInput) -> Result<Value, AcmWireError> {
    let arn = required(&input.certificate_arn, "CertificateArn")?;
    let record = acm::get(state, &scope(state, ctx), arn)?.value;
    Ok(json!({
        "Certificate": record.certificate_pem,
        "CertificateChain": record.chain_pem,
    }))
}

pub async fn delete(state: &State, ctx: &Context, input: ArnInput) -> Result<Value, AcmWireError> {
    let arn = required(&input.certificate_arn, "CertificateArn")?;
    acm::delete(state, &scope(state, ctx), arn, |a| in_use(state, a)).await?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
pub struct IncludesInput {
    #[serde(rename = "extendedKeyUsage")]
    extended_key_usage: Option<Vec<String>>,
    #[serde(rename = "keyUsage")]
    key_usage: Option<Vec<String>>,
    #[serde(rename = "keyTypes")]
    key_types: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    certificate_statuses: Option<Vec<String>>,
    includes: Option<IncludesInput>,
    next_token: Option<String>,
    max_items: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

fn list_filter(input: &ListInput) -> Result<ListFilter, AcmWireError> {
    let statuses = input
        .certificate_statuses
        .iter()
        .flatten()
        .map(|s| {
            CertificateStatus::parse(s)
                .ok_or_else(|| validation(format!("'{s}' is not a certificate status.")))
        })
        .collect::<Result<_, _>>()?;
    let includes = input.includes.as_ref();
    let key_types = includes
        .and_then(|i| i.key_types.as_ref())
        .into_iter()
        .flatten()
        .map(|k| {
            KeyAlgorithm::parse(k).ok_or_else(|| {
                validation(format!(
                    "'{k}' is not a key type; use RSA_1024, RSA_2048, RSA_3072, RSA_4096, \
                     EC_prime256v1, EC_secp384r1 or EC_secp521r1."
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ListFilter {
        statuses,
        key_types,
        key_usages: includes
            .and_then(|i| i.key_usage.clone())
            .unwrap_or_default(),
        extended_key_usages: includes
            .and_then(|i| i.extended_key_usage.clone())
            .unwrap_or_default(),
    })
}

fn summary(state: &State, r: &CertificateRecord) -> Value {
    let f = &r.facts;
    let names: Vec<&String> = f
        .subject_alternative_names
        .iter()
        .take(SUMMARY_NAMES)
        .collect();
    json!({
        "CertificateArn": r.certificate_arn,
        "DomainName": f.domain_name,
        "SubjectAlternativeNameSummaries": names,
        "HasAdditionalSubjectAlternativeNames": f.subject_alternative_names.len() > SUMMARY_NAMES,
        "Status": r.status(state.clock().now()).as_str(),
        "Type": "IMPORTED",
        "KeyAlgorithm": f.key_algorithm.as_str(),
        "KeyUsages": f.key_usages,
        "ExtendedKeyUsages": f.extended_key_usages.iter()
            .map(|oid| extended_key_usage_name(oid))
            .collect::<Vec<_>>(),
        "InUse": in_use(state, &r.certificate_arn),
        "RenewalEligibility": "INELIGIBLE",
        "NotBefore": to_epoch_seconds(&f.not_before),
        "NotAfter": to_epoch_seconds(&f.not_after),
        "CreatedAt": to_epoch_seconds(&r.created_at),
        "ImportedAt": to_epoch_seconds(&r.imported_at),
    })
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, AcmWireError> {
    let filter = list_filter(&input)?;
    let order = match (input.sort_by.as_deref(), input.sort_order.as_deref()) {
        (None, None) | (Some("CREATED_AT"), Some("ASCENDING")) => Order::Asc,
        (Some("CREATED_AT"), Some("DESCENDING")) => Order::Desc,
        (Some(_), None) | (None, Some(_)) => {
            return Err(validation("SortBy and SortOrder must be given together."))
        }
        (by, order) => {
            return Err(validation(format!(
                "Cannot sort by {} in {} order: SortBy must be CREATED_AT and SortOrder \
                 ASCENDING or DESCENDING.",
                by.unwrap_or_default(),
                order.unwrap_or_default()
            )))
        }
    };
    let size = match input.max_items {
        None => 1000,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => return Err(validation(format!("MaxItems must be 1 to 1000; got {n}."))),
    };
    // Creation time (zero-padded milliseconds), then ARN: a stable order to resume from.
    let key = |r: &std::sync::Arc<CertificateRecord>| {
        format!(
            "{:020}/{}",
            r.created_at.timestamp_millis().max(0),
            r.certificate_arn
        )
    };
    let mut found = acm::list(state, &scope(state, ctx), &filter);
    found.sort_by_cached_key(key);
    if order == Order::Desc {
        found.reverse();
    }
    let (page, next) = paginate(found, key, order, input.next_token.as_deref(), size)
        .map_err(|_| invalid_args("NextToken is not one ListCertificates handed out."))?;
    let summaries: Vec<Value> = page.iter().map(|r| summary(state, r)).collect();
    Ok(json!({"CertificateSummaryList": summaries, "NextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsInput {
    certificate_arn: Option<String>,
    tags: Option<Vec<WireTag>>,
}

fn tags_of(input: TagsInput) -> Result<(String, Vec<Tag>), AcmWireError> {
    let arn = required(&input.certificate_arn, "CertificateArn")?.to_string();
    match input.tags {
        Some(tags) if !tags.is_empty() => Ok((arn, model_tags(tags))),
        _ => Err(validation("Tags must hold 1 to 50 tags.")),
    }
}

pub async fn add_tags(
    state: &State,
    ctx: &Context,
    input: TagsInput,
) -> Result<Value, AcmWireError> {
    let (arn, tags) = tags_of(input)?;
    acm::add_tags(state, &scope(state, ctx), &arn, tags).await?;
    Ok(json!({}))
}

pub async fn remove_tags(
    state: &State,
    ctx: &Context,
    input: TagsInput,
) -> Result<Value, AcmWireError> {
    let (arn, tags) = tags_of(input)?;
    acm::remove_tags(state, &scope(state, ctx), &arn, &tags).await?;
    Ok(json!({}))
}

pub fn list_tags(state: &State, ctx: &Context, input: ArnInput) -> Result<Value, AcmWireError> {
    let arn = required(&input.certificate_arn, "CertificateArn")?;
    let record = acm::get(state, &scope(state, ctx), arn)?.value;
    Ok(json!({"Tags": wire_tags(&record.tags)}))
}
