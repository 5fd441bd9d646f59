"""The store and the agent under operator faults: files deleted, emptied or damaged under a
server, and a store that forgot what an agent runs."""
import json
import shutil
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from agents import AgentProcess, IMAGE, build_test_image, containers_with_label, remove_containers, wait_for
from conftest import BIN, Flotilla, free_port


def test_a_deleted_store_file_stops_acknowledging_writes(fresh_flotilla):
    ecs = fresh_flotilla.client("ecs")
    ecs.create_cluster(clusterName="before")
    for f in fresh_flotilla.data_dir.glob("state.db*"):
        f.unlink()
    with pytest.raises(ClientError) as e:
        ecs.create_cluster(clusterName="after")
    assert e.value.response["Error"]["Code"] == "ServerException"
    assert "is gone" in fresh_flotilla.log.read_text()


def test_an_emptied_store_is_refused_at_start(fresh_flotilla):
    fresh_flotilla.client("ecs").create_cluster(clusterName="kept")
    assert fresh_flotilla.stop() == 0
    (fresh_flotilla.data_dir / "state.db").write_bytes(b"")
    with pytest.raises(RuntimeError):
        fresh_flotilla.start()
    log = fresh_flotilla.log.read_text()
    assert "empty (0 bytes)" in log and "backup" in log


def test_a_damaged_write_ahead_log_is_reported(fresh_flotilla):
    ecs = fresh_flotilla.client("ecs")
    for i in range(30):
        ecs.create_cluster(clusterName=f"c{i}")
    fresh_flotilla.kill9()
    wal = fresh_flotilla.data_dir / "state.db-wal"
    data = bytearray(wal.read_bytes())
    assert len(data) > 20_000, "the writes should still be in the log after kill -9"
    data[len(data) // 2] ^= 0xFF
    wal.write_bytes(bytes(data))
    fresh_flotilla.start()
    log = fresh_flotilla.log.read_text()
    assert "write-ahead log is damaged" in log and "discarded_frames" in log
    assert list(fresh_flotilla.data_dir.glob("state.db-wal.damaged-*"))


def run_placed(ecs, family):
    """RunTask until the task is placed: a just-(re)started agent's instance is not placed
    on until its first poll after registering, which a loaded machine may delay."""
    return wait_for(lambda: ecs.run_task(taskDefinition=family)["tasks"], timeout=30, interval=0.5,
                    what="RunTask to place the task")[0]["taskArn"]


def test_an_agent_keeps_its_containers_when_the_store_forgot_them(tmp_path):
    """The store restored from an older backup, then replaced by an empty one: the agent
    keeps every container, until an operator accepts the store."""
    build_test_image()
    port = free_port()
    server = Flotilla(tmp_path / "data")
    addr = ["--api-addr", f"127.0.0.1:{port}", "--registry-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0"]

    def start(srv):
        srv.extra_args = []
        srv.data_dir.mkdir(parents=True, exist_ok=True)
        # The last start's endpoint file would say "ready" before this server listens.
        (srv.data_dir / "endpoint").unlink(missing_ok=True)
        args = [BIN, "server", "--data-dir", str(srv.data_dir), *addr, "--agent-ttl-seconds", "6"]
        srv.proc = subprocess.Popen(args, env=srv.env(), stdout=open(srv.log, "ab"), stderr=subprocess.STDOUT)
        srv.endpoint = f"http://127.0.0.1:{port}"
        wait_for(lambda: (srv.data_dir / "endpoint").exists() and srv.proc.poll() is None, timeout=30,
                 what="the server to start")
        return srv

    empty = Flotilla(tmp_path / "empty")
    start(server)
    server.client("ecs").create_cluster(clusterName="default")
    agent = AgentProcess(server, tmp_path / "agent").start()
    family = "forgotten"
    try:
        ecs = server.client("ecs")
        ecs.register_task_definition(family=family, containerDefinitions=[
            {"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"], "stopTimeout": 1}])
        agent.instance_arn()
        first = run_placed(ecs, family)
        ecs.get_waiter("tasks_running").wait(tasks=[first], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        assert server.stop() == 0
        backup = tmp_path / "backup.db"
        shutil.copy(server.data_dir / "state.db", backup)

        start(server)
        ecs = server.client("ecs")
        second = run_placed(ecs, family)
        ecs.get_waiter("tasks_running").wait(tasks=[second], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        for i in range(20):  # the store moves well past the backup's revision
            ecs.create_cluster(clusterName=f"later-{i}")
        assert server.stop() == 0

        # Restored from the older backup: the store does not know the second task.
        shutil.copy(backup, server.data_dir / "state.db")
        start(server)
        wait_for(lambda: "went back from revision" in agent.log.read_text(), timeout=30,
                 what="the agent to notice the store went back")
        time.sleep(3)
        label = f"com.amazonaws.ecs.task-definition-family={family}"
        running = subprocess.run(["docker", "ps", "-q", "--filter", f"label={label}"],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert len(running) == 2, "a container was stopped because the store forgot its task"
        assert server.stop() == 0

        # An empty store (another data directory on the same address): still nothing removed,
        # whether the agent holds or, finding no cluster to register in, stops.
        seen = len(agent.log.read_text())
        start(empty)
        empty.client("ecs").create_cluster(clusterName="default")
        wait_for(lambda: "keeps running (held)" in agent.log.read_text()[seen:] or agent.proc.poll() is not None,
                 timeout=30, what="the agent to reconcile with the empty store")
        time.sleep(3)
        running = subprocess.run(["docker", "ps", "-q", "--filter", f"label={label}"],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert len(running) == 2
    finally:
        agent.stop()
        server.stop()
        empty.stop()
        remove_containers(f"com.amazonaws.ecs.task-definition-family={family}")
