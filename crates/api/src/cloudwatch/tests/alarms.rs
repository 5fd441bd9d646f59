//! Alarms through the API: PutMetricAlarm's rules, DescribeAlarms' filters and pages,
//! SetAlarmState with history, actions on and off, DescribeAlarmsForMetric, tags,
//! DeleteAlarms.

use serde_json::json;

use super::*;

fn alarm(name: &str) -> Value {
    json!({
        "AlarmName": name, "MetricName": "CPU", "Namespace": "App",
        "Statistic": "Average", "Period": 10, "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
        "Threshold": 70.0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": ["arn:aws:sns:us-east-1:000000000000:ops"],
        "Dimensions": [{"Name": "Host", "Value": "a"}],
        "Tags": [{"Key": "team", "Value": "web"}],
    })
}

#[tokio::test]
async fn put_describe_set_state_and_history() {
    let (cw, _) = cw().await;
    ok(&cw, "PutMetricAlarm", alarm("cpu-high")).await;
    let math = json!({
        "AlarmName": "errors-rate", "EvaluationPeriods": 1, "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Metrics": [
            {"Id": "e", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Errors"}, "Period": 60, "Stat": "Sum"}},
            {"Id": "r", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Requests"}, "Period": 60, "Stat": "Sum"}},
            {"Id": "pct", "Expression": "100 * e / r", "Label": "Error %"},
        ],
    });
    ok(&cw, "PutMetricAlarm", math).await;
    let out = ok(&cw, "DescribeAlarms", json!({"AlarmNames": ["cpu-high"]})).await;
    let a = &out["MetricAlarms"][0];
    assert_eq!(a["StateValue"], "INSUFFICIENT_DATA");
    assert_eq!(a["StateReason"], "Unchecked: Initial alarm creation");
    assert_eq!(
        a["AlarmArn"],
        "arn:aws:cloudwatch:us-east-1:000000000000:alarm:cpu-high"
    );
    assert_eq!(
        (a["Period"].as_i64(), a["DatapointsToAlarm"].as_i64()),
        (Some(10), Some(2))
    );
    assert_eq!(a["TreatMissingData"], "notBreaching");
    assert_eq!(a["Dimensions"][0]["Value"], "a");
    assert!(a["StateUpdatedTimestamp"].as_f64().unwrap() > 1e9);
    let m = ok(&cw, "DescribeAlarms", json!({"AlarmNamePrefix": "errors"})).await;
    assert_eq!(
        m["MetricAlarms"][0]["Metrics"][2]["Expression"],
        "100 * e / r"
    );
    assert!(m["MetricAlarms"][0].get("Namespace").is_none());

    ok(&cw, "SetAlarmState", json!({"AlarmName": "cpu-high", "StateValue": "ALARM", "StateReason": "testing", "StateReasonData": "{\"a\":1}"})).await;
    let alarming = ok(&cw, "DescribeAlarms", json!({"StateValue": "ALARM"})).await;
    assert_eq!(alarming["MetricAlarms"].as_array().unwrap().len(), 1);
    assert_eq!(alarming["MetricAlarms"][0]["StateReason"], "testing");
    let by_action = ok(
        &cw,
        "DescribeAlarms",
        json!({"ActionPrefix": "arn:aws:sns"}),
    )
    .await;
    assert_eq!(by_action["MetricAlarms"][0]["AlarmName"], "cpu-high");
    let composite = ok(
        &cw,
        "DescribeAlarms",
        json!({"AlarmTypes": ["CompositeAlarm"]}),
    )
    .await;
    assert_eq!(composite["MetricAlarms"], json!([]));
    let paged = ok(&cw, "DescribeAlarms", json!({"MaxRecords": 1})).await;
    assert_eq!(paged["MetricAlarms"][0]["AlarmName"], "cpu-high");
    let next = ok(
        &cw,
        "DescribeAlarms",
        json!({"MaxRecords": 1, "NextToken": paged["NextToken"]}),
    )
    .await;
    assert_eq!(next["MetricAlarms"][0]["AlarmName"], "errors-rate");

    let h = ok(
        &cw,
        "DescribeAlarmHistory",
        json!({"AlarmName": "cpu-high"}),
    )
    .await;
    let items = h["AlarmHistoryItems"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["HistoryItemType"], "StateUpdate");
    assert_eq!(
        items[0]["HistorySummary"],
        "Alarm updated from Insufficient Data to Alarm"
    );
    let data: Value = serde_json::from_str(items[0]["HistoryData"].as_str().unwrap()).unwrap();
    assert_eq!(data["newState"]["stateValue"], "ALARM");
    assert_eq!(data["oldState"]["stateValue"], "INSUFFICIENT_DATA");
    assert_eq!(items[1]["HistorySummary"], "Alarm \"cpu-high\" created");
    let config = ok(
        &cw,
        "DescribeAlarmHistory",
        json!({"HistoryItemType": "ConfigurationUpdate", "ScanBy": "TimestampAscending"}),
    )
    .await;
    assert_eq!(config["AlarmHistoryItems"].as_array().unwrap().len(), 2);

    let for_metric = ok(&cw, "DescribeAlarmsForMetric", json!({"Namespace": "App", "MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": "a"}]})).await;
    assert_eq!(for_metric["MetricAlarms"].as_array().unwrap().len(), 1);
    let errors = ok(
        &cw,
        "DescribeAlarmsForMetric",
        json!({"Namespace": "App", "MetricName": "Errors"}),
    )
    .await;
    assert_eq!(errors["MetricAlarms"][0]["AlarmName"], "errors-rate");

    ok(
        &cw,
        "DisableAlarmActions",
        json!({"AlarmNames": ["cpu-high"]}),
    )
    .await;
    let a = ok(&cw, "DescribeAlarms", json!({"AlarmNames": ["cpu-high"]})).await;
    assert_eq!(a["MetricAlarms"][0]["ActionsEnabled"], false);
    ok(
        &cw,
        "EnableAlarmActions",
        json!({"AlarmNames": ["cpu-high"]}),
    )
    .await;

    let arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:cpu-high";
    ok(
        &cw,
        "TagResource",
        json!({"ResourceARN": arn, "Tags": [{"Key": "env", "Value": "prod"}]}),
    )
    .await;
    ok(
        &cw,
        "UntagResource",
        json!({"ResourceARN": arn, "TagKeys": ["team"]}),
    )
    .await;
    let t = ok(&cw, "ListTagsForResource", json!({"ResourceARN": arn})).await;
    assert_eq!(t["Tags"], json!([{"Key": "env", "Value": "prod"}]));
    assert_eq!(
        code(
            &cw,
            "ListTagsForResource",
            json!({"ResourceARN": format!("{arn}x")})
        )
        .await,
        "ResourceNotFoundException"
    );

    assert_eq!(
        code(
            &cw,
            "DeleteAlarms",
            json!({"AlarmNames": ["cpu-high", "nope"]})
        )
        .await,
        "ResourceNotFound"
    );
    ok(
        &cw,
        "DeleteAlarms",
        json!({"AlarmNames": ["cpu-high", "errors-rate"]}),
    )
    .await;
    assert_eq!(
        ok(&cw, "DescribeAlarms", json!({})).await["MetricAlarms"],
        json!([])
    );
}

