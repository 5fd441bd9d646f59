"""Task definitions through the real AWS CLI and boto3."""
import copy
import json
import time
from pathlib import Path

import pytest

WEB = Path(__file__).parent / "data" / "web-taskdef.json"


def test_register_describe_list_deregister_with_the_cli(flotilla):
    first = flotilla.aws("ecs", "register-task-definition", "--cli-input-json", f"file://{WEB}")
    td = first["taskDefinition"]
    assert td["family"] == "web" and td["revision"] == 1 and td["status"] == "ACTIVE"
    assert td["taskDefinitionArn"] == "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    assert first["tags"] == [{"key": "team", "value": "web"}]
    httpd = next(c for c in td["containerDefinitions"] if c["name"] == "httpd")
    assert httpd["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]
    assert httpd["essential"] is True
    assert td["cpu"] == "256" and td["memory"] == "512"
    assert "EC2" in td["compatibilities"]
    # Timestamps travel as epoch seconds (AWS CLI v1 prints them as sent).
    assert abs(td["registeredAt"] - time.time()) < 600
    assert td["registeredBy"] == "arn:aws:iam::000000000000:root"

    second = flotilla.aws("ecs", "register-task-definition", "--cli-input-json", f"file://{WEB}")
    assert second["taskDefinition"]["revision"] == 2

    latest = flotilla.aws("ecs", "describe-task-definition", "--task-definition", "web")["taskDefinition"]
    assert latest["revision"] == 2
    by_arn = flotilla.aws("ecs", "describe-task-definition", "--task-definition", td["taskDefinitionArn"],
                          "--include", "TAGS")
    assert by_arn["taskDefinition"]["revision"] == 1
    assert by_arn["tags"] == [{"key": "team", "value": "web"}]
    assert flotilla.aws("ecs", "describe-task-definition", "--task-definition", "web:2")[
        "taskDefinition"]["revision"] == 2

    arns = flotilla.aws("ecs", "list-task-definitions", "--family-prefix", "web")["taskDefinitionArns"]
    assert arns == [td["taskDefinitionArn"], second["taskDefinition"]["taskDefinitionArn"]]
    desc = flotilla.aws("ecs", "list-task-definitions", "--family-prefix", "web", "--sort", "DESC")
    assert desc["taskDefinitionArns"] == list(reversed(arns))
    assert "web" in flotilla.aws("ecs", "list-task-definition-families")["families"]

    dereg = flotilla.aws("ecs", "deregister-task-definition", "--task-definition", "web:1")["taskDefinition"]
    assert dereg["status"] == "INACTIVE" and "deregisteredAt" in dereg
    # Still describable, listed only under INACTIVE.
    assert flotilla.aws("ecs", "describe-task-definition", "--task-definition", "web:1")[
        "taskDefinition"]["status"] == "INACTIVE"
    assert flotilla.aws("ecs", "list-task-definitions", "--family-prefix", "web")["taskDefinitionArns"] == [
        second["taskDefinition"]["taskDefinitionArn"]]
    assert flotilla.aws("ecs", "list-task-definitions", "--family-prefix", "web", "--status", "INACTIVE")[
        "taskDefinitionArns"] == [td["taskDefinitionArn"]]

    deleted = flotilla.aws("ecs", "delete-task-definitions", "--task-definitions", "web:1", "web:2")
    assert [d["revision"] for d in deleted["taskDefinitions"]] == [1]
    assert deleted["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    assert len(deleted["failures"]) == 1 and "ACTIVE" in deleted["failures"][0]["reason"]
    # Revisions are never reused.
    third = flotilla.aws("ecs", "register-task-definition", "--cli-input-json", f"file://{WEB}")
    assert third["taskDefinition"]["revision"] == 3


def base():
    d = json.loads(WEB.read_text())
    d.pop("tags")
    return d


def bad(mutate):
    d = base()
    mutate(d)
    return d


def c0(d):
    return d["containerDefinitions"][0]


BAD_DEFINITIONS = {
    "bad family": lambda d: d.update(family="web app!"),
    "no containers": lambda d: d.update(containerDefinitions=[]),
    "eleven containers": lambda d: d.update(containerDefinitions=[
        {"name": f"c{i}", "image": "busybox", "memory": 16} for i in range(11)]),
    "duplicate names": lambda d: d["containerDefinitions"][1].update(name="httpd"),
    "no essential": lambda d: [c.update(essential=False) for c in d["containerDefinitions"]],
    "no image": lambda d: c0(d).pop("image"),
    "fargate wrong cpu/memory": lambda d: d.update(requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                                   cpu="256", memory="4096"),
    "fargate bridge": lambda d: d.update(requiresCompatibilities=["FARGATE"]),
    "port out of range": lambda d: c0(d)["portMappings"].append({"containerPort": 70000}),
    "duplicate port": lambda d: c0(d)["portMappings"].append({"containerPort": 80, "protocol": "tcp"}),
    "dependsOn unknown": lambda d: d["containerDefinitions"][1].update(
        dependsOn=[{"containerName": "ghost", "condition": "START"}]),
    "healthCheck interval": lambda d: c0(d)["healthCheck"].update(interval=1),
    "log driver": lambda d: c0(d)["logConfiguration"].update(logDriver="carrier-pigeon"),
    "unknown volume": lambda d: c0(d).update(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}]),
    "memoryReservation above memory": lambda d: c0(d).update(memory=32, memoryReservation=64),
}


@pytest.mark.parametrize("case", sorted(BAD_DEFINITIONS))
def test_bad_task_definitions_raise_typed_exceptions(flotilla, case):
    ecs = flotilla.client("ecs")
    d = copy.deepcopy(bad(BAD_DEFINITIONS[case]))
    with pytest.raises((ecs.exceptions.InvalidParameterException, ecs.exceptions.ClientException)) as e:
        ecs.register_task_definition(**d)
    message = e.value.response["Error"]["Message"]
    assert len(message) > 10, message


def test_oversized_task_definition_is_refused(flotilla):
    ecs = flotilla.client("ecs")
    d = base()
    c0(d)["environment"] = [{"name": f"VAR_{i}", "value": "x" * 200} for i in range(400)]
    with pytest.raises((ecs.exceptions.ClientException, ecs.exceptions.InvalidParameterException)) as e:
        ecs.register_task_definition(**d)
    assert "65536" in e.value.response["Error"]["Message"]


def test_unknown_task_definition_is_a_client_exception(flotilla):
    ecs = flotilla.client("ecs")
    with pytest.raises(ecs.exceptions.ClientException) as e:
        ecs.describe_task_definition(taskDefinition="never-registered:7")
    assert e.value.response["Error"]["Message"] == "Unable to describe task definition."


def test_concurrent_registrations_get_distinct_revisions(flotilla):
    from concurrent.futures import ThreadPoolExecutor
    d = base()
    d["family"] = "concurrent"

    def register(_):
        return flotilla.client("ecs").register_task_definition(**d)["taskDefinition"]["revision"]

    with ThreadPoolExecutor(8) as pool:
        revisions = list(pool.map(register, range(24)))
    assert sorted(revisions) == list(range(1, 25))
