"""Agent identities: an operator's join token, exchanged by an agent for a key of its own that
speaks the agent protocol for its own container instance and nothing else."""
import json
import subprocess
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from agents import AgentProcess, IMAGE, build_test_image, remove_containers, wait_for
from conftest import BIN, REGION

AGENT_TARGET = "FlotillaAgent_v1"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
CLUSTER = "identity"


def call(endpoint, key, operation, body, target=AGENT_TARGET, service="flotilla", region=REGION):
    """One JSON 1.1 call signed with `key` (access key id, secret): (status, error code or body)."""
    req = AWSRequest(method="POST", url=endpoint + "/", data=json.dumps(body).encode(), headers={
        "X-Amz-Target": f"{target}.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
    })
    SigV4Auth(Credentials(*key), service, region).add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=p.body, method="POST", headers=dict(p.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        doc = json.loads(e.read() or b"{}")
        return e.code, doc.get("__type", "").rsplit("#", 1)[-1]


def token_cli(server, *args):
    out = subprocess.run([BIN, "token", *args, "--data-dir", str(server.data_dir)], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def own_key(agent):
    state = json.loads((agent.data_dir / "agent-state.json").read_text())["data"]
    return state["agentKey"]["accessKeyId"], state["agentKey"]["secretAccessKey"]


@pytest.fixture(scope="module")
def env(flotilla, tmp_path_factory):
    build_test_image()
    flotilla.client("ecs").create_cluster(clusterName=CLUSTER)
    token = token_cli(flotilla, "create", "--cluster", CLUSTER, "--expires-in", "1h", "--description", "e2e")
    assert token.startswith("flotilla-join.FJT")
    base = tmp_path_factory.mktemp("agents")
    agents = [AgentProcess(flotilla, base / name, cluster=CLUSTER, join_token=token).start() for name in ("a", "b")]
    arns = [a.instance_arn() for a in agents]
    yield flotilla, token, agents, arns
    for a in agents:
        a.stop()
    for arn in arns:
        remove_containers(f"flotilla.container-instance={arn}")


def test_an_agent_key_speaks_only_for_its_own_instance(env):
    server, token, (a, b), (arn_a, arn_b) = env
    key = own_key(a)
    assert key[0].startswith("FAK") and key != own_key(b)
    ep = server.endpoint
    poll = {"cluster": CLUSTER, "since": 0, "waitMillis": 0}

    status, answer = call(ep, key, "Poll", dict(poll, containerInstanceArn=arn_a))
    assert status == 200 and answer["instanceStatus"] == "ACTIVE"
    # Another instance's manifest (task environment values included) is not for it...
    assert call(ep, key, "Poll", dict(poll, containerInstanceArn=arn_b)) == (400, "AccessDeniedException")
    # ...nor are its task reports, nor its registration.
    report = {"cluster": CLUSTER, "containerInstanceArn": arn_b, "reports": []}
    assert call(ep, key, "SubmitTaskReports", report) == (400, "AccessDeniedException")
    register = {"cluster": CLUSTER, "containerInstanceArn": arn_b, "totalResources": [
        {"name": "CPU", "type": "INTEGER", "integerValue": 99999},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 99999}]}
    assert call(ep, key, "RegisterContainerInstance", register, target=ECS_TARGET,
                service="ecs") == (400, "AccessDeniedException")
    fresh = {k: v for k, v in register.items() if k != "containerInstanceArn"}
    assert call(ep, key, "RegisterContainerInstance", fresh, target=ECS_TARGET,
                service="ecs") == (400, "AccessDeniedException")
    # The ECS agent's operations: for its own instance only.
    discover = {"cluster": CLUSTER, "containerInstance": arn_a}
    status, answer = call(ep, key, "DiscoverPollEndpoint", discover, target=ECS_TARGET, service="ecs")
    assert status == 200 and answer["endpoint"] == ep
    assert call(ep, key, "DiscoverPollEndpoint", dict(discover, containerInstance=arn_b), target=ECS_TARGET,
                service="ecs") == (400, "AccessDeniedException")
    # Nothing of the administrator's API either.
    assert call(ep, key, "ListClusters", {}, target=ECS_TARGET, service="ecs") == (403, "AccessDeniedException")
    assert call(ep, key, "CreateJoinToken", {"cluster": CLUSTER}) == (403, "AccessDeniedException")
    # Its key is for its region only.
    assert call(ep, key, "Poll", dict(poll, containerInstanceArn=arn_a),
                region="eu-west-1") == (403, "UnrecognizedClientException")
    # B's instance was not re-registered with A's made-up resources.
    [inst] = server.client("ecs").describe_container_instances(
        cluster=CLUSTER, containerInstances=[arn_b])["containerInstances"]
    cpu = next(r for r in inst["registeredResources"] if r["name"] == "CPU")
    assert cpu["integerValue"] != 99999


def test_a_join_token_joins_its_cluster_only(env):
    server, token, _, _ = env
    _, token_id, secret = token.split(".")[:3]
    ep = server.endpoint
    resources = [{"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                 {"name": "MEMORY", "type": "INTEGER", "integerValue": 512}]
    assert call(ep, (token_id, secret), "Join", {"cluster": "default", "totalResources": resources}) \
        == (400, "AccessDeniedException")
    assert call(ep, (token_id, secret), "ListClusters", {}, target=ECS_TARGET,
                service="ecs") == (403, "AccessDeniedException")
    assert call(ep, (token_id, secret), "Poll", {"cluster": CLUSTER, "containerInstanceArn": "x",
                                                 "since": 0, "waitMillis": 0}) == (403, "AccessDeniedException")
    listed = token_cli(server, "list")
    assert token_id in listed and CLUSTER in listed and "e2e" in listed and secret not in listed


def test_revoking_the_token_or_deregistering_revokes_the_key(env, tmp_path):
    server, _, (a, _), (arn_a, _) = env
    ecs = server.client("ecs")
    second = token_cli(server, "create", "--cluster", CLUSTER)
    c = AgentProcess(server, tmp_path / "c", cluster=CLUSTER, join_token=second).start()
    try:
        arn_c = c.instance_arn()
        key_c = own_key(c)
        poll = {"cluster": CLUSTER, "since": 0, "waitMillis": 0}
        assert call(server.endpoint, key_c, "Poll", dict(poll, containerInstanceArn=arn_c))[0] == 200
        ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=arn_c, force=True)
        assert call(server.endpoint, key_c, "Poll", dict(poll, containerInstanceArn=arn_c)) \
            == (403, "UnrecognizedClientException")
        # The agent, its key refused, joins again as a new instance with its token.
        wait_for(lambda: own_key(c) != key_c, timeout=30, what="agent c to join again")
        arn_c2 = c.instance_arn()
        assert arn_c2 != arn_c

        token_id = second.split(".")[1]
        token_cli(server, "revoke", token_id)
        assert call(server.endpoint, own_key(c), "Poll", dict(poll, containerInstanceArn=arn_c2)) \
            == (403, "UnrecognizedClientException")
        assert token_id not in token_cli(server, "list")
        # A's key, from the other token, still works.
        assert call(server.endpoint, own_key(a), "Poll", dict(poll, containerInstanceArn=arn_a))[0] == 200
        # With its token revoked too, the agent stops and says what to do.
        assert c.proc.wait(timeout=60) != 0
        assert "--join-token" in c.log.read_text() or "join token" in c.log.read_text()
    finally:
        c.stop()
        # Its agent gone, its instance must not take the next test's task.
        for arn in ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]:
            if arn not in env[3]:
                ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=arn, force=True)