#[tokio::test]
async fn bad_alarms_are_refused_with_cloudwatchs_codes() {
    let (cw, _) = cw().await;
    for (change, want) in [
        (json!({"AlarmName": null}), "MissingParameter"),
        (json!({"AlarmName": ""}), "InvalidParameterValue"),
        (
            json!({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}),
            "ValidationError",
        ),
        (
            json!({"ComparisonOperator": "Bigger"}),
            "InvalidParameterValue",
        ),
        (json!({"Period": 15}), "InvalidParameterValue"),
        (json!({"EvaluationPeriods": 0}), "InvalidParameterValue"),
        (json!({"DatapointsToAlarm": 4}), "InvalidParameterValue"),
        (json!({"Threshold": null}), "MissingParameter"),
        (
            json!({"TreatMissingData": "sometimes"}),
            "InvalidParameterValue",
        ),
        (
            json!({"ExtendedStatistic": "p99"}),
            "InvalidParameterCombination",
        ),
        (json!({"Statistic": null}), "MissingParameter"),
        (
            json!({"AlarmActions": ["not-an-arn"]}),
            "InvalidParameterValue",
        ),
        (
            json!({"EvaluateLowSampleCountPercentile": "maybe"}),
            "InvalidParameterValue",
        ),
        (json!({"ThresholdMetricId": "ad1"}), "InvalidParameterValue"),
        (
            json!({"Metrics": [{"Id": "m", "Expression": "1"}]}),
            "InvalidParameterCombination",
        ),
        (
            json!({"Period": 86400, "EvaluationPeriods": 8}),
            "InvalidParameterValue",
        ),
    ] {
        let mut bad = alarm("bad");
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        assert_eq!(
            code(&cw, "PutMetricAlarm", bad.clone()).await,
            want,
            "{bad}"
        );
    }
    let math = |metrics: Value| json!({"AlarmName": "m", "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold", "Metrics": metrics});
    let stat = json!({"Id": "a", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "X"}, "Period": 60, "Stat": "Sum"}});
    assert_eq!(
        code(
            &cw,
            "PutMetricAlarm",
            math(json!([stat.clone(), {"Id": "b", "Expression": "a * 2"}]))
        )
        .await,
        "ValidationError",
        "two return data"
    );
    assert_eq!(
        code(
            &cw,
            "PutMetricAlarm",
            math(json!([{"Id": "b", "Expression": "a *"}]))
        )
        .await,
        "ValidationError"
    );
    assert_eq!(
        code(
            &cw,
            "SetAlarmState",
            json!({"AlarmName": "nope", "StateValue": "OK", "StateReason": "r"})
        )
        .await,
        "ResourceNotFound"
    );
    ok(&cw, "PutMetricAlarm", alarm("good")).await;
    assert_eq!(code(&cw, "SetAlarmState", json!({"AlarmName": "good", "StateValue": "OK", "StateReason": "r", "StateReasonData": "{"})).await, "InvalidFormat");
    assert_eq!(
        code(
            &cw,
            "SetAlarmState",
            json!({"AlarmName": "good", "StateValue": "BAD", "StateReason": "r"})
        )
        .await,
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            &cw,
            "DescribeAlarms",
            json!({"AlarmNames": ["a"], "AlarmNamePrefix": "a"})
        )
        .await,
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(&cw, "DescribeAlarms", json!({"MaxRecords": 101})).await,
        "InvalidParameterValue"
    );
    assert_eq!(
        code(&cw, "DescribeAlarms", json!({"NextToken": "%%"})).await,
        "InvalidNextToken"
    );
    assert_eq!(
        code(&cw, "DescribeAlarmHistory", json!({"ScanBy": "Sideways"})).await,
        "InvalidParameterValue"
    );
}
