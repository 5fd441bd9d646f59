//! AWS Certificate Manager (JSON 1.1, target prefix `CertificateManager`, signing name
//! `acm`): the subset that gives an HTTPS listener a certificate of its own.
//!
//! [`certificates`]: import (and re-import), describe, list, get, delete and the tagging
//! operations, each translating wire shapes into `flotilla_control::acm` and back;
//! [`error`]: `AcmError` and the control plane's errors as ACM's codes. Certificates are
//! imported only: ACM-issued ones (RequestCertificate) are not offered.

mod certificates;
mod error;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use serde_json::Value;

use crate::State;
use error::AcmWireError;

/// Every ACM operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "AddTagsToCertificate",
    "DeleteCertificate",
    "DescribeCertificate",
    "GetCertificate",
    "ImportCertificate",
    "ListCertificates",
    "ListTagsForCertificate",
    "RemoveTagsFromCertificate",
];

pub struct Acm {
    spec: AwsServiceSpec,
    state: State,
}

impl Acm {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "acm",
            protocol: Protocol::Json11,
            target_prefix: "CertificateManager",
            xmlns: "",
        };
        Acm { spec, state }
    }
}

#[async_trait]
impl AwsService for Acm {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = dispatch(&self.state, ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

/// Run one ACM operation.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    input: Input,
) -> Result<Value, AcmWireError> {
    use certificates as c;
    Ok(match operation {
        "ImportCertificate" => c::import(s, ctx, input.json()?).await?,
        "DescribeCertificate" => c::describe(s, ctx, input.json()?)?,
        "ListCertificates" => c::list(s, ctx, input.json()?)?,
        "GetCertificate" => c::get(s, ctx, input.json()?)?,
        "DeleteCertificate" => c::delete(s, ctx, input.json()?).await?,
        "AddTagsToCertificate" => c::add_tags(s, ctx, input.json()?).await?,
        "RemoveTagsFromCertificate" => c::remove_tags(s, ctx, input.json()?).await?,
        "ListTagsForCertificate" => c::list_tags(s, ctx, input.json()?)?,
        other => return Err(AwsError::unknown_operation(other).into()),
    })
}
