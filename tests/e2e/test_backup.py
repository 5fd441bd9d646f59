"""Backup and restore (issue 19): `flotilla backup` copies a serving server's store as of
one revision while writes go on; `flotilla restore` loads it into a new data directory or
an empty etcd, where a new server serves every resource (secrets too, with the secrets
key copied over); a backup holding a record of an older format version restores and
reads; bad input is refused by name and changes nothing."""
import base64
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, Flotilla
from etcd import Etcd

FIXTURES = Path(__file__).resolve().parents[2] / "crates" / "model" / "src" / "task" / "fixtures"


def flotilla(server, *args, check=True):
    out = subprocess.run([BIN, *args], env=server.env(), capture_output=True, text=True, timeout=180)
    if check:
        assert out.returncode == 0, f"flotilla {' '.join(args)}: {out.stderr}"
    return out


def restored_server(source, data_dir, *store_args):
    """A server on a restored store, with the source's secrets key."""
    key = data_dir.parent / f"{data_dir.name}.secrets.key"
    shutil.copy(source.data_dir / "secrets.key", key)
    return Flotilla(data_dir, extra_args=[*store_args, "--secrets-key-file", str(key)]).start()


def cluster_names(server):
    ecs = server.client("ecs")
    arns, token = [], None
    while True:
        page = ecs.list_clusters(**({"nextToken": token} if token else {}))
        arns += page["clusterArns"]
        token = page.get("nextToken")
        if not token:
            return {a.rsplit("/", 1)[1] for a in arns}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    base = tmp_path_factory.mktemp("backup")
    server = Flotilla(base / "source").start()
    try:
        server.client("secretsmanager").create_secret(Name="db/password", SecretString="s3cret")
        server.client("ecs").register_task_definition(family="web", containerDefinitions=[
            {"name": "web", "image": "busybox", "memory": 32}])
        server.aws("ecr", "create-repository", "--repository-name", "team/web")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def taken(source, tmp_path_factory):
    """A backup taken while a writer creates clusters one by one: (path, clusters
    acknowledged before it started, clusters acknowledged by the time it ended)."""
    ecs = source.client("ecs")
    acked, stop = [], threading.Event()

    def write():
        i = 0
        while not stop.is_set() and i < 400:
            ecs.create_cluster(clusterName=f"bk-{i:04d}")
            acked.append(i)
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(acked) < 20:
            time.sleep(0.05)
        before = len(acked)
        path = tmp_path_factory.mktemp("taken") / "backup.json"
        out = flotilla(source, "backup", "--data-dir", str(source.data_dir), "--out", str(path))
        after = len(acked)
    finally:
        stop.set()
        writer.join(timeout=60)
    print(out.stderr.strip(), f"(clusters acknowledged: {before} before, {after} after)")
    return path, before, after


def test_a_backup_taken_while_serving_restores_to_one_revision(source, taken, tmp_path):
    path, before, after = taken
    doc = json.loads(path.read_text())
    assert doc["flotillaBackup"] == 1 and doc["revision"] > 0
    flotilla(source, "restore", "--from", str(path), "--data-dir", str(tmp_path / "restored"))
    server = restored_server(source, tmp_path / "restored")
    try:
        names = cluster_names(server)
        written = sorted(int(n[3:]) for n in names if n.startswith("bk-"))
        # One revision: a prefix of the writer's clusters, with every one acknowledged
        # before the backup began, and none it had not yet acknowledged when it ended
        # (+1: the write in flight when it ended).
        assert written == list(range(len(written))), f"a gap: {written}"
        assert before <= len(written) <= after + 1, (before, len(written), after)
        print(f"restored {len(written)} of the writer's clusters ({before} before, {after} after)")
        got = server.client("secretsmanager").get_secret_value(SecretId="db/password")
        assert got["SecretString"] == "s3cret"
        td = server.client("ecs").describe_task_definition(taskDefinition="web")["taskDefinition"]
        assert td["revision"] == 1 and td["containerDefinitions"][0]["image"] == "busybox"
        repo = server.aws("ecr", "describe-repositories", "--repository-names", "team/web")["repositories"][0]
        assert repo["repositoryName"] == "team/web"
        # The restored server takes writes after the restored revision.
        server.client("ecs").create_cluster(clusterName="after-restore")
        assert "after-restore" in cluster_names(server)
    finally:
        server.stop()


