#!/usr/bin/env python3
"""Launch latency: RunTask → RUNNING through Flotilla vs `docker run -d`, side by side.

    .venv/bin/python bench/launch.py [--sequential 20] [--burst 50] [--rounds 2] [--write]

Starts `flotilla up` (server + local agent on this Docker Engine, sqlite store) from a
release build (or $FLOTILLA_BIN) in a temporary data directory, builds the local test image
(scripts/test-image), and registers a task definition running `sleep` from it. Then, in
interleaved rounds (docker, flotilla, docker, flotilla, ...):

- sequential: N launches one after another. Flotilla: the time from sending RunTask to the
  first DescribeTasks answer (polled every 5 ms) showing the task RUNNING. Docker: the
  wall time of `docker run -d IMAGE sleep 1000` (it returns once the container started).
- burst: M launches at once. Flotilla: M/10 RunTask calls of 10 tasks sent together; each
  task's latency is from its RunTask send to the first poll showing it RUNNING. Docker: M
  `docker run -d` processes started together; each latency is its process's wall time.

Reports the median and p90 of each, and the ratio Flotilla/Docker. Every task and
container it creates is stopped and removed; it stops only the processes it started.
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from common import build, percentile, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "flotilla-test/busybox:latest"
LABEL = "flotilla.bench=launch"
ACCESS_KEY = "AKIAFLOTILLABENCH002"
SECRET_KEY = "bEnChLaUnCh/SeCrEt+KeY0123456789abcdefgh"[:40]






class Up:
    def __init__(self, binary, data_dir):
        env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
                   FLOTILLA_LOG="warn")
        self.data_dir = Path(data_dir)
        self.log = open(self.data_dir.parent / "up.log", "wb")
        self.proc = subprocess.Popen([binary, "up", "--data-dir", str(self.data_dir), "--api-addr", "127.0.0.1:0",
                                      "--cleanup-delay-seconds", "5"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self.data_dir / "endpoint").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("flotilla up did not start; see up.log")
            time.sleep(0.05)
        self.endpoint = (self.data_dir / "endpoint").read_text().strip()
        self.ecs = boto3.client("ecs", endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                config=Config(retries={"max_attempts": 2}, max_pool_connections=64))
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.ecs.list_container_instances()["containerInstanceArns"]:
                    arn = self.ecs.list_container_instances()["containerInstanceArns"][0]
                    ci = self.ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0]
                    if ci["agentConnected"]:
                        break
            except Exception:  # noqa: BLE001 — still starting
                pass
            if time.monotonic() > deadline:
                sys.exit("the local agent did not connect; see up.log")
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wait_running(ecs, sent_at, timeout=120):
    """{task_arn: seconds from its send time to RUNNING}, polling DescribeTasks."""
    pending = dict(sent_at)
    done = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        arns = list(pending)
        for i in range(0, len(arns), 100):
            for t in ecs.describe_tasks(tasks=arns[i:i + 100])["tasks"]:
                if t["lastStatus"] == "RUNNING":
                    done[t["taskArn"]] = time.monotonic() - pending.pop(t["taskArn"])
                elif t["lastStatus"] == "STOPPED":
                    sys.exit(f"task stopped instead of running: {t.get('stoppedReason')}")
        time.sleep(0.005)
    if pending:
        sys.exit(f"{len(pending)} tasks did not reach RUNNING within {timeout}s")
    return done


def flotilla_sequential(up, n):
    lat = []
    for _ in range(n):
        t0 = time.monotonic()
        arn = up.ecs.run_task(taskDefinition="launch-bench", startedBy="bench")["tasks"][0]["taskArn"]
        lat.extend(wait_running(up.ecs, {arn: t0}).values())
    return lat


def flotilla_burst(up, m):
    batches = [10] * (m // 10) + ([m % 10] if m % 10 else [])

    def launch(count):
        t0 = time.monotonic()
        tasks = up.ecs.run_task(taskDefinition="launch-bench", count=count, startedBy="bench")["tasks"]
        return {t["taskArn"]: t0 for t in tasks}

    sent = {}
    with concurrent.futures.ThreadPoolExecutor(len(batches)) as pool:
        for d in pool.map(launch, batches):
            sent.update(d)
    if len(sent) != m:
        sys.exit(f"burst placed {len(sent)} of {m} tasks")
    return list(wait_running(up.ecs, sent).values())


def docker_run():
    t0 = time.monotonic()
    subprocess.run(["docker", "run", "-d", "--label", LABEL, IMAGE, "sleep", "1000"], check=True,
                   capture_output=True)
    return time.monotonic() - t0


def docker_sequential(n):
    return [docker_run() for _ in range(n)]


def docker_burst(m):
    with concurrent.futures.ThreadPoolExecutor(m) as pool:
        return list(pool.map(lambda _: docker_run(), range(m)))


def cleanup_docker():
    """Remove the baseline's containers and the (stopped) containers of the bench tasks."""
    ids = []
    for label in (LABEL, "com.amazonaws.ecs.task-definition-family=launch-bench"):
        ids += subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"], capture_output=True,
                              text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def stop_all(up):
    arns = []
    for page in up.ecs.get_paginator("list_tasks").paginate(startedBy="bench"):
        arns.extend(page["taskArns"])
    for arn in arns:
        up.ecs.stop_task(task=arn)
    deadline = time.monotonic() + 120
    while arns and time.monotonic() < deadline:
        left = []
        for i in range(0, len(arns), 100):
            left += [t["taskArn"] for t in up.ecs.describe_tasks(tasks=arns[i:i + 100])["tasks"]
                     if t["lastStatus"] != "STOPPED"]
        arns = left
        time.sleep(0.2)


