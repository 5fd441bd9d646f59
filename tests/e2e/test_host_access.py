"""The operator's say over what tasks reach of their host (--disable-privileged,
--disable-host-network, --allow-host-path), and integer inputs held to the API model."""
import pytest
from botocore.exceptions import ClientError

from agents import AgentProcess, IMAGE, build_test_image, remove_containers

CLUSTER = "locked"


@pytest.fixture(scope="module")
def env(flotilla, tmp_path_factory):
    build_test_image()
    ecs = flotilla.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    agent = AgentProcess(flotilla, tmp_path_factory.mktemp("agents") / "locked", cluster=CLUSTER,
                         extra=["--disable-privileged", "--disable-host-network",
                                "--allow-host-path", "/tmp/flotilla-allowed"]).start()
    arn = agent.instance_arn()
    yield ecs, arn
    agent.stop()
    remove_containers(f"flotilla.container-instance={arn}")


def register(ecs, family, **extra):
    container = {"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"], "stopTimeout": 1}
    container.update(extra.pop("container", {}))
    return ecs.register_task_definition(family=family, containerDefinitions=[container],
                                        **extra)["taskDefinition"]["taskDefinitionArn"]


def test_the_instance_registers_what_it_allows(env):
    ecs, arn = env
    [inst] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
    assert "com.amazonaws.ecs.capability.privileged-container" not in attrs
    assert "flotilla.capability.host-network" not in attrs
    assert "flotilla.capability.host-pid" in attrs
    assert attrs["flotilla.allowed-host-paths"] == "/tmp/flotilla-allowed"


@pytest.mark.parametrize("family,extra", [
    ("privileged", {"container": {"privileged": True}}),
    ("hostnet", {"networkMode": "host"}),
    ("etcmount", {"volumes": [{"name": "etc", "host": {"sourcePath": "/etc"}}],
                  "container": {"mountPoints": [{"sourceVolume": "etc", "containerPath": "/host-etc"}]}}),
    ("climbing", {"volumes": [{"name": "up", "host": {"sourcePath": "/tmp/flotilla-allowed/../../etc"}}],
                  "container": {"mountPoints": [{"sourceVolume": "up", "containerPath": "/up"}]}}),
])
def test_a_task_needing_what_the_host_refuses_is_not_placed(env, family, extra):
    ecs, arn = env
    td = register(ecs, family, **extra)
    out = ecs.run_task(cluster=CLUSTER, taskDefinition=td)
    assert out["tasks"] == []
    assert [(f["arn"], f["reason"]) for f in out["failures"]] == [(arn, "ATTRIBUTE")]


def test_an_allowed_host_path_is_placed(env):
    ecs, arn = env
    td = register(ecs, "okmount", volumes=[{"name": "d", "host": {"sourcePath": "/tmp/flotilla-allowed/app"}}],
                  container={"mountPoints": [{"sourceVolume": "d", "containerPath": "/d"}]})
    [task] = ecs.run_task(cluster=CLUSTER, taskDefinition=td)["tasks"]
    assert task["containerInstanceArn"] == arn
    ecs.stop_task(cluster=CLUSTER, task=task["taskArn"])


def error_code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_integer_inputs_are_held_to_the_api_model(env):
    ecs, _ = env
    td = register(ecs, "sized")
    # A task-level override is held to the task definition's rules (no i64::MIN cpu).
    code, msg = error_code(lambda: ecs.run_task(cluster=CLUSTER, taskDefinition=td,
                                                overrides={"cpu": "-9223372036854775808"}))
    assert code == "ClientException" and "Invalid 'cpu' setting" in msg
    code, _ = error_code(lambda: ecs.run_task(cluster=CLUSTER, taskDefinition=td, overrides={
        "containerOverrides": [{"name": "app", "memory": 64, "memoryReservation": 128}]}))
    assert code == "ClientException"
    # Registered resources are Integers.
    code, msg = error_code(lambda: ecs.register_container_instance(cluster=CLUSTER, totalResources=[
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 2 ** 40}]))
    assert code == "InvalidParameterException" and "2147483647" in msg
    # A capacity provider strategy within its bounds.
    code, _ = error_code(lambda: ecs.create_cluster(clusterName="weights", defaultCapacityProviderStrategy=[
        {"capacityProvider": "FARGATE", "weight": 5000}]))
    assert code == "InvalidParameterException"
