"""Logs and metrics from real containers, with a real `flotilla agent` process: lines a
container prints through the `awslogs` driver are readable with the AWS CLI within two
seconds in the stream ECS names; a missing group fails the task as ECS does unless
`awslogs-create-group` is set; a task's last lines are stored before it is STOPPED;
`kill -9` of the agent while a container logs loses and duplicates nothing; a CPU-burning
service raises `AWS/ECS` CPUUtilization and Container Insights counts its tasks; and a
real Prometheus scrapes the server's and the agent's `/metrics`."""
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from agents import AgentProcess, build_test_image, remove_containers, wait_for
from conftest import BIN, Flotilla, free_port

GROUP = "/ecs/telemetry"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("telemetry")
    server = Flotilla(base / "server").start()
    metrics_port = free_port()
    agent = AgentProcess(server, base / "agent", extra=[
        "--stats-interval-seconds", "1", "--metrics-addr", f"127.0.0.1:{metrics_port}"])
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", "default")
        agent.start()
        arn = agent.instance_arn()
        yield server, agent, metrics_port
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def awslogs(group=GROUP, prefix="app", create=True):
    options = {"awslogs-group": group, "awslogs-region": "us-east-1"}
    if prefix:
        options["awslogs-stream-prefix"] = prefix
    if create:
        options["awslogs-create-group"] = "true"
    return {"logDriver": "awslogs", "options": options}


def run_task(server, family, command, log=None):
    container = {"name": "app", "image": "flotilla-test/busybox:latest", "essential": True,
                 "memory": 64, "stopTimeout": 2, "command": ["sh", "-c", command],
                 "logConfiguration": log or awslogs()}
    body = {"family": family, "containerDefinitions": [container]}
    server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps(body))
    out = server.aws("ecs", "run-task", "--task-definition", family)
    assert out["failures"] == [], out
    return out["tasks"][0]["taskArn"]


def task(server, arn):
    return server.aws("ecs", "describe-tasks", "--tasks", arn)["tasks"][0]


def all_events(logs, group, stream):
    """Every event of a stream, oldest first, following nextForwardToken to the end."""
    events, token = [], None
    while True:
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, **kw)
        events += page["events"]
        if page["nextForwardToken"] == token:
            return events
        token = page["nextForwardToken"]


