//! Amazon CloudWatch (JSON 1.0, target prefix `GraniteServiceVersion20100801`, signing
//! name `monitoring`; errors also carry their query code in `x-amzn-query-error`, as the
//! service is query-compatible): metrics and metric alarms.
//!
//! [`metric_data`] (PutMetricData), [`statistics`] (GetMetricStatistics, ListMetrics) and
//! [`get_data`] (GetMetricData with metric math) translate wire shapes into calls on the
//! metric store (`flotilla_telemetry::metrics::MetricStore`, a data plane the server
//! opens and hands in); [`alarms`], [`describe`] and [`tags`] translate alarms' operations
//! into `flotilla_control::cloudwatch` calls. [`wire`] holds the shapes they share;
//! [`error`] maps every error to CloudWatch's codes.

mod alarms;
mod describe;
mod error;
mod get_data;
mod metric_data;
mod statistics;
mod tags;
#[cfg(test)]
mod tests;
mod wire;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_telemetry::metrics::MetricStore;
use serde_json::Value;

use crate::State;
use error::CwError;

/// Every CloudWatch operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "DeleteAlarms",
    "DescribeAlarmHistory",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DisableAlarmActions",
    "EnableAlarmActions",
    "GetMetricData",
    "GetMetricStatistics",
    "ListMetrics",
    "ListTagsForResource",
    "PutMetricAlarm",
    "PutMetricData",
    "SetAlarmState",
    "TagResource",
    "UntagResource",
];

pub struct CloudWatch {
    spec: AwsServiceSpec,
    state: State,
    metrics: MetricStore,
}

impl CloudWatch {
    pub fn new(state: State, metrics: MetricStore) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "monitoring",
            protocol: Protocol::Json10,
            target_prefix: "GraniteServiceVersion20100801",
            xmlns: "",
        };
        CloudWatch {
            spec,
            state,
            metrics,
        }
    }

    async fn dispatch(&self, ctx: &Context, op: &str, input: Input) -> Result<Value, CwError> {
        let (s, m) = (&self.state, &self.metrics);
        let now = s.clock().now().timestamp();
        Ok(match op {
            "PutMetricData" => metric_data::put(m, ctx, input.json()?, now).await?,
            "GetMetricStatistics" => statistics::get(m, ctx, input.json()?, now)?,
            "ListMetrics" => statistics::list(m, ctx, input.json()?, now)?,
            "GetMetricData" => get_data::get(m, ctx, input.json()?, now)?,
            "PutMetricAlarm" => alarms::put(s, ctx, input.json()?).await?,
            "DeleteAlarms" => alarms::delete(s, ctx, input.json()?).await?,
            "SetAlarmState" => alarms::set_state(s, ctx, input.json()?).await?,
            "EnableAlarmActions" => alarms::actions_enabled(s, ctx, input.json()?, true).await?,
            "DisableAlarmActions" => alarms::actions_enabled(s, ctx, input.json()?, false).await?,
            "DescribeAlarms" => describe::alarms(s, ctx, input.json()?)?,
            "DescribeAlarmsForMetric" => describe::for_metric(s, ctx, input.json()?)?,
            "DescribeAlarmHistory" => describe::history(s, ctx, input.json()?)?,
            "TagResource" => tags::tag(s, ctx, input.json()?).await?,
            "UntagResource" => tags::untag(s, ctx, input.json()?).await?,
            "ListTagsForResource" => tags::list(s, ctx, input.json()?)?,
            other => return Err(AwsError::unknown_operation(other).into()),
        })
    }
}

#[async_trait]
impl AwsService for CloudWatch {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = self.dispatch(ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}
