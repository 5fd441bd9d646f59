"""ECS managed daemons with boto3 on real agents: two agents in the custom capacity provider
`daemon-pool` and one outside it. A daemon runs one task on each instance of its provider
and none elsewhere, a joining agent gets one, UpdateDaemon rolls a new revision out as a
deployment, DeleteDaemon stops the tasks; daemon task definitions are their own tagged
resource; AWS's errors."""
import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for

ASG = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/daemon-pool"
CLUSTER = "daemons"


@pytest.fixture(scope="module")
def env(flotilla, tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("daemons")
    ecs = flotilla.client("ecs")
    ecs.create_capacity_provider(name="daemon-pool", autoScalingGroupProvider={"autoScalingGroupArn": ASG})
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.put_cluster_capacity_providers(cluster=CLUSTER, capacityProviders=["daemon-pool"],
                                       defaultCapacityProviderStrategy=[])
    agents = {name: AgentProcess(flotilla, base / f"daemon-{name}", cluster=CLUSTER, memory_mib=512,
                                 extra=["--capacity-provider", "daemon-pool"] if pooled else [])
              for name, pooled in [("pool1", True), ("pool2", True), ("plain", False), ("pool3", True)]}
    arns = {}
    try:
        for name in ("pool1", "pool2", "plain"):
            agents[name].start()
        arns.update({name: agents[name].instance_arn() for name in ("pool1", "pool2", "plain")})
        yield ecs, agents, arns
    finally:
        for a in agents.values():
            a.stop()
        for arn in arns.values():
            remove_containers(f"flotilla.container-instance={arn}")


def definition(family, command):
    return {"family": family, "pidMode": "shared", "tags": [{"key": "kind", "value": "daemon"}],
            "containerDefinitions": [{"name": "agent", "image": IMAGE, "memory": 32, "command": command,
                                      "stopTimeout": 1}]}


def code_of(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"]


def daemon_tasks(ecs, started_by=None, status="RUNNING"):
    arns = ecs.list_tasks(cluster=CLUSTER, desiredStatus=status)["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns, include=["TAGS"])["tasks"] if arns else []
    return [t for t in tasks if t.get("group", "").startswith("daemon:")
            and (started_by is None or t.get("startedBy") == started_by)]


def running_on(ecs, revision_id):
    """Instance ARN -> task, for the running daemon tasks of one revision."""
    tasks = [t for t in daemon_tasks(ecs, revision_id) if t["lastStatus"] == "RUNNING"]
    return {t["containerInstanceArn"]: t for t in tasks}


def test_daemon_task_definitions_are_their_own_tagged_resource(env):
    ecs, _, _ = env
    first = ecs.register_daemon_task_definition(**definition("node-agent", ["sleep", "1000"]))
    arn = first["daemonTaskDefinitionArn"]
    assert arn == "arn:aws:ecs:us-east-1:000000000000:daemon-task-definition/node-agent:1"
    second = ecs.register_daemon_task_definition(**definition("node-agent", ["sleep", "2000"]))
    assert second["daemonTaskDefinitionArn"].endswith("/node-agent:2")

    d = ecs.describe_daemon_task_definition(daemonTaskDefinition="node-agent")["daemonTaskDefinition"]
    assert d["daemonTaskDefinitionArn"] == second["daemonTaskDefinitionArn"]
    assert (d["family"], d["revision"], d["status"], d["pidMode"]) == ("node-agent", 2, "ACTIVE", "shared")
    [c] = d["containerDefinitions"]
    assert c["command"] == ["sleep", "2000"] and "portMappings" not in c
    # Its own families: no ordinary task definition of that family exists.
    assert ecs.list_task_definitions(familyPrefix="node-agent")["taskDefinitionArns"] == []

    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "kind", "value": "daemon"}]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "ops"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "kind", "value": "daemon"}, {"key": "team", "value": "ops"}]

    throwaway = ecs.register_daemon_task_definition(**definition("throwaway", ["true"]))
    deleted = ecs.delete_daemon_task_definition(daemonTaskDefinition="throwaway:1")
    assert deleted["daemonTaskDefinitionArn"] == throwaway["daemonTaskDefinitionArn"]
    summaries = ecs.list_daemon_task_definitions(revision="LAST_REGISTERED")["daemonTaskDefinitions"]
    assert [s["arn"] for s in summaries] == [second["daemonTaskDefinitionArn"]]
    everything = ecs.list_daemon_task_definitions(status="ALL")["daemonTaskDefinitions"]
    assert {s["arn"]: s["status"] for s in everything}[throwaway["daemonTaskDefinitionArn"]] == "DELETED"

    assert code_of(ecs.delete_daemon_task_definition, daemonTaskDefinition="throwaway:1") == "ClientException"
    bad = definition("bad", ["true"]) | {"ipcMode": "host"}
    assert code_of(ecs.register_daemon_task_definition, **bad) == "InvalidParameterException"
    empty = {"family": "bad", "containerDefinitions": []}
    assert code_of(ecs.register_daemon_task_definition, **empty) in ("ClientException",
                                                                     "InvalidParameterException")


