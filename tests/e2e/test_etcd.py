"""The store on a real etcd (issue 19): a server started with `--store etcd://...` serves
the ECS workflow with a real agent and container, keeps everything in etcd under its
prefix, finds it all again after a restart, shares one etcd with another server under
another prefix without either seeing the other's, and answers an error, not a hang, while
etcd is stopped, then carries on once it is back."""
import time

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla, free_port
from etcd import Etcd


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("etcd")
    etcd = Etcd(base / "etcd").start()
    server = Flotilla(base / "server", extra_args=["--store", etcd.url(), "--agent-ttl-seconds", "10"],
                      api_addr=f"127.0.0.1:{free_port()}").start()
    agent = AgentProcess(server, base / "agent", cluster="on-etcd")
    arn = None
    try:
        server.client("ecs").create_cluster(clusterName="on-etcd")
        agent.start()
        arn = agent.instance_arn()
        yield etcd, server, base
    finally:
        agent.stop()
        server.stop()
        etcd.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def test_a_server_on_etcd_runs_a_task_and_finds_it_after_a_restart(env):
    etcd, server, _ = env
    ecs = server.client("ecs")
    ecs.register_task_definition(family="on-etcd", containerDefinitions=[
        {"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"], "stopTimeout": 1}])
    task = wait_for(lambda: ecs.run_task(cluster="on-etcd", taskDefinition="on-etcd")["tasks"], timeout=30,
                    interval=0.5, what="RunTask to place the task")[0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(cluster="on-etcd", tasks=[task],
                                         WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    # What the server stored is etcd's, under the default prefix.
    keys = etcd.keys("/flotilla/")
    assert any(task.rsplit("/", 1)[1] in k for k in keys), keys[:20]

    assert server.restart().endpoint
    ecs = server.client("ecs")
    [cluster] = ecs.describe_clusters(clusters=["on-etcd"])["clusters"]
    assert cluster["status"] == "ACTIVE"
    assert ecs.describe_task_definition(taskDefinition="on-etcd")["taskDefinition"]["revision"] == 1
    [described] = ecs.describe_tasks(cluster="on-etcd", tasks=[task])["tasks"]
    assert described["lastStatus"] == "RUNNING"
    # The agent goes on with the restarted server and its task is left running.
    time.sleep(3)
    [described] = ecs.describe_tasks(cluster="on-etcd", tasks=[task])["tasks"]
    assert described["lastStatus"] == "RUNNING" and described["desiredStatus"] == "RUNNING"
    ecs.stop_task(cluster="on-etcd", task=task)
    ecs.get_waiter("tasks_stopped").wait(cluster="on-etcd", tasks=[task],
                                         WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def test_servers_on_one_etcd_under_other_prefixes_keep_apart(env):
    etcd, server, base = env
    other = Flotilla(base / "other", extra_args=["--store", etcd.url("team-b")]).start()
    try:
        other.client("ecs").create_cluster(clusterName="team-b-only")
        mine = server.client("ecs").list_clusters()["clusterArns"]
        theirs = other.client("ecs").list_clusters()["clusterArns"]
        assert not any(a.endswith("/team-b-only") for a in mine)
        assert any(a.endswith("/team-b-only") for a in theirs)
        assert not any(a.endswith("/on-etcd") for a in theirs)
        assert etcd.keys("/team-b/") and not any(k.startswith("/team-b/") for k in etcd.keys("/flotilla/"))
    finally:
        other.stop()


def test_a_stopped_etcd_is_an_error_then_the_server_carries_on(env):
    etcd, server, _ = env
    ecs = server.client("ecs")
    etcd.pause()
    try:
        started = time.monotonic()
        with pytest.raises(ClientError) as e:
            ecs.create_cluster(clusterName="while-etcd-is-stopped")
        waited = time.monotonic() - started
        error = e.value.response["Error"]
        print(f"CreateCluster with etcd stopped: {error['Code']} after {waited:.1f} s: {error['Message']}")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
        # Reads are served from the server's own view meanwhile.
        assert any(a.endswith("/on-etcd") for a in ecs.list_clusters()["clusterArns"])
    finally:
        etcd.resume()
    created = wait_for(lambda: _try_create(ecs, "after-etcd-is-back"), timeout=60, interval=1,
                       what="CreateCluster to succeed once etcd is back")
    assert created["status"] == "ACTIVE"
    # The view follows etcd again: the new cluster is listed.
    wait_for(lambda: any(a.endswith("/after-etcd-is-back") for a in ecs.list_clusters()["clusterArns"]),
             timeout=30, what="the new cluster in the list")


def _try_create(ecs, name):
    try:
        return ecs.create_cluster(clusterName=name)["cluster"]
    except ClientError:
        return None
