//! Arbitrary input against every operation: an answer or a client error, never a panic
//! or a fault.

use proptest::prelude::*;
use serde_json::json;

use super::super::OPERATIONS;
use super::*;

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,40}".prop_map(Value::from),
        Just(json!("App")),
        Just(json!("AWS/ApplicationELB")),
        Just(json!("m1 + m2 * SUM(METRICS())")),
        Just(json!("FILL(m1, LINEAR)")),
        Just(json!("Average")),
        Just(json!("GreaterThanThreshold")),
        Just(json!("arn:aws:cloudwatch:us-east-1:000000000000:alarm:a")),
        Just(json!(1_700_000_000.5)),
        Just(json!(60)),
        Just(json!(1)),
    ];
    let member = prop::sample::select(vec![
        "Namespace",
        "MetricName",
        "Dimensions",
        "Name",
        "Value",
        "Values",
        "Counts",
        "Timestamp",
        "StatisticValues",
        "SampleCount",
        "Sum",
        "Minimum",
        "Maximum",
        "Unit",
        "StorageResolution",
        "MetricData",
        "StartTime",
        "EndTime",
        "Period",
        "Statistics",
        "ExtendedStatistics",
        "MetricDataQueries",
        "Id",
        "MetricStat",
        "Metric",
        "Stat",
        "Expression",
        "Label",
        "ReturnData",
        "ScanBy",
        "MaxDatapoints",
        "NextToken",
        "RecentlyActive",
        "AlarmName",
        "AlarmNames",
        "AlarmNamePrefix",
        "StateValue",
        "StateReason",
        "StateReasonData",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "Metrics",
        "Statistic",
        "AlarmActions",
        "OKActions",
        "Tags",
        "Key",
        "ResourceARN",
        "TagKeys",
        "MaxRecords",
        "HistoryItemType",
        "AlarmTypes",
        "ActionPrefix",
        "StartDate",
        "EndDate",
    ]);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((member.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any JSON body, and any bytes, get an answer or a client error from every operation.
    #[test]
    fn every_operation_answers_or_refuses(body in arbitrary_json(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (cw, _) = cw().await;
            for op in OPERATIONS {
                let r = call(&cw, op, body.clone()).await;
                assert!(r.as_ref().map_or_else(|e| !e.is_server_fault(), |_| true), "{op} {body}: {r:?}");
                let input = Input::Json(Bytes::from(raw.clone()));
                let r = cw.call(&ctx(), op, input).await;
                assert!(r.as_ref().map_or_else(|e| !e.is_server_fault(), |_| true), "{op}: {r:?}");
            }
        });
    }
}
