"""Durability: data survives restarts, and every acknowledged write survives kill -9."""
import threading
import time

from botocore.exceptions import ClientError, EndpointConnectionError, ConnectionClosedError
from urllib3.exceptions import ProtocolError


def test_data_survives_a_restart(fresh_flotilla):
    ecs = fresh_flotilla.client("ecs")
    ecs.create_cluster(clusterName="durable", tags=[{"key": "k", "value": "v"}])
    ecs.register_task_definition(family="durable", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 64}])
    fresh_flotilla.restart()
    ecs = fresh_flotilla.client("ecs")
    [c] = ecs.describe_clusters(clusters=["durable"], include=["TAGS"])["clusters"]
    assert c["status"] == "ACTIVE" and c["tags"] == [{"key": "k", "value": "v"}]
    assert ecs.describe_task_definition(taskDefinition="durable")["taskDefinition"]["revision"] == 1
    # Revision numbering continues after the restart.
    td = ecs.register_task_definition(family="durable", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 64}])
    assert td["taskDefinition"]["revision"] == 2


def test_sigterm_shuts_down_cleanly(fresh_flotilla):
    assert fresh_flotilla.stop() == 0


def test_a_clean_shutdown_leaves_the_database_file_self_contained(fresh_flotilla, tmp_path):
    import shutil
    from conftest import Flotilla
    ecs = fresh_flotilla.client("ecs")
    for i in range(20):
        ecs.create_cluster(clusterName=f"kept-{i}")
    assert fresh_flotilla.stop() == 0
    data = fresh_flotilla.data_dir
    wal = data / "state.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "writes left only in the WAL"
    # state.db alone (as a naive backup would copy it) holds every write.
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(data / "state.db", copy / "state.db")
    restored = Flotilla(copy).start()
    try:
        names = {a.rsplit("/", 1)[1] for a in restored.client("ecs").list_clusters()["clusterArns"]}
        assert {f"kept-{i}" for i in range(20)} <= names
    finally:
        restored.stop()


def test_kill9_during_a_write_burst_loses_no_acknowledged_write(fresh_flotilla):
    acked_clusters, acked_revisions = [], []
    lock = threading.Lock()
    stop = threading.Event()
    errors = (ClientError, EndpointConnectionError, ConnectionClosedError, ProtocolError, OSError)

    def writer(n):
        ecs = fresh_flotilla.client("ecs")
        i = 0
        while not stop.is_set() and i < 2000:
            i += 1
            try:
                if i % 2:
                    name = f"burst-{n}-{i}"
                    ecs.create_cluster(clusterName=name)
                    with lock:
                        acked_clusters.append(name)
                else:
                    r = ecs.register_task_definition(family=f"burst-{n}", containerDefinitions=[
                        {"name": "app", "image": "busybox", "memory": 64}])
                    with lock:
                        acked_revisions.append((f"burst-{n}", r["taskDefinition"]["revision"]))
            except errors:
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(acked_clusters) + len(acked_revisions) < 150:
        time.sleep(0.05)
    fresh_flotilla.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked_clusters) + len(acked_revisions) >= 20, "the burst did not get going"

    fresh_flotilla.start()
    ecs = fresh_flotilla.client("ecs")
    listed = set()
    for page in ecs.get_paginator("list_clusters").paginate():
        listed.update(a.rsplit("/", 1)[1] for a in page["clusterArns"])
    missing = [c for c in acked_clusters if c not in listed]
    assert not missing, f"{len(missing)} acknowledged clusters lost: {missing[:5]}"
    for family, revision in acked_revisions:
        td = ecs.describe_task_definition(taskDefinition=f"{family}:{revision}")["taskDefinition"]
        assert td["revision"] == revision
    # Nothing half-written: every family's revisions are complete records numbered 1..N
    # without gaps, and the next registration continues after the highest.
    families = {f for f, _ in acked_revisions}
    for family in families:
        arns = []
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family):
            arns.extend(page["taskDefinitionArns"])
        revs = [int(a.rsplit(":", 1)[1]) for a in arns]
        assert revs == list(range(1, len(revs) + 1)), revs
        for a in arns:
            assert ecs.describe_task_definition(taskDefinition=a)["taskDefinition"]["containerDefinitions"]
        nxt = ecs.register_task_definition(family=family, containerDefinitions=[
            {"name": "app", "image": "busybox", "memory": 64}])["taskDefinition"]["revision"]
        assert nxt == len(revs) + 1