def test_a_backup_restores_into_an_empty_etcd(source, taken, tmp_path):
    path, _, _ = taken
    etcd = Etcd(tmp_path / "etcd").start()
    try:
        url = etcd.url()
        flotilla(source, "restore", "--from", str(path), "--store", url, "--data-dir", str(tmp_path / "on-etcd"))
        server = restored_server(source, tmp_path / "on-etcd", "--store", url)
        try:
            assert cluster_names(server) >= {"bk-0000", "bk-0019"}
            got = server.client("secretsmanager").get_secret_value(SecretId="db/password")
            assert got["SecretString"] == "s3cret"
        finally:
            server.stop()
        # etcd now holds a store: a second restore is refused and writes nothing.
        again = flotilla(source, "restore", "--from", str(path), "--store", url, "--data-dir",
                         str(tmp_path / "again"), check=False)
        assert again.returncode != 0 and "not empty" in again.stderr, again.stderr
    finally:
        etcd.stop()


def test_a_record_of_an_older_format_version_restores_and_reads(source, taken, tmp_path):
    """A task stored by the build before `stopCause` (task format v1), in a backup: the
    current build restores it and serves it, upgraded on read."""
    path, _, _ = taken
    doc = json.loads(path.read_text())
    account = source.client("sts").get_caller_identity()["Account"]
    record = json.loads((FIXTURES / "task-v1-unhealthy.json").read_text().replace("000000000000", account))
    assert record["v"] == 1
    now = time.time()
    data = record["data"]
    data.update(createdAt=now - 60, startedAt=now - 59, stoppingAt=now - 2, stoppedAt=now - 1)
    cluster = "bk-0000"
    task_id = data["taskArn"].rsplit("/", 1)[1]
    for field in ("taskArn", "clusterArn", "containerInstanceArn"):
        data[field] = data[field].replace("/default", f"/{cluster}")
    for c in data["containers"]:
        c["taskArn"] = data["taskArn"]
        c["containerArn"] = c["containerArn"].replace("/default/", f"/{cluster}/")
    doc["entries"].append({"key": f"/ecs/tasks/us-east-1/{cluster}/{task_id}",
                           "value": base64.b64encode(json.dumps(record).encode()).decode()})
    doc["entries"].sort(key=lambda e: e["key"])
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    flotilla(source, "restore", "--from", str(older), "--data-dir", str(tmp_path / "migrated"))
    server = restored_server(source, tmp_path / "migrated")
    try:
        [task] = server.client("ecs").describe_tasks(cluster=cluster, tasks=[data["taskArn"]])["tasks"]
        assert task["lastStatus"] == "STOPPED"
        assert task["stoppedReason"] == "Task failed container health checks."
        assert task["containers"][0]["exitCode"] == 137
        print(f"task format v1 restored and read: {task['taskArn']} ({task['stopCode']})")
    finally:
        server.stop()


def test_bad_input_is_refused_by_name_and_changes_nothing(source, taken, tmp_path):
    path, _, _ = taken
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**json.loads(path.read_text()), "flotillaBackup": 2}))
    out = flotilla(source, "restore", "--from", str(newer), "--data-dir", str(tmp_path / "n"), check=False)
    assert out.returncode != 0 and "format version 2 is newer" in out.stderr, out.stderr
    assert not (tmp_path / "n" / "state.db").exists()
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\x00\xffnot json")
    out = flotilla(source, "restore", "--from", str(junk), "--data-dir", str(tmp_path / "j"), check=False)
    assert out.returncode != 0 and "not a Flotilla backup" in out.stderr, out.stderr
    # Into a data directory that holds a store: refused, the store unchanged.
    flotilla(source, "restore", "--from", str(path), "--data-dir", str(tmp_path / "full"))
    out = flotilla(source, "restore", "--from", str(path), "--data-dir", str(tmp_path / "full"), check=False)
    assert out.returncode != 0 and "not empty" in out.stderr, out.stderr
    out = flotilla(source, "restore", "--from", str(path), "--store", "memory", check=False)
    assert out.returncode != 0 and "memory" in out.stderr
    # Only the root key takes backups.
    iam = source.client("iam")
    iam.create_user(UserName="backup-reader")
    key = iam.create_access_key(UserName="backup-reader")["AccessKey"]
    env = {k: v for k, v in source.env().items() if not k.startswith("FLOTILLA_")}
    env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    out = subprocess.run([BIN, "backup", "--data-dir", str(source.data_dir), "--out", str(tmp_path / "no.json")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and not (tmp_path / "no.json").exists(), out.stderr
    assert "AccessDenied" in out.stderr or "not authorized" in out.stderr, out.stderr
