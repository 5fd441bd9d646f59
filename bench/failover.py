#!/usr/bin/env python3
"""Failover of the leading server (issue 19): how long after a kill -9 of the leader the
other server leads, its controllers act, and an agent that was talking to the killed
server runs a new task through the survivor.

    .venv/bin/python bench/failover.py [--rounds 10] [--write]

Set-up (all real processes, started and stopped by the script): a three-member etcd
cluster (Debian's etcd-server), two `flotilla server`s on it (release build with the
`etcd` feature, or $FLOTILLA_BIN), one agent, and a service of two tasks. Each round:

1. the agent is (re)started with the leader's URL first, so it talks to the leader;
2. the leader is killed with SIGKILL, and at once, through the survivor, one of the
   service's tasks is stopped and a new task is run;
3. measured from the kill: the survivor holding the leader key in etcd (leader), the
   service controller's replacement for the stopped task appearing (controllers), and
   the run task RUNNING, which needs the agent to have moved to the survivor (agent);
4. the killed server is started again (it then follows).

The leader lease is 5 s, so the leader and controller figures are bounded below by the
lease's remaining life at the kill (3.3 to 5 s: a third of it is renewed each beat); the
kill lands at a random point of the beat.
"""
import argparse
import datetime
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from common import ROOT, build, free_port, percentile, write_section  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from etcd import EtcdCluster  # noqa: E402

ACCESS_KEY = "AKIAFLOTILLABENCH019"
SECRET_KEY = "bEnChFaIlOvEr/SeCrEt+KeY0123456789abcdefgh"[:40]
IMAGE = "flotilla-test/busybox:latest"
LEADER_KEY = "/flotilla//flotilla/leader"
CLUSTER = "failover"
# The servers' leader lease (flotilla_control::leader, as the server sets it).
LEASE_SECONDS = 5


def env():
    return dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
                FLOTILLA_LOG="warn", FLOTILLA_CONTAINER_DNS="none")


class Server:
    def __init__(self, binary, data_dir, store, extra=()):
        self.binary, self.data_dir, self.store, self.extra = binary, Path(data_dir), store, list(extra)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "endpoint").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "server", "--data-dir", str(self.data_dir), "--api-addr", f"127.0.0.1:{self.port}",
             "--registry-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0", "--store", self.store,
             "--agent-ttl-seconds", "10", *self.extra],
            env=env(), stdout=open(self.data_dir / "server.log", "ab"), stderr=subprocess.STDOUT)
        until(lambda: (self.data_dir / "endpoint").exists(), 60, "the server to start")
        return self

    def node_id(self):
        return (self.data_dir / "node-id").read_text().strip()

    def ecs(self):
        return boto3.client("ecs", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(retries={"max_attempts": 3}))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = predicate()
        except Exception:  # noqa: BLE001 — a server starting or just killed
            got = None
        if got:
            return got
        time.sleep(interval)
    sys.exit(f"timed out after {timeout} s waiting for {what}")


def start_agent(binary, data_dir, servers):
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [binary, "agent", "--server", ",".join(s.endpoint for s in servers), "--cluster", CLUSTER,
         "--data-dir", str(data_dir), "--poll-wait-seconds", "1", "--cleanup-delay-seconds", "5"],
        env=env(), stdout=open(data_dir.parent / "agent.log", "ab"), stderr=subprocess.STDOUT)


def stop_agent(agent):
    agent.send_signal(signal.SIGTERM)
    try:
        agent.wait(timeout=30)
    except subprocess.TimeoutExpired:
        agent.kill()


def service_tasks(ecs):
    return set(ecs.list_tasks(cluster=CLUSTER, serviceName="kept", desiredStatus="RUNNING")["taskArns"])