def test_lines_are_readable_within_two_seconds_in_ecs_stream_names(env):
    server, _, _ = env
    arn = run_task(server, "ticker", 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done')
    task_id = arn.rsplit("/", 1)[1]
    stream = f"app/app/{task_id}"
    logs = server.client("logs")
    wait_for(lambda: task(server, arn)["lastStatus"] == "RUNNING", timeout=60, what="RUNNING")
    streams = wait_for(lambda: logs.describe_log_streams(logGroupName=GROUP)["logStreams"],
                       timeout=20, what="the stream")
    assert stream in [s["logStreamName"] for s in streams]
    # Lines seen by polling: each one readable within 2 s of when the container wrote it.
    lags, seen = [], set()
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        now = time.time() * 1000
        for e in all_events(logs, GROUP, stream):
            if e["message"] not in seen:
                seen.add(e["message"])
                lags.append(now - e["timestamp"])
        time.sleep(0.1)
    fresh = lags[len(lags) // 2:]  # lines written while polling (the first poll finds a backlog)
    assert len(fresh) >= 10 and max(fresh) < 2000, sorted(fresh)[-5:]
    out = server.aws("logs", "filter-log-events", "--log-group-name", GROUP,
                     "--log-stream-names", stream, "--filter-pattern", '"tick 3"')
    assert [e["message"] for e in out["events"]] == ["tick 3"]
    server.aws("ecs", "stop-task", "--task", arn)


def test_missing_group_fails_the_task_as_ecs_does(env):
    server, _, _ = env
    arn = run_task(server, "no-group", "echo hello", log=awslogs(group="/ecs/absent", create=False))
    t = wait_for(lambda: (t := task(server, arn))["lastStatus"] == "STOPPED" and t, timeout=60,
                 what="STOPPED")
    assert t["stopCode"] == "TaskFailedToStart", t
    assert "ResourceNotFoundException" in t["stoppedReason"], t["stoppedReason"]


def test_last_lines_are_stored_before_the_task_is_stopped(env):
    server, _, _ = env
    arn = run_task(server, "last-words", "seq 1 300; echo 'last words'; exit 3")
    wait_for(lambda: task(server, arn)["lastStatus"] == "STOPPED", timeout=60, what="STOPPED")
    stream = f"app/app/{arn.rsplit('/', 1)[1]}"
    messages = [e["message"] for e in all_events(server.client("logs"), GROUP, stream)]
    assert messages == [str(i) for i in range(1, 301)] + ["last words"]


def test_agent_kill9_while_logging_loses_and_duplicates_nothing(env):
    server, agent, _ = env
    total = 20_000
    command = "for i in $(seq 0 39); do seq $((i*500+1)) $((i*500+500)); sleep 0.1; done"
    arn = run_task(server, "counter", command)
    stream = f"app/app/{arn.rsplit('/', 1)[1]}"
    logs = server.client("logs")
    wait_for(lambda: len(all_events(logs, GROUP, stream)) > 1000, timeout=60, what="the first lines")
    agent.kill9()
    time.sleep(1)
    agent.start()
    wait_for(lambda: task(server, arn)["lastStatus"] == "STOPPED", timeout=90, what="STOPPED")
    messages = [e["message"] for e in all_events(logs, GROUP, stream)]
    assert len(messages) == total and messages == [str(i) for i in range(1, total + 1)]


def flotilla_logs(server, *args):
    out = subprocess.run([BIN, "logs", "--data-dir", str(server.data_dir), *args], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_flotilla_logs_shows_a_services_tasks(env):
    server, _, _ = env
    container = {"name": "app", "image": "flotilla-test/busybox:latest", "essential": True, "memory": 32,
                 "stopTimeout": 2, "command": ["sh", "-c", "echo started; while true; do sleep 1; done"],
                 "logConfiguration": awslogs(group="/ecs/chatty")}
    server.aws("ecs", "register-task-definition", "--family", "chatty",
               "--container-definitions", json.dumps([container]))
    server.aws("ecs", "create-service", "--service-name", "chatty", "--task-definition", "chatty",
               "--desired-count", "2")
    try:
        lines = wait_for(lambda: (ls := flotilla_logs(server, "chatty")) and len(ls) == 2 and ls,
                         timeout=60, what="both tasks' first line")
        tasks = server.aws("ecs", "list-tasks", "--service-name", "chatty")["taskArns"]
        prefixes = sorted(f"[{arn.rsplit('/', 1)[1][:8]}/app] started" for arn in tasks)
        assert sorted(lines) == prefixes  # piped: no colour
        one = flotilla_logs(server, tasks[0].rsplit("/", 1)[1], "--since", "1h")
        assert one == [f"[{tasks[0].rsplit('/', 1)[1][:8]}/app] started"]
    finally:
        server.aws("ecs", "delete-service", "--service", "chatty", "--force")


def statistics(cw, namespace, name, dims, stat="Average", seconds=60):
    now = time.time()
    out = cw.get_metric_statistics(Namespace=namespace, MetricName=name, Period=10,
                                   Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
                                   StartTime=now - seconds, EndTime=now + 10, Statistics=[stat])
    return [p[stat] for p in sorted(out["Datapoints"], key=lambda p: p["Timestamp"])]


def test_cpu_burning_service_raises_cpu_utilization_and_counts(env):
    server, _, _ = env
    server.aws("ecs", "update-cluster-settings", "--cluster", "default",
               "--settings", "name=containerInsights,value=enabled")
    container = {"name": "burn", "image": "flotilla-test/busybox:latest", "essential": True,
                 "cpu": 256, "memory": 64, "stopTimeout": 2,
                 "command": ["sh", "-c", "while true; do :; done"]}
    server.aws("ecs", "register-task-definition", "--family", "burn",
               "--container-definitions", json.dumps([container]))
    server.aws("ecs", "create-service", "--service-name", "burn", "--task-definition", "burn",
               "--desired-count", "1")
    cw = server.client("cloudwatch")
    dims = {"ClusterName": "default", "ServiceName": "burn"}
    try:
        # One busy core against 256 reserved CPU units is far above 100 %, as ECS reports it.
        values = wait_for(lambda: [v for v in statistics(cw, "AWS/ECS", "CPUUtilization", dims) if v > 50],
                          timeout=60, what="CPUUtilization above 50 %")
        assert max(values) > 50
        assert statistics(cw, "AWS/ECS", "MemoryUtilization", dims)
        assert statistics(cw, "AWS/ECS", "CPUUtilization", {"ClusterName": "default"})
        running = wait_for(lambda: [v for v in statistics(cw, "ECS/ContainerInsights", "RunningTaskCount", dims,
                                                          stat="Maximum") if v == 1],
                           timeout=30, what="RunningTaskCount 1")
        assert running
        assert statistics(cw, "ECS/ContainerInsights", "DesiredTaskCount", dims, stat="Maximum")[-1] == 1
        names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/ECS")["Metrics"]}
        assert {"CPUUtilization", "MemoryUtilization"} <= names
    finally:
        server.aws("ecs", "delete-service", "--service", "burn", "--force")


def test_cpu_target_tracking_scales_out_under_load_and_back_in_after(env):
    """The issue's acceptance, with real CPU: a task that keeps a core busy for 50 s
    raises the service's CPUUtilization, the default-shaped target-tracking policy's high
    alarm adds a task, and once the load has stopped the low alarm (15 quiet datapoints of
    10 s) takes it away again; the scaling activities tell the story."""
    server, _, _ = env
    service, resource = "cpuscale", "service/default/cpuscale"
    # Every task of the service burns until the same moment, 50 s from now, then idles.
    end = int(time.time()) + 50
    container = {"name": "burn", "image": "flotilla-test/busybox:latest", "essential": True,
                 "cpu": 256, "memory": 16, "stopTimeout": 1,
                 "command": ["sh", "-c", f"while [ $(date +%s) -lt {end} ]; do :; done; sleep 100000"]}
    server.aws("ecs", "register-task-definition", "--family", service,
               "--container-definitions", json.dumps([container]))
    server.aws("ecs", "create-service", "--service-name", service, "--task-definition", service,
               "--desired-count", "1")
    aas = server.client("application-autoscaling")
    ecs = server.client("ecs")
    try:
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                     ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=2)
        aas.put_scaling_policy(
            PolicyName="cpu50", ServiceNamespace="ecs", ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 50.0, "ScaleInCooldown": 0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})

        def desired():
            return ecs.describe_services(services=[service])["services"][0]["desiredCount"]

        wait_for(lambda: desired() == 2, timeout=120, what="a scale-out under CPU load")
        wait_for(lambda: len(ecs.list_tasks(serviceName=service, desiredStatus="RUNNING")["taskArns"]) == 2,
                 timeout=60, what="the second task RUNNING")
        # The load stops; 150 s of quiet datapoints later, one task goes.
        wait_for(lambda: desired() == 1, timeout=300, interval=2, what="the scale-in after the load")
        acts = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"]
        told = [(a["Description"], a["Cause"].split(" in state")[0].split("-Alarm")[-1]) for a in acts]
        assert ("Setting desired count to 2.", "High") in [(d, c[:4]) for d, c in told], told
        assert ("Setting desired count to 1.", "Low-") in [(d, c[:4]) for d, c in told], told
    finally:
        aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                       ScalableDimension="ecs:service:DesiredCount")
        server.aws("ecs", "delete-service", "--service", service, "--force")


