"""Services with the EXTERNAL deployment controller end to end: task sets created, scaled,
switched and deleted with the real AWS CLI and boto3, their busybox httpd tasks running in
real containers behind a real load balancer (each task set with its own target group).

One server and one agent for the module; its load balancers take addresses from
127.0.32.1-127.0.32.10.
"""
import pytest
from botocore.exceptions import ClientError

from agents import AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla
from test_discovery import wait_operation
from test_load_balancer import get, healthy_targets, lb_address, target_group, web_task

CLUSTER = "ts"
LB_RANGE = "127.0.32.1-127.0.32.10"


class Env:
    def __init__(self, server):
        self.server = server
        self.ecs = server.client("ecs")
        self.elb = server.client("elbv2")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("tasksets")
    server = Flotilla(base / "server", extra_args=["--lb-bind", LB_RANGE]).start()
    agent = AgentProcess(server, base / "agent", cluster=CLUSTER)
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", CLUSTER)
        agent.start()
        arn = agent.instance_arn()
        yield Env(server)
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def error(call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_code_deploy_is_refused_and_task_sets_need_an_external_service(env):
    ecs, server = env.ecs, env.server
    td = web_task(ecs, "refused", "R")
    out = server.aws("ecs", "create-service", "--cluster", CLUSTER, "--service-name", "cd",
                     "--task-definition", td, "--desired-count", "1",
                     "--deployment-controller", "type=CODE_DEPLOY", check=False)
    assert out.returncode != 0 and "InvalidParameterException" in out.stderr, out.stderr
    assert "CODE_DEPLOY is not supported" in out.stderr
    # An EXTERNAL service names no task definition: its task sets do.
    code, msg = error(ecs.create_service, cluster=CLUSTER, serviceName="ext", taskDefinition=td,
                      desiredCount=1, deploymentController={"type": "EXTERNAL"})
    assert code == "InvalidParameterException" and "TaskDefinition must be blank" in msg
    ecs.create_service(cluster=CLUSTER, serviceName="rolling", taskDefinition=td, desiredCount=0)
    code, msg = error(ecs.create_task_set, cluster=CLUSTER, service="rolling", taskDefinition=td)
    assert code == "InvalidParameterException"
    assert "only supports task set management on services configured to use external" in msg
    code, _ = error(ecs.describe_task_sets, cluster=CLUSTER, service="nothing")
    assert code == "ServiceNotFoundException"
    ecs.create_service(cluster=CLUSTER, serviceName="ext", desiredCount=1,
                       deploymentController={"type": "EXTERNAL"})
    code, _ = error(ecs.update_task_set, cluster=CLUSTER, service="ext", taskSet="ecs-svc/1",
                    scale={"value": 50, "unit": "PERCENT"})
    assert code == "TaskSetNotFoundException"
    code, msg = error(ecs.update_service, cluster=CLUSTER, service="ext", taskDefinition=td)
    assert code == "InvalidParameterException" and "CreateTaskSet" in msg
    code, _ = error(ecs.create_task_set, cluster=CLUSTER, service="ext", taskDefinition=td,
                    scale={"value": 150, "unit": "PERCENT"})
    assert code == "InvalidParameterException"
    for name in ("rolling", "ext"):
        ecs.delete_service(cluster=CLUSTER, service=name, force=True)


def task_set(ecs, service, ts_id):
    [ts] = ecs.describe_task_sets(cluster=CLUSTER, service=service, taskSets=[ts_id])["taskSets"]
    return ts


def steady(ecs, service, ts_id, running):
    ts = task_set(ecs, service, ts_id)
    return (ts["stabilityStatus"] == "STEADY_STATE" and ts["runningCount"] == running
            and ts["computedDesiredCount"] == running and ts["pendingCount"] == 0) and ts


def body(addr):
    status, _, text = get(addr, 80)
    return status, text.strip()


def test_blue_green_with_two_task_sets_behind_a_load_balancer(env):
    ecs, elb, server = env.ecs, env.elb, env.server
    lb = elb.create_load_balancer(Name="tasksets")["LoadBalancers"][0]["LoadBalancerArn"]
    blue_tg, green_tg = target_group(elb, "ts-blue"), target_group(elb, "ts-green")
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": blue_tg}])["Listeners"][0]["ListenerArn"]
    # The green group is behind the load balancer too (a rule), as ECS asks of every group.
    elb.create_rule(ListenerArn=listener, Priority=1,
                    Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
                    Actions=[{"Type": "forward", "TargetGroupArn": green_tg}])
    blue_td, green_td = web_task(ecs, "ts-web", "BLUE"), web_task(ecs, "ts-web", "GREEN")
    addr = lb_address(elb, lb)
    sd = server.client("servicediscovery")
    op = sd.create_private_dns_namespace(Name="tasksets.test", Vpc=server.default_network().vpc)["OperationId"]
    ns_id = wait_operation(server, op)["Targets"]["NAMESPACE"]
    registry = sd.create_service(Name="web", NamespaceId=ns_id, DnsConfig={
        "RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 1}]})["Service"]

    svc = server.aws("ecs", "create-service", "--cluster", CLUSTER, "--service-name", "web",
                     "--desired-count", "2", "--deployment-controller", "type=EXTERNAL")["service"]
    assert svc["deploymentController"] == {"type": "EXTERNAL"}
    assert svc["deployments"] == [] and svc["taskSets"] == []

    def lbs(tg):
        return f"targetGroupArn={tg},containerName=app,containerPort=80"

    blue = server.aws("ecs", "create-task-set", "--cluster", CLUSTER, "--service", "web",
                      "--task-definition", blue_td, "--launch-type", "EC2", "--external-id", "blue",
                      "--load-balancers", lbs(blue_tg), "--scale", "value=100,unit=PERCENT",
                      "--service-registries", f"registryArn={registry['Arn']}")["taskSet"]
    assert blue["status"] == "ACTIVE" and blue["computedDesiredCount"] == 2
    assert blue["externalId"] == "blue" and blue["scale"] == {"value": 100.0, "unit": "PERCENT"}
    assert blue["taskSetArn"] == blue["serviceArn"].replace(":service/", ":task-set/") + "/" + blue["id"]
    assert blue["id"].startswith("ecs-svc/") and blue["stabilityStatus"] == "STABILIZING"
    primary = server.aws("ecs", "update-service-primary-task-set", "--cluster", CLUSTER,
                         "--service", "web", "--primary-task-set", blue["taskSetArn"])["taskSet"]
    assert primary["status"] == "PRIMARY"
    wait_for(lambda: steady(ecs, "web", blue["id"], 2) and len(healthy_targets(elb, blue_tg)) == 2,
             timeout=90, what="blue steady with 2 healthy targets")
    assert body(addr) == (200, "BLUE")
    # Its tasks are in Cloud Map with the task set's external id.
    instances = wait_for(lambda: len(i := sd.list_instances(ServiceId=registry["Id"])["Instances"]) == 2 and i,
                         timeout=30, what="2 blue tasks in Cloud Map")
    assert {i["Attributes"]["ECS_TASK_SET_EXTERNAL_ID"] for i in instances} == {"blue"}

    # The tasks of a task set are the service's, started by the task set.
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName="web")["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
    assert {t["startedBy"] for t in tasks} == {blue["id"]} and {t["group"] for t in tasks} == {"service:web"}

    green = ecs.create_task_set(cluster=CLUSTER, service="web", taskDefinition=green_td,
                                loadBalancers=[{"targetGroupArn": green_tg, "containerName": "app",
                                                "containerPort": 80}],
                                scale={"value": 50, "unit": "PERCENT"}, tags=[{"key": "color", "value": "green"}],
                                )["taskSet"]
    assert green["computedDesiredCount"] == 1
    wait_for(lambda: steady(ecs, "web", green["id"], 1) and len(healthy_targets(elb, green_tg)) == 1,
             timeout=90, what="green steady with 1 healthy target")
    assert body_path(addr, "/api/index.html") == (200, "GREEN")

    # Scale green to the whole service, switch traffic to it, make it the primary.
    scaled = ecs.update_task_set(cluster=CLUSTER, service="web", taskSet=green["id"],
                                 scale={"value": 100, "unit": "PERCENT"})["taskSet"]
    assert scaled["computedDesiredCount"] == 2 and scaled["stabilityStatus"] == "STABILIZING"
    wait_for(lambda: steady(ecs, "web", green["id"], 2) and len(healthy_targets(elb, green_tg)) == 2,
             timeout=90, what="green steady with 2 healthy targets")
    elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": green_tg}])
    wait_for(lambda: body(addr) == (200, "GREEN"), timeout=30, what="traffic on green")
    switched = ecs.update_service_primary_task_set(cluster=CLUSTER, service="web",
                                                   primaryTaskSet=green["id"])["taskSet"]
    assert switched["status"] == "PRIMARY"
    svc = ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]
    assert svc["deployments"] == [] and svc["taskDefinition"] == green_td
    assert {t["id"]: t["status"] for t in svc["taskSets"]} == {blue["id"]: "ACTIVE", green["id"]: "PRIMARY"}
    assert svc["runningCount"] == 4 and svc["desiredCount"] == 2
    tagged = ecs.describe_task_sets(cluster=CLUSTER, service="web", taskSets=[green["id"], "ecs-svc/9"],
                                    include=["TAGS"])
    assert tagged["taskSets"][0]["tags"] == [{"key": "color", "value": "green"}]
    assert [f["reason"] for f in tagged["failures"]] == ["MISSING"]

    # The old task set still runs 2 tasks: deleting it needs force; then it drains and goes.
    code, msg = error(ecs.delete_task_set, cluster=CLUSTER, service="web", taskSet=blue["id"])
    assert code == "InvalidParameterException" and "force" in msg
    deleted = ecs.delete_task_set(cluster=CLUSTER, service="web", taskSet=blue["id"], force=True)["taskSet"]
    assert deleted["status"] == "DRAINING" and deleted["computedDesiredCount"] == 0
    wait_for(lambda: [t["id"] for t in ecs.describe_task_sets(cluster=CLUSTER, service="web")["taskSets"]]
             == [green["id"]], timeout=90, what="the blue task set gone")
    # Its targets were deregistered (they show draining for the deregistration delay, as
    # on AWS) and its tasks stopped after they drained.
    states = {d["TargetHealth"]["State"]
              for d in elb.describe_target_health(TargetGroupArn=blue_tg)["TargetHealthDescriptions"]}
    assert states <= {"draining"}, states
    assert sd.list_instances(ServiceId=registry["Id"])["Instances"] == []
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName="web")["taskArns"]
    assert {t["startedBy"] for t in ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]} == {green["id"]}
    stopped = ecs.list_tasks(cluster=CLUSTER, serviceName="web", desiredStatus="STOPPED")["taskArns"]
    stopped = ecs.describe_tasks(cluster=CLUSTER, tasks=stopped)["tasks"]
    assert {t["lastStatus"] for t in stopped if t["startedBy"] == blue["id"]} == {"STOPPED"}
    assert body(addr) == (200, "GREEN")
    code, _ = error(ecs.update_task_set, cluster=CLUSTER, service="web", taskSet=blue["id"],
                    scale={"value": 10, "unit": "PERCENT"})
    assert code == "TaskSetNotFoundException"

    # The service's desired count scales its task sets.
    ecs.update_service(cluster=CLUSTER, service="web", desiredCount=3)
    wait_for(lambda: steady(ecs, "web", green["id"], 3), timeout=90, what="green at 3 tasks")
    ecs.delete_service(cluster=CLUSTER, service="web", force=True)
    wait_for(lambda: ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]["status"]
             == "INACTIVE", timeout=90, what="the service INACTIVE")
    elb.delete_load_balancer(LoadBalancerArn=lb)


def body_path(addr, path):
    status, _, text = get(addr, 80, path)
    return status, text.strip()
