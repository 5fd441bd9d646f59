"""ECS services end to end (issue: services and deployments): the service controller on a
real server with real agents on Docker, driven by the real AWS CLI and boto3.

Layout (to keep the module's run time modest on a small machine):
- API tests (no agents, no Docker): the conftest `flotilla` server, cluster `api`; a service
  there never gets a task, so its deployment stays IN_PROGRESS as long as desiredCount > 0.
- Docker tests: one server (`env`, started with `--service-backoff-base-ms 50`) with
  cluster `svc` (one agent) and cluster `multi` (two agents, a third joins in the DAEMON
  test). Every test uses its own service name and task-definition family, so containers are
  found by the family label, and deletes its services (force) when it ends.
- The disconnect test runs its own server with a short agent TTL and disconnect grace.
"""
import contextlib
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla

ACCOUNT = "000000000000"
REGION = "us-east-1"
CLUSTER = "svc"
MULTI = "multi"
BACKOFF_MS = 50
DEPLOYMENT_ID = re.compile(r"^ecs-svc/\d{19}$")
# A container that stops at once on SIGTERM (busybox sh as PID 1 ignores SIGTERM unless it
# traps it); stopTimeout bounds it anyway.
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
# Takes a second to stop after SIGTERM, as a real server finishing its requests does.
SLOW_STOPPER = ["sh", "-c", "trap 'sleep 1; exit 0' TERM; sleep 1000 & wait"]
# A revision whose container never runs: its command does not exist, so every start fails.
# (`sh -c "exit 1"` could be seen running for an instant on a loaded machine, its three
# tasks RUNNING at once, and the deployment complete before the first crash.)
CRASHER = ["/no/such/command"]
FAILED_TASK_THRESHOLD = 10  # clamp(ceil(3 / 2), 10, 200)


def service_arn(cluster, name):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def message_of(excinfo):
    return excinfo.value.response["Error"].get("Message", "")


def register(ecs, family, command=SLEEPER, memory=16, environment=(), **extra):
    """Registers a revision of `family` running the local busybox image; its ARN."""
    container = {"name": "app", "image": IMAGE, "memory": memory, "essential": True,
                 "command": list(command), "environment": list(environment), "stopTimeout": 2}
    return ecs.register_task_definition(family=family, containerDefinitions=[container],
                                        **extra)["taskDefinition"]["taskDefinitionArn"]


def describe_service(ecs, cluster, name):
    out = ecs.describe_services(cluster=cluster, services=[name])
    assert not out["failures"], out["failures"]
    [svc] = out["services"]
    events = svc.get("events", [])
    assert len(events) <= 100
    stamps = [e["createdAt"] for e in events]
    assert stamps == sorted(stamps, reverse=True), "events must be newest first"
    return svc


def is_stable(svc, task_definition=None, completed=False):
    """The `services-stable` waiter's condition (one deployment, runningCount ==
    desiredCount); optionally the one deployment runs `task_definition` and its rollout
    is COMPLETED."""
    deps = svc["deployments"]
    if len(deps) != 1 or svc["runningCount"] != svc["desiredCount"]:
        return False
    if completed and deps[0].get("rolloutState") != "COMPLETED":
        return False
    return task_definition is None or deps[0]["taskDefinition"] == task_definition


def wait_stable(ecs, cluster, name, task_definition=None, timeout=60, completed=False):
    return wait_for(lambda: (s := describe_service(ecs, cluster, name)) and is_stable(s, task_definition, completed)
                    and s, timeout=timeout, interval=0.25, what=f"service {name} stable")


def wait_event(ecs, cluster, name, predicate, what, timeout=15):
    """Waits until one of the service's events' message satisfies `predicate`; the service."""
    return wait_for(lambda: (s := describe_service(ecs, cluster, name))
                    and any(predicate(e["message"]) for e in s.get("events", [])) and s,
                    timeout=timeout, interval=0.25, what=what)


def short_ids(ids):
    return sorted(i[:12] for i in ids)


def cli_wait_stable(server, cluster, name):
    """`aws ecs wait services-stable` (its first poll is immediate; call once stable, since
    the waiter sleeps 15 s between polls)."""
    server.aws("ecs", "wait", "services-stable", "--cluster", cluster, "--services", name)


def describe_tasks(ecs, cluster, arns):
    tasks = []
    for i in range(0, len(arns), 100):
        tasks += ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]
    return tasks


def service_tasks(ecs, cluster, name, desired="RUNNING"):
    arns = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, serviceName=name, desiredStatus=desired):
        arns += page["taskArns"]
    return describe_tasks(ecs, cluster, arns) if arns else []


def running_tasks(ecs, cluster, name):
    return [t for t in service_tasks(ecs, cluster, name) if t["lastStatus"] == "RUNNING"]


def wait_running_tasks(ecs, cluster, name, count, timeout=60, where=None):
    """Waits until exactly `count` tasks of the service are desired and last RUNNING (and
    `where(tasks)` holds); returns them."""
    def check():
        tasks = service_tasks(ecs, cluster, name)
        ok = len(tasks) == count and all(t["lastStatus"] == "RUNNING" for t in tasks)
        return ok and (where is None or where(tasks)) and tasks
    return wait_for(check, timeout=timeout, interval=0.25, what=f"{count} running tasks of {name}")


def running_containers(label):
    out = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", f"label={label}"],
                         capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def container_running(container_id):
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", container_id],
                         capture_output=True, text=True)
    return out.stdout.strip() == "true"


def task_id(task_arn):
    return task_arn.rsplit("/", 1)[-1]


def started_event_task_ids(svc):
    """Task ids named by the "(service X) has started N tasks: (task a) (task b)." events."""
    ids = []
    prefix = f"(service {svc['serviceName']}) has started "
    for e in svc.get("events", []):
        m = e["message"]
        if m.startswith(prefix):
            found = re.findall(r"\(task ([0-9a-zA-Z-]+)\)", m)
            count = re.match(r"(\d+) tasks?: ", m[len(prefix):])
            assert count and int(count.group(1)) == len(found), m
            ids += found
    return ids


def primary(svc):
    [p] = [d for d in svc["deployments"] if d["status"] == "PRIMARY"]
    return p


def revision_task_definition(ecs, revision_arn):
    out = ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])
    assert not out.get("failures"), out
    [rev] = out["serviceRevisions"]
    return rev["taskDefinition"]


# ----------------------------------------------------------------------------------------
# API tests: no agents, no Docker.