def prometheus_query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["data"]["result"]


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is installed by ./scripts/test")
def test_prometheus_scrapes_server_and_agent(env, tmp_path):
    server, _, agent_port = env
    api = server.endpoint.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: flotilla-server
    static_configs: [{{targets: ["{api}"]}}]
  - job_name: flotilla-agent
    static_configs: [{{targets: ["127.0.0.1:{agent_port}"]}}]
""")
    port = free_port()
    proc = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=open(tmp_path / "prometheus.log", "wb"), stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                return {r["metric"]["job"]: r["value"][1] for r in prometheus_query(port, "up")}
            except OSError:
                return None

        assert wait_for(lambda: (u := up()) and len(u) == 2 and set(u.values()) == {"1"} and u,
                        timeout=60, what="both targets up")
        for expr in ['flotilla_api_requests_total{service="ecs",code="OK"}',
                     "flotilla_api_request_duration_seconds_bucket",
                     "flotilla_controller_reconciles_total",
                     "flotilla_scheduler_placements_total",
                     "flotilla_tasks",
                     'flotilla_agent_log_lines_shipped_total{job="flotilla-agent"}',
                     'flotilla_agent_tasks{job="flotilla-agent"}']:
            assert wait_for(lambda: prometheus_query(port, expr), timeout=30, what=expr)
        shipped = prometheus_query(port, 'flotilla_agent_log_lines_shipped_total{job="flotilla-agent"}')
        assert float(shipped[0]["value"][1]) > 0
    finally:
        proc.terminate()
        proc.wait(timeout=15)
