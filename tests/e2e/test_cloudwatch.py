"""CloudWatch end to end with the real AWS CLI and boto3: metrics put and read back
(statistics per period, high resolution, metric math through GetMetricData, ListMetrics'
filters), an alarm with 10-second periods going OK -> ALARM -> OK as data arrives, its
history, SetAlarmState, DescribeAlarms' filters, CloudWatch's error codes, and metrics
surviving a crash of the server. One server for the module, evaluating alarms every
second."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Flotilla

NS = "E2E/App"


@pytest.fixture(scope="module")
def cw(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("cloudwatch"), ["--alarm-evaluation-seconds", "1"]).start()
    yield server
    server.stop()


def put(cw, name, value, ts, dims=(("Host", "a"),), resolution=1):
    datum = {"MetricName": name, "Value": value, "Timestamp": ts, "Unit": "Count",
             "StorageResolution": resolution,
             "Dimensions": [{"Name": n, "Value": v} for n, v in dims]}
    cw.aws("cloudwatch", "put-metric-data", "--namespace", NS, "--metric-data", json.dumps([datum]))


def minute_start():
    now = int(time.time())
    return now - now % 60 - 120


def test_put_then_statistics_math_and_list(cw):
    base = minute_start()
    for i in range(6):
        put(cw, "Requests", 10 * (i + 1), base + 10 * i)
        put(cw, "Requests", 1, base + 10 * i, dims=(("Host", "b"),), resolution=60)
    stats = cw.aws("cloudwatch", "get-metric-statistics", "--namespace", NS, "--metric-name", "Requests",
                   "--dimensions", "Name=Host,Value=a", "--statistics", "Sum", "Average", "SampleCount",
                   "--period", "60", "--start-time", str(base), "--end-time", str(base + 60))
    [point] = stats["Datapoints"]
    assert (point["Sum"], point["Average"], point["SampleCount"], point["Unit"]) == (210.0, 35.0, 6.0, "Count")
    ten = cw.aws("cloudwatch", "get-metric-statistics", "--namespace", NS, "--metric-name", "Requests",
                 "--dimensions", "Name=Host,Value=a", "--statistics", "Maximum", "--period", "10",
                 "--start-time", str(base), "--end-time", str(base + 60))
    assert sorted(p["Maximum"] for p in ten["Datapoints"]) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]

    client = cw.client("cloudwatch")
    metric = lambda host: {"Namespace": NS, "MetricName": "Requests", "Dimensions": [{"Name": "Host", "Value": host}]}
    out = client.get_metric_data(
        StartTime=base, EndTime=base + 60, ScanBy="TimestampAscending",
        MetricDataQueries=[
            {"Id": "a", "MetricStat": {"Metric": metric("a"), "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "b", "MetricStat": {"Metric": metric("b"), "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "total", "Expression": "a + b", "Label": "All hosts"},
            {"Id": "share", "Expression": "100 * b / SUM(METRICS())"},
        ])
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert results["total"]["Label"] == "All hosts"
    assert results["total"]["Values"] == [216.0]
    assert results["total"]["StatusCode"] == "Complete"
    assert round(results["share"]["Values"][0], 3) == round(600 / 216, 3)

    listed = cw.aws("cloudwatch", "list-metrics", "--namespace", NS, "--dimensions", "Name=Host,Value=b")
    assert [m["Dimensions"] for m in listed["Metrics"]] == [[{"Name": "Host", "Value": "b"}]]
    recent = client.list_metrics(Namespace=NS, RecentlyActive="PT3H")
    assert len(recent["Metrics"]) == 2


def wait_state(client, name, state, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        alarm = client.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        if alarm["StateValue"] == state or time.monotonic() > deadline:
            return alarm
        time.sleep(0.2)


def test_an_alarm_follows_its_data_with_history(cw):
    client = cw.client("cloudwatch")
    cw.aws("cloudwatch", "put-metric-alarm", "--alarm-name", "load-high", "--namespace", NS,
           "--metric-name", "Load", "--dimensions", "Name=Host,Value=a", "--statistic", "Average",
           "--period", "10", "--evaluation-periods", "1", "--threshold", "50",
           "--comparison-operator", "GreaterThanThreshold", "--treat-missing-data", "ignore",
           "--alarm-actions", "arn:aws:sns:us-east-1:000000000000:ops")
    assert client.describe_alarms(AlarmNames=["load-high"])["MetricAlarms"][0]["StateValue"] == "INSUFFICIENT_DATA"

    def put_load(value):
        # Into the period just finished (evaluated at the next tick) and the current one
        # (in case the window moves first). Each value outweighs those before it in an
        # average, so whichever period is evaluated crosses the threshold the same way.
        now = int(time.time())
        for ts in (now - now % 10 - 1, now):
            put(cw, "Load", value, ts)

    put_load(10)
    alarm = wait_state(client, "load-high", "OK")
    assert alarm["StateValue"] == "OK", alarm
    put_load(1000)
    alarm = wait_state(client, "load-high", "ALARM")
    assert alarm["StateValue"] == "ALARM", alarm
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [")
    assert alarm["StateReason"].endswith("was greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).")
    reason_data = json.loads(alarm["StateReasonData"])
    assert reason_data["recentDatapoints"][0] > 50 and reason_data["statistic"] == "Average"
    put_load(-10000)
    alarm = wait_state(client, "load-high", "OK")
    assert alarm["StateValue"] == "OK", alarm

    history = cw.aws("cloudwatch", "describe-alarm-history", "--alarm-name", "load-high",
                     "--history-item-type", "StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history][:3] == [
        "Alarm updated from Alarm to OK", "Alarm updated from OK to Alarm",
        "Alarm updated from Insufficient Data to OK"]
    assert json.loads(history[1]["HistoryData"])["newState"]["stateValue"] == "ALARM"
    created = cw.aws("cloudwatch", "describe-alarm-history", "--alarm-name", "load-high",
                     "--history-item-type", "ConfigurationUpdate")["AlarmHistoryItems"]
    assert created[0]["HistorySummary"] == 'Alarm "load-high" created'


def test_set_state_and_describe_filters(cw):
    client = cw.client("cloudwatch")
    for name in ("web-cpu", "web-mem", "db-cpu"):
        client.put_metric_alarm(AlarmName=name, Namespace=NS, MetricName="CPU", Statistic="Average",
                                Period=60, EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=80,
                                ComparisonOperator="GreaterThanOrEqualToThreshold",
                                # No data keeps the state SetAlarmState gives (with the
                                # default, the next evaluation makes it INSUFFICIENT_DATA).
                                TreatMissingData="ignore",
                                OKActions=[f"arn:aws:sns:us-east-1:000000000000:{name}"],
                                Tags=[{"Key": "team", "Value": name.split("-")[0]}])
    cw.aws("cloudwatch", "set-alarm-state", "--alarm-name", "web-cpu", "--state-value", "ALARM",
           "--state-reason", "testing the pager")
    alarming = cw.aws("cloudwatch", "describe-alarms", "--state-value", "ALARM", "--alarm-name-prefix", "web")
    assert [a["AlarmName"] for a in alarming["MetricAlarms"]] == ["web-cpu"]
    assert alarming["MetricAlarms"][0]["StateReason"] == "testing the pager"
    by_prefix = cw.aws("cloudwatch", "describe-alarms", "--alarm-name-prefix", "web-")["MetricAlarms"]
    assert [a["AlarmName"] for a in by_prefix] == ["web-cpu", "web-mem"]
    by_action = client.describe_alarms(ActionPrefix="arn:aws:sns:us-east-1:000000000000:db")
    assert [a["AlarmName"] for a in by_action["MetricAlarms"]] == ["db-cpu"]
    pages = client.get_paginator("describe_alarms").paginate(AlarmNamePrefix="web-", PaginationConfig={"PageSize": 1})
    assert sum(len(p["MetricAlarms"]) for p in pages) == 2
    for_metric = client.describe_alarms_for_metric(Namespace=NS, MetricName="CPU")
    assert len(for_metric["MetricAlarms"]) == 3
    arn = alarming["MetricAlarms"][0]["AlarmArn"]
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "web"}]
    cw.aws("cloudwatch", "disable-alarm-actions", "--alarm-names", "web-cpu")
    assert client.describe_alarms(AlarmNames=["web-cpu"])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.aws("cloudwatch", "delete-alarms", "--alarm-names", "web-cpu", "web-mem", "db-cpu")
    assert client.describe_alarms(AlarmNamePrefix="web")["MetricAlarms"] == []


def test_bad_input_gets_cloudwatchs_errors(cw):
    out = cw.aws("cloudwatch", "put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "X",
                 "--value", "1", check=False)
    assert out.returncode != 0 and "(InvalidParameterValue)" in out.stderr, out.stderr
    client = cw.client("cloudwatch")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.get_metric_statistics(Namespace=NS, MetricName="Requests", StartTime=0, EndTime=60,
                                     Period=45, Statistics=["Sum"])
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.set_alarm_state(AlarmName="nope", StateValue="OK", StateReason="r")
    with pytest.raises(ClientError) as e:
        client.get_metric_data(StartTime=0, EndTime=60, MetricDataQueries=[{"Id": "e", "Expression": "m1 +"}])
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "Error in expression e" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        client.put_metric_alarm(AlarmName="band", Namespace=NS, MetricName="X", Statistic="Sum", Period=60,
                                EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(client.exceptions.InvalidParameterCombinationException):
        client.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "X", "Value": 1,
                               "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])


def test_metrics_survive_a_crash(cw):
    base = minute_start()
    put(cw, "Durable", 7, base + 1, resolution=60)
    cw.kill9()
    cw.start()
    stats = cw.aws("cloudwatch", "get-metric-statistics", "--namespace", NS, "--metric-name", "Durable",
                   "--dimensions", "Name=Host,Value=a", "--statistics", "Sum", "--period", "60",
                   "--start-time", str(base), "--end-time", str(base + 60))
    assert [p["Sum"] for p in stats["Datapoints"]] == [7.0]


def test_a_thousand_metric_data_in_one_gzipped_call(cw):
    """botocore gzips PutMetricData bodies over 10 KiB (Content-Encoding: gzip); the
    gateway unpacks them after checking the signature of the bytes sent."""
    client = cw.client("cloudwatch")
    now = time.time()
    data = [{"MetricName": "Big", "Dimensions": [{"Name": "N", "Value": str(i)}], "Value": float(i),
             "Timestamp": now} for i in range(1000)]
    client.put_metric_data(Namespace="Gzip", MetricData=data)
    listed = client.get_paginator("list_metrics").paginate(Namespace="Gzip")
    assert sum(len(p["Metrics"]) for p in listed) == 1000