@pytest.fixture(scope="module")
def api(flotilla):
    ecs = flotilla.client("ecs")
    ecs.create_cluster(clusterName="api")
    td = register(ecs, "apidef")
    ecs.create_service(cluster="api", serviceName="steady", taskDefinition=td, desiredCount=0)
    return flotilla, ecs, td


@pytest.mark.parametrize("strategy,defaults", [("REPLICA", (100, 200)), ("DAEMON", (0, 100))])
def test_create_service_shape_and_defaults(api, strategy, defaults):
    _, ecs, td = api
    name = f"shape-{strategy.lower()}"
    args = dict(cluster="api", serviceName=name, taskDefinition="apidef", launchType="EC2",
                schedulingStrategy=strategy)
    if strategy == "REPLICA":
        args["desiredCount"] = 2
    svc = ecs.create_service(**args)["service"]
    assert svc["serviceArn"] == service_arn("api", name)
    assert svc["serviceName"] == name
    assert svc["clusterArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/api"
    assert svc["status"] == "ACTIVE"
    assert svc["launchType"] == "EC2" and svc["schedulingStrategy"] == strategy
    assert svc["taskDefinition"] == td
    assert svc["runningCount"] == 0
    cfg = svc["deploymentConfiguration"]
    assert (cfg["minimumHealthyPercent"], cfg["maximumPercent"]) == defaults
    assert cfg.get("deploymentCircuitBreaker", {"enable": False})["enable"] is False
    [dep] = svc["deployments"]
    assert DEPLOYMENT_ID.match(dep["id"]), dep["id"]
    assert dep["status"] == "PRIMARY" and dep["taskDefinition"] == td
    assert dep["rolloutState"] in ("IN_PROGRESS", "COMPLETED")
    assert "createdAt" in svc and "createdAt" in dep
    if strategy == "REPLICA":
        assert svc["desiredCount"] == 2 and dep["desiredCount"] == 2
        assert dep["rolloutState"] == "IN_PROGRESS"  # no instance can run them
    else:
        assert svc["desiredCount"] == 0  # no container instances in the cluster

    described = describe_service(ecs, "api", name)
    assert described["serviceArn"] == svc["serviceArn"]
    assert described["deployments"][0]["id"] == dep["id"]
    # By ARN too.
    by_arn = ecs.describe_services(cluster="api", services=[svc["serviceArn"]])
    assert [s["serviceName"] for s in by_arn["services"]] == [name]
    assert svc["serviceArn"] in ecs.list_services(cluster="api", maxResults=100)["serviceArns"]


def test_create_service_keeps_its_configuration_and_tags(api):
    _, ecs, _ = api
    cfg = {"minimumHealthyPercent": 50, "maximumPercent": 150,
           "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    constraints = [{"type": "memberOf", "expression": "attribute:stack == blue"}]
    strategy = [{"type": "spread", "field": "attribute:ecs.availability-zone"},
                {"type": "binpack", "field": "memory"}]
    svc = ecs.create_service(
        cluster="api", serviceName="configured", taskDefinition="apidef", desiredCount=1, launchType="EC2",
        deploymentConfiguration=cfg, placementConstraints=constraints, placementStrategy=strategy,
        healthCheckGracePeriodSeconds=30, propagateTags="SERVICE", enableECSManagedTags=True,
        tags=[{"key": "team", "value": "web"}])["service"]
    for s in (svc, describe_service(ecs, "api", "configured")):
        got = s["deploymentConfiguration"]
        assert got["minimumHealthyPercent"] == 50 and got["maximumPercent"] == 150
        assert got["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert s["placementConstraints"] == constraints
        assert s["placementStrategy"] == strategy
        assert s["healthCheckGracePeriodSeconds"] == 30
        assert s["propagateTags"] == "SERVICE" and s["enableECSManagedTags"] is True
    tagged = ecs.describe_services(cluster="api", services=["configured"], include=["TAGS"])["services"][0]
    assert tagged["tags"] == [{"key": "team", "value": "web"}]
    plain = ecs.describe_services(cluster="api", services=["configured"])["services"][0]
    assert plain.get("tags", []) == []


def test_service_tags_through_the_tagging_api(api):
    _, ecs, _ = api
    arn = ecs.create_service(cluster="api", serviceName="tagged", taskDefinition="apidef", desiredCount=0,
                             tags=[{"key": "team", "value": "web"}])["service"]["serviceArn"]
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "web"}]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "tier", "value": "front"}])
    ecs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "tier", "value": "front"}]


def test_create_service_is_idempotent(api):
    _, ecs, _ = api
    args = dict(cluster="api", serviceName="twice", taskDefinition="apidef", desiredCount=1, clientToken="tok-1")
    first = ecs.create_service(**args)["service"]
    again = ecs.create_service(**args)["service"]
    assert again["serviceArn"] == first["serviceArn"]
    assert [d["id"] for d in again["deployments"]] == [d["id"] for d in first["deployments"]]
    # The same parameters without the token answer with the existing service too.
    same = ecs.create_service(**{k: v for k, v in args.items() if k != "clientToken"})["service"]
    assert same["serviceArn"] == first["serviceArn"]
    with pytest.raises(ClientError) as e:
        ecs.create_service(**{**args, "desiredCount": 5})
    assert code_of(e) == "InvalidParameterException"
    assert "not idempotent" in message_of(e)
    assert describe_service(ecs, "api", "twice")["desiredCount"] == 1


def test_describe_unknown_service_is_missing(api):
    _, ecs, _ = api
    out = ecs.describe_services(cluster="api", services=["steady", "nope"])
    assert [s["serviceName"] for s in out["services"]] == ["steady"]
    [failure] = out["failures"]
    assert failure == {"arn": "nope", "reason": "MISSING"}, "the name echoed as given"


def test_list_services_paginates_and_filters(api):
    _, ecs, _ = api
    ecs.create_cluster(clusterName="pages")
    replicas = [f"rep-{i}" for i in range(5)]
    daemons = [f"dae-{i}" for i in range(2)]
    for n in replicas:
        ecs.create_service(cluster="pages", serviceName=n, taskDefinition="apidef", desiredCount=0)
    for n in daemons:
        ecs.create_service(cluster="pages", serviceName=n, taskDefinition="apidef", schedulingStrategy="DAEMON")
    first = ecs.list_services(cluster="pages", maxResults=2)
    assert len(first["serviceArns"]) == 2 and first.get("nextToken")
    seen = []
    for page in ecs.get_paginator("list_services").paginate(cluster="pages", PaginationConfig={"PageSize": 3}):
        assert len(page["serviceArns"]) <= 3
        seen += page["serviceArns"]
    assert sorted(seen) == sorted(service_arn("pages", n) for n in replicas + daemons)

    def names(**filters):
        arns = []
        for page in ecs.get_paginator("list_services").paginate(cluster="pages", **filters):
            arns += page["serviceArns"]
        return sorted(a.rsplit("/", 1)[-1] for a in arns)

    assert names(schedulingStrategy="DAEMON") == sorted(daemons)
    assert names(schedulingStrategy="REPLICA") == sorted(replicas)
    assert names(launchType="EC2") == sorted(replicas + daemons)
    assert names(launchType="FARGATE") == []
    # Services of another cluster are not listed.
    assert not any("/pages/" in a for a in ecs.list_services(cluster="api", maxResults=100)["serviceArns"])