def round_(etcd, servers, leader, agent, agent_dir, binary):
    survivor = next(s for s in servers if s is not leader)
    ecs = survivor.ecs()
    until(lambda: len(service_tasks(ecs)) == 2, 120, "the service's two tasks")
    before = service_tasks(ecs)
    stop_agent(agent)
    agent = start_agent(binary, agent_dir, [leader, survivor])
    until(lambda: ecs.describe_container_instances(cluster=CLUSTER, containerInstances=ecs.list_container_instances(
        cluster=CLUSTER)["containerInstanceArns"])["containerInstances"][0]["agentConnected"], 60, "the agent")
    # The restarted agent polls the leader again; then a random part of the leader's beat
    # (a third of the lease), so the kill does not land at the same point of its renewal
    # cycle in every round (each round's set-up takes about as long as the last).
    time.sleep(2 + random.uniform(0, LEASE_SECONDS / 3))
    leader.kill9()
    killed = time.monotonic()
    stopped = sorted(before)[0]
    ecs.stop_task(cluster=CLUSTER, task=stopped, reason="failover benchmark")
    [task] = until(lambda: ecs.run_task(cluster=CLUSTER, taskDefinition="probe")["tasks"], 60, "RunTask")
    marks = {}
    while len(marks) < 3 and time.monotonic() - killed < 120:
        now = time.monotonic() - killed
        if "leader" not in marks and etcd.any().get(LEADER_KEY) == survivor.node_id():
            marks["leader"] = now
        if "controllers" not in marks and service_tasks(ecs) - before:
            marks["controllers"] = now
        if "agent" not in marks:
            [t] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task["taskArn"]])["tasks"]
            if t["lastStatus"] == "RUNNING":
                marks["agent"] = now
        time.sleep(0.05)
    ecs.stop_task(cluster=CLUSTER, task=task["taskArn"])
    leader.start()
    return marks, agent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    binary = build(features=("etcd",))
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    tmp = Path(tempfile.mkdtemp(prefix="flotilla-failover-"))
    etcd = EtcdCluster(tmp / "etcd").start()
    a = Server(binary, tmp / "a", etcd.url()).start()
    shutil.copy(a.data_dir / "secrets.key", tmp / "secrets.key")
    b = Server(binary, tmp / "b", etcd.url(), ["--secrets-key-file", str(tmp / "secrets.key")]).start()
    servers = [a, b]
    results = []
    instance = agent = None
    try:
        ecs = a.ecs()
        ecs.create_cluster(clusterName=CLUSTER)
        for family in ("kept", "probe"):
            ecs.register_task_definition(family=family, containerDefinitions=[
                {"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "100000"], "stopTimeout": 1}])
        agent = start_agent(binary, tmp / "agent", servers)
        [instance] = until(lambda: ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"], 60,
                           "the agent")
        ecs.create_service(cluster=CLUSTER, serviceName="kept", taskDefinition="kept", desiredCount=2)
        for i in range(args.rounds):
            leader = until(lambda: next((s for s in servers if etcd.any().get(LEADER_KEY) == s.node_id()), None),
                           60, "a leader")
            marks, agent = round_(etcd, servers, leader, agent, tmp / "agent", binary)
            print(f"round {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(marks.items())), flush=True)
            results.append(marks)
    finally:
        if agent:
            stop_agent(agent)
        for s in servers:
            s.stop()
        etcd.stop()
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=flotilla.container-instance={instance}"],
                             capture_output=True, text=True).stdout.split() if instance else []
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    def row(key, what):
        values = [r[key] for r in results if key in r]
        return (f"| {what} | {percentile(values, 0.5):.1f} s | {percentile(values, 0.9):.1f} s | "
                f"{max(values):.1f} s | {len(values)}/{len(results)} |")
    block = f"""Run {datetime.date.today()} on {platform.machine()}, {len(results)} rounds;
command: `.venv/bin/python bench/failover.py --rounds {args.rounds} --write` (a three-member
etcd, two servers, one agent talking to the leader, all on this machine; leader lease 5 s).

| from kill -9 of the leading server to | median | p90 | max | rounds |
| --- | --- | --- | --- | --- |
{row("leader", "the other server holding the leader key")}
{row("controllers", "its service controller replacing a task stopped at the kill")}
{row("agent", "a task run through it RUNNING (the agent moved to it)")}
"""
    print(block)
    if args.write:
        write_section("bench/failover.py", block, "## Failover of the leading server (bench/failover.py)")


if __name__ == "__main__":
    main()
