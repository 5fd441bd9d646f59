"""Capacity providers through the AWS CLI and boto3 on two real agents: one registered with
`--capacity-provider pool-a`, one with none (where FARGATE tasks go). Strategies on RunTask
and services, the cluster's default strategy, DescribeClusters, and AWS's errors
(issue 16)."""
import json

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla

ASG = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/pool-a"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("capacity")
    server = Flotilla(base / "server").start()
    pooled = AgentProcess(server, base / "agent-pool", memory_mib=512, extra=["--capacity-provider", "pool-a"])
    plain = AgentProcess(server, base / "agent-plain", memory_mib=1536)
    arns = {}
    try:
        server.aws("ecs", "create-capacity-provider", "--name", "pool-a", "--auto-scaling-group-provider",
                   f"autoScalingGroupArn={ASG},managedScaling={{status=ENABLED,targetCapacity=90}}",
                   "--tags", "key=team,value=infra")
        server.aws("ecs", "create-cluster", "--cluster-name", "default")
        server.aws("ecs", "put-cluster-capacity-providers", "--cluster", "default",
                   "--capacity-providers", "pool-a", "FARGATE",
                   "--default-capacity-provider-strategy", "capacityProvider=pool-a,weight=1")
        pooled.start()
        plain.start()
        arns = {"pool": pooled.instance_arn(), "plain": plain.instance_arn()}
        server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps({
            "family": "slot", "containerDefinitions": [
                {"name": "app", "image": IMAGE, "memory": 32, "command": ["sleep", "1000"], "stopTimeout": 1}]}))
        server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps({
            "family": "fg", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "256", "memory": "512", "containerDefinitions": [
                {"name": "app", "image": IMAGE, "command": ["sleep", "1000"], "stopTimeout": 2}]}))
        yield server, arns
    finally:
        pooled.stop()
        plain.stop()
        server.stop()
        for arn in arns.values():
            remove_containers(f"flotilla.container-instance={arn}")


def run(server, *args):
    return server.aws("ecs", "run-task", *args)


def stop_all(server, arns):
    for arn in arns:
        server.aws("ecs", "stop-task", "--task", arn)
    if arns:
        server.aws("ecs", "wait", "tasks-stopped", "--tasks", *arns)


def code_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_providers_instances_and_cluster_are_described(env):
    server, arns = env
    names = [p["name"] for p in server.aws("ecs", "describe-capacity-providers")["capacityProviders"]]
    assert names == ["FARGATE", "FARGATE_SPOT", "pool-a"]
    [pool] = server.aws("ecs", "describe-capacity-providers", "--capacity-providers", "pool-a",
                        "--include", "TAGS")["capacityProviders"]
    assert pool["capacityProviderArn"] == "arn:aws:ecs:us-east-1:000000000000:capacity-provider/pool-a"
    assert pool["status"] == "ACTIVE" and pool["updateStatus"] == "CREATE_COMPLETE"
    group = pool["autoScalingGroupProvider"]
    assert group["autoScalingGroupArn"] == ASG
    assert group["managedScaling"]["targetCapacity"] == 90 and group["managedScaling"]["status"] == "ENABLED"
    assert group["managedTerminationProtection"] == "DISABLED"
    assert pool["tags"] == [{"key": "team", "value": "infra"}]

    [cluster] = server.aws("ecs", "describe-clusters", "--clusters", "default")["clusters"]
    assert cluster["capacityProviders"] == ["pool-a", "FARGATE"]
    assert cluster["defaultCapacityProviderStrategy"] == [{"capacityProvider": "pool-a", "weight": 1, "base": 0}]

    described = server.aws("ecs", "describe-container-instances", "--container-instances",
                           arns["pool"], arns["plain"])["containerInstances"]
    by_arn = {i["containerInstanceArn"]: i for i in described}
    assert by_arn[arns["pool"]]["capacityProviderName"] == "pool-a"
    assert "capacityProviderName" not in by_arn[arns["plain"]]


