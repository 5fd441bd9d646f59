//! Amazon CloudWatch (JSON 1.0, target prefix `GraniteServiceVersion20100801`, signing
//! name `monitoring`): the first metrics, the load balancers' `AWS/ApplicationELB`
//! `RequestCount` (dimension `LoadBalancer` = `app/NAME/ID`), through GetMetricStatistics
//! and ListMetrics. The counts come from this server's load balancer data plane
//! (`flotilla_control::elbv2::metrics`).

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::State;

/// Every CloudWatch operation Flotilla implements.
pub const OPERATIONS: &[&str] = &["GetMetricStatistics", "ListMetrics"];

const NAMESPACE: &str = "AWS/ApplicationELB";
const REQUEST_COUNT: &str = "RequestCount";
const DIMENSION: &str = "LoadBalancer";
const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
/// GetMetricStatistics answers at most this many data points (as CloudWatch).
const MAX_DATAPOINTS: i64 = 1440;

pub struct CloudWatch {
    spec: AwsServiceSpec,
    state: State,
}

impl CloudWatch {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "monitoring",
            protocol: Protocol::Json10,
            target_prefix: "GraniteServiceVersion20100801",
            xmlns: "",
        };
        CloudWatch { spec, state }
    }
}

#[async_trait]
impl AwsService for CloudWatch {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = match operation {
            "GetMetricStatistics" => get_metric_statistics(&self.state, ctx, input.json()?)?,
            "ListMetrics" => list_metrics(&self.state, ctx, input.json()?)?,
            other => return Err(AwsError::unknown_operation(other)),
        };
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::client("InvalidParameterValue", message)
}

