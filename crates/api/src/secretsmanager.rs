//! AWS Secrets Manager (JSON 1.1, target prefix `secretsmanager`, signing name
//! `secretsmanager`): secrets, their versions and staging labels, scheduled deletion and
//! tags, over `flotilla_control::secrets::manager`, which seals every value with the
//! server's secrets key.
//!
//! [`secrets`] translates wire shapes into control-plane calls and back; [`error`] maps
//! `SecretsError` to Secrets Manager's codes. A value reaches this module in a request and
//! leaves it in a GetSecretValue answer only: input shapes holding one have no `Debug`,
//! and a malformed body is described without quoting it ([`parse`]).

mod error;
mod secrets;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use serde_json::Value;

use crate::State;
use error::SmWireError;

/// Every Secrets Manager operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "CreateSecret",
    "DeleteSecret",
    "DescribeSecret",
    "GetSecretValue",
    "ListSecrets",
    "PutSecretValue",
    "RestoreSecret",
    "TagResource",
    "UntagResource",
    "UpdateSecret",
];

pub struct SecretsManager {
    spec: AwsServiceSpec,
    state: State,
}

impl SecretsManager {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "secretsmanager",
            protocol: Protocol::Json11,
            target_prefix: "secretsmanager",
            xmlns: "",
        };
        SecretsManager { spec, state }
    }
}

#[async_trait]
impl AwsService for SecretsManager {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = dispatch(&self.state, ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

/// A JSON 1.1 request body read into `T`. A body that does not fit is described by where
/// and what kind of fault it is, never by serde's message, which quotes the values it
/// trips on (a SecretString, a SecureString's Value).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(input: Input) -> Result<T, AwsError> {
    let Input::Json(body) = input else {
        return Err(AwsError::serialization("Expected a JSON request body."));
    };
    serde_json::from_slice(&body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a member has the wrong type or is unknown",
            serde_json::error::Category::Eof => "the body ends early",
            _ => "the body is not JSON",
        };
        AwsError::serialization(format!(
            "Malformed request body: {what} (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })
}

/// Run one Secrets Manager operation.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    input: Input,
) -> Result<Value, SmWireError> {
    use secrets as x;
    Ok(match operation {
        "CreateSecret" => x::create(s, ctx, parse(input)?).await?,
        "GetSecretValue" => x::get_value(s, ctx, parse(input)?)?,
        "PutSecretValue" => x::put_value(s, ctx, parse(input)?).await?,
        "UpdateSecret" => x::update(s, ctx, parse(input)?).await?,
        "DescribeSecret" => x::describe(s, ctx, parse(input)?)?,
        "ListSecrets" => x::list(s, ctx, parse(input)?)?,
        "DeleteSecret" => x::delete(s, ctx, parse(input)?).await?,
        "RestoreSecret" => x::restore(s, ctx, parse(input)?).await?,
        "TagResource" => x::tag(s, ctx, parse(input)?).await?,
        "UntagResource" => x::untag(s, ctx, parse(input)?).await?,
        other => return Err(AwsError::unknown_operation(other).into()),
    })
}
