"""ECS-native blue/green, linear and canary deployments end to end: a service behind a real
load balancer with an alternate target group and production and test listener rules;
green tasks (real busybox httpd containers) start beside blue, the test listener reaches
them first, production traffic shifts by the rule's weights, blue stops after the bake,
and a rollback sends production back to blue at once. A bounded load through the load
balancer counts every non-2xx answer during each deployment: there must be none.

One server and one agent for the module; its load balancers take addresses from
127.0.30.1-127.0.30.10.
"""
import time

import pytest
from botocore.exceptions import ClientError

from agents import server_with_agent, wait_for
from test_load_balancer import Load, code_of, get, lb_address, target_group, wait_healthy, web_task

CLUSTER = "bg"
LB_RANGE = "127.0.30.1-127.0.30.10"
STAGES = ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
          "BAKE_TIME", "CLEAN_UP"]


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("bg")
    args = ["--lb-bind", LB_RANGE, "--service-backoff-base-ms", "50"]
    with server_with_agent(base, CLUSTER, args) as (server, arn):
        e = Env()
        e.server, e.ecs, e.elb = server, server.client("ecs"), server.client("elbv2")
        elb = e.elb
        e.lb = elb.create_load_balancer(Name="bg")["LoadBalancers"][0]["LoadBalancerArn"]
        e.blue, e.green = target_group(elb, "bg-blue"), target_group(elb, "bg-green")
        # Both rules forward to both groups, all to blue, as ECS's guide sets them up.
        both = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": e.blue, "Weight": 100}, {"TargetGroupArn": e.green, "Weight": 0}]}}]
        prod = elb.create_listener(LoadBalancerArn=e.lb, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
        test = elb.create_listener(LoadBalancerArn=e.lb, Protocol="HTTP", Port=8080,
                                   DefaultActions=both)["Listeners"][0]["ListenerArn"]
        # The production rule is a path rule of port 80; the test rule port 8080's default.
        e.prod_rule = elb.create_rule(ListenerArn=prod, Priority=1, Conditions=[
            {"Field": "path-pattern", "Values": ["/*"]}], Actions=both)["Rules"][0]["RuleArn"]
        e.test_rule = [r["RuleArn"] for r in elb.describe_rules(ListenerArn=test)["Rules"] if r["IsDefault"]][0]
        e.addr = lb_address(elb, e.lb)
        e.td = {v: web_task(e.ecs, "bg", v) for v in ("v1", "v2", "v3", "v4", "v5")}
        yield e


def advanced(env):
    return {"alternateTargetGroupArn": env.green, "productionListenerRule": env.prod_rule,
            "testListenerRule": env.test_rule, "roleArn": "arn:aws:iam::000000000000:role/ecs-bg"}


def describe(env):
    return env.ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]


def current(env):
    arn = describe(env)["currentServiceDeployment"]
    return env.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def settled(env, td):
    svc = describe(env)
    deps = svc["deployments"]
    return (len(deps) == 1 and deps[0]["rolloutState"] == "COMPLETED" and deps[0]["taskDefinition"] == td
            and svc["runningCount"] == 2) and svc