ERROR_CASES = [
    pytest.param("create_service", dict(cluster="nope", serviceName="x", taskDefinition="apidef", desiredCount=1),
                 "ClusterNotFoundException", id="create-unknown-cluster"),
    pytest.param("describe_services", dict(cluster="nope", services=["x"]), "ClusterNotFoundException",
                 id="describe-unknown-cluster"),
    pytest.param("list_services", dict(cluster="nope"), "ClusterNotFoundException", id="list-unknown-cluster"),
    pytest.param("update_service", dict(cluster="nope", service="steady", desiredCount=1),
                 "ClusterNotFoundException", id="update-unknown-cluster"),
    pytest.param("update_service", dict(cluster="api", service="ghost", desiredCount=1),
                 "ServiceNotFoundException", id="update-unknown-service"),
    pytest.param("delete_service", dict(cluster="api", service="ghost"), "ServiceNotFoundException",
                 id="delete-unknown-service"),
    pytest.param("create_service", dict(cluster="api", serviceName="bad-min", taskDefinition="apidef", desiredCount=1,
                                        deploymentConfiguration={"minimumHealthyPercent": -1}),
                 "InvalidParameterException", id="create-negative-minimum"),
    pytest.param("create_service", dict(cluster="api", serviceName="bad-max", taskDefinition="apidef", desiredCount=1,
                                        deploymentConfiguration={"maximumPercent": 50}),
                 "InvalidParameterException", id="create-replica-maximum-below-100"),
    pytest.param("update_service", dict(cluster="api", service="steady",
                                        deploymentConfiguration={"minimumHealthyPercent": -1}),
                 "InvalidParameterException", id="update-negative-minimum"),
    pytest.param("update_service", dict(cluster="api", service="steady",
                                        deploymentConfiguration={"maximumPercent": 50}),
                 "InvalidParameterException", id="update-replica-maximum-below-100"),
]


@pytest.mark.parametrize("op,kwargs,code", ERROR_CASES)
def test_service_errors(api, op, kwargs, code):
    _, ecs, _ = api
    with pytest.raises(ClientError) as e:
        getattr(ecs, op)(**kwargs)
    assert code_of(e) == code, e.value.response
    if op == "create_service" and code == "InvalidParameterException":
        missing = ecs.describe_services(cluster="api", services=[kwargs["serviceName"]])
        assert missing["services"] == [] or missing["services"][0]["status"] != "ACTIVE"


def test_delete_needs_force_then_drains_to_inactive(api):
    server, ecs, _ = api
    ecs.create_service(cluster="api", serviceName="doomed", taskDefinition="apidef", desiredCount=2)
    with pytest.raises(ClientError) as e:
        ecs.delete_service(cluster="api", service="doomed")
    assert code_of(e) == "InvalidParameterException"
    assert describe_service(ecs, "api", "doomed")["status"] == "ACTIVE"

    deleted = ecs.delete_service(cluster="api", service="doomed", force=True)["service"]
    assert deleted["status"] == "DRAINING"
    wait_for(lambda: describe_service(ecs, "api", "doomed")["status"] == "INACTIVE", timeout=30,
             what="doomed INACTIVE")
    server.aws("ecs", "wait", "services-inactive", "--cluster", "api", "--services", "doomed")
    stable = server.aws("ecs", "wait", "services-stable", "--cluster", "api", "--services", "doomed", check=False)
    assert stable.returncode != 0 and "ServicesStable failed" in stable.stderr
    assert service_arn("api", "doomed") not in ecs.list_services(cluster="api", maxResults=100)["serviceArns"]
    with pytest.raises(ClientError) as e:
        ecs.update_service(cluster="api", service="doomed", desiredCount=1)
    assert code_of(e) == "ServiceNotActiveException"
    missing = server.aws("ecs", "wait", "services-inactive", "--cluster", "api", "--services", "never-was",
                         check=False)
    assert missing.returncode != 0


def test_service_deployments_revisions_and_stop_with_rollback(api):
    _, ecs, td1 = api
    ecs.create_service(cluster="api", serviceName="deployer", taskDefinition=td1, desiredCount=0)
    wait_stable(ecs, "api", "deployer", td1, timeout=20, completed=True)
    td2 = register(ecs, "apidef", command=["sleep", "999"])
    updated = ecs.update_service(cluster="api", service="deployer", taskDefinition=td2, desiredCount=1)["service"]
    assert primary(updated)["taskDefinition"] == td2
    assert primary(updated)["rolloutState"] == "IN_PROGRESS"

    in_progress = ecs.list_service_deployments(cluster="api", service="deployer",
                                               status=["IN_PROGRESS"])["serviceDeployments"]
    [brief] = in_progress
    assert brief["serviceArn"] == service_arn("api", "deployer") and brief["status"] == "IN_PROGRESS"
    assert revision_task_definition(ecs, brief["targetServiceRevisionArn"]) == td2
    everything = ecs.list_service_deployments(cluster="api", service="deployer")["serviceDeployments"]
    assert brief["serviceDeploymentArn"] in [d["serviceDeploymentArn"] for d in everything]
    assert ecs.list_service_deployments(cluster="api", service="deployer",
                                        status=["ROLLBACK_FAILED"])["serviceDeployments"] == []

    arn = brief["serviceDeploymentArn"]
    bogus = arn[:-4] + ("1111" if arn.endswith("0000") else "0000")
    out = ecs.describe_service_deployments(serviceDeploymentArns=[arn, bogus])
    [dep] = out["serviceDeployments"]
    assert [f["reason"] for f in out["failures"]] == ["MISSING"]
    assert dep["serviceDeploymentArn"] == arn and dep["status"] == "IN_PROGRESS"
    assert dep["targetServiceRevision"]["arn"] == brief["targetServiceRevisionArn"]
    sources = [revision_task_definition(ecs, r["arn"]) for r in dep.get("sourceServiceRevisions", [])]
    assert set(sources) <= {td1}, sources
    [rev] = ecs.describe_service_revisions(serviceRevisionArns=[brief["targetServiceRevisionArn"]])["serviceRevisions"]
    assert rev["serviceArn"] == service_arn("api", "deployer") and rev["taskDefinition"] == td2
    assert rev["clusterArn"].endswith(":cluster/api")

    stopped = ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert stopped["serviceDeploymentArn"] == arn
    svc = wait_for(lambda: (s := describe_service(ecs, "api", "deployer")) and primary(s)["taskDefinition"] == td1 and s,
                   timeout=20, what="rollback to the first task definition")
    assert svc["taskDefinition"] == td1
    after = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert after["status"].startswith("ROLLBACK"), after["status"]


