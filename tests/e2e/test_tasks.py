"""Tasks on real Docker through real agents, driven by the real AWS CLI (issue: agents and
tasks on Docker Engine)."""
import json
import subprocess
import time
import urllib.request

import pytest

from agents import IMAGE, AgentProcess, build_test_image, containers_with_label, inspect, remove_containers, wait_for
from conftest import Flotilla

AGENT_TTL = 4


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("tasks")
    server = Flotilla(base / "server", extra_args=["--agent-ttl-seconds", str(AGENT_TTL)]).start()
    agent = AgentProcess(server, base / "agent-a")
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", "default")
        agent.start()
        arn = agent.instance_arn()
        yield server, agent, arn
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def register(server, family, containers, **extra):
    # A short stop timeout: busybox as PID 1 ignores SIGTERM, so stops wait for SIGKILL.
    containers = [{"stopTimeout": 2, **c} for c in containers]
    body = {"family": family, "containerDefinitions": containers, **extra}
    return server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps(body))["taskDefinition"]


def describe(server, task_arn):
    return server.aws("ecs", "describe-tasks", "--tasks", task_arn)["tasks"][0]


def run(server, family, *args):
    out = server.aws("ecs", "run-task", "--task-definition", family, *args)
    assert out["failures"] == [], out
    return out["tasks"][0]["taskArn"]


def wait_status(server, task_arn, status, timeout=60):
    return wait_for(lambda: (t := describe(server, task_arn))["lastStatus"] == status and t,
                    timeout=timeout, what=f"{task_arn} {status}")


