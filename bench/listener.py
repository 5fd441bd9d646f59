#!/usr/bin/env python3
"""Clients that never authenticate, against the API listener: does everyone else keep working?

    .venv/bin/python bench/listener.py [--idle 1000] [--slow 300] [--calls 100] [--nofile 1024,20000] [--write]

What it does, in order (everything bounded in time and count):

1. Builds `cargo build --release -p flotilla` (or uses `$FLOTILLA_BIN`); `$FLOTILLA_BASELINE_BIN`
   names an older build to run the same way first, side by side. Builds the test image
   (`scripts/test-image`).
2. For each open-file limit (1024, what most systems give a process, and 20000) and each
   build: starts `flotilla up` (sqlite store, its own agent on Docker Engine) under
   `prlimit --nofile=N:N`, waits for
   the agent, registers a one-container task definition, and measures, quiet:
   - DescribeClusters latency (CALLS sequential boto3 calls within 30 s: p50, p99 of the
     answered ones, and failures: errors, timeouts and calls not made in the 30 s),
   - RunTask → RUNNING (the agent's long poll and reports).
3. Opens the attack from this process (within 30 s; connections the server does not take
   in time are counted as refused): IDLE sockets that connect and send nothing, SLOW/2
   that send one header byte per second, SLOW/2 that declare a 9.5 MiB body, send it up to
   its last byte and stop. Then measures the same again while they are open, samples the
   agent's `agentConnected` every second for 20 seconds, and reads the server's peak
   resident memory (VmHWM). The attack sockets are closed, `up` is stopped (SIGTERM), and its
   task containers removed.
4. Prints one row per build and phase; `--write` puts the table between the
   bench/listener.py markers in BENCHMARKS.md.

Only the processes it started are stopped (by pid), also on error.
"""
import argparse
import datetime
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

from common import build, percentile, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "flotilla-test/busybox:latest"
ACCESS_KEY = "AKIAFLOTILLABENCH003"
SECRET_KEY = "bEnChLiStEnEr/SeCrEt+KeY0123456789abcdef"[:40]
BODY = 9_500_000






