"""The commands for people, driven as a person would from a shell, against a real server,
agent, Docker containers and load balancer: `flotilla deploy` rolls a new image out behind
the load balancer with no failed request and exits 0; a failing image is rolled back by the
circuit breaker and exits 1; bad input (a misspelt image, one missing from the registry, a
container or service that does not exist) is refused before anything changes; Ctrl-C
stops the watching and leaves the deployment to finish; `status`, `ps` and `events` show
the same state as tables (no colour when piped) and JSON; `completions` load in bash.

One server and one agent for the module; its load balancer takes an address from
127.0.40.1-127.0.40.10.
"""
import json
import signal
import subprocess
import time

import pytest

from agents import server_with_agent, wait_for
from conftest import BIN
from test_load_balancer import Load, get, lb_address, target_group, wait_healthy, web_task

CLUSTER = "default"
LB_RANGE = "127.0.40.1-127.0.40.10"
V2 = "flotilla-test/busybox:v2"


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("people")
    subprocess.run(["docker", "tag", "flotilla-test/busybox:latest", V2], check=True)
    args = ["--lb-bind", LB_RANGE, "--service-backoff-base-ms", "50"]
    with server_with_agent(base, CLUSTER, args) as (server, _):
        e = Env()
        e.server, e.ecs, e.elb = server, server.client("ecs"), server.client("elbv2")
        lb = e.elb.create_load_balancer(Name="people")["LoadBalancers"][0]["LoadBalancerArn"]
        e.tg = target_group(e.elb, "people-web")
        e.elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": e.tg}])
        e.addr = lb_address(e.elb, lb)
        td = web_task(e.ecs, "people", "v1")
        e.ecs.create_service(
            cluster=CLUSTER, serviceName="web", taskDefinition=td, desiredCount=2, launchType="EC2",
            loadBalancers=[{"targetGroupArn": e.tg, "containerName": "app", "containerPort": 80}],
            deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200,
                                     "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
        wait_for(lambda: stable(e, td), timeout=120, what="web stable")
        wait_healthy(e.elb, e.tg, 2)
        yield e
    subprocess.run(["docker", "rmi", V2], capture_output=True)


def flotilla(e, *args, timeout=300):
    return subprocess.run([BIN, *args, "--data-dir", str(e.server.data_dir)], env=e.server.env(),
                          capture_output=True, text=True, timeout=timeout)


def service(e):
    return e.ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]


def stable(e, td=None):
    svc = service(e)
    deps = svc["deployments"]
    return (len(deps) == 1 and deps[0]["rolloutState"] == "COMPLETED" and svc["runningCount"] == 2
            and (td is None or svc["taskDefinition"] == td)) and svc


def revisions(e):
    return e.ecs.list_task_definitions(familyPrefix="people")["taskDefinitionArns"]


