"""Task definition features applied to real containers, not ignored (issue 16): volumes
(bind mounts, task-scoped and shared Docker volumes, volumesFrom), linuxParameters and the
Docker-level options, pid/ipc modes, dependsOn conditions with startTimeout, restartPolicy,
and what Flotilla cannot apply refused at registration.

The restartPolicy task starts first (a restart needs 60 s of running) and is checked last,
so its wait overlaps the other tests."""
import json
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, containers_with_label, inspect, remove_containers, wait_for

CLUSTER = "features"
RUN = uuid.uuid4().hex[:8]
SHARED = f"flotilla-e2e-shared-{RUN}"
HOST_DIR = f"/tmp/flotilla-e2e-bind-{RUN}"
# Tasks run here: their task-scoped volumes outlive the agent's cleanup delay, so the
# module removes them.
LAUNCHED = []


@pytest.fixture(scope="module")
def env(flotilla, tmp_path_factory):
    build_test_image()
    ecs = flotilla.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    agent = AgentProcess(flotilla, tmp_path_factory.mktemp("agents") / "features", cluster=CLUSTER).start()
    arn = agent.instance_arn()
    try:
        restarting = run(ecs, register(ecs, "restarts", [{
            "name": "app", "command": ["sh", "-c", "echo started; sleep 62; exit 3"],
            "restartPolicy": {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}}]))
        yield ecs, restarting
    finally:
        agent.stop()
        remove_containers(f"flotilla.container-instance={arn}")
        for task in LAUNCHED:
            volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                                      f"label=com.amazonaws.ecs.task-arn={task}"],
                                     capture_output=True, text=True).stdout.split()
            if volumes:
                subprocess.run(["docker", "volume", "rm", "-f", *volumes], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "-f", SHARED], capture_output=True)
        subprocess.run(["rm", "-rf", HOST_DIR], capture_output=True)


def register(ecs, family, containers, **extra):
    containers = [{"image": IMAGE, "memory": 32, "stopTimeout": 1, **c} for c in containers]
    return ecs.register_task_definition(family=family, containerDefinitions=containers,
                                        **extra)["taskDefinition"]["taskDefinitionArn"]


def run(ecs, td):
    out = ecs.run_task(cluster=CLUSTER, taskDefinition=td)
    assert len(out["tasks"]) == 1, out["failures"]
    LAUNCHED.append(out["tasks"][0]["taskArn"])
    return LAUNCHED[-1]


def describe(ecs, arn):
    return ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]


def wait_status(ecs, arn, status, timeout=60):
    return wait_for(lambda: (t := describe(ecs, arn))["lastStatus"] == status and t, timeout=timeout,
                    what=f"task {arn} {status}")


def container(task, name):
    [c] = [c for c in task["containers"] if c["name"] == name]
    return c


def logs(runtime_id):
    out = subprocess.run(["docker", "logs", runtime_id], capture_output=True, text=True, check=True)
    return out.stdout + out.stderr