def weights(env, rule):
    [r] = env.elb.describe_rules(RuleArns=[rule])["Rules"]
    fwd = r["Actions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: g["Weight"] for g in fwd}


def share(env, rule):
    """The share of a rule's traffic (percent) on the target group that is not the
    service's primary one."""
    svc = describe(env)
    primary = svc["loadBalancers"][0]["targetGroupArn"]
    w = weights(env, rule)
    total = sum(w.values())
    return 100 * sum(v for k, v in w.items() if k != primary) / total


class Stages:
    """The lifecycle stages seen while polling the current deployment, in order."""

    def __init__(self, env):
        self.env, self.seen, self.last = env, [], None

    def poll(self):
        self.last = current(self.env)
        stage = self.last.get("lifecycleStage")
        if stage and (not self.seen or self.seen[-1] != stage):
            self.seen.append(stage)
        return self.last

    def in_order(self):
        return [STAGES.index(s) for s in self.seen] == sorted(STAGES.index(s) for s in self.seen)


def assert_clean(load, *bodies):
    total = sum(load.statuses.values())
    non_2xx = sum(n for s, n in load.statuses.items() if not 200 <= s < 300)
    print(f"{total} responses, {non_2xx} non-2xx, errors {dict(load.errors)}, bodies {dict(load.bodies)}")
    assert total > 20
    assert non_2xx == 0, load.statuses
    assert not load.errors, load.errors
    for b in bodies:
        assert load.bodies[b] > 0, (b, load.bodies)


def bounded_load(env):
    # Two clients, each sending its requests one after another: at most 100,000 requests
    # in at most 4 minutes.
    return Load(env.addr, 80, workers=2, max_seconds=240, max_requests=100_000)


def test_1_blue_green_tests_green_first_then_shifts_all_production_at_once(env):
    ecs = env.ecs
    lbs = [{"targetGroupArn": env.blue, "containerName": "app", "containerPort": 80}]
    # What a blue/green service needs, and what cannot run here, are refused.
    with pytest.raises(ClientError) as e:
        ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=env.td["v1"], desiredCount=2,
                           loadBalancers=lbs, deploymentConfiguration={"strategy": "BLUE_GREEN"})
    assert code_of(e) == "InvalidParameterException" and "advancedConfiguration" in str(e.value)
    lbs[0]["advancedConfiguration"] = advanced(env)
    with pytest.raises(ClientError) as e:
        ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=env.td["v1"], desiredCount=2,
                           loadBalancers=lbs, deploymentConfiguration={"strategy": "BLUE_GREEN", "lifecycleHooks": [
                               {"targetType": "AWS_LAMBDA", "hookTargetArn": "arn:aws:lambda:us-east-1:0:function:f",
                                "lifecycleStages": ["POST_SCALE_UP"]}]})
    assert code_of(e) == "InvalidParameterException" and "Lambda" in str(e.value)
    pause = [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
              "timeoutConfiguration": {"timeoutInMinutes": 10, "action": "ROLLBACK"}}]
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=env.td["v1"], desiredCount=2,
                       launchType="EC2", loadBalancers=lbs,
                       deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0,
                                                "lifecycleHooks": pause})
    wait_for(lambda: settled(env, env.td["v1"]), timeout=120, what="the first deployment")
    wait_healthy(env.elb, env.blue, 2)
    dc = describe(env)["deploymentConfiguration"]
    assert dc["strategy"] == "BLUE_GREEN" and dc["bakeTimeInMinutes"] == 0
    assert dc["lifecycleHooks"][0]["targetType"] == "PAUSE"

    stages = Stages(env)
    with bounded_load(env) as load:
        time.sleep(1)
        ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=env.td["v2"])
        # Paused after the test traffic shift: the test listener reaches green, production
        # still blue.
        wait_for(lambda: stages.poll().get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT"
                 and stages.last.get("lifecycleHookDetails"), timeout=120, interval=0.3,
                 what="the pause after the test traffic shift")
        [hook] = stages.last["lifecycleHookDetails"]
        assert hook["status"] == "AWAITING_ACTION" and hook["targetType"] == "PAUSE"
        assert stages.last["status"] == "IN_PROGRESS"
        time.sleep(1)
        assert {get(env.addr, 8080)[2].strip() for _ in range(6)} == {"v2"}
        assert {get(env.addr, 80)[2].strip() for _ in range(6)} == {"v1"}
        assert share(env, env.prod_rule) == 0 and share(env, env.test_rule) == 100
        with pytest.raises(ClientError) as e:
            ecs.continue_service_deployment(serviceDeploymentArn=stages.last["serviceDeploymentArn"],
                                            hookId="no-such-hook", action="CONTINUE")
        assert code_of(e) == "InvalidParameterException"
        ecs.continue_service_deployment(serviceDeploymentArn=stages.last["serviceDeploymentArn"],
                                        hookId=hook["hookId"], action="CONTINUE")
        wait_for(lambda: stages.poll() and settled(env, env.td["v2"]), timeout=120, interval=0.3,
                 what="the blue/green deployment")
        time.sleep(1)
    assert_clean(load, "v1", "v2")
    done = env.ecs.describe_service_deployments(
        serviceDeploymentArns=[stages.last["serviceDeploymentArn"]])["serviceDeployments"][0]
    assert done["status"] == "SUCCESSFUL" and done["lifecycleStage"] == "CLEAN_UP"
    assert done["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    assert stages.in_order() and {"POST_TEST_TRAFFIC_SHIFT", "CLEAN_UP"} <= set(stages.seen), stages.seen
    # The target groups swapped roles: green is the primary now, blue the alternate.
    [lb] = describe(env)["loadBalancers"]
    assert lb["targetGroupArn"] == env.green
    assert lb["advancedConfiguration"]["alternateTargetGroupArn"] == env.blue
    assert weights(env, env.prod_rule) == {env.blue: 0, env.green: 100}
    with pytest.raises(ClientError) as e:
        ecs.continue_service_deployment(serviceDeploymentArn=done["serviceDeploymentArn"],
                                        hookId=hook["hookId"], action="CONTINUE")
    assert code_of(e) == "ClientException"


def production_events(env):
    return [e["message"] for e in describe(env)["events"] if "PRODUCTION_TRAFFIC_SHIFT:" in e["message"]]


def test_2_linear_shifts_in_steps_with_a_real_step_bake(env):
    ecs = env.ecs
    with bounded_load(env) as load:
        time.sleep(1)
        ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=env.td["v3"], deploymentConfiguration={
            "strategy": "LINEAR", "bakeTimeInMinutes": 0, "lifecycleHooks": [],
            "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1}})
        # Half of production on green (now the blue target group) for a minute.
        wait_for(lambda: current(env).get("lifecycleStage") == "PRODUCTION_TRAFFIC_SHIFT", timeout=120,
                 interval=0.3, what="the first linear step")
        time.sleep(2)
        assert share(env, env.prod_rule) == 50
        seen = {get(env.addr, 80)[2].strip() for _ in range(30)}
        assert seen == {"v2", "v3"}, seen
        wait_for(lambda: settled(env, env.td["v3"]), timeout=150, interval=0.5, what="the linear deployment")
        time.sleep(1)
    assert_clean(load, "v2", "v3")
    shifted = production_events(env)
    assert any("50% of production" in m for m in shifted) and any("100% of production" in m for m in shifted)
    assert describe(env)["deploymentConfiguration"]["linearConfiguration"] == {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 1}


def test_3_canary_shifts_its_percentage_first(env):
    ecs = env.ecs
    with bounded_load(env) as load:
        time.sleep(1)
        ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=env.td["v4"], deploymentConfiguration={
            "strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 0}})
        wait_for(lambda: settled(env, env.td["v4"]), timeout=120, interval=0.5, what="the canary deployment")
        time.sleep(1)
    assert_clean(load, "v3", "v4")
    shifted = production_events(env)
    canary = [i for i, m in enumerate(shifted) if "20% of production" in m]
    full = [i for i, m in enumerate(shifted) if "100% of production" in m]
    # Newest first: the full shift came after the canary share.
    assert canary and full and full[0] < canary[0], shifted


def test_4_rollback_returns_production_to_blue_at_once(env):
    ecs = env.ecs
    stages = Stages(env)
    pause = [{"targetType": "PAUSE", "lifecycleStages": ["POST_PRODUCTION_TRAFFIC_SHIFT"]}]
    before = describe(env)["loadBalancers"][0]["targetGroupArn"]
    with bounded_load(env) as load:
        time.sleep(1)
        ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=env.td["v5"], deploymentConfiguration={
            "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0, "lifecycleHooks": pause})
        # All production traffic on green, blue still running.
        wait_for(lambda: stages.poll().get("lifecycleStage") == "POST_PRODUCTION_TRAFFIC_SHIFT"
                 and stages.last.get("lifecycleHookDetails"), timeout=120, interval=0.3,
                 what="the pause after the production traffic shift")
        time.sleep(2)
        assert share(env, env.prod_rule) == 100
        assert {get(env.addr, 80)[2].strip() for _ in range(6)} == {"v5"}
        arn = stages.last["serviceDeploymentArn"]
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        # At once: production is blue's again before green's tasks have stopped.
        wait_for(lambda: share(env, env.prod_rule) == 0, timeout=10, interval=0.2, what="traffic back to blue")
        wait_for(lambda: settled(env, env.td["v4"]), timeout=120, interval=0.5, what="the rollback")
        time.sleep(1)
    assert_clean(load, "v4", "v5")
    failed = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert failed["status"] == "ROLLBACK_SUCCESSFUL", failed["status"]
    assert failed["rollback"]["reason"]
    # Blue kept its target group: nothing swapped.
    assert describe(env)["loadBalancers"][0]["targetGroupArn"] == before
    with pytest.raises(ClientError) as e:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert code_of(e) == "ConflictException"
    ecs.delete_service(cluster=CLUSTER, service="web", force=True)
