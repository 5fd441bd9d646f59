"""Placement through the AWS CLI on three real agents (zones a/b/c): strategies and
constraints as ECS applies them (issue: scheduler)."""
import json
from collections import Counter

import pytest

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("placement")
    server = Flotilla(base / "server").start()
    agents = [
        AgentProcess(server, base / f"agent-{zone}", zone=f"zone-{zone}", memory_mib=256,
                     attributes=[("stack", "prod" if zone != "c" else "dev")])
        for zone in "abc"
    ]
    arns = {}
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", "default")
        for a in agents:
            a.start()
        arns = {a.zone[-1]: a.instance_arn() for a in agents}
        server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps({
            "family": "slot", "containerDefinitions": [
                {"name": "app", "image": IMAGE, "memory": 64, "command": ["sleep", "1000"], "stopTimeout": 1}]}))
        yield server, arns
    finally:
        for a in agents:
            a.stop()
        server.stop()
        for arn in arns.values():
            remove_containers(f"flotilla.container-instance={arn}")


def run(server, *args):
    return server.aws("ecs", "run-task", "--task-definition", "slot", *args)


def instances_of(out):
    return [t["containerInstanceArn"] for t in out["tasks"]]


@pytest.fixture(autouse=True)
def stop_everything(cluster):
    yield
    server, _ = cluster
    arns = server.aws("ecs", "list-tasks")["taskArns"]
    for arn in arns:
        server.aws("ecs", "stop-task", "--task", arn)
    if arns:
        server.aws("ecs", "wait", "tasks-stopped", "--tasks", *arns)


def test_spread_by_zone_places_one_task_per_zone(cluster):
    server, arns = cluster
    out = run(server, "--count", "3", "--placement-strategy", "type=spread,field=attribute:ecs.availability-zone")
    assert out["failures"] == []
    assert sorted(instances_of(out)) == sorted(arns.values())
    assert sorted(t["availabilityZone"] for t in out["tasks"]) == ["zone-a", "zone-b", "zone-c"]


def test_binpack_on_memory_fills_one_instance_before_the_next(cluster):
    server, _ = cluster
    first = run(server, "--count", "4", "--placement-strategy", "type=binpack,field=memory")
    [(full, n)] = Counter(instances_of(first)).items()
    assert n == 4  # 4 × 64 MiB fill a 256 MiB instance
    second = run(server, "--count", "2", "--placement-strategy", "type=binpack,field=memory")
    [(next_one, m)] = Counter(instances_of(second)).items()
    assert m == 2 and next_one != full
    server.aws("ecs", "wait", "tasks-running", "--tasks", *[t["taskArn"] for t in first["tasks"] + second["tasks"]])


def test_distinct_instance_never_puts_two_on_one_instance(cluster):
    server, arns = cluster
    out = run(server, "--count", "4", "--placement-constraints", "type=distinctInstance", "--group", "solo")
    placed = instances_of(out)
    assert len(placed) == 3 and len(set(placed)) == 3
    assert out["failures"] and all("DistinctInstance" in f["reason"] for f in out["failures"])


def test_member_of_places_only_on_matching_instances(cluster):
    server, arns = cluster
    out = run(server, "--count", "6", "--placement-constraints",
              "type=memberOf,expression=attribute:stack == prod")
    assert out["failures"] == []
    assert set(instances_of(out)) <= {arns["a"], arns["b"]}


def test_unplaceable_tasks_carry_their_reasons(cluster):
    server, arns = cluster
    server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps({
        "family": "too-big", "containerDefinitions": [{"name": "app", "image": IMAGE, "memory": 1000}]}))
    out = server.aws("ecs", "run-task", "--task-definition", "too-big")
    assert out["tasks"] == []
    assert sorted((f["arn"], f["reason"]) for f in out["failures"]) == sorted(
        (arn, "RESOURCE:MEMORY") for arn in arns.values())
    out = run(server, "--placement-constraints", "type=memberOf,expression=attribute:stack == nowhere")
    assert out["tasks"] == [] and len(out["failures"]) == 3
    bad = server.aws("ecs", "run-task", "--task-definition", "slot", "--placement-strategy",
                     "type=binpack,field=disk", check=False)
    assert bad.returncode != 0 and "InvalidParameterException" in bad.stderr