def test_web_task_runs_answers_and_stops_like_ecs(env):
    server, _, instance = env
    register(server, "web", [{
        "name": "httpd", "image": IMAGE, "memory": 64, "essential": True,
        "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
        "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}])
    task_arn = run(server, "web")
    server.aws("ecs", "wait", "tasks-running", "--tasks", task_arn)
    task = describe(server, task_arn)
    assert task["lastStatus"] == "RUNNING" and task["containerInstanceArn"] == instance
    binding = task["containers"][0]["networkBindings"][0]
    assert binding["containerPort"] == 80 and binding["hostPort"] > 0
    [cid] = containers_with_label(f"com.amazonaws.ecs.task-arn={task_arn}")
    assert inspect(cid)["State"]["Running"]
    page = urllib.request.urlopen(f"http://127.0.0.1:{binding['hostPort']}/", timeout=5).read()
    assert b"hello from flotilla" in page

    server.aws("ecs", "stop-task", "--task", task_arn, "--reason", "test is done")
    server.aws("ecs", "wait", "tasks-stopped", "--tasks", task_arn)
    task = describe(server, task_arn)
    assert task["stopCode"] == "UserInitiated" and task["stoppedReason"] == "test is done"
    assert task["desiredStatus"] == "STOPPED"
    assert task["containers"][0]["lastStatus"] == "STOPPED"
    assert isinstance(task["containers"][0].get("exitCode"), int)
    for field in ("startedAt", "stoppingAt", "stoppedAt", "pullStartedAt", "pullStoppedAt"):
        assert field in task, field


def test_essential_container_exit_code_stops_the_task(env):
    server, _, _ = env
    register(server, "exit3", [{"name": "app", "image": IMAGE, "memory": 32, "command": ["sh", "-c", "exit 3"]}])
    task_arn = run(server, "exit3")
    task = wait_status(server, task_arn, "STOPPED")
    assert task["stopCode"] == "EssentialContainerExited"
    assert "Essential container" in task["stoppedReason"]
    assert task["containers"][0]["exitCode"] == 3


def test_depends_on_healthy_holds_the_dependent_container(env):
    server, _, _ = env
    register(server, "ordered", [
        {"name": "db", "image": IMAGE, "memory": 32,
         "command": ["sh", "-c", "sleep 3; touch /tmp/ready; sleep 1000"],
         "healthCheck": {"command": ["CMD-SHELL", "test -f /tmp/ready"], "interval": 5, "timeout": 2,
                         "retries": 3, "startPeriod": 0}},
        {"name": "app", "image": IMAGE, "memory": 32, "command": ["sleep", "1000"],
         "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
    ])
    task_arn = run(server, "ordered")
    task = wait_status(server, task_arn, "RUNNING", timeout=90)
    by_name = {c["name"]: c for c in task["containers"]}
    assert by_name["db"]["healthStatus"] == "HEALTHY"
    db = inspect(by_name["db"]["runtimeId"])
    app = inspect(by_name["app"]["runtimeId"])
    first_healthy = min(h["End"] for h in db["State"]["Health"]["Log"] if h["ExitCode"] == 0)
    assert app["State"]["StartedAt"] > first_healthy[:26], (app["State"]["StartedAt"], first_healthy)
    server.aws("ecs", "stop-task", "--task", task_arn)
    wait_status(server, task_arn, "STOPPED")


def test_too_much_memory_is_a_resource_failure(env):
    server, _, instance = env
    register(server, "huge", [{"name": "app", "image": IMAGE, "memory": 10_000_000}])
    out = server.aws("ecs", "run-task", "--task-definition", "huge")
    assert out["tasks"] == []
    assert out["failures"] == [{"arn": instance, "reason": "RESOURCE:MEMORY"}]


def test_missing_image_is_cannot_pull_container_error(env):
    server, _, _ = env
    register(server, "ghost", [{"name": "app", "image": "flotilla-test/does-not-exist:1", "memory": 32}])
    task_arn = run(server, "ghost")
    task = wait_status(server, task_arn, "STOPPED", timeout=90)
    assert task["stopCode"] == "TaskFailedToStart"
    assert "CannotPullContainerError" in task["stoppedReason"]
    assert "CannotPullContainerError" in task["containers"][0]["reason"]


def test_awsvpc_task_has_its_own_ip_and_shares_localhost(env):
    server, _, _ = env
    register(server, "pair", [
        {"name": "web", "image": IMAGE, "memory": 32, "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
         "portMappings": [{"containerPort": 8080}]},
        {"name": "probe", "image": IMAGE, "memory": 32,
         "command": ["sh", "-c", "sleep 1; wget -q -O /tmp/page http://127.0.0.1:8080/ && sleep 1000"]},
    ], networkMode="awsvpc")
    task_arn = run(server, "pair")
    task = wait_status(server, task_arn, "RUNNING", timeout=90)
    ip = task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert details["privateIPv4Address"] == ip
    # The probe reached the web container on localhost, inside the task's namespace.
    probe = {c["name"]: c for c in task["containers"]}["probe"]
    wait_for(lambda: subprocess.run(["docker", "exec", probe["runtimeId"], "cat", "/tmp/page"],
                                    capture_output=True, text=True).stdout.strip() == "hello from flotilla",
             timeout=20, what="probe to fetch over localhost")
    server.aws("ecs", "stop-task", "--task", task_arn)
    wait_status(server, task_arn, "STOPPED")


def test_agent_killed_with_three_tasks_adopts_them_on_restart(env):
    server, agent, instance = env
    register(server, "sleeper", [{"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"]}])
    out = server.aws("ecs", "run-task", "--task-definition", "sleeper", "--count", "3")
    arns = [t["taskArn"] for t in out["tasks"]]
    assert len(arns) == 3
    server.aws("ecs", "wait", "tasks-running", "--tasks", *arns)
    label = f"flotilla.container-instance={instance}"
    ours = lambda: sorted(c for arn in arns for c in containers_with_label(f"com.amazonaws.ecs.task-arn={arn}"))  # noqa: E731
    before = ours()
    assert len(before) == 3 and all(inspect(c)["State"]["Running"] for c in before)
    all_before = set(containers_with_label(label))

    agent.kill9()
    agent.start()
    assert agent.instance_arn() == instance
    time.sleep(3)  # let the restarted agent poll, adopt and report
    for arn in arns:
        assert describe(server, arn)["lastStatus"] == "RUNNING"
    after = ours()
    assert after == before, "the three containers were replaced or duplicated"
    assert all(inspect(c)["State"]["Running"] for c in after)
    # Nothing new was started (stopped containers of earlier tasks may have been removed).
    assert set(containers_with_label(label)) <= all_before
    server.aws("ecs", "stop-task", "--task", arns[0])
    wait_status(server, arns[0], "STOPPED")
    for arn in arns[1:]:
        server.aws("ecs", "stop-task", "--task", arn)


def test_agent_past_its_ttl_is_disconnected_then_reconnects(env):
    server, agent, instance = env

    def connected():
        out = server.aws("ecs", "describe-container-instances", "--container-instances", instance)
        return out["containerInstances"][0]["agentConnected"]

    assert connected() is True
    agent.stop()
    wait_for(lambda: connected() is False, timeout=AGENT_TTL * 4, what="agentConnected false")
    agent.start()
    wait_for(lambda: connected() is True, timeout=30, what="agentConnected true")


def test_fargate_launch_type_runs_in_awsvpc_with_task_limits(env):
    server, _, _ = env
    register(server, "fg", [{"name": "app", "image": IMAGE, "command": ["sleep", "1000"]}],
             networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512")
    task_arn = run(server, "fg", "--launch-type", "FARGATE")
    task = wait_status(server, task_arn, "RUNNING", timeout=90)
    assert task["launchType"] == "FARGATE" and task["cpu"] == "256" and task["memory"] == "512"
    assert task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
    host_config = inspect(task["containers"][0]["runtimeId"])["HostConfig"]
    assert host_config["Memory"] == 512 * 1024 * 1024
    # A definition that is not Fargate-compatible is refused for FARGATE.
    out = server.aws("ecs", "run-task", "--task-definition", "exit3", "--launch-type", "FARGATE", check=False)
    assert out.returncode != 0 and "InvalidParameterException" in out.stderr
    server.aws("ecs", "stop-task", "--task", task_arn)
    wait_status(server, task_arn, "STOPPED")


def test_host_network_mode(env):
    server, _, _ = env
    register(server, "hostnet", [{"name": "web", "image": IMAGE, "memory": 32,
                                  "command": ["httpd", "-f", "-p", "18080", "-h", "/www"],
                                  "portMappings": [{"containerPort": 18080, "hostPort": 18080}]}],
             networkMode="host")
    task_arn = run(server, "hostnet")
    task = wait_status(server, task_arn, "RUNNING")
    assert task["containers"][0]["networkBindings"][0]["hostPort"] == 18080
    page = wait_for(lambda: _get("http://127.0.0.1:18080/"), timeout=10, what="httpd on the host network")
    assert b"hello from flotilla" in page
    # The port is taken now: a second copy cannot be placed.
    out = server.aws("ecs", "run-task", "--task-definition", "hostnet")
    assert out["tasks"] == [] and out["failures"][0]["reason"] == "RESOURCE:PORTS"
    server.aws("ecs", "stop-task", "--task", task_arn)
    wait_status(server, task_arn, "STOPPED")


def _get(url):
    try:
        return urllib.request.urlopen(url, timeout=2).read()
    except OSError:
        return None


def test_start_task_and_list_tasks_filters(env):
    server, _, instance = env
    register(server, "named", [{"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"]}])
    out = server.aws("ecs", "start-task", "--task-definition", "named", "--container-instances", instance,
                     "--started-by", "e2e-start", "--group", "batch")
    [task] = out["tasks"]
    assert task["containerInstanceArn"] == instance and task["group"] == "batch"
    wait_status(server, task["taskArn"], "RUNNING")
    assert server.aws("ecs", "list-tasks", "--started-by", "e2e-start")["taskArns"] == [task["taskArn"]]
    assert task["taskArn"] in server.aws("ecs", "list-tasks", "--family", "named")["taskArns"]
    assert task["taskArn"] in server.aws("ecs", "list-tasks", "--container-instance", instance)["taskArns"]
    assert server.aws("ecs", "list-tasks", "--family", "named", "--desired-status", "STOPPED")["taskArns"] == []
    server.aws("ecs", "stop-task", "--task", task["taskArn"])
    wait_status(server, task["taskArn"], "STOPPED")
    assert task["taskArn"] in server.aws("ecs", "list-tasks", "--desired-status", "STOPPED")["taskArns"]
    missing = server.aws("ecs", "describe-tasks", "--tasks", "0123456789abcdef0123456789abcdef")
    assert missing["failures"][0]["reason"] == "MISSING"


def test_two_agents_on_one_host_are_two_instances(env, tmp_path):
    server, _, first = env
    second = AgentProcess(server, tmp_path / "agent-b", attributes=[("stack", "blue")], zone="local-1b").start()
    arn = None
    try:
        arn = second.instance_arn()
        assert arn != first
        listed = server.aws("ecs", "list-container-instances")["containerInstanceArns"]
        assert {first, arn} <= set(listed)
        ci = server.aws("ecs", "describe-container-instances", "--container-instances", arn)["containerInstances"][0]
        attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
        assert attrs["ecs.availability-zone"] == "local-1b" and attrs["stack"] == "blue"
        assert attrs["ecs.os-type"] == "linux"
        cpu = next(r for r in ci["registeredResources"] if r["name"] == "CPU")["integerValue"]
        assert cpu % 1024 == 0 and cpu >= 1024
        register(server, "blue", [{"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"]}],
                 placementConstraints=[{"type": "memberOf", "expression": "attribute:stack == blue"}])
        task_arn = run(server, "blue")
        task = wait_status(server, task_arn, "RUNNING")
        assert task["containerInstanceArn"] == arn
        server.aws("ecs", "stop-task", "--task", task_arn)
        wait_status(server, task_arn, "STOPPED")
    finally:
        second.stop()
        if arn:
            # Take it out of the cluster, so later tests' tasks are not placed on it.
            server.aws("ecs", "deregister-container-instance", "--container-instance", arn, "--force")
            remove_containers(f"flotilla.container-instance={arn}")


def test_overrides_and_docker_mapping(env):
    server, _, _ = env
    register(server, "mapped", [{
        "name": "app", "image": IMAGE, "cpu": 128, "memory": 64, "memoryReservation": 32,
        "command": ["sleep", "1000"], "environment": [{"name": "A", "value": "1"}],
        "workingDirectory": "/tmp", "user": "nobody", "dockerLabels": {"team": "web"},
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}]}])
    overrides = {"containerOverrides": [{"name": "app", "command": ["sleep", "999"],
                                         "environment": [{"name": "B", "value": "2"}]}]}
    task_arn = run(server, "mapped", "--overrides", json.dumps(overrides), "--started-by", "e2e",
                   "--tags", "key=k,value=v")
    task = wait_status(server, task_arn, "RUNNING")
    c = inspect(task["containers"][0]["runtimeId"])
    assert c["Config"]["Cmd"] == ["sleep", "999"]
    env_vars = set(c["Config"]["Env"])
    assert {"A=1", "B=2"} <= env_vars
    assert c["Config"]["WorkingDir"] == "/tmp" and c["Config"]["User"] == "nobody"
    assert c["Config"]["Labels"]["team"] == "web"
    assert c["HostConfig"]["CpuShares"] == 128
    assert c["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert c["HostConfig"]["MemoryReservation"] == 32 * 1024 * 1024
    assert c["HostConfig"]["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    described = server.aws("ecs", "describe-tasks", "--tasks", task_arn, "--include", "TAGS")["tasks"][0]
    assert described["tags"] == [{"key": "k", "value": "v"}] and described["startedBy"] == "e2e"
    assert described["overrides"]["containerOverrides"][0]["command"] == ["sleep", "999"]
    server.aws("ecs", "stop-task", "--task", task_arn)
    wait_status(server, task_arn, "STOPPED")


def test_run_task_client_token_is_idempotent(env):
    server, _, _ = env
    register(server, "tokened", [{"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"]}])
    first = server.aws("ecs", "run-task", "--task-definition", "tokened", "--client-token", "token-1")
    again = server.aws("ecs", "run-task", "--task-definition", "tokened", "--client-token", "token-1")
    assert [t["taskArn"] for t in first["tasks"]] == [t["taskArn"] for t in again["tasks"]]
    task_arn = first["tasks"][0]["taskArn"]
    wait_status(server, task_arn, "RUNNING")
    server.aws("ecs", "stop-task", "--task", task_arn)
    wait_status(server, task_arn, "STOPPED")