def test_one_task_on_each_provider_instance_and_on_a_joining_one(env):
    ecs, agents, arns = env
    created = ecs.create_daemon(daemonName="node-agent", clusterArn=CLUSTER,
                                daemonTaskDefinitionArn="node-agent:1", capacityProviderArns=["daemon-pool"],
                                tags=[{"key": "team", "value": "ops"}], propagateTags="DAEMON")
    daemon_arn = created["daemonArn"]
    assert daemon_arn == f"arn:aws:ecs:us-east-1:000000000000:daemon/{CLUSTER}/node-agent"
    assert created["status"] == "ACTIVE"

    [deployment] = ecs.list_daemon_deployments(daemonArn=daemon_arn)["daemonDeployments"]
    assert deployment["daemonDeploymentArn"] == created["deploymentArn"]
    revision = deployment["targetDaemonRevisionArn"].rsplit("/", 1)[1]
    on = wait_for(lambda: (r := running_on(ecs, revision)) and len(r) == 2 and r, timeout=60,
                  what="a daemon task on each pooled instance")
    assert set(on) == {arns["pool1"], arns["pool2"]}
    assert all(t["taskDefinitionArn"].endswith("daemon-task-definition/node-agent:1") for t in on.values())
    assert all({"key": "team", "value": "ops"} in t.get("tags", []) for t in on.values())
    assert {t["capacityProviderName"] for t in on.values()} == {"daemon-pool"}

    def successful():
        [d] = ecs.describe_daemon_deployments(daemonDeploymentArns=[created["deploymentArn"]])["daemonDeployments"]
        return d if d["status"] == "SUCCESSFUL" else None
    d = wait_for(successful, timeout=30, what="the first deployment to succeed")
    assert d["targetDaemonRevision"]["totalRunningInstanceCount"] == 2
    [detail] = ecs.describe_daemon(daemonArn=daemon_arn)["daemon"]["currentRevisions"]
    assert (detail["totalRunningCount"], detail["totalWithoutDaemonCount"]) == (2, 0)

    ecs.tag_resource(resourceArn=daemon_arn, tags=[{"key": "tier", "value": "base"}])
    assert {"key": "tier", "value": "base"} in ecs.list_tags_for_resource(resourceArn=daemon_arn)["tags"]

    agents["pool3"].start()
    arns["pool3"] = agents["pool3"].instance_arn()
    on = wait_for(lambda: (r := running_on(ecs, revision)) and len(r) == 3 and r, timeout=60,
                  what="a daemon task on the joining instance")
    assert arns["plain"] not in on
    assert len(daemon_tasks(ecs)) == 3