def test_tasks_run_on_agents_that_joined_with_a_token(env):
    server, _, _, _ = env
    ecs = server.client("ecs")
    td = ecs.register_task_definition(family="joined", containerDefinitions=[{
        "name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"], "stopTimeout": 1,
        "environment": [{"name": "DB_PASSWORD", "value": "hunter2"}]}])["taskDefinition"]["taskDefinitionArn"]
    [task] = ecs.run_task(cluster=CLUSTER, taskDefinition=td)["tasks"]
    ecs.get_waiter("tasks_running").wait(cluster=CLUSTER, tasks=[task["taskArn"]],
                                         WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ecs.stop_task(cluster=CLUSTER, task=task["taskArn"])
    ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=[task["taskArn"]],
                                         WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    # The server log never holds a task's secret values or a key's secret.
    log = server.log.read_text()
    assert "hunter2" not in log


def test_an_agent_without_any_identity_says_how_to_get_one(flotilla, tmp_path):
    import os
    env = {k: v for k, v in os.environ.items() if "ACCESS_KEY" not in k and "SECRET" not in k}
    out = subprocess.run([BIN, "agent", "--server", flotilla.endpoint, "--data-dir", str(tmp_path / "x")],
                         env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "flotilla token create" in out.stderr
    bad = subprocess.run([BIN, "agent", "--server", flotilla.endpoint, "--data-dir", str(tmp_path / "y"),
                          "--join-token", "flotilla-join.nope"], env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "not a join token" in bad.stderr


def test_no_log_holds_a_secret(env):
    server, token, agents, _ = env
    secrets = [token.split(".")[2]] + [own_key(a)[1] for a in agents]
    logs = [server.log.read_text()] + [a.log.read_text() for a in agents]
    for secret in secrets:
        assert all(secret not in log for log in logs), "a secret reached a log"