class Up:
    def __init__(self, binary, data_dir, nofile):
        env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
                   FLOTILLA_LOG="warn")
        self.data_dir = Path(data_dir)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["prlimit", f"--nofile={nofile}:{nofile}", binary, "up", "--data-dir",
                                      str(self.data_dir), "--api-addr", "127.0.0.1:0", "--cleanup-delay-seconds",
                                      "5"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self.data_dir / "endpoint").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"flotilla up did not start; see {self.log_path}")
            time.sleep(0.05)
        self.endpoint = (self.data_dir / "endpoint").read_text().strip()
        host, port = self.endpoint.removeprefix("http://").split(":")
        self.addr = (host, int(port))
        self.ecs = boto3.client("ecs", endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
        deadline = time.monotonic() + 60
        while not self.connected():
            if time.monotonic() > deadline:
                sys.exit(f"the local agent did not connect; see {self.log_path}")
            time.sleep(0.2)
        self.ecs.register_task_definition(family="listener-bench", containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "600"], "stopTimeout": 1}])

    def connected(self):
        try:
            arns = self.ecs.list_container_instances()["containerInstanceArns"]
            if not arns:
                return False
            [ci] = self.ecs.describe_container_instances(containerInstances=arns[:1])["containerInstances"]
            return ci["agentConnected"]
        except Exception:  # noqa: BLE001 — refused or timed out: not connected as far as we know
            return False

    def peak_rss_mib(self):
        """VmHWM of the flotilla process (prlimit execs it, so it is our child's pid)."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def describe_latencies(up, calls, budget=30.0):
    """CALLS sequential DescribeClusters, stopping after `budget` seconds (a server that
    does not answer costs a timeout per call): latencies of the answered ones, and how many
    failed or were not sent in time."""
    lat, failed = [], 0
    deadline = time.monotonic() + budget
    for i in range(calls):
        if time.monotonic() > deadline:
            failed += calls - i
            break
        t0 = time.monotonic()
        try:
            up.ecs.describe_clusters(clusters=["default"])
            lat.append((time.monotonic() - t0) * 1000)
        except Exception:  # noqa: BLE001 — counted
            failed += 1
    return lat, failed


def run_task_seconds(up, timeout=60):
    """Seconds from RunTask to RUNNING, or None when it did not get there within `timeout`."""
    t0 = time.monotonic()
    try:
        arn = up.ecs.run_task(taskDefinition="listener-bench")["tasks"][0]["taskArn"]
    except Exception:  # noqa: BLE001
        return None
    while time.monotonic() - t0 < timeout:
        try:
            [t] = up.ecs.describe_tasks(tasks=[arn])["tasks"]
            if t["lastStatus"] == "RUNNING":
                took = time.monotonic() - t0
                up.ecs.stop_task(task=arn)
                return took
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.05)
    return None


class Attack:
    """Idle sockets, slow-header sockets and stalled-body sockets, kept open until close()."""

    def __init__(self, addr, idle, slow, budget=30.0):
        self.socks, self.trickling = [], []
        self.stop = threading.Event()
        self.refused = 0
        # A server that stopped accepting makes every connect wait: bound the whole setup.
        self.deadline = time.monotonic() + budget
        for _ in range(idle):
            self._open(addr)
        for _ in range(slow // 2):
            s = self._open(addr)
            if s:
                self.trickling.append(s)
        body_head = (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     f"X-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\n"
                     f"Content-Length: {BODY}\r\n\r\n").encode()
        chunk = b"{" + b" " * (BODY - 2)
        for _ in range(slow - slow // 2):
            s = self._open(addr)
            if s:
                try:
                    s.settimeout(max(0.1, min(2.0, self.deadline - time.monotonic())))
                    s.sendall(body_head + chunk)
                except OSError:
                    pass
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _open(self, addr):
        if time.monotonic() > self.deadline:
            self.refused += 1
            return None
        try:
            s = socket.create_connection(addr, timeout=0.5)
            self.socks.append(s)
            return s
        except OSError:
            self.refused += 1
            return None

    def _trickle(self):
        while not self.stop.is_set():
            for s in self.trickling:
                try:
                    s.send(b"X-Slow: a\r\n"[:1])
                except OSError:
                    pass
            self.stop.wait(1)

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def measure(label, binary, nofile, args, workdir):
    up = Up(binary, Path(workdir) / f"{label}-{nofile}", nofile)
    rows = []
    try:
        lat, failed = describe_latencies(up, args.calls)
        launch = run_task_seconds(up)
        rows.append(dict(build=label, nofile=nofile, phase="quiet", p50=percentile(lat, 0.5), p99=percentile(lat, 0.99),
                         failed=failed, launch=launch, connected="-", refused="-", rss=up.peak_rss_mib()))
        attack = Attack(up.addr, args.idle, args.slow)
        try:
            time.sleep(2)
            lat, failed = describe_latencies(up, args.calls)
            launch = run_task_seconds(up)
            samples = []
            sampling_ends = time.monotonic() + 20
            while time.monotonic() < sampling_ends:
                samples.append(up.connected())
                time.sleep(1)
            rows.append(dict(build=label, nofile=nofile, phase=f"{args.idle} idle + {args.slow} slow", p50=percentile(lat, 0.5),
                             p99=percentile(lat, 0.99), failed=failed, launch=launch,
                             connected=f"{sum(samples)}/{len(samples)}", refused=attack.refused,
                             rss=up.peak_rss_mib()))
        finally:
            attack.close()
    finally:
        up.stop()
        subprocess.run("docker ps -aq --filter label=com.amazonaws.ecs.task-definition-family=listener-bench"
                       " | xargs -r docker rm -f", shell=True, capture_output=True)
    return rows


def table(rows):
    fmt = lambda v, spec: "—" if v is None else (spec.format(v) if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| open-file limit | build | phase | DescribeClusters p50 ms | p99 ms | failed calls | RunTask → RUNNING s | "
             "agent connected (samples) | attack sockets not opened in 30 s | server peak RSS MiB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['nofile']} | {r['build']} | {r['phase']} | {fmt(r['p50'], '{:.1f}')} | {fmt(r['p99'], '{:.1f}')} | "
                     f"{r['failed']} | {fmt(r['launch'], '{:.2f}')} | {r['connected']} | {r['refused']} | "
                     f"{fmt(r['rss'], '{:.0f}')} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--slow", type=int, default=300)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--nofile", default="1024,20000", help="open-file limits to run under")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    binary = build()
    builds = []
    if os.environ.get("FLOTILLA_BASELINE_BIN"):
        builds.append(("baseline", os.environ["FLOTILLA_BASELINE_BIN"]))
    builds.append(("this build", binary))
    rows = []
    with tempfile.TemporaryDirectory(prefix="flotilla-listener-bench-") as workdir:
        for nofile in [int(n) for n in args.nofile.split(",")]:
            for label, b in builds:
                rows.extend(measure(label.replace(" ", "-"), b, nofile, args, workdir))
    for r in rows:
        r["build"] = r["build"].replace("-", " ")
    out = table(rows)
    print(out)
    if args.write:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        cmd = "FLOTILLA_BASELINE_BIN=OLD .venv/bin/python bench/listener.py --write"
        block = (f"_{stamp}, {platform.machine()}, {os.cpu_count()} cores; `{cmd}`; "
                 f"each `flotilla up` under `prlimit --nofile=N:N`._\n\n{out}\n")
        write_section("bench/listener.py", block, "## Clients that never authenticate (issue: hardening), "
                      "before and after")
    json.dump(rows, sys.stdout)
    print()


if __name__ == "__main__":
    main()