def test_update_rolls_a_new_revision_out_as_a_deployment(env):
    ecs, _, arns = env
    [summary] = ecs.list_daemons(clusterArn=CLUSTER)["daemonSummariesList"]
    daemon_arn = summary["daemonArn"]
    updated = ecs.update_daemon(daemonArn=daemon_arn, daemonTaskDefinitionArn="node-agent:2",
                                capacityProviderArns=["daemon-pool"],
                                deploymentConfiguration={"drainPercent": 50.0, "bakeTimeInMinutes": 0})
    listed = ecs.list_daemon_deployments(daemonArn=daemon_arn)["daemonDeployments"]
    assert [d["daemonDeploymentArn"] for d in listed][0] == updated["deploymentArn"]
    assert len(listed) == 2
    revision_arn = listed[0]["targetDaemonRevisionArn"]
    revision = revision_arn.rsplit("/", 1)[1]

    def successful():
        [d] = ecs.describe_daemon_deployments(daemonDeploymentArns=[updated["deploymentArn"]])["daemonDeployments"]
        return d if d["status"] == "SUCCESSFUL" else None
    d = wait_for(successful, timeout=90, what="the update to succeed")
    assert d["deploymentConfiguration"]["drainPercent"] == 50.0
    assert [s["arn"] for s in d["sourceDaemonRevisions"]] == [listed[1]["targetDaemonRevisionArn"]]
    on = running_on(ecs, revision)
    assert set(on) == {arns["pool1"], arns["pool2"], arns["pool3"]}
    assert all(t["taskDefinitionArn"].endswith("/node-agent:2") for t in on.values())
    assert len(daemon_tasks(ecs)) == 3

    [r] = ecs.describe_daemon_revisions(daemonRevisionArns=[revision_arn])["daemonRevisions"]
    assert r["daemonTaskDefinitionArn"].endswith("daemon-task-definition/node-agent:2")
    assert r["containerImages"] == [{"containerName": "agent", "image": IMAGE}]
    assert r["critical"] is True
    missing = revision_arn.rsplit("/", 1)[0] + "/nope"
    assert ecs.describe_daemon_revisions(daemonRevisionArns=[missing])["failures"][0]["reason"] == "MISSING"


def test_bad_input_and_delete_stops_the_tasks(env):
    ecs, _, _ = env
    base = {"daemonTaskDefinitionArn": "node-agent:2", "capacityProviderArns": ["daemon-pool"]}
    assert code_of(ecs.create_daemon, daemonName="x", clusterArn="nope", **base) == "ClusterNotFoundException"
    assert code_of(ecs.create_daemon, daemonName="node-agent", clusterArn=CLUSTER,
                   **base) == "InvalidParameterException"
    assert code_of(ecs.create_daemon, daemonName="bad name", clusterArn=CLUSTER,
                   **base) == "InvalidParameterException"
    assert code_of(ecs.create_daemon, daemonName="x", clusterArn=CLUSTER, daemonTaskDefinitionArn="node-agent:2",
                   capacityProviderArns=["FARGATE"]) == "InvalidParameterException"
    assert code_of(ecs.create_daemon, daemonName="x", clusterArn=CLUSTER, daemonTaskDefinitionArn="missing:1",
                   capacityProviderArns=["daemon-pool"]) == "ClientException"
    assert code_of(ecs.create_daemon, daemonName="x", clusterArn=CLUSTER, **base,
                   deploymentConfiguration={"drainPercent": 101.0}) == "InvalidParameterException"
    gone = f"arn:aws:ecs:us-east-1:000000000000:daemon/{CLUSTER}/nope"
    assert code_of(ecs.describe_daemon, daemonArn=gone) == "DaemonNotFoundException"
    assert code_of(ecs.describe_daemon, daemonArn="node-agent") == "InvalidParameterException"

    daemon_arn = ecs.list_daemons(clusterArn=CLUSTER)["daemonSummariesList"][0]["daemonArn"]
    deleted = ecs.delete_daemon(daemonArn=daemon_arn)
    assert deleted["status"] == "DELETE_IN_PROGRESS"
    assert code_of(ecs.update_daemon, daemonArn=daemon_arn, **base) == "DaemonNotActiveException"
    wait_for(lambda: not daemon_tasks(ecs), timeout=60, what="the daemon tasks to be stopped")
    wait_for(lambda: all(t["lastStatus"] == "STOPPED" for t in daemon_tasks(ecs, status="STOPPED")),
             timeout=60, what="the daemon tasks to stop")
    wait_for(lambda: not ecs.list_daemons(clusterArn=CLUSTER)["daemonSummariesList"], timeout=30,
             what="the daemon to go")
    assert code_of(ecs.describe_daemon, daemonArn=daemon_arn) == "DaemonNotFoundException"
