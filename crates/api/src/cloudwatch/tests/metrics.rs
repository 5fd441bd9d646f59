//! PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics: shapes, statistics,
//! math, paging and CloudWatch's error codes.

use serde_json::json;

use super::*;

async fn put_cpu(cw: &CloudWatch, base: i64) {
    let data: Vec<Value> = (0..6)
        .map(|i| {
            json!({
                "MetricName": "CPU", "Timestamp": base + i * 10, "Value": 10.0 * (i + 1) as f64,
                "Unit": "Percent", "StorageResolution": 1,
                "Dimensions": [{"Name": "Host", "Value": "a"}],
            })
        })
        .collect();
    ok(
        cw,
        "PutMetricData",
        json!({"Namespace": "App", "MetricData": data}),
    )
    .await;
    let other = json!({"Namespace": "App", "MetricData": [{
        "MetricName": "CPU", "Timestamp": base, "StatisticValues": {"SampleCount": 2, "Sum": 30, "Minimum": 10, "Maximum": 20},
        "Dimensions": [{"Name": "Host", "Value": "b"}], "Unit": "Percent",
    }]});
    ok(cw, "PutMetricData", other).await;
}

fn host(h: &str) -> Value {
    json!([{"Name": "Host", "Value": h}])
}

#[tokio::test]
async fn put_then_statistics_per_period_and_resolution() {
    let (cw, _) = cw().await;
    let base = {
        let n = now();
        n - n % 60 - 300
    };
    put_cpu(&cw, base).await;
    let ask = json!({
        "Namespace": "App", "MetricName": "CPU", "Dimensions": host("a"),
        "StartTime": base, "EndTime": base + 60, "Period": 60,
        "Statistics": ["Average", "SampleCount", "Maximum"],
    });
    let out = ok(&cw, "GetMetricStatistics", ask.clone()).await;
    assert_eq!(out["Label"], "CPU");
    let p = &out["Datapoints"][0];
    assert_eq!(
        (
            p["Average"].as_f64(),
            p["SampleCount"].as_f64(),
            p["Maximum"].as_f64()
        ),
        (Some(35.0), Some(6.0), Some(60.0))
    );
    assert_eq!(p["Unit"], "Percent");
    assert_eq!(p["Timestamp"].as_i64(), Some(base));
    let mut ten = ask.clone();
    ten["Period"] = json!(10);
    assert_eq!(
        ok(&cw, "GetMetricStatistics", ten).await["Datapoints"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let mut other_unit = ask.clone();
    other_unit["Unit"] = json!("Seconds");
    assert_eq!(
        ok(&cw, "GetMetricStatistics", other_unit).await["Datapoints"],
        json!([])
    );

    for (change, want) in [
        (json!({"Period": 90}), "InvalidParameterValue"),
        (json!({"Period": null}), "MissingParameter"),
        (json!({"Statistics": ["p99"]}), "InvalidParameterValue"),
        (json!({"Statistics": null}), "MissingParameter"),
        (
            json!({"ExtendedStatistics": ["p99"]}),
            "InvalidParameterCombination",
        ),
        (json!({"StartTime": base + 120}), "InvalidParameterValue"),
        (json!({"Namespace": null}), "MissingParameter"),
        (json!({"MetricName": ""}), "InvalidParameterValue"),
        (
            json!({"Period": 1, "StartTime": base - 7200}),
            "InvalidParameterCombination",
        ),
        (json!({"Unit": "Parsecs"}), "InvalidParameterValue"),
    ] {
        let mut bad = ask.clone();
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        assert_eq!(
            code(&cw, "GetMetricStatistics", bad.clone()).await,
            want,
            "{bad}"
        );
    }
    let e = call(&cw, "GetMetricStatistics", json!({"Period": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "SerializationException");
}

#[tokio::test]
async fn put_metric_data_refuses_what_cloudwatch_refuses() {
    let (cw, _) = cw().await;
    let t = now();
    let datum = |extra: Value| {
        let mut d = json!({"MetricName": "M", "Value": 1.0, "Timestamp": t});
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        json!({"Namespace": "App", "MetricData": [d]})
    };
    ok(
        &cw,
        "PutMetricData",
        datum(json!({"Values": null, "Value": 2.0})),
    )
    .await;
    ok(
        &cw,
        "PutMetricData",
        datum(json!({"Value": null, "Values": [1, 2], "Counts": [3, 0]})),
    )
    .await;
    for (body, want) in [
        (
            json!({"Namespace": "AWS/EC2", "MetricData": [{"MetricName": "M", "Value": 1}]}),
            "InvalidParameterValue",
        ),
        (
            json!({"MetricData": [{"MetricName": "M", "Value": 1}]}),
            "MissingParameter",
        ),
        (
            json!({"Namespace": "App", "MetricData": []}),
            "InvalidParameterValue",
        ),
        (
            datum(json!({"Timestamp": t - 15 * 86_400})),
            "InvalidParameterValue",
        ),
        (
            datum(json!({"Timestamp": t + 3 * 3600})),
            "InvalidParameterValue",
        ),
        (
            datum(json!({"StorageResolution": 10})),
            "InvalidParameterValue",
        ),
        (
            datum(
                json!({"StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}),
            ),
            "InvalidParameterCombination",
        ),
        (datum(json!({"Value": null})), "MissingParameter"),
        (
            datum(json!({"Value": null, "Values": [1, 2], "Counts": [1]})),
            "InvalidParameterCombination",
        ),
        (datum(json!({"Value": 1e200})), "InvalidParameterValue"),
        (datum(json!({"Unit": "Furlongs"})), "InvalidParameterValue"),
        (
            datum(json!({"Dimensions": [{"Name": "A"}]})),
            "MissingParameter",
        ),
        (
            datum(
                json!({"Dimensions": (0..31).map(|i| json!({"Name": format!("d{i}"), "Value": "v"})).collect::<Vec<_>>()}),
            ),
            "InvalidParameterValue",
        ),
        (
            datum(
                json!({"Value": null, "StatisticValues": {"SampleCount": 0, "Sum": 1, "Minimum": 1, "Maximum": 1}}),
            ),
            "InvalidParameterValue",
        ),
    ] {
        assert_eq!(
            code(&cw, "PutMetricData", body.clone()).await,
            want,
            "{body}"
        );
    }
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"MetricName": "M", "Value": 1}))
        .collect();
    assert_eq!(
        code(
            &cw,
            "PutMetricData",
            json!({"Namespace": "App", "MetricData": many})
        )
        .await,
        "InvalidParameterValue"
    );
}

fn stat(id: &str, h: &str, return_data: bool) -> Value {
    json!({"Id": id, "ReturnData": return_data, "MetricStat": {
        "Metric": {"Namespace": "App", "MetricName": "CPU", "Dimensions": host(h)},
        "Period": 60, "Stat": "Sum"}})
}

#[tokio::test]
async fn get_metric_data_with_math_order_and_pages() {
    let (cw, _) = cw().await;
    let base = {
        let n = now();
        n - n % 60 - 300
    };
    put_cpu(&cw, base).await;
    put_cpu(&cw, base + 60).await;
    let body = json!({
        "StartTime": base, "EndTime": base + 120,
        "MetricDataQueries": [
            stat("a", "a", false), stat("b", "b", true),
            {"Id": "total", "Expression": "a + b", "Label": "Total CPU"},
            {"Id": "all", "Expression": "SUM(METRICS())"},
        ],
    });
    let out = ok(&cw, "GetMetricData", body.clone()).await;
    let results = out["MetricDataResults"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{out}");
    assert_eq!(results[0]["Label"], "CPU");
    assert_eq!(results[1]["Label"], "Total CPU");
    assert_eq!(
        results[1]["Timestamps"],
        json!([base + 60, base]),
        "newest first"
    );
    assert_eq!(results[1]["Values"], json!([240.0, 240.0]));
    assert_eq!(results[2]["Label"], "all");
    assert_eq!(results[1]["StatusCode"], "Complete");

    let mut asc = body.clone();
    asc["ScanBy"] = json!("TimestampAscending");
    asc["MaxDatapoints"] = json!(4);
    let first = ok(&cw, "GetMetricData", asc.clone()).await;
    assert_eq!(
        first["MetricDataResults"][0]["Timestamps"],
        json!([base, base + 60])
    );
    assert_eq!(first["MetricDataResults"][2]["StatusCode"], "PartialData");
    let token = first["NextToken"]
        .as_str()
        .expect("a next page")
        .to_string();
    asc["NextToken"] = json!(token);
    let second = ok(&cw, "GetMetricData", asc.clone()).await;
    assert_eq!(
        second["MetricDataResults"][2]["Values"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(second.get("NextToken").is_none());
    asc["NextToken"] = json!("nope");
    assert_eq!(code(&cw, "GetMetricData", asc).await, "InvalidNextToken");

    let with = |queries: Value| json!({"StartTime": base, "EndTime": base + 120, "MetricDataQueries": queries});
    for (queries, want, words) in [
        (
            json!([{"Id": "e", "Expression": "a +"}]),
            "ValidationError",
            "Error in expression e",
        ),
        (
            json!([{"Id": "e", "Expression": "zz * 2"}]),
            "ValidationError",
            "Unrecognized metric id zz",
        ),
        (
            json!([stat("a", "a", true), stat("a", "b", true)]),
            "ValidationError",
            "more than one",
        ),
        (
            json!([{"Id": "A1", "Expression": "1"}]),
            "InvalidParameterValue",
            "lowercase",
        ),
        (json!([{"Id": "e"}]), "ValidationError", "exactly one"),
        (
            json!([{"Id": "e", "Expression": "1 + 1"}]),
            "ValidationError",
            "single number",
        ),
        (json!([]), "MissingParameter", "MetricDataQueries"),
    ] {
        let e = call(&cw, "GetMetricData", with(queries.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.query_code.as_deref(), Some(want), "{queries}: {e}");
        assert!(e.message.contains(words), "{queries}: {e}");
    }
}

#[tokio::test]
async fn list_metrics_filters_and_pages() {
    let (cw, _) = cw().await;
    let base = now() - 120;
    put_cpu(&cw, base).await;
    ok(
        &cw,
        "PutMetricData",
        json!({"Namespace": "Other", "MetricData": [{"MetricName": "Q", "Value": 1}]}),
    )
    .await;
    let all = ok(&cw, "ListMetrics", json!({})).await;
    assert_eq!(all["Metrics"].as_array().unwrap().len(), 3);
    let app = ok(
        &cw,
        "ListMetrics",
        json!({"Namespace": "App", "Dimensions": [{"Name": "Host", "Value": "b"}]}),
    )
    .await;
    assert_eq!(
        app["Metrics"],
        json!([{"Namespace": "App", "MetricName": "CPU", "Dimensions": host("b")}])
    );
    let named = ok(
        &cw,
        "ListMetrics",
        json!({"Dimensions": [{"Name": "Host"}], "RecentlyActive": "PT3H"}),
    )
    .await;
    assert_eq!(named["Metrics"].as_array().unwrap().len(), 2);
    assert_eq!(
        code(&cw, "ListMetrics", json!({"RecentlyActive": "PT1H"})).await,
        "InvalidParameterValue"
    );
    assert_eq!(
        code(&cw, "ListMetrics", json!({"NextToken": "!!"})).await,
        "InvalidNextToken"
    );
    assert_eq!(
        code(&cw, "ListMetrics", json!({"Namespace": ""})).await,
        "InvalidParameterValue"
    );
}
