//! Application Auto Scaling (JSON 1.1, target prefix `AnyScaleFrontendService`, signing
//! name `application-autoscaling`) for one scalable dimension: an ECS service's desired
//! count (`ecs` / `ecs:service:DesiredCount`, resource id `service/CLUSTER/SERVICE`);
//! other namespaces and dimensions are refused with a ValidationException that says so.
//!
//! [`targets`] (scalable targets and their tags), [`policies`] (with [`shapes`] writing
//! the `ScalingPolicy` answer), [`scheduled`] and [`activities`] translate wire shapes
//! into `flotilla_control::autoscaling` calls and back; [`wire`] holds what they share;
//! [`error`] maps `AutoScalingError` to the service's codes.

mod activities;
mod error;
mod policies;
mod scheduled;
mod shapes;
mod targets;
#[cfg(test)]
mod tests;
mod wire;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use serde_json::Value;

use crate::State;
use error::AsWireError;

/// Every Application Auto Scaling operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "DeleteScalingPolicy",
    "DeleteScheduledAction",
    "DeregisterScalableTarget",
    "DescribeScalableTargets",
    "DescribeScalingActivities",
    "DescribeScalingPolicies",
    "DescribeScheduledActions",
    "ListTagsForResource",
    "PutScalingPolicy",
    "PutScheduledAction",
    "RegisterScalableTarget",
    "TagResource",
    "UntagResource",
];

pub struct AutoScaling {
    spec: AwsServiceSpec,
    state: State,
}

impl AutoScaling {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "application-autoscaling",
            protocol: Protocol::Json11,
            target_prefix: "AnyScaleFrontendService",
            xmlns: "",
        };
        AutoScaling { spec, state }
    }
}

#[async_trait]
impl AwsService for AutoScaling {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = dispatch(&self.state, ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

/// Run one Application Auto Scaling operation.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    input: Input,
) -> Result<Value, AsWireError> {
    use activities as a;
    use policies as p;
    use scheduled as d;
    use targets as t;
    Ok(match operation {
        "RegisterScalableTarget" => t::register(s, ctx, input.json()?).await?,
        "DescribeScalableTargets" => t::describe(s, ctx, input.json()?)?,
        "DeregisterScalableTarget" => t::deregister(s, ctx, input.json()?).await?,
        "TagResource" => t::tag(s, ctx, input.json()?).await?,
        "UntagResource" => t::untag(s, ctx, input.json()?).await?,
        "ListTagsForResource" => t::list_tags(s, ctx, input.json()?)?,
        "PutScalingPolicy" => p::put(s, ctx, input.json()?).await?,
        "DescribeScalingPolicies" => p::describe(s, ctx, input.json()?)?,
        "DeleteScalingPolicy" => p::delete(s, ctx, input.json()?).await?,
        "PutScheduledAction" => d::put(s, ctx, input.json()?).await?,
        "DescribeScheduledActions" => d::describe(s, ctx, input.json()?)?,
        "DeleteScheduledAction" => d::delete(s, ctx, input.json()?).await?,
        "DescribeScalingActivities" => a::describe(s, ctx, input.json()?)?,
        other => return Err(AwsError::unknown_operation(other).into()),
    })
}