def test_tasks_go_to_the_instances_of_their_provider(env):
    server, arns = env
    pooled = run(server, "--task-definition", "slot", "--count", "3",
                 "--capacity-provider-strategy", "capacityProvider=pool-a,base=1,weight=1")
    assert pooled["failures"] == []
    assert {t["containerInstanceArn"] for t in pooled["tasks"]} == {arns["pool"]}
    assert {t["capacityProviderName"] for t in pooled["tasks"]} == {"pool-a"}
    assert {t["launchType"] for t in pooled["tasks"]} == {"EC2"}

    # Neither a launch type nor a strategy: the cluster's default (pool-a).
    default = run(server, "--task-definition", "slot", "--count", "2")
    assert {t["containerInstanceArn"] for t in default["tasks"]} == {arns["pool"]}
    assert {t["capacityProviderName"] for t in default["tasks"]} == {"pool-a"}

    # FARGATE runs on the instances of no custom provider.
    ecs = server.client("ecs")
    fargate = ecs.run_task(taskDefinition="fg", count=2,
                           capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    assert fargate["failures"] == []
    assert {t["containerInstanceArn"] for t in fargate["tasks"]} == {arns["plain"]}
    assert {t["launchType"] for t in fargate["tasks"]} == {"FARGATE"}
    fargate_arns = [t["taskArn"] for t in fargate["tasks"]]
    described = ecs.describe_tasks(tasks=fargate_arns)["tasks"]
    assert {t["capacityProviderName"] for t in described} == {"FARGATE"}

    # A launch type places on any instance and names no provider.
    ec2 = run(server, "--task-definition", "slot", "--launch-type", "EC2")
    assert "capacityProviderName" not in ec2["tasks"][0]

    every = [t["taskArn"] for out in (pooled, default, fargate, ec2) for t in out["tasks"]]
    stop_all(server, every)


def test_a_service_keeps_its_strategy_and_its_deployments_carry_it(env):
    server, arns = env
    ecs = server.client("ecs")
    svc = ecs.create_service(serviceName="pooled", taskDefinition="slot", desiredCount=2)["service"]
    # The cluster's default strategy, copied into the service.
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "pool-a", "weight": 1, "base": 0}]
    assert "launchType" not in svc
    assert svc["deployments"][0]["capacityProviderStrategy"] == svc["capacityProviderStrategy"]

    def running():
        arns_ = ecs.list_tasks(serviceName="pooled", desiredStatus="RUNNING")["taskArns"]
        return arns_ if len(arns_) == 2 else None

    tasks = ecs.describe_tasks(tasks=wait_for(running, what="two service tasks"))["tasks"]
    assert {t["containerInstanceArn"] for t in tasks} == {arns["pool"]}
    assert {t["capacityProviderName"] for t in tasks} == {"pool-a"}

    # While the service uses pool-a the cluster cannot drop it, nor can it be deleted.
    code, _ = code_of(lambda: ecs.put_cluster_capacity_providers(
        cluster="default", capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=[]))
    assert code == "ResourceInUseException"
    code, message = code_of(lambda: ecs.delete_capacity_provider(capacityProvider="pool-a"))
    assert code == "ClientException" and "associated with cluster default" in message

    # A provider not attached to the cluster, or both a launch type and a strategy: refused.
    code, _ = code_of(lambda: ecs.update_service(
        service="pooled", capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}]))
    assert code == "InvalidParameterException"
    code, _ = code_of(lambda: ecs.create_service(
        serviceName="both", taskDefinition="slot", desiredCount=1, launchType="EC2",
        capacityProviderStrategy=[{"capacityProvider": "pool-a", "weight": 1}]))
    assert code == "InvalidParameterException"
    ecs.update_service(service="pooled", desiredCount=0)
    ecs.delete_service(service="pooled")


def test_errors_and_an_empty_provider(env):
    server, _ = env
    ecs = server.client("ecs")
    code, _ = code_of(lambda: ecs.run_task(taskDefinition="slot", launchType="EC2",
                                           capacityProviderStrategy=[{"capacityProvider": "pool-a", "weight": 1}]))
    assert code == "InvalidParameterException"
    code, message = code_of(lambda: ecs.run_task(
        taskDefinition="slot", capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}]))
    assert code == "InvalidParameterException" and "not associated with the cluster" in message
    code, _ = code_of(lambda: ecs.delete_capacity_provider(capacityProvider="FARGATE"))
    assert code == "ClientException"
    code, _ = code_of(lambda: ecs.create_capacity_provider(
        name="fargate-pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "x"}))
    assert code == "InvalidParameterException"
    code, _ = code_of(lambda: ecs.create_capacity_provider(
        name="pool-c", autoScalingGroupProvider={"autoScalingGroupArn": ASG}))
    assert code == "ClientException"  # pool-a has that group

    # A provider with no instance: its tasks fail as ECS words it.
    pool_b = ecs.create_capacity_provider(
        name="pool-b", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "-b"})["capacityProvider"]
    ecs.put_cluster_capacity_providers(
        cluster="default", capacityProviders=["pool-a", "FARGATE", "pool-b"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "pool-a", "weight": 1}])
    out = ecs.run_task(taskDefinition="slot", capacityProviderStrategy=[{"capacityProvider": "pool-b", "weight": 1}])
    assert out["tasks"] == []
    assert out["failures"] == [{"arn": pool_b["capacityProviderArn"], "reason": "EMPTY CAPACITY PROVIDER"}]

    # Tags by ARN; detached, it can be deleted, and is INACTIVE after.
    ecs.tag_resource(resourceArn=pool_b["capacityProviderArn"], tags=[{"key": "env", "value": "test"}])
    assert ecs.list_tags_for_resource(resourceArn=pool_b["capacityProviderArn"])["tags"] == [
        {"key": "env", "value": "test"}]
    ecs.put_cluster_capacity_providers(
        cluster="default", capacityProviders=["pool-a", "FARGATE"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "pool-a", "weight": 1}])
    deleted = ecs.delete_capacity_provider(capacityProvider="pool-b")["capacityProvider"]
    assert deleted["status"] == "INACTIVE" and deleted["updateStatus"] == "DELETE_COMPLETE"
    names = [p["name"] for p in ecs.describe_capacity_providers()["capacityProviders"]]
    assert "pool-b" not in names
    updated = ecs.update_capacity_provider(
        name="pool-a", autoScalingGroupProvider={"managedDraining": "DISABLED"})["capacityProvider"]
    assert updated["updateStatus"] == "UPDATE_COMPLETE"
    assert updated["autoScalingGroupProvider"]["managedDraining"] == "DISABLED"
    assert updated["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] == 90
