"""Application Auto Scaling end to end (issue: autoscaling for ECS services): a real server with
a real agent on Docker, driven by the real AWS CLI and boto3.

One server (alarms evaluated every 10 s, the default), cluster `as` with one agent and a service
`web` of the test image. The tests run in order and share the service:
1. bad input gets the service's error codes;
2. a target-tracking policy on a customized metric the test feeds with PutMetricData (10-second,
   high-resolution data): its alarms are in DescribeAlarms, sustained load raises the desired
   count and a new task runs within 60 s, DescribeScalingActivities tells the story; then the
   metric drops and the service scales back in (the low alarm needs 15 quiet 10-second
   datapoints, 150 s; the test puts it in ALARM with SetAlarmState, the CloudWatch operation
   meant for testing alarm actions, carrying the datapoints CloudWatch would have written);
3. a scheduled action raises MinCapacity and with it the desired count;
4. deregistering removes the policies and their alarms.
"""
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla

CLUSTER = "as"
SERVICE = "web"
RESOURCE = f"service/{CLUSTER}/{SERVICE}"
DIMENSION = "ecs:service:DesiredCount"
TARGET = ["--service-namespace", "ecs", "--resource-id", RESOURCE, "--scalable-dimension", DIMENSION]
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


class Env:
    def __init__(self, server):
        self.server = server
        self.ecs = server.client("ecs")
        self.aas = server.client("application-autoscaling")
        self.cw = server.client("cloudwatch")

    def desired(self):
        return self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["desiredCount"]

    def running(self):
        arns = self.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]
        if not arns:
            return 0
        tasks = self.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
        return sum(t["lastStatus"] == "RUNNING" for t in tasks)

    def activities(self, not_scaled=False):
        return self.aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=RESOURCE,
                                                    IncludeNotScaledActivities=not_scaled)["ScalingActivities"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("autoscaling")
    server = Flotilla(base / "server").start()
    agent = AgentProcess(server, base / "agent", cluster=CLUSTER)
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", CLUSTER)
        agent.start()
        arn = agent.instance_arn()
        e = Env(server)
        container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True, "command": SLEEPER,
                     "stopTimeout": 2}
        e.ecs.register_task_definition(family="as-web", containerDefinitions=[container])
        e.ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition="as-web", desiredCount=1,
                             launchType="EC2")
        wait_for(lambda: e.running() == 1, timeout=60, what="the first task running")
        yield e
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_bad_input_gets_the_services_codes(env):
    aas = env.aas
    with pytest.raises(ClientError) as e:
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/{CLUSTER}/nope",
                                     ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2)
    assert code_of(e) == "ValidationException"
    assert e.value.response["Error"]["Message"] == f"ECS service doesn't exist: service/{CLUSTER}/nope"
    with pytest.raises(ClientError) as e:
        aas.register_scalable_target(ServiceNamespace="dynamodb", ResourceId="table/t",
                                     ScalableDimension="dynamodb:table:ReadCapacityUnits", MinCapacity=1,
                                     MaxCapacity=2)
    assert code_of(e) == "ValidationException" and "ECS services only" in e.value.response["Error"]["Message"]
    with pytest.raises(aas.exceptions.ObjectNotFoundException):
        aas.put_scaling_policy(PolicyName="p", ServiceNamespace="ecs", ResourceId=RESOURCE,
                               ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
                               TargetTrackingScalingPolicyConfiguration={
                                   "TargetValue": 50.0,
                                   "PredefinedMetricSpecification": {
                                       "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    with pytest.raises(aas.exceptions.ObjectNotFoundException):
        aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=RESOURCE, ScalableDimension=DIMENSION)
    out = env.server.aws("application-autoscaling", "register-scalable-target", *TARGET,
                         "--min-capacity", "3", "--max-capacity", "2", check=False)
    assert out.returncode != 0 and "ValidationException" in out.stderr, out.stderr
    out = env.server.aws("application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs",
                         "--max-results", "51", check=False)
    assert out.returncode != 0 and "ValidationException" in out.stderr, out.stderr


class Feeder:
    """Puts `value` for App/Load every second, as 1-second (high-resolution) data."""

    def __init__(self, cw):
        self.cw = cw
        self.value = 0.0
        self.stop = threading.Event()
        self.first_high = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            value = self.value
            self.cw.put_metric_data(Namespace="App", MetricData=[{
                "MetricName": "Load", "Dimensions": [{"Name": "Service", "Value": SERVICE}],
                "Value": value, "StorageResolution": 1}])
            if value > 50 and self.first_high is None:
                self.first_high = time.monotonic()
            self.stop.wait(1.0)


def test_target_tracking_on_a_customized_metric_scales_out_and_back_in(env):
    aws = env.server.aws
    aws("application-autoscaling", "register-scalable-target", *TARGET, "--min-capacity", "1",
        "--max-capacity", "3")
    config = {"TargetValue": 50.0, "ScaleOutCooldown": 60, "ScaleInCooldown": 5,
              "CustomizedMetricSpecification": {"Namespace": "App", "MetricName": "Load", "Statistic": "Average",
                                                "Dimensions": [{"Name": "Service", "Value": SERVICE}]}}
    out = aws("application-autoscaling", "put-scaling-policy", *TARGET, "--policy-name", "load",
              "--policy-type", "TargetTrackingScaling",
              "--target-tracking-scaling-policy-configuration", json.dumps(config))
    policy_arn = out["PolicyARN"]
    assert policy_arn.startswith("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:")
    assert policy_arn.endswith(f":resource/ecs/{RESOURCE}:policyName/load")
    names = sorted(a["AlarmName"] for a in out["Alarms"])
    high = next(n for n in names if "-AlarmHigh-" in n)
    low = next(n for n in names if "-AlarmLow-" in n)
    assert high.startswith(f"TargetTracking-{RESOURCE}-AlarmHigh-")

    alarms = {a["AlarmName"]: a for a in env.cw.describe_alarms(
        AlarmNamePrefix=f"TargetTracking-{RESOURCE}")["MetricAlarms"]}
    assert set(alarms) == {high, low}
    assert alarms[high]["AlarmActions"] == [policy_arn]
    assert (alarms[high]["Period"], alarms[high]["EvaluationPeriods"], alarms[high]["Threshold"],
            alarms[high]["ComparisonOperator"]) == (10, 3, 50.0, "GreaterThanThreshold")
    assert (alarms[low]["EvaluationPeriods"], alarms[low]["Threshold"]) == (15, 45.0)
    assert (alarms[high]["Namespace"], alarms[high]["MetricName"]) == ("App", "Load")

    feeder = Feeder(env.cw)
    feeder.value = 100.0
    feeder.thread.start()
    try:
        wait_for(lambda: env.desired() == 2, timeout=70, what="the desired count raised to 2")
        raised = time.monotonic() - feeder.first_high
        wait_for(lambda: env.running() == 2, timeout=30, what="a second task running")
        running = time.monotonic() - feeder.first_high
        print(f"\nsustained load -> desired count 2 in {raised:.1f} s, second task RUNNING in {running:.1f} s")
        assert running < 60, f"the second task ran {running:.1f} s after the load started"

        acts = env.activities()
        assert acts[0]["Description"] == "Setting desired count to 2."
        assert acts[0]["Cause"] == f"monitor alarm {high} in state ALARM triggered policy load"
        assert acts[0]["StatusCode"] == "Successful"
        assert env.cw.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]["StateValue"] == "ALARM"

        # The load goes away. The low alarm would need 150 s of quiet datapoints; CloudWatch's
        # SetAlarmState puts it in ALARM now, with the datapoints the evaluator would have written.
        feeder.value = 10.0
        env.cw.set_alarm_state(AlarmName=low, StateValue="ALARM", StateReason="Threshold Crossed: test",
                               StateReasonData=json.dumps({"version": "1.0", "recentDatapoints": [10.0]}))
        wait_for(lambda: env.desired() == 1, timeout=20, what="the desired count back to 1")
        wait_for(lambda: env.running() == 1, timeout=30, what="one task running again")
        acts = env.activities()
        assert acts[0]["Description"] == "Setting desired count to 1."
        assert acts[0]["Cause"] == f"monitor alarm {low} in state ALARM triggered policy load"
    finally:
        feeder.stop.set()
        feeder.thread.join(timeout=5)

    policies = env.aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=RESOURCE)["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["load"]
    assert sorted(a["AlarmName"] for a in policies[0]["Alarms"]) == names


def test_a_scheduled_action_raises_the_minimum(env):
    at = (datetime.now(timezone.utc) + timedelta(seconds=4)).strftime("%Y-%m-%dT%H:%M:%S")
    env.server.aws("application-autoscaling", "put-scheduled-action", *TARGET, "--scheduled-action-name", "busy",
                   "--schedule", f"at({at})", "--scalable-target-action", "MinCapacity=2,MaxCapacity=3")
    actions = env.aas.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=RESOURCE)["ScheduledActions"]
    assert actions[0]["Schedule"] == f"at({at})"
    assert actions[0]["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 3}
    wait_for(lambda: env.desired() == 2, timeout=20, what="the desired count raised to the new minimum")
    target = env.aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[RESOURCE])["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 3)
    descriptions = [a["Description"] for a in env.activities()]
    assert "Setting min capacity to 2 and max capacity to 3" in descriptions
    env.aas.delete_scheduled_action(ServiceNamespace="ecs", ResourceId=RESOURCE, ScalableDimension=DIMENSION,
                                    ScheduledActionName="busy")


def test_deregistering_removes_policies_and_their_alarms(env):
    env.server.aws("application-autoscaling", "deregister-scalable-target", *TARGET)
    assert env.aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert env.aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert env.cw.describe_alarms(AlarmNamePrefix="TargetTracking-")["MetricAlarms"] == []