def test_volumes_and_linux_options_reach_docker(env):
    ecs, _ = env
    td = register(ecs, "volumes", [
        {"name": "writer", "essential": False,
         "command": ["sh", "-c", f"echo from-writer > /scratch/f; echo {RUN} > /shared/f; echo host > /host/f"],
         "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"},
                         {"sourceVolume": "shared", "containerPath": "/shared"},
                         {"sourceVolume": "host", "containerPath": "/host"}]},
        {"name": "app", "dependsOn": [{"containerName": "writer", "condition": "SUCCESS"}],
         "command": ["sh", "-c", "cat /scratch/f /shared/f /host/f; cat /proc/sys/net/core/somaxconn;"
                     " touch /ro/x 2>/dev/null || echo ro-refused; sleep 1000"],
         "mountPoints": [{"sourceVolume": "host", "containerPath": "/ro", "readOnly": True},
                         {"sourceVolume": "cache", "containerPath": "/cache"}],
         "volumesFrom": [{"sourceContainer": "writer", "readOnly": True}],
         "readonlyRootFilesystem": True,
         "dockerSecurityOptions": ["no-new-privileges"],
         "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
         "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                             "devices": [{"hostPath": "/dev/null", "containerPath": "/dev/nothing",
                                          "permissions": ["read"]}],
                             "initProcessEnabled": True, "sharedMemorySize": 32,
                             "tmpfs": [{"containerPath": "/tmp", "size": 8, "mountOptions": ["noexec"]}],
                             "maxSwap": 64, "swappiness": 10}},
    ], pidMode="task", ipcMode="task", volumes=[
        {"name": "scratch", "host": {}},
        {"name": "host", "host": {"sourcePath": HOST_DIR}},
        {"name": "cache", "dockerVolumeConfiguration": {"scope": "task", "driver": "local", "labels": {"k": "v"}}},
        {"name": "shared", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}},
    ])
    arn = run(ecs, td)
    task = wait_status(ecs, arn, "RUNNING")
    app_id = container(task, "app")["runtimeId"]
    out = wait_for(lambda: "ro-refused" in (o := logs(app_id)) and o, what="the app's output")
    # The writer finished (SUCCESS) before the app read what it wrote, through volumesFrom.
    assert out.split() == ["from-writer", RUN, "host", "1024", "ro-refused"], out

    host = inspect(app_id)["HostConfig"]
    binds = host["Binds"]
    assert f"{HOST_DIR}:/ro:ro" in binds
    assert any(b.startswith("ecs-volumes-") and b.endswith(":/cache") for b in binds), binds
    assert host["VolumesFrom"] == [container(task, "writer")["runtimeId"] + ":ro"]
    assert host["CapAdd"] == ["NET_ADMIN"] and host["CapDrop"] == ["MKNOD"]
    assert host["Init"] is True and host["ReadonlyRootfs"] is True
    assert host["ShmSize"] == 32 * 1024 * 1024
    assert host["Tmpfs"] == {"/tmp": "size=8m,noexec"}
    assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/nothing",
                                "CgroupPermissions": "r"}]
    assert host["MemorySwap"] == (32 + 64) * 1024 * 1024 and host["MemorySwappiness"] == 10
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Sysctls"] == {"net.core.somaxconn": "1024"}
    # pid and ipc "task": both namespaces are the pause container's.
    assert host["PidMode"].startswith("container:") and host["IpcMode"] == host["PidMode"]
    pause = inspect(host["PidMode"].split(":", 1)[1])
    assert pause["HostConfig"]["IpcMode"] == "shareable" and pause["HostConfig"]["NetworkMode"] == "none"

    cache = next(b.split(":")[0] for b in binds if b.endswith(":/cache"))
    volume = json.loads(subprocess.run(["docker", "volume", "inspect", cache], capture_output=True,
                                       text=True, check=True).stdout)[0]
    assert volume["Labels"]["k"] == "v" and volume["Labels"]["com.amazonaws.ecs.task-arn"] == arn
    ecs.stop_task(cluster=CLUSTER, task=arn)
    wait_status(ecs, arn, "STOPPED")