# ----------------------------------------------------------------------------------------
# Docker tests: real agents.


@dataclass
class Env:
    server: Flotilla
    ecs: object
    base: Path
    instance: str
    created: list = field(default_factory=list)

    def create(self, cluster, name, task_definition, **kwargs):
        self.created.append((cluster, name))
        return self.ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=task_definition,
                                       launchType="EC2", **kwargs)["service"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("services")
    server = Flotilla(base / "server", extra_args=["--service-backoff-base-ms", str(BACKOFF_MS)]).start()
    agent = AgentProcess(server, base / "agent-a", cluster=CLUSTER)
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", CLUSTER)
        agent.start()
        arn = agent.instance_arn()
        yield Env(server, server.client("ecs"), base, arn)
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


@pytest.fixture
def svc_env(env):
    """The Docker environment; every service a test created is force-deleted after it."""
    env.created.clear()
    yield env
    for cluster, name in env.created:
        try:
            env.ecs.delete_service(cluster=cluster, service=name, force=True)
        except ClientError:
            pass


@pytest.fixture(scope="module")
def multi(env):
    """Cluster `multi` with two agents (b, c); {letter: instance ARN}."""
    env.ecs.create_cluster(clusterName=MULTI)
    agents = [AgentProcess(env.server, env.base / f"agent-{z}", cluster=MULTI, zone=f"multi-{z}") for z in "bc"]
    arns = {}
    try:
        for a in agents:
            a.start()
        arns = {a.zone[-1]: a.instance_arn() for a in agents}
        yield arns
    finally:
        for a in agents:
            a.stop()
        for arn in arns.values():
            remove_containers(f"flotilla.container-instance={arn}")


def test_service_runs_desired_count_and_becomes_stable(svc_env):
    env = svc_env
    ecs, server = env.ecs, env.server
    td = register(ecs, "web1")
    out = server.aws("ecs", "create-service", "--cluster", CLUSTER, "--service-name", "web",
                     "--task-definition", "web1", "--desired-count", "3", "--launch-type", "EC2")
    env.created.append((CLUSTER, "web"))
    created = out["service"]
    assert created["serviceArn"] == service_arn(CLUSTER, "web") and created["status"] == "ACTIVE"
    assert created["desiredCount"] == 3 and created["schedulingStrategy"] == "REPLICA"
    [dep] = created["deployments"]
    assert DEPLOYMENT_ID.match(dep["id"]) and dep["status"] == "PRIMARY" and dep["taskDefinition"] == td

    svc = wait_stable(ecs, CLUSTER, "web", td, completed=True)
    cli_wait_stable(server, CLUSTER, "web")
    assert svc["runningCount"] == 3 and svc["pendingCount"] == 0
    [dep] = svc["deployments"]
    assert dep["id"] == created["deployments"][0]["id"]
    assert dep["rolloutState"] == "COMPLETED" and dep["runningCount"] == 3 and dep.get("failedTasks", 0) == 0

    # The tasks: listed by service name, in the service's group, started by the deployment.
    listed = server.aws("ecs", "list-tasks", "--cluster", CLUSTER, "--service-name", "web")["taskArns"]
    assert len(listed) == 3
    tasks = describe_tasks(ecs, CLUSTER, listed)
    for t in tasks:
        assert t["group"] == "service:web" and t["startedBy"] == dep["id"]
        assert t["lastStatus"] == "RUNNING" and t["taskDefinitionArn"] == td
        assert t["containerInstanceArn"] == env.instance
    # Three running containers on Docker, one per task.
    containers = running_containers("com.amazonaws.ecs.task-definition-family=web1")
    assert len(containers) == 3
    assert short_ids(t["containers"][0]["runtimeId"] for t in tasks) == short_ids(containers)

    # Events, newest first: the starts, then the steady state.
    svc = wait_event(ecs, CLUSTER, "web", lambda m: m == "(service web) has reached a steady state.",
                     "the steady-state event")
    messages = [e["message"] for e in svc["events"]]
    assert sorted(started_event_task_ids(svc)) == sorted(task_id(a) for a in listed)
    steady = [i for i, m in enumerate(messages) if m == "(service web) has reached a steady state."]
    started = [i for i, m in enumerate(messages) if m.startswith("(service web) has started ")]
    assert steady and started and steady[0] < min(started), messages
    assert all(e.get("id") and e.get("createdAt") for e in svc["events"])


def test_killed_container_is_replaced(svc_env):
    env = svc_env
    ecs = env.ecs
    td = register(ecs, "kill1")
    env.create(CLUSTER, "victim", td, desiredCount=3)
    wait_stable(ecs, CLUSTER, "victim", td)
    before = wait_running_tasks(ecs, CLUSTER, "victim", 3)
    victim = before[0]
    killed_at = time.monotonic()
    subprocess.run(["docker", "kill", victim["containers"][0]["runtimeId"]], check=True, capture_output=True)

    old = {t["taskArn"] for t in before}
    after = wait_running_tasks(ecs, CLUSTER, "victim", 3, timeout=30,
                               where=lambda ts: {t["taskArn"] for t in ts} != old)
    elapsed = time.monotonic() - killed_at
    assert elapsed < 15, f"replacement took {elapsed:.1f}s"
    [new] = [t for t in after if t["taskArn"] not in old]
    assert victim["taskArn"] not in {t["taskArn"] for t in after}
    assert new["group"] == "service:victim" and new["startedBy"] == victim["startedBy"]

    dead = describe_tasks(ecs, CLUSTER, [victim["taskArn"]])[0]
    assert dead["lastStatus"] == "STOPPED" and dead["stopCode"] == "EssentialContainerExited"
    svc = wait_stable(ecs, CLUSTER, "victim", td)
    assert task_id(new["taskArn"]) in started_event_task_ids(svc)
    assert any(e["message"].startswith("(service victim) has started 1 tasks:") and task_id(new["taskArn"]) in e["message"]
               for e in svc["events"])
    assert len(running_containers("com.amazonaws.ecs.task-definition-family=kill1")) == 3


@pytest.mark.parametrize("min_pct,max_pct", [(50, 200), (0, 100)])
def test_rolling_update_to_a_new_revision(svc_env, min_pct, max_pct):
    env = svc_env
    ecs, server = env.ecs, env.server
    family, name = f"roll{min_pct}x{max_pct}", f"roller-{min_pct}-{max_pct}"
    td1 = register(ecs, family, command=SLOW_STOPPER)
    td2 = register(ecs, family, environment=[{"name": "REVISION", "value": "2"}])
    env.create(CLUSTER, name, td1, desiredCount=3,
               deploymentConfiguration={"minimumHealthyPercent": min_pct, "maximumPercent": max_pct})
    first = wait_stable(ecs, CLUSTER, name, td1)
    old_tasks = wait_running_tasks(ecs, CLUSTER, name, 3)
    old_dep = first["deployments"][0]["id"]

    updated = ecs.update_service(cluster=CLUSTER, service=name, taskDefinition=td2)["service"]
    new_dep = primary(updated)
    assert new_dep["taskDefinition"] == td2 and new_dep["id"] != old_dep and DEPLOYMENT_ID.match(new_dep["id"])
    assert {d["id"]: d["status"] for d in updated["deployments"]} == {new_dep["id"]: "PRIMARY", old_dep: "ACTIVE"}

    # Watch the rollout: never more tasks in PENDING or RUNNING state, nor containers
    # running, than maximumPercent allows; old tasks take a second to stop, and count
    # until they have.
    ceiling = 3 * max_pct // 100
    deadline = time.monotonic() + 90
    while True:
        tasks = service_tasks(ecs, CLUSTER, name)
        live = [t for t in tasks if t["lastStatus"] != "STOPPED"]
        assert len(live) <= ceiling, [(t["taskArn"], t["lastStatus"]) for t in live]
        containers = running_containers(f"com.amazonaws.ecs.task-definition-family={family}")
        assert len(containers) <= ceiling, f"{len(containers)} containers run, maximumPercent allows {ceiling}"
        svc = describe_service(ecs, CLUSTER, name)
        if is_stable(svc, td2):
            break
        assert time.monotonic() < deadline, f"rollout did not finish: {svc['deployments']}"
        time.sleep(0.2)
    cli_wait_stable(server, CLUSTER, name)
    svc = wait_stable(ecs, CLUSTER, name, td2, completed=True, timeout=15)
    [dep] = svc["deployments"]
    assert dep["id"] == new_dep["id"] and dep["status"] == "PRIMARY" and dep["rolloutState"] == "COMPLETED"
    assert svc["taskDefinition"] == td2

    new_tasks = wait_running_tasks(ecs, CLUSTER, name, 3)
    assert all(t["taskDefinitionArn"] == td2 and t["startedBy"] == new_dep["id"] for t in new_tasks)
    old = wait_for(lambda: (ts := describe_tasks(ecs, CLUSTER, [t["taskArn"] for t in old_tasks]))
                   and all(t["lastStatus"] == "STOPPED" for t in ts) and ts, timeout=30, what="old tasks STOPPED")
    assert {t["stopCode"] for t in old} == {"ServiceSchedulerInitiated"}
    running = running_containers(f"com.amazonaws.ecs.task-definition-family={family}")
    assert short_ids(running) == short_ids(t["containers"][0]["runtimeId"] for t in new_tasks)

    # The deployment history knows both revisions.
    deployments = ecs.list_service_deployments(cluster=CLUSTER, service=name)["serviceDeployments"]
    by_td = {revision_task_definition(ecs, d["targetServiceRevisionArn"]): d for d in deployments}
    assert by_td[td2]["status"] == "SUCCESSFUL"
    assert ecs.list_service_deployments(cluster=CLUSTER, service=name,
                                        status=["IN_PROGRESS"])["serviceDeployments"] == []
    wait_event(ecs, CLUSTER, name, lambda m: m.startswith(f"(service {name}) has stopped "), "a stop event")


def test_crashing_revision_trips_the_circuit_breaker_and_rolls_back(svc_env):
    env = svc_env
    ecs = env.ecs
    td1 = register(ecs, "cb1")
    td2 = register(ecs, "cb1", command=CRASHER)
    env.create(CLUSTER, "breaker", td1, desiredCount=3, deploymentConfiguration={
        "minimumHealthyPercent": 100, "maximumPercent": 200,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    first = wait_stable(ecs, CLUSTER, "breaker", td1, completed=True)
    first_dep = first["deployments"][0]["id"]

    updated = ecs.update_service(cluster=CLUSTER, service="breaker", taskDefinition=td2)["service"]
    bad_dep = primary(updated)["id"]
    seen_failed = None
    started = time.monotonic()
    deadline = started + 120
    while True:
        svc = describe_service(ecs, CLUSTER, "breaker")
        for d in svc["deployments"]:
            if d["id"] == bad_dep and d.get("rolloutState") == "FAILED":
                seen_failed = d
        if is_stable(svc, td1) and svc["deployments"][0]["id"] != first_dep:
            break
        assert time.monotonic() < deadline, f"no rollback: {svc['deployments']}"
        time.sleep(0.2)
    svc = wait_stable(ecs, CLUSTER, "breaker", td1, completed=True, timeout=15)
    [back] = svc["deployments"]
    assert back["status"] == "PRIMARY" and back["taskDefinition"] == td1 and back["id"] not in (first_dep, bad_dep)
    assert back["rolloutState"] == "COMPLETED"
    assert svc["taskDefinition"] == td1 and svc["runningCount"] == 3

    # The failed deployment: FAILED with at least the threshold of failed tasks, seen on
    # the service while it lasted and/or kept in the deployment history.
    history = ecs.list_service_deployments(cluster=CLUSTER, service="breaker")["serviceDeployments"]
    failed_history = [d for d in history
                      if revision_task_definition(ecs, d["targetServiceRevisionArn"]) == td2]
    assert seen_failed or (failed_history and failed_history[0]["status"].startswith("ROLLBACK")), \
        (seen_failed, failed_history)
    if seen_failed:
        assert seen_failed["failedTasks"] >= FAILED_TASK_THRESHOLD
        assert seen_failed.get("rolloutStateReason")
    if failed_history:
        full = ecs.describe_service_deployments(
            serviceDeploymentArns=[failed_history[0]["serviceDeploymentArn"]])["serviceDeployments"][0]
        breaker = full.get("deploymentCircuitBreaker")
        if breaker:
            assert breaker["threshold"] == FAILED_TASK_THRESHOLD
            assert breaker["failureCount"] >= FAILED_TASK_THRESHOLD

    # The bad revision's tasks really failed to start, at least threshold-many times.
    stopped = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster=CLUSTER, family="cb1", desiredStatus="STOPPED"):
        stopped += page["taskArns"]
    mine = [t for t in describe_tasks(ecs, CLUSTER, stopped) if t["taskDefinitionArn"] == td2]
    crashed = [t for t in mine if t.get("stopCode") == "TaskFailedToStart"]
    assert len(crashed) >= FAILED_TASK_THRESHOLD, {(t.get("stopCode"), t.get("stoppedReason")) for t in mine}
    assert all(t["group"] == "service:breaker" and t["startedBy"] == bad_dep for t in crashed)
    assert not [t for t in service_tasks(ecs, CLUSTER, "breaker") if t["taskDefinitionArn"] == td2]


def test_scale_to_zero_then_delete_until_inactive(svc_env):
    env = svc_env
    ecs, server = env.ecs, env.server
    td = register(ecs, "gone1")
    env.create(CLUSTER, "shrink", td, desiredCount=2)
    wait_stable(ecs, CLUSTER, "shrink", td)
    tasks = wait_running_tasks(ecs, CLUSTER, "shrink", 2)
    out = server.aws("ecs", "delete-service", "--cluster", CLUSTER, "--service", "shrink", check=False)
    assert out.returncode != 0 and "InvalidParameterException" in out.stderr

    server.aws("ecs", "update-service", "--cluster", CLUSTER, "--service", "shrink", "--desired-count", "0")
    svc = wait_stable(ecs, CLUSTER, "shrink")
    assert svc["desiredCount"] == 0 and svc["runningCount"] == 0
    stopped = wait_for(lambda: (ts := describe_tasks(ecs, CLUSTER, [t["taskArn"] for t in tasks]))
                       and all(t["lastStatus"] == "STOPPED" for t in ts) and ts, timeout=30, what="tasks STOPPED")
    assert {t["stopCode"] for t in stopped} == {"ServiceSchedulerInitiated"}
    assert running_containers("com.amazonaws.ecs.task-definition-family=gone1") == []

    deleted = server.aws("ecs", "delete-service", "--cluster", CLUSTER, "--service", "shrink")["service"]
    assert deleted["status"] == "DRAINING"
    wait_for(lambda: describe_service(ecs, CLUSTER, "shrink")["status"] == "INACTIVE", timeout=30,
             what="shrink INACTIVE")
    server.aws("ecs", "wait", "services-inactive", "--cluster", CLUSTER, "--services", "shrink")
    assert service_arn(CLUSTER, "shrink") not in ecs.list_services(cluster=CLUSTER, maxResults=100)["serviceArns"]
    out = server.aws("ecs", "update-service", "--cluster", CLUSTER, "--service", "shrink", "--desired-count", "1",
                     check=False)
    assert out.returncode != 0 and "ServiceNotActiveException" in out.stderr


def test_daemon_service_runs_one_task_per_instance(svc_env, multi):
    env = svc_env
    ecs = env.ecs
    td = register(ecs, "daemon1")
    created = env.create(MULTI, "everywhere", td, schedulingStrategy="DAEMON")
    assert created["schedulingStrategy"] == "DAEMON"
    assert (created["deploymentConfiguration"]["minimumHealthyPercent"],
            created["deploymentConfiguration"]["maximumPercent"]) == (0, 100)

    def one_per(instances):
        return lambda ts: sorted(t["containerInstanceArn"] for t in ts) == sorted(instances)

    wait_running_tasks(ecs, MULTI, "everywhere", 2, where=one_per(multi.values()))
    svc = wait_stable(ecs, MULTI, "everywhere", td)
    assert svc["desiredCount"] == 2

    third = AgentProcess(env.server, env.base / "agent-d", cluster=MULTI, zone="multi-d")
    arn = None
    try:
        third.start()
        arn = third.instance_arn()
        tasks = wait_running_tasks(ecs, MULTI, "everywhere", 3, where=one_per([*multi.values(), arn]))
        svc = wait_stable(ecs, MULTI, "everywhere", td)
        assert svc["desiredCount"] == 3
        assert all(t["group"] == "service:everywhere" for t in tasks)
        assert len(running_containers("com.amazonaws.ecs.task-definition-family=daemon1")) == 3
        ecs.delete_service(cluster=MULTI, service="everywhere", force=True)
        wait_for(lambda: running_containers("com.amazonaws.ecs.task-definition-family=daemon1") == [],
                 timeout=30, what="daemon containers to stop")
    finally:
        third.stop()
        if arn:
            ecs.deregister_container_instance(cluster=MULTI, containerInstance=arn, force=True)
            remove_containers(f"flotilla.container-instance={arn}")


def test_draining_instance_moves_service_tasks_first(svc_env, multi):
    env = svc_env
    ecs = env.ecs
    td = register(ecs, "drain1")
    env.create(MULTI, "mover", td, desiredCount=2,
               placementStrategy=[{"type": "spread", "field": "instanceId"}])
    wait_stable(ecs, MULTI, "mover", td)
    tasks = wait_running_tasks(ecs, MULTI, "mover", 2)
    assert sorted(t["containerInstanceArn"] for t in tasks) == sorted(multi.values())
    [on_b] = [t for t in tasks if t["containerInstanceArn"] == multi["b"]]
    try:
        ecs.update_container_instances_state(cluster=MULTI, containerInstances=[multi["b"]], status="DRAINING")
        moved = wait_running_tasks(ecs, MULTI, "mover", 2, timeout=60,
                                   where=lambda ts: all(t["containerInstanceArn"] == multi["c"] for t in ts))
        old = wait_for(lambda: (t := describe_tasks(ecs, MULTI, [on_b["taskArn"]])[0])["lastStatus"] == "STOPPED" and t,
                       timeout=30, what="the drained task to stop")
        assert old["stopCode"] == "ServiceSchedulerInitiated"
        [replacement] = [t for t in moved if t["taskArn"] not in {x["taskArn"] for x in tasks}]
        # Replaced first, then stopped.
        assert replacement["startedAt"].timestamp() <= old["stoppingAt"].timestamp() + 1.0, \
            (replacement["startedAt"], old["stoppingAt"])
        wait_stable(ecs, MULTI, "mover", td)
    finally:
        ecs.update_container_instances_state(cluster=MULTI, containerInstances=[multi["b"]], status="ACTIVE")


AGENT_TTL = 3
DISCONNECT_GRACE = 2


@contextlib.contextmanager
def own_server(tmp_path, cluster, extra_args=(), zones="a"):
    """A server of the test's own (with `extra_args`) and one agent per zone in `cluster`;
    yields (server, ecs client, {zone: AgentProcess}, {zone: instance ARN}) and stops and
    cleans up everything after."""
    build_test_image()
    server = Flotilla(tmp_path / "server", extra_args=list(extra_args)).start()
    agents = {z: AgentProcess(server, tmp_path / f"agent-{z}", cluster=cluster, zone=f"{cluster}-{z}")
              for z in zones}
    arns = {}
    try:
        ecs = server.client("ecs")
        ecs.create_cluster(clusterName=cluster)
        for a in agents.values():
            a.start()
        arns.update({z: a.instance_arn() for z, a in agents.items()})
        yield server, ecs, agents, arns
    finally:
        for a in agents.values():
            a.stop()
        server.stop()
        for arn in arns.values():
            remove_containers(f"flotilla.container-instance={arn}")


def test_disconnected_instance_tasks_are_replaced_elsewhere(tmp_path):
    extra = ["--agent-ttl-seconds", str(AGENT_TTL), "--service-disconnect-grace-seconds", str(DISCONNECT_GRACE),
             "--service-backoff-base-ms", str(BACKOFF_MS)]
    with own_server(tmp_path, "lost", extra, zones="xy") as (server, ecs, agents, arns):
        td = register(ecs, "lost1")
        ecs.create_service(cluster="lost", serviceName="survivor", taskDefinition=td, desiredCount=2,
                           launchType="EC2", placementStrategy=[{"type": "spread", "field": "instanceId"}])
        wait_stable(ecs, "lost", "survivor", td)
        tasks = wait_running_tasks(ecs, "lost", "survivor", 2)
        [on_y] = [t for t in tasks if t["containerInstanceArn"] == arns["y"]]

        agents["y"].kill9()
        killed_at = time.time()
        moved = wait_running_tasks(ecs, "lost", "survivor", 2, timeout=AGENT_TTL + DISCONNECT_GRACE + 30,
                                   where=lambda ts: all(t["containerInstanceArn"] == arns["x"] for t in ts))
        [replacement] = [t for t in moved if t["taskArn"] not in {x["taskArn"] for x in tasks}]
        waited = replacement["createdAt"].timestamp() - killed_at
        assert waited >= AGENT_TTL, f"replaced {waited:.1f}s after the agent died, before its TTL ran out"
        old = describe_tasks(ecs, "lost", [on_y["taskArn"]])[0]
        assert old["desiredStatus"] == "STOPPED"

        # The agent comes back: the replaced task's container is stopped, the count stays 2.
        agents["y"].start()
        assert agents["y"].instance_arn() == arns["y"]
        wait_for(lambda: not container_running(on_y["containers"][0]["runtimeId"]), timeout=30,
                 what="the replaced task's container to stop")
        svc = wait_stable(ecs, "lost", "survivor", td)
        assert svc["runningCount"] == 2
        assert {t["taskArn"] for t in wait_running_tasks(ecs, "lost", "survivor", 2)} == {t["taskArn"] for t in moved}


def test_service_survives_a_server_kill9_and_keeps_healing(tmp_path):
    """The service record and its deployment are durable, and the restarted server (same
    data directory, so it recognises the leadership it held) runs the controller again:
    a container killed after the restart is replaced."""
    with own_server(tmp_path, "durable", ["--service-backoff-base-ms", str(BACKOFF_MS)]) as (server, ecs, agents, _):
        [agent] = agents.values()
        td = register(ecs, "durable1")
        created = ecs.create_service(cluster="durable", serviceName="keeper", taskDefinition=td, desiredCount=2,
                                     launchType="EC2")["service"]
        wait_stable(ecs, "durable", "keeper", td, completed=True)
        before = wait_running_tasks(ecs, "durable", "keeper", 2)

        server.kill9()
        server.start()
        # The server came back on a new port: point the agent at it (it adopts its
        # running containers).
        agent.stop()
        agent.start()
        ecs = server.client("ecs")
        svc = describe_service(ecs, "durable", "keeper")
        assert svc["status"] == "ACTIVE" and svc["desiredCount"] == 2
        assert [d["id"] for d in svc["deployments"]] == [created["deployments"][0]["id"]]
        assert {t["taskArn"] for t in wait_running_tasks(ecs, "durable", "keeper", 2)} == \
            {t["taskArn"] for t in before}

        victim = before[0]
        subprocess.run(["docker", "kill", victim["containers"][0]["runtimeId"]], check=True, capture_output=True)
        after = wait_running_tasks(ecs, "durable", "keeper", 2, timeout=60,
                                   where=lambda ts: victim["taskArn"] not in {t["taskArn"] for t in ts})
        assert all(t["startedBy"] == created["deployments"][0]["id"] for t in after)
        wait_stable(ecs, "durable", "keeper", td)


def test_health_checks_decide_healthy_and_failing_tasks_are_replaced(svc_env):
    env = svc_env
    ecs = env.ecs

    def checked(family, check):
        container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True, "command": list(SLEEPER),
                     "stopTimeout": 2, "healthCheck": {"command": ["CMD-SHELL", check], "interval": 5,
                                                       "timeout": 2, "retries": 1, "startPeriod": 0}}
        return ecs.register_task_definition(family=family, containerDefinitions=[container])[
            "taskDefinition"]["taskDefinitionArn"]

    # A task with a passing health check counts once it is HEALTHY: the deployment
    # completes only then.
    good = checked("hcgood", "true")
    env.create(CLUSTER, "checked", good, desiredCount=1)
    wait_stable(ecs, CLUSTER, "checked", good, completed=True, timeout=60)
    [task] = wait_running_tasks(ecs, CLUSTER, "checked", 1)
    assert task["healthStatus"] == "HEALTHY"

    # A failing health check: the task is stopped and replaced, and the deployment never
    # completes.
    bad = checked("hcbad", "exit 1")
    env.create(CLUSTER, "sick", bad, desiredCount=1, healthCheckGracePeriodSeconds=0)
    [first] = wait_running_tasks(ecs, CLUSTER, "sick", 1)
    stopped = wait_for(lambda: (t := describe_tasks(ecs, CLUSTER, [first["taskArn"]])[0])["desiredStatus"] == "STOPPED"
                       and t, timeout=60, what="the unhealthy task to be stopped")
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    assert stopped["stoppedReason"] == "Task failed container health checks."
    wait_for(lambda: [t for t in service_tasks(ecs, CLUSTER, "sick") if t["taskArn"] != first["taskArn"]],
             timeout=30, what="a replacement of the unhealthy task")
    # Once it has stopped, it counts as a failed task of the deployment.
    svc = wait_for(lambda: (s := describe_service(ecs, CLUSTER, "sick"))["deployments"][0]["failedTasks"] >= 1 and s,
                   timeout=30, what="the failed task to be counted")
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"


def test_update_service_force_new_deployment_and_placement(api):
    _, ecs, td1 = api
    ecs.create_service(cluster="api", serviceName="forced", taskDefinition=td1, desiredCount=0)
    first = wait_stable(ecs, "api", "forced", td1, timeout=20, completed=True)
    [dep] = first["deployments"]

    # Changing only the desired count or the deployment configuration starts no deployment.
    out = ecs.update_service(cluster="api", service="forced", desiredCount=0,
                             deploymentConfiguration={"minimumHealthyPercent": 50})["service"]
    assert [d["id"] for d in out["deployments"]] == [dep["id"]]
    assert out["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    assert out["deploymentConfiguration"]["maximumPercent"] == 200

    # forceNewDeployment does, with the same task definition; so does new placement.
    out = ecs.update_service(cluster="api", service="forced", forceNewDeployment=True)["service"]
    assert [d["status"] for d in out["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert primary(out)["id"] != dep["id"] and primary(out)["taskDefinition"] == td1
    wait_stable(ecs, "api", "forced", td1, timeout=20, completed=True)
    out = ecs.update_service(cluster="api", service="forced",
                             placementStrategy=[{"type": "binpack", "field": "memory"}])["service"]
    assert out["placementStrategy"] == [{"type": "binpack", "field": "memory"}]
    assert len(out["deployments"]) == 2
    svc = wait_stable(ecs, "api", "forced", td1, timeout=20, completed=True)
    history = ecs.list_service_deployments(cluster="api", service="forced")["serviceDeployments"]
    assert len(history) == 3 and history[0]["serviceDeploymentArn"] == svc["currentServiceDeployment"]

    # A bad strategy is refused and changes nothing.
    with pytest.raises(ClientError) as e:
        ecs.update_service(cluster="api", service="forced", placementStrategy=[{"type": "fastest"}])
    assert code_of(e) == "InvalidParameterException"
    assert describe_service(ecs, "api", "forced")["placementStrategy"] == [{"type": "binpack", "field": "memory"}]

    # ABORT stops the deployment in progress where it is.
    out = ecs.update_service(cluster="api", service="forced", forceNewDeployment=True, desiredCount=1)["service"]
    arn = out["currentServiceDeployment"]
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    [d] = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    assert d["status"] == "STOPPED"
    assert primary(describe_service(ecs, "api", "forced"))["rolloutState"] == "FAILED"
    with pytest.raises(ClientError) as e:
        ecs.stop_service_deployment(serviceDeploymentArn=arn)
    assert code_of(e) == "ConflictException"


def test_tasks_that_never_start_are_throttled(svc_env):
    """ECS's service throttle: tasks that stop without reaching RUNNING (here: a command
    that does not exist) are relaunched with a growing delay, and an event says so."""
    env = svc_env
    ecs = env.ecs
    td = register(ecs, "nostart1", command=["/no/such/program"])
    env.create(CLUSTER, "unstartable", td, desiredCount=1)
    svc = wait_event(ecs, CLUSTER, "unstartable",
                     lambda m: m == "(service unstartable) is unable to consistently start tasks successfully.",
                     "the throttle event", timeout=60)
    stopped = service_tasks(ecs, CLUSTER, "unstartable", desired="STOPPED")
    assert len(stopped) >= 3
    assert all(not t.get("startedAt") for t in stopped), [t.get("startedAt") for t in stopped]
    assert svc["deployments"][0]["failedTasks"] >= 3
    assert svc["runningCount"] == 0


def test_inactive_task_definition_cannot_be_given_but_keeps_running(api):
    _, ecs, _ = api
    td = register(ecs, "retired")
    ecs.create_service(cluster="api", serviceName="keeps", taskDefinition=td, desiredCount=0)
    ecs.deregister_task_definition(taskDefinition=td)
    # The service keeps its (now INACTIVE) revision...
    assert describe_service(ecs, "api", "keeps")["taskDefinition"] == td
    ecs.update_service(cluster="api", service="keeps", desiredCount=0)
    # ...but no service can be given it.
    for call in (lambda: ecs.create_service(cluster="api", serviceName="late", taskDefinition=td, desiredCount=0),
                 lambda: ecs.update_service(cluster="api", service="keeps", taskDefinition=td,
                                            forceNewDeployment=True)):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "ClientException" and "inactive" in message_of(e)


def test_stopped_tasks_are_deleted_after_the_retention_period(tmp_path):
    with own_server(tmp_path, "brief", ["--stopped-task-retention-seconds", "2"]) as (_, ecs, _, _):
        td = register(ecs, "brief1")
        [task] = ecs.run_task(cluster="brief", taskDefinition=td)["tasks"]
        ecs.get_waiter("tasks_running").wait(cluster="brief", tasks=[task["taskArn"]],
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        ecs.stop_task(cluster="brief", task=task["taskArn"])
        ecs.get_waiter("tasks_stopped").wait(cluster="brief", tasks=[task["taskArn"]],
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        out = wait_for(lambda: (o := ecs.describe_tasks(cluster="brief", tasks=[task["taskArn"]]))["failures"] and o,
                       timeout=30, what="the stopped task to be deleted")
        assert out["tasks"] == [] and out["failures"][0]["reason"] == "MISSING"
        assert ecs.list_tasks(cluster="brief", desiredStatus="STOPPED")["taskArns"] == []


def test_a_service_that_cannot_be_placed_says_why(api):
    _, ecs, td = api
    ecs.create_service(cluster="api", serviceName="homeless", taskDefinition=td, desiredCount=1)
    svc = wait_event(ecs, "api", "homeless", lambda m: m.startswith(
        "(service homeless) was unable to place a task because no container instance met all of its "
        "requirements. Reason: No Container Instances were found in your cluster."), "the placement event")
    assert svc["runningCount"] == 0 and svc["pendingCount"] == 0
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    # Said once, not once per attempt.
    assert sum(e["message"].startswith("(service homeless) was unable") for e in svc["events"]) == 1
    ecs.delete_service(cluster="api", service="homeless", force=True)