fn missing(member: &str) -> AwsError {
    AwsError::client(
        "MissingParameter",
        format!("The parameter {member} is required."),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Dimension {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatisticsInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<Dimension>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    period: Option<i64>,
    #[serde(default)]
    statistics: Vec<String>,
    #[serde(default)]
    extended_statistics: Vec<String>,
    unit: Option<String>,
}

fn time(member: &str, seconds: Option<f64>) -> Result<DateTime<Utc>, AwsError> {
    let seconds = seconds.ok_or_else(|| missing(member))?;
    Utc.timestamp_opt(seconds.floor() as i64, 0)
        .single()
        .ok_or_else(|| invalid(format!("{member} is not a valid time.")))
}

fn check_name(member: &str, value: &str) -> Result<(), AwsError> {
    if value.is_empty() || value.len() > 255 {
        return Err(invalid(format!(
            "{member} must be 1 to 255 characters long."
        )));
    }
    Ok(())
}

/// The load balancers of the caller's region with the `LoadBalancer` dimension value
/// each is known by (`app/NAME/ID`, its ARN after `loadbalancer/`).
fn load_balancers(state: &State, ctx: &Context) -> Vec<(String, String)> {
    let prefix = format!(
        "arn:aws:elasticloadbalancing:{}:{}:loadbalancer/",
        ctx.region,
        state.account()
    );
    state
        .elbv2()
        .requests
        .load_balancers()
        .into_iter()
        .filter_map(|arn| Some((arn.strip_prefix(&prefix)?.to_string(), arn.clone())))
        .collect()
}

fn get_metric_statistics(
    state: &State,
    ctx: &Context,
    input: StatisticsInput,
) -> Result<Value, AwsError> {
    let namespace = input.namespace.ok_or_else(|| missing("Namespace"))?;
    let metric = input.metric_name.ok_or_else(|| missing("MetricName"))?;
    check_name("Namespace", &namespace)?;
    check_name("MetricName", &metric)?;
    let start = time("StartTime", input.start_time)?;
    let end = time("EndTime", input.end_time)?;
    let period = input.period.ok_or_else(|| missing("Period"))?;
    if period < 60 || period % 60 != 0 {
        return Err(invalid(format!(
            "The parameter Period must be a multiple of 60 (this data has one-minute resolution); got {period}."
        )));
    }
    if start >= end {
        return Err(invalid("The parameter StartTime must be before EndTime."));
    }
    match (
        input.statistics.is_empty(),
        input.extended_statistics.is_empty(),
    ) {
        (true, true) => {
            return Err(AwsError::client(
                "MissingParameter",
                "Either Statistics or ExtendedStatistics must be given.",
            ))
        }
        (false, false) => {
            return Err(AwsError::client(
                "InvalidParameterCombination",
                "Statistics and ExtendedStatistics cannot both be given.",
            ))
        }
        (true, false) => return Err(invalid(
            "ExtendedStatistics (percentiles) are not offered for RequestCount; use Statistics.",
        )),
        (false, true) => {}
    }
    if input.statistics.len() > 5 {
        return Err(invalid("At most 5 Statistics may be given."));
    }
    if let Some(bad) = input
        .statistics
        .iter()
        .find(|s| !STATISTICS.contains(&s.as_str()))
    {
        return Err(invalid(format!(
            "The statistic {bad} is not one of {}.",
            STATISTICS.join(", ")
        )));
    }
    if input.dimensions.len() > 30 {
        return Err(invalid("At most 30 Dimensions may be given."));
    }
    if (end - start).num_seconds() / period > MAX_DATAPOINTS {
        return Err(invalid(format!(
            "The request asks for more than {MAX_DATAPOINTS} data points; shorten the time range or lengthen the Period."
        )));
    }
    let wanted = |d: &Dimension| d.name.as_deref() == Some(DIMENSION);
    let lb = match (
        &input.dimensions[..],
        namespace == NAMESPACE && metric == REQUEST_COUNT,
    ) {
        ([d], true) if wanted(d) => d.value.clone(),
        _ => None,
    };
    let datapoints: Vec<Value> = match lb.and_then(|value| {
        load_balancers(state, ctx)
            .into_iter()
            .find(|(v, _)| *v == value)
    }) {
        // A metric with other dimensions, or that does not exist, has no data (as on AWS).
        None => Vec::new(),
        Some((_, arn)) => state
            .elbv2()
            .requests
            .datapoints(&arn, start, end, period)
            .into_iter()
            .map(|d| {
                let mut point = json!({
                    "Timestamp": d.timestamp.timestamp(),
                    "Unit": input.unit.clone().unwrap_or_else(|| "Count".into()),
                });
                for s in &input.statistics {
                    let v = match s.as_str() {
                        "SampleCount" => d.sample_count,
                        "Average" => d.sum / d.sample_count,
                        "Sum" => d.sum,
                        "Minimum" => d.minimum,
                        _ => d.maximum,
                    };
                    point[s.as_str()] = json!(v);
                }
                point
            })
            .collect(),
    };
    Ok(json!({ "Label": metric, "Datapoints": datapoints }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<Dimension>,
}

fn list_metrics(state: &State, ctx: &Context, input: ListInput) -> Result<Value, AwsError> {
    if let Some(n) = &input.namespace {
        check_name("Namespace", n)?;
    }
    if let Some(m) = &input.metric_name {
        check_name("MetricName", m)?;
    }
    let matches = input.namespace.as_deref().is_none_or(|n| n == NAMESPACE)
        && input
            .metric_name
            .as_deref()
            .is_none_or(|m| m == REQUEST_COUNT);
    let metrics: Vec<Value> = if matches {
        load_balancers(state, ctx)
            .into_iter()
            .filter(|(value, _)| {
                input.dimensions.iter().all(|d| {
                    d.name.as_deref() == Some(DIMENSION)
                        && d.value.as_deref().is_none_or(|v| v == value)
                })
            })
            .map(|(value, _)| {
                json!({
                    "Namespace": NAMESPACE,
                    "MetricName": REQUEST_COUNT,
                    "Dimensions": [{"Name": DIMENSION, "Value": value}],
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(json!({ "Metrics": metrics }))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use flotilla_model::elbv2::plane::HealthReport;

    use super::*;
    use crate::testing::{ctx, state};

    const ARN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/blue/0123456789abcdef";

    async fn call(cw: &CloudWatch, op: &str, body: Value) -> Result<Value, AwsError> {
        let input = Input::Json(Bytes::from(body.to_string()));
        match cw.call(&ctx(), op, input).await? {
            Output::Json(v) => Ok(v),
            _ => panic!("a JSON answer"),
        }
    }

    fn code(r: Result<Value, AwsError>) -> String {
        r.expect_err("an error").code.to_string()
    }

    #[tokio::test]
    async fn request_counts_are_answered_per_period_and_bad_input_is_refused() {
        let s = state().await;
        let now = Utc::now().timestamp();
        let mut report = HealthReport::default();
        report.requests.insert(ARN.into(), 0);
        s.elbv2().report_health(std::sync::Arc::new(report.clone()));
        report.requests.insert(ARN.into(), 7);
        s.elbv2().report_health(std::sync::Arc::new(report));
        let cw = CloudWatch::new(s);
        let ask = json!({
            "Namespace": NAMESPACE, "MetricName": REQUEST_COUNT,
            "Dimensions": [{"Name": "LoadBalancer", "Value": "app/blue/0123456789abcdef"}],
            "StartTime": now - 600, "EndTime": now + 60, "Period": 60,
            "Statistics": ["Sum", "SampleCount"],
        });
        let out = call(&cw, "GetMetricStatistics", ask.clone()).await.unwrap();
        let points = out["Datapoints"].as_array().unwrap();
        assert_eq!(points.len(), 1, "{out}");
        assert_eq!(
            (points[0]["Sum"].as_f64(), points[0]["Unit"].as_str()),
            (Some(7.0), Some("Count"))
        );
        let listed = call(&cw, "ListMetrics", json!({"Namespace": NAMESPACE}))
            .await
            .unwrap();
        assert_eq!(
            listed["Metrics"][0]["Dimensions"][0]["Value"],
            "app/blue/0123456789abcdef"
        );

        // Another load balancer, another metric: no data, no error.
        let mut other = ask.clone();
        other["Dimensions"][0]["Value"] = json!("app/green/0000000000000000");
        let out = call(&cw, "GetMetricStatistics", other).await.unwrap();
        assert_eq!(out["Datapoints"], json!([]));

        for (change, want) in [
            (json!({"Period": 90}), "InvalidParameterValue"),
            (json!({"Statistics": ["p99"]}), "InvalidParameterValue"),
            (json!({"Statistics": []}), "MissingParameter"),
            (
                json!({"ExtendedStatistics": ["p99"]}),
                "InvalidParameterCombination",
            ),
            (json!({"StartTime": now + 120}), "InvalidParameterValue"),
            (json!({"Namespace": null}), "MissingParameter"),
            (json!({"MetricName": ""}), "InvalidParameterValue"),
            (
                json!({"Period": 60, "StartTime": 0}),
                "InvalidParameterValue",
            ),
        ] {
            let mut bad = ask.clone();
            for (k, v) in change.as_object().unwrap() {
                bad[k] = v.clone();
            }
            assert_eq!(
                code(call(&cw, "GetMetricStatistics", bad.clone()).await),
                want,
                "{bad}"
            );
        }
        assert_eq!(
            code(call(&cw, "GetMetricStatistics", json!({"Period": "x"})).await),
            "SerializationException"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Arbitrary bodies get an answer or a client error, never a panic or a fault.
        #[test]
        fn arbitrary_bodies_are_answered_or_refused(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            start in proptest::prelude::any::<i32>(),
            period in proptest::prelude::any::<i64>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let cw = CloudWatch::new(state().await);
                for op in OPERATIONS {
                    let raw = cw.call(&ctx(), op, Input::Json(Bytes::from(body.clone()))).await;
                    assert!(raw.as_ref().map_or_else(|e| e.status.is_client_error(), |_| true));
                    let shaped = json!({
                        "Namespace": NAMESPACE, "MetricName": REQUEST_COUNT,
                        "StartTime": start, "EndTime": i64::from(start) + 3600, "Period": period,
                        "Statistics": ["Sum"],
                        "Dimensions": [{"Name": "LoadBalancer", "Value": String::from_utf8_lossy(&body)}],
                    });
                    let r = call(&cw, op, shaped).await;
                    assert!(r.as_ref().map_or_else(|e| e.status.is_client_error(), |_| true), "{r:?}");
                }
            });
        }
    }
}