def test_a_shared_volume_outlives_its_task(env):
    ecs, _ = env
    shared = [{"name": "data", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}}]
    mount = [{"sourceVolume": "data", "containerPath": "/data"}]
    # The definition names the Docker volume; a family per run keeps runs apart.
    shared[0]["name"] = SHARED
    mount[0]["sourceVolume"] = SHARED
    first = run(ecs, register(ecs, "shared-write", [
        {"name": "w", "command": ["sh", "-c", f"echo kept-{RUN} > /data/f"], "mountPoints": mount}], volumes=shared))
    assert container(wait_status(ecs, first, "STOPPED"), "w")["exitCode"] == 0
    second = run(ecs, register(ecs, "shared-read", [
        {"name": "r", "command": ["sh", "-c", "cat /data/f; sleep 1000"], "mountPoints": mount}], volumes=shared))
    rid = container(wait_status(ecs, second, "RUNNING"), "r")["runtimeId"]
    wait_for(lambda: f"kept-{RUN}" in logs(rid), what="the first task's data in the second")
    ecs.stop_task(cluster=CLUSTER, task=second)

    # A shared volume that must exist (autoprovision false) and does not: the task fails.
    missing = [{"name": f"missing-{RUN}", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": False}}]
    third = run(ecs, register(ecs, "shared-missing", [
        {"name": "r", "command": ["true"], "mountPoints": [{"sourceVolume": f"missing-{RUN}",
                                                            "containerPath": "/data"}]}], volumes=missing))
    task = wait_status(ecs, third, "STOPPED")
    assert task["stopCode"] == "TaskFailedToStart"
    assert "does not exist and autoprovision is false" in task["stoppedReason"], task["stoppedReason"]


def test_depends_on_healthy_and_start_timeout(env):
    ecs, _ = env
    arn = run(ecs, register(ecs, "healthy", [
        {"name": "db", "command": ["sleep", "1000"],
         "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}},
        {"name": "app", "command": ["sleep", "1000"], "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
    ]))
    task = wait_status(ecs, arn, "RUNNING")
    db, app = (inspect(container(task, n)["runtimeId"]) for n in ("db", "app"))
    healthy_at = db["State"]["Health"]["Log"][0]["End"]
    assert instant(app["State"]["StartedAt"]) >= instant(healthy_at), (app["State"]["StartedAt"], healthy_at)
    ecs.stop_task(cluster=CLUSTER, task=arn)

    late = run(ecs, register(ecs, "timeout", [
        {"name": "slow", "essential": False, "command": ["sleep", "1000"]},
        {"name": "app", "command": ["true"], "startTimeout": 2,
         "dependsOn": [{"containerName": "slow", "condition": "COMPLETE"}]},
    ]))
    task = wait_status(ecs, late, "STOPPED", timeout=30)
    assert task["stopCode"] == "TaskFailedToStart"
    assert "startTimeout of 2 s" in task["stoppedReason"], task["stoppedReason"]


def instant(docker_time):
    """Docker's RFC 3339 time (nanoseconds, trailing zeros cut) as a comparable string."""
    base, _, frac = docker_time.split("+")[0].rstrip("Z").partition(".")
    return f"{base}.{frac.ljust(9, '0')}"


def refusal(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.mark.parametrize("container,code,words", [
    ({"firelensConfiguration": {"type": "fluentbit"}}, "ClientException", ["FireLens", "awslogs"]),
    ({"restartPolicy": {"enabled": True, "restartAttemptPeriod": 30}}, "ClientException",
     ["restartAttemptPeriod", "60", "1800"]),
    ({"linuxParameters": {"swappiness": 101}}, "ClientException", ["swappiness"]),
    ({"linuxParameters": {"capabilities": {"add": ["FLY"]}}}, "InvalidParameterException", ["FLY"]),
    ({"dockerSecurityOptions": ["credentialspec:file://gmsa.json"]}, "ClientException", ["credentialspec"]),
])
def test_what_cannot_be_applied_is_refused_at_registration(env, container, code, words):
    ecs, _ = env
    got, message = refusal(lambda: register(ecs, "refused", [{"name": "app", **container}]))
    assert got == code and all(w in message for w in words), (got, message)


def test_restart_policy_restarts_the_container_in_place(env):
    ecs, arn = env
    task = wait_status(ecs, arn, "RUNNING")
    rid = container(task, "app")["runtimeId"]
    # It ran 62 s (more than restartAttemptPeriod), exited 3, and was started again.
    wait_for(lambda: logs(rid).split().count("started") == 2, timeout=90, interval=1,
             what="the container to start a second time")
    task = describe(ecs, arn)
    assert task["lastStatus"] == "RUNNING" and container(task, "app")["runtimeId"] == rid
    assert containers_with_label(f"com.amazonaws.ecs.task-arn={arn}") == [rid]
    ecs.stop_task(cluster=CLUSTER, task=arn)
