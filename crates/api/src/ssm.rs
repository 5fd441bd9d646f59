//! AWS Systems Manager's Parameter Store (JSON 1.1, target prefix `AmazonSSM`, signing
//! name `ssm`): String, StringList and SecureString parameters with their versions and
//! hierarchies, over `flotilla_control::secrets::parameters`, which seals every
//! SecureString with the server's secrets key. Only Parameter Store's operations are
//! implemented ([`OPERATIONS`]); SSM has hundreds more.
//!
//! [`parameters`] translates wire shapes into control-plane calls and back; [`error`] maps
//! `SsmError` to SSM's codes. A SecureString is answered decrypted only when the request
//! asks (`WithDecryption`) and the caller [`may_decrypt`].

mod error;
mod parameters;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use flotilla_aws::{
    AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Principal, Protocol,
};
use serde_json::Value;

use crate::secretsmanager::parse;
use crate::State;
use error::SsmWireError;

/// Every SSM operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "DeleteParameter",
    "DeleteParameters",
    "DescribeParameters",
    "GetParameter",
    "GetParameters",
    "GetParametersByPath",
    "PutParameter",
];

pub struct Ssm {
    spec: AwsServiceSpec,
    state: State,
}

impl Ssm {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "ssm",
            protocol: Protocol::Json11,
            target_prefix: "AmazonSSM",
            xmlns: "",
        };
        Ssm { spec, state }
    }
}

#[async_trait]
impl AwsService for Ssm {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = dispatch(&self.state, ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

/// Whether the caller may have SecureStrings decrypted, which AWS asks KMS as
/// `kms:Decrypt` on the parameter's key (SSM's default key, `alias/aws/ssm`): the
/// account's root keys may; an IAM user or role session when its policies allow it.
pub fn may_decrypt(state: &State, ctx: &flotilla_aws::Context) -> bool {
    match ctx.principal {
        Principal::Root => true,
        Principal::User => {
            let key = crate::scope(state, ctx)
                .arn("kms", "alias/aws/ssm")
                .to_string();
            let mut conditions = flotilla_model::iam::eval::Context::default();
            conditions.set_one("aws:RequestedRegion", ctx.region.clone());
            flotilla_control::iam::authorize::acting(state, &ctx.access_key)
                .is_some_and(|who| who.decide("kms:Decrypt", &key, &conditions).allowed())
        }
        _ => false,
    }
}

/// Run one SSM operation.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    input: Input,
) -> Result<Value, SsmWireError> {
    use parameters as p;
    Ok(match operation {
        "PutParameter" => p::put(s, ctx, parse(input)?).await?,
        "GetParameter" => p::get(s, ctx, parse(input)?)?,
        "GetParameters" => p::get_many(s, ctx, parse(input)?)?,
        "GetParametersByPath" => p::by_path(s, ctx, parse(input)?)?,
        "DeleteParameter" => p::delete(s, ctx, parse(input)?).await?,
        "DeleteParameters" => p::delete_many(s, ctx, parse(input)?).await?,
        "DescribeParameters" => p::describe(s, ctx, parse(input)?)?,
        other => return Err(AwsError::unknown_operation(other).into()),
    })
}
