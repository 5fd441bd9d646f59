"""The load balancer's CloudWatch metrics end to end: real HTTP through the data plane to a
small HTTP server this test runs on 127.0.0.1, read back with boto3's CloudWatch client.

One load balancer forwards `/` to a healthy target (which is then made to answer 500s),
`/none` to a group with no target (the balancer answers 503) and `/dead` to a group
whose only target refuses connections (unhealthy; the balancer fails open and answers
502). The requests show up in `AWS/ApplicationELB`'s RequestCount,
RequestCountPerTarget, HTTPCode_Target_2XX/5XX_Count, TargetResponseTime,
HTTPCode_ELB_5XX_Count, HealthyHostCount and UnHealthyHostCount, and an alarm on
HTTPCode_Target_5XX_Count (Sum, period 10, threshold 1) goes to ALARM while the target
answers 500s. Alarms are evaluated every second here; every wait is bounded."""
import datetime

import pytest

from conftest import Flotilla
from test_load_balancer import get, lb_address
from test_route53_health import Endpoint, eventually

LB_RANGE = "127.0.24.1-127.0.24.10"
PORT = 18430
NS = "AWS/ApplicationELB"


@pytest.fixture(scope="module")
def flotilla(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("lbmetrics"),
                      extra_args=["--lb-bind", LB_RANGE, "--alarm-evaluation-seconds", "1"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def target():
    """An HTTP server on 127.0.0.1 answering every GET with its `code` (health checks too)."""
    t = Endpoint()
    yield t
    t.close()


def group(elb, name, targets):
    tg = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, TargetType="ip",
                                 HealthCheckPath="/health",
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                 UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    if targets:
        elb.register_targets(TargetGroupArn=tg, Targets=targets)
    return tg


def dimension(arn, prefix):
    """`app/NAME/ID` of a load balancer's ARN, `targetgroup/NAME/ID` of a group's."""
    return arn.split(":", 5)[5].removeprefix(prefix)


def stats(cw, name, dims):
    """SampleCount, Sum, Average, Minimum and Maximum over the last 10 minutes, with the
    unit (one 10-minute period)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    points = cw.get_metric_statistics(
        Namespace=NS, MetricName=name, Dimensions=[{"Name": k, "Value": v} for k, v in dims],
        StartTime=now - datetime.timedelta(minutes=9), EndTime=now + datetime.timedelta(minutes=1),
        Period=600, Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
    )["Datapoints"]
    return points[0] if points else {}


def test_requests_become_alb_metrics_and_5xx_raise_an_alarm(flotilla, target):
    elb, cw = flotilla.client("elbv2"), flotilla.client("cloudwatch")
    lb_arn = elb.create_load_balancer(Name="metrics", Subnets=flotilla.default_network().subnets)["LoadBalancers"][0][
        "LoadBalancerArn"]
    good = group(elb, "metrics-good", [{"Id": "127.0.0.1", "Port": target.port}])
    empty = group(elb, "metrics-empty", [])
    dead = group(elb, "metrics-dead", [{"Id": "127.0.24.200", "Port": 9}])
    listener = elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=PORT,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": good}])
    listener_arn = listener["Listeners"][0]["ListenerArn"]
    for priority, (path, tg) in enumerate([("/none", empty), ("/dead", dead)], start=1):
        elb.create_rule(ListenerArn=listener_arn, Priority=priority,
                        Conditions=[{"Field": "path-pattern", "Values": [path]}],
                        Actions=[{"Type": "forward", "TargetGroupArn": tg}])

    def state(tg):
        return [d["TargetHealth"]["State"]
                for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]]

    eventually("the target is healthy", lambda: state(good) == ["healthy"])
    eventually("the dead target is unhealthy", lambda: state(dead) == ["unhealthy"])
    addr = lb_address(elb, lb_arn)
    codes = [get(addr, PORT, "/")[0] for _ in range(20)]
    target.code = 500
    codes += [get(addr, PORT, path)[0] for path in ["/"] * 5 + ["/none"] * 3 + ["/dead"] * 2]
    assert codes == [200] * 20 + [500] * 5 + [503] * 3 + [502] * 2

    lb = ("LoadBalancer", dimension(lb_arn, "loadbalancer/"))
    tg = ("TargetGroup", dimension(good, ""))
    assert tg[1].startswith("targetgroup/metrics-good/")

    def total(name, dims, want):
        return eventually(f"{name} {dims} = {want}",
                          lambda: (s := stats(cw, name, dims)).get("Sum") == want and s)

    total("RequestCount", [lb], 30)
    total("RequestCount", [lb, tg], 25)
    total("RequestCountPerTarget", [tg], 25)
    total("RequestCountPerTarget", [lb, tg], 25)
    total("HTTPCode_Target_2XX_Count", [lb, tg], 20)
    total("HTTPCode_Target_5XX_Count", [lb], 5)
    elb_5xx = total("HTTPCode_ELB_5XX_Count", [lb], 5)
    assert elb_5xx["Unit"] == "Count"
    time_ = eventually("25 target response times", lambda: (
        s := stats(cw, "TargetResponseTime", [lb, tg])).get("SampleCount") == 25 and s)
    assert time_["Unit"] == "Seconds"
    assert 0 < time_["Average"] < 5
    healthy = stats(cw, "HealthyHostCount", [lb, tg])
    assert healthy["Maximum"] == 1 and healthy["Unit"] == "Count"
    unhealthy = eventually("an unhealthy host counted", lambda: stats(
        cw, "UnHealthyHostCount", [lb, ("TargetGroup", dimension(dead, ""))]).get("Maximum") == 1)
    assert unhealthy
    names = {m["MetricName"] for m in cw.list_metrics(Namespace=NS, Dimensions=[
        {"Name": "LoadBalancer", "Value": lb[1]}])["Metrics"]}
    assert {"RequestCount", "NewConnectionCount", "HTTPCode_ELB_5XX_Count",
            "TargetResponseTime", "HealthyHostCount"} <= names

    # The issue's acceptance test: an alarm on the targets' 5xx goes to ALARM while a
    # target answers 500s.
    cw.put_metric_alarm(AlarmName="target-5xx", Namespace=NS, MetricName="HTTPCode_Target_5XX_Count",
                        Dimensions=[{"Name": lb[0], "Value": lb[1]}], Statistic="Sum", Period=10,
                        EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold",
                        TreatMissingData="notBreaching")

    def alarm_fires():
        assert get(addr, PORT, "/")[0] == 500
        [alarm] = cw.describe_alarms(AlarmNames=["target-5xx"])["MetricAlarms"]
        return alarm["StateValue"] == "ALARM" and alarm

    alarm = eventually("the 5xx alarm in ALARM", alarm_fires)
    assert "Threshold Crossed" in alarm["StateReason"], alarm["StateReason"]