def records(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_1_deploy_rolls_out_behind_the_load_balancer_with_no_failed_request(env):
    with Load(env.addr, 80, workers=2, max_seconds=200, max_requests=50_000) as load:
        out = flotilla(env, "deploy", "web", "--image", f"app={V2}", "--env", "NAME=v2",
                       "--output", "json", "--timeout", "3m")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = records(out.stdout)
    progress = [r for r in lines if r["type"] == "progress"]
    [result] = [r for r in lines if r["type"] == "result"]
    assert result["outcome"] == "COMPLETED" and result["taskDefinition"].endswith("people:2"), result
    # The progress moved: new tasks healthy in the load balancer from fewer than 2 to 2,
    # and the old ones drained.
    assert progress[0]["healthy"] < 2 and progress[0]["targetsCounted"] is True
    assert progress[-1]["healthy"] == 2 and progress[-1]["desired"] == 2
    assert any(p["oldTasks"] > 0 for p in progress) and progress[-1]["taskDefinition"] == "people:2"
    assert any(r["type"] == "event" and "steady state" in r["message"] for r in lines), lines
    svc = stable(env, result["taskDefinition"])
    assert svc, service(env)["deployments"]
    td = env.ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    [app] = td["containerDefinitions"]
    assert app["image"] == V2 and {"name": "NAME", "value": "v2"} in app["environment"]
    assert app["portMappings"][0]["containerPort"] == 80  # the rest is kept
    assert get(env.addr, 80)[2].strip() == "v2"
    assert sum(load.statuses.values()) > 50, load.statuses
    assert set(load.statuses) == {200} and not load.errors, (load.statuses, load.errors)


def test_2_a_failing_image_is_rolled_back_and_exits_1(env):
    before = service(env)["taskDefinition"]
    # A tag no host has and no registry can serve: every task fails to start.
    out = flotilla(env, "deploy", "web", "--image", "app=flotilla-test/busybox:no-such-tag",
                   "--timeout", "4m")
    assert out.returncode == 1, out.stdout + out.stderr
    # Piped: no escape codes, a progress line per change, then the verdict.
    assert "\x1b" not in out.stdout
    assert "people:3" in out.stdout and "targets healthy" in out.stdout
    last = out.stdout.strip().splitlines()[-1]
    assert "failed and was rolled back to people:2: tasks failed to start" in last, out.stdout
    assert "rolling back to deployment" in out.stdout, out.stdout
    assert stable(env, before)


def test_3_bad_input_is_refused_and_changes_nothing(env):
    before, known = service(env)["taskDefinition"], revisions(env)
    registry = (env.server.data_dir / "registry-host").read_text().strip()
    cases = [
        (["deploy", "web", "--image", "app=Flotilla/Web:v1"], "lower case"),
        (["deploy", "web", "--image", "app=web:-bad"], "tag '-bad' is invalid"),
        (["deploy", "web", "--image", f"app={registry}/nothing/here:v1"], "not in Flotilla's registry"),
        (["deploy", "web", "--image", f"db={V2}"], "no container 'db'"),
        (["deploy", "web", "--env", "NOVALUE"], "NAME=VALUE"),
        (["deploy", "nosuch", "--image", V2], "no service 'nosuch'"),
        (["deploy", "web"], "nothing to change"),
        (["deploy", "web", "--timeout", "5w", "--image", V2], "--timeout"),
        (["ps", "nosuch"], "no service 'nosuch'"),
        (["events", "nosuch"], "no service 'nosuch'"),
        (["status", "--cluster", "nosuch"], "no cluster 'nosuch'"),
    ]
    for args, message in cases:
        out = flotilla(env, *args, timeout=60)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "panicked" not in out.stderr
    assert service(env)["taskDefinition"] == before and revisions(env) == known


def test_4_ctrl_c_stops_watching_and_the_deployment_finishes(env):
    proc = subprocess.Popen([BIN, "deploy", "web", "--env", "NAME=v4", "--output", "json",
                             "--data-dir", str(env.server.data_dir)],
                            env=env.server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert json.loads(first)["type"] in ("progress", "event"), first
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (first, rest, err)
    result = records(rest)[-1]
    assert result["outcome"] == "INTERRUPTED" and "carries on" in result["message"]
    svc = wait_for(lambda: stable(env, result["taskDefinition"]), timeout=120, what="the rollout to finish")
    assert svc["taskDefinition"].endswith("people:4")
    # --no-wait returns once the service points at the new revision.
    started = time.monotonic()
    out = flotilla(env, "deploy", "web", "--env", "NAME=v5", "--no-wait")
    assert out.returncode == 0 and "deploying people:5" in out.stdout, out.stdout + out.stderr
    assert time.monotonic() - started < 30
    assert service(env)["taskDefinition"].endswith("people:5")
    wait_for(lambda: stable(env), timeout=120, what="people:5 stable")


def test_5_status_ps_and_events_as_tables_and_json(env):
    out = flotilla(env, "status", "--output", "json")
    assert out.returncode == 0, out.stderr
    [cluster] = [c for c in json.loads(out.stdout)["clusters"] if c["clusterName"] == CLUSTER]
    [web] = cluster["services"]
    assert (web["serviceName"], web["desiredCount"], web["runningCount"]) == ("web", 2, 2)
    assert web["rolloutState"] == "COMPLETED" and web["taskDefinition"].endswith("people:5")
    [instance] = cluster["instances"]
    assert instance["agentConnected"] is True and instance["status"] == "ACTIVE"
    assert instance["memory"]["free"] == instance["memory"]["registered"] - 2 * 16  # two tasks of 16 MiB

    out = flotilla(env, "status")
    assert out.returncode == 0 and "\x1b" not in out.stdout, out.stderr
    assert "SERVICE" in out.stdout and "people:5" in out.stdout and "connected" in out.stdout

    out = flotilla(env, "ps", "web", "--output", "json")
    tasks = json.loads(out.stdout)["tasks"]
    assert len(tasks) == 2 and all(t["lastStatus"] == "RUNNING" and t["service"] == "web" for t in tasks)
    assert all(t["ports"] and t["ports"][0].endswith("->80/tcp") and t["host"].startswith("i-") for t in tasks)
    out = flotilla(env, "ps", "--all")
    assert out.returncode == 0 and "STOPPED REASON" in out.stdout
    assert "CannotPullContainerError" in out.stdout or "TaskFailedToStart" in out.stdout \
        or "Task failed to start" in out.stdout, out.stdout
    ids = [t["taskId"] for t in tasks]
    assert all(i in out.stdout for i in ids)

    out = flotilla(env, "events", "web")
    assert out.returncode == 0 and "has reached a steady state" in out.stdout
    assert "\x1b" not in out.stdout
    out = flotilla(env, "events", "web", "--output", "json", "--since", "1d")
    events = records(out.stdout)
    assert events and all({"id", "createdAt", "message"} <= set(e) for e in events)
    times = [e["createdAt"] for e in events]
    assert times == sorted(times)


def test_6_completions_load_in_bash(env):
    for shell in ("bash", "zsh", "fish"):
        out = subprocess.run([BIN, "completions", shell], capture_output=True, text=True)
        assert out.returncode == 0 and "deploy" in out.stdout, shell
    script = f'source <("{BIN}" completions bash) && complete -p flotilla'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert out.returncode == 0 and "flotilla" in out.stdout, out.stderr
