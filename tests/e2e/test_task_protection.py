"""Task scale-in protection (UpdateTaskProtection, GetTaskProtection) on a real server with
one agent on Docker: a protected task survives a scale-in and holds up a rolling deployment
until its protection is removed, as in ECS. One server and agent for the module (cluster
`prot`); each test uses its own service and family."""
import time

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla

CLUSTER = "prot"
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("protection")
    server = Flotilla(base / "server", extra_args=["--service-backoff-base-ms", "50"]).start()
    agent = AgentProcess(server, base / "agent", cluster=CLUSTER)
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", CLUSTER)
        agent.start()
        arn = agent.instance_arn()
        yield server
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def register(ecs, family):
    container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True,
                 "command": SLEEPER, "stopTimeout": 2}
    return ecs.register_task_definition(family=family, containerDefinitions=[container])[
        "taskDefinition"]["taskDefinitionArn"]


def running(ecs, service):
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=service)["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
    return sorted(t["taskArn"] for t in tasks if t["lastStatus"] == "RUNNING")


def service_with(ecs, name, count):
    register(ecs, name)
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=name, desiredCount=count,
                       deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 200})
    return wait_for(lambda: len(r := running(ecs, name)) == count and r, timeout=90,
                    what=f"{count} tasks of {name} RUNNING")


def test_protected_task_survives_scale_in_until_unprotected(env):
    ecs = env.client("ecs")
    a, b = service_with(ecs, "scale", 2)
    out = env.aws("ecs", "update-task-protection", "--cluster", CLUSTER, "--tasks", a,
                  "--protection-enabled")
    [p] = out["protectedTasks"]
    assert p["taskArn"] == a and p["protectionEnabled"] is True
    # The default period is 120 minutes.
    left = p["expirationDate"] - time.time()
    assert 119 * 60 < left <= 120 * 60 + 5, left
    got = ecs.get_task_protection(cluster=CLUSTER, tasks=[a, b])["protectedTasks"]
    assert {t["taskArn"]: t["protectionEnabled"] for t in got} == {a: True, b: False}
    ecs.update_service(cluster=CLUSTER, service="scale", desiredCount=0)
    wait_for(lambda: running(ecs, "scale") == [a], timeout=60, what="the unprotected task to stop")
    time.sleep(3)
    assert running(ecs, "scale") == [a], "the protected task keeps running"
    assert ecs.describe_services(cluster=CLUSTER, services=["scale"])["services"][0]["runningCount"] == 1
    ecs.update_task_protection(cluster=CLUSTER, tasks=[a], protectionEnabled=False)
    wait_for(lambda: running(ecs, "scale") == [], timeout=60, what="the task to stop once unprotected")
    ecs.delete_service(cluster=CLUSTER, service="scale", force=True)


def test_rolling_deployment_waits_for_protected_task(env):
    ecs = env.client("ecs")
    [old] = service_with(ecs, "roll", 1)
    ecs.update_task_protection(cluster=CLUSTER, tasks=[old], protectionEnabled=True, expiresInMinutes=30)
    ecs.update_service(cluster=CLUSTER, service="roll", forceNewDeployment=True)
    wait_for(lambda: len(running(ecs, "roll")) == 2, timeout=90, what="the replacement RUNNING")
    time.sleep(3)
    svc = ecs.describe_services(cluster=CLUSTER, services=["roll"])["services"][0]
    assert old in running(ecs, "roll") and len(svc["deployments"]) == 2
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    ecs.update_task_protection(cluster=CLUSTER, tasks=[old], protectionEnabled=False)
    wait_for(lambda: (r := running(ecs, "roll")) and old not in r and len(r) == 1, timeout=60,
             what="the old task to be replaced once unprotected")
    wait_for(lambda: ecs.describe_services(cluster=CLUSTER, services=["roll"])["services"][0]
             ["deployments"][0]["rolloutState"] == "COMPLETED", timeout=60, what="the rollout to complete")
    ecs.delete_service(cluster=CLUSTER, service="roll", force=True)


def test_failures_and_bounds(env):
    ecs = env.client("ecs")
    register(ecs, "alone")
    standalone = ecs.run_task(cluster=CLUSTER, taskDefinition="alone")["tasks"][0]["taskArn"]
    out = ecs.update_task_protection(cluster=CLUSTER, tasks=[standalone, "0123456789abcdef0123456789abcdef"],
                                     protectionEnabled=True)
    assert out["protectedTasks"] == []
    assert [(f["arn"], f["reason"]) for f in out["failures"]] == [
        (standalone, "TASK_NOT_VALID"), ("0123456789abcdef0123456789abcdef", "MISSING")]
    for minutes in (0, 2881):
        with pytest.raises(ClientError) as e:
            ecs.update_task_protection(cluster=CLUSTER, tasks=[standalone], protectionEnabled=True,
                                       expiresInMinutes=minutes)
        assert e.value.response["Error"]["Code"] == "InvalidParameterException"
        assert "2880" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        ecs.update_task_protection(cluster="nowhere", tasks=[standalone], protectionEnabled=True)
    assert e.value.response["Error"]["Code"] == "ClusterNotFoundException"
    ecs.stop_task(cluster=CLUSTER, task=standalone)
