//! Amazon ECR (JSON 1.1, target prefix `AmazonEC2ContainerRegistry_V20150921`).
//!
//! [`repositories`]: repositories, their settings, tags and policies, and authorization
//! tokens; [`images`]: what pushes recorded (list, describe, get, delete); [`error`]: the
//! control plane's errors as ECR's codes; [`catalog`]: the same control-plane operations
//! offered to the registry's data plane (`/v2/`). [`OPERATIONS`] lists what is implemented.

pub mod catalog;
mod error;
mod images;
mod repositories;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use serde_json::Value;

use crate::State;
use error::EcrError;

/// Every ECR operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "BatchDeleteImage",
    "BatchGetImage",
    "CreateRepository",
    "DeleteLifecyclePolicy",
    "DeleteRepository",
    "DeleteRepositoryPolicy",
    "DescribeImages",
    "DescribeRegistry",
    "DescribeRepositories",
    "GetAuthorizationToken",
    "GetLifecyclePolicy",
    "GetLifecyclePolicyPreview",
    "GetRegistryPolicy",
    "GetRepositoryPolicy",
    "ListImages",
    "ListTagsForResource",
    "PutImageTagMutability",
    "PutLifecyclePolicy",
    "SetRepositoryPolicy",
    "StartLifecyclePolicyPreview",
    "TagResource",
    "UntagResource",
];

pub struct Ecr {
    spec: AwsServiceSpec,
    state: State,
}

impl Ecr {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "ecr",
            protocol: Protocol::Json11,
            target_prefix: "AmazonEC2ContainerRegistry_V20150921",
            xmlns: "",
        };
        Ecr { spec, state }
    }
}

#[async_trait]
impl AwsService for Ecr {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = dispatch(&self.state, ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

/// Run one ECR operation.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    input: Input,
) -> Result<Value, EcrError> {
    use images as i;
    use repositories as r;
    use repositories::Policy::{Lifecycle, Repository};
    Ok(match operation {
        "CreateRepository" => r::create(s, ctx, input.json()?).await?,
        "DescribeRepositories" => r::describe(s, ctx, input.json()?)?,
        "DeleteRepository" => r::delete(s, ctx, input.json()?).await?,
        "PutImageTagMutability" => r::put_tag_mutability(s, ctx, input.json()?).await?,
        "TagResource" => r::tag(s, ctx, input.json()?).await?,
        "UntagResource" => r::untag(s, ctx, input.json()?).await?,
        "ListTagsForResource" => r::list_tags(s, ctx, input.json()?)?,
        "PutLifecyclePolicy" => r::put_policy(s, ctx, input.json()?, Lifecycle).await?,
        "GetLifecyclePolicy" => r::get_policy(s, ctx, input.json()?, Lifecycle)?,
        "DeleteLifecyclePolicy" => r::delete_policy(s, ctx, input.json()?, Lifecycle).await?,
        "SetRepositoryPolicy" => r::put_policy(s, ctx, input.json()?, Repository).await?,
        "GetRepositoryPolicy" => r::get_policy(s, ctx, input.json()?, Repository)?,
        "DeleteRepositoryPolicy" => r::delete_policy(s, ctx, input.json()?, Repository).await?,
        "GetAuthorizationToken" => r::authorization_token(s, ctx, input.json()?)?,
        "DescribeRegistry" => r::describe_registry(s),
        "GetRegistryPolicy" => r::registry_policy(s)?,
        "ListImages" => i::list(s, ctx, input.json()?)?,
        "DescribeImages" => i::describe(s, ctx, input.json()?)?,
        "BatchGetImage" => i::batch_get(s, ctx, input.json()?)?,
        "BatchDeleteImage" => i::batch_delete(s, ctx, input.json()?).await?,
        "StartLifecyclePolicyPreview" => i::start_preview(s, ctx, input.json()?).await?,
        "GetLifecyclePolicyPreview" => i::get_preview(s, ctx, input.json()?)?,
        other => return Err(AwsError::unknown_operation(other).into()),
    })
}

/// Check an optional `registryId` against the account: ECR answers for one registry per
/// account.
fn check_registry(state: &State, registry_id: Option<&str>) -> Result<(), EcrError> {
    match registry_id {
        Some(id) if id != state.account() => Err(error::invalid(format!(
            "registryId '{id}' is not this registry's id ({}).",
            state.account()
        ))),
        _ => Ok(()),
    }
}

/// A required string member.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, EcrError> {
    value
        .as_deref()
        .ok_or_else(|| error::invalid(format!("{name} is required.")))
}