def fmt(s):
    return f"{s * 1000:.0f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequential", type=int, default=20)
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    args.sequential = max(1, min(args.sequential, 100))
    args.burst = max(1, min(args.burst, 100))
    args.rounds = max(1, min(args.rounds, 5))

    binary = build()
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    tmp = tempfile.mkdtemp(prefix="flotilla-launch-")
    up = Up(binary, Path(tmp) / "data")
    results = {k: [] for k in ("docker-seq", "flotilla-seq", "docker-burst", "flotilla-burst")}
    try:
        up.ecs.register_task_definition(family="launch-bench", containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 8, "command": ["sleep", "1000"], "stopTimeout": 1}])
        for r in range(args.rounds):
            results["docker-seq"] += docker_sequential(args.sequential)
            cleanup_docker()
            results["flotilla-seq"] += flotilla_sequential(up, args.sequential)
            stop_all(up)
            results["docker-burst"] += docker_burst(args.burst)
            cleanup_docker()
            results["flotilla-burst"] += flotilla_burst(up, args.burst)
            stop_all(up)
            print(f"round {r + 1} done", file=sys.stderr)
    finally:
        try:
            stop_all(up)
        finally:
            up.stop()
            cleanup_docker()

    rows = []
    for kind in ("seq", "burst"):
        d, f = results[f"docker-{kind}"], results[f"flotilla-{kind}"]
        rows.append((kind, statistics.median(d), percentile(d, 0.9), statistics.median(f), percentile(f, 0.9)))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    docker_version = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                                    capture_output=True, text=True).stdout.strip()
    lines = [
        "Command: `.venv/bin/python bench/launch.py --write`",
        "",
        f"- Date: {now}; commit {commit}; {platform.machine()}, {os.cpu_count()} cores (shared); "
        f"Docker Engine {docker_version}",
        f"- {args.rounds} interleaved rounds; per round {args.sequential} sequential launches and one burst "
        f"of {args.burst} (Flotilla: {args.burst // 10} RunTask calls of 10 sent at once)",
        "",
        "| launches | Docker median | Docker p90 | Flotilla median | Flotilla p90 | median ratio | p90 ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, dm, d90, fm, f90 in rows:
        name = f"{args.sequential} sequential" if kind == "seq" else f"burst of {args.burst}"
        lines.append(f"| {name} | {fmt(dm)} | {fmt(d90)} | {fmt(fm)} | {fmt(f90)} | {fm / dm:.2f}× | {f90 / d90:.2f}× |")
    lines += [
        "",
        "Flotilla's figure is RunTask sent → DescribeTasks first shows RUNNING (polled every 5 ms); "
        "Docker's is the wall time of `docker run -d` (the CLI returns once the container started). "
        "The ratio is Flotilla/Docker: 1.20× would mean orchestration adds 20%.",
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("bench/launch.py", table, "## Launch latency: RunTask to RUNNING vs docker run -d")
        print("wrote BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
