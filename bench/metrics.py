#!/usr/bin/env python3
"""Metrics: what sampling 100 containers costs an agent, and how fast GetMetricData reads a
day of 10-second data for 1,000 series.

    .venv/bin/python bench/metrics.py [--containers 100] [--window 60] [--rounds 2]
        [--series 1000] [--write]

Starts `flotilla server` and a separate `flotilla agent` (so each process's CPU is its own)
from a release build (or $FLOTILLA_BIN) in a temporary directory, on this Docker Engine.

1. Sampling cost. Runs N tasks (`sleep` in the test image, 8 MiB each) on the agent. Then,
   in interleaved rounds, measures for WINDOW seconds the CPU (user + system, from /proc)
   of the agent and of dockerd, as a percentage of one core:
   - `off`: the agent running with `--stats-interval-seconds 0` (no sampling);
   - `flotilla`: the agent sampling every 5 s (its default): one-shot Docker stats reads of
     every container, CPU units and memory computed, one SubmitStats call per round;
   - `docker stats`: the agent not sampling, and `docker stats --no-stream` of the same
     containers run every 5 s (the CLI's own CPU counted with dockerd's): the baseline of
     reading the same numbers with Docker's own tool.
   The agent is restarted between modes; it adopts the running containers.
2. GetMetricData. Puts a day of data at 10-second intervals (8,640 points) for each of
   SERIES series (`Bench`/`Latency`, dimension `Series`), 1,000 metric data per
   PutMetricData call, timestamps spread over the last 24 hours; then times GetMetricData
   for all the series at once (500 queries per call, the API's bound, so two calls) over
   the day at a 1-minute period (Average), for one series over the day, and one metric-math
   expression (`AVG(METRICS())`) over the first 500; medians of 5 runs each. The put rate
   is reported too.

Every task and container it starts is stopped and removed; it stops only the processes it
started.
"""
import argparse
import concurrent.futures
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from common import ROOT, build, cpu_seconds, write_section  # noqa: E402

IMAGE = "flotilla-test/busybox:latest"
ACCESS_KEY = "AKIAFLOTILLABENCH005"
SECRET_KEY = "bEnChMeTrIcS/SeCrEt+KeY0123456789abcdefgh"[:40]
FAMILY = "metrics-bench"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def env():
    return dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
                FLOTILLA_LOG="warn")


class Server:
    def __init__(self, binary, tmp):
        self.data = Path(tmp) / "server"
        self.data.mkdir(parents=True)
        self.log = open(Path(tmp) / "server.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "server", "--data-dir", str(self.data), "--api-addr", "127.0.0.1:0",
             "--registry-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0", "--lb-bind", "127.0.0.60-127.0.0.61"],
            env=env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self.data / "endpoint").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("flotilla server did not start; see server.log")
            time.sleep(0.05)
        self.endpoint = (self.data / "endpoint").read_text().strip()

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(retries={"max_attempts": 3}, max_pool_connections=32))

    def stop(self):
        stop(self.proc)


class Agent:
    def __init__(self, binary, server, tmp):
        self.binary, self.server = binary, server
        self.data = Path(tmp) / "agent"
        self.log = open(Path(tmp) / "agent.log", "ab")
        self.proc = None

    def start(self, stats_interval):
        self.proc = subprocess.Popen(
            [self.binary, "agent", "--server", self.server.endpoint, "--cluster", "default",
             "--data-dir", str(self.data), "--stats-interval-seconds", str(stats_interval),
             "--cleanup-delay-seconds", "5"],
            env=env(), stdout=self.log, stderr=subprocess.STDOUT)
        ecs = self.server.client("ecs")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            arns = ecs.list_container_instances()["containerInstanceArns"]
            if arns and ecs.describe_container_instances(containerInstances=arns)["containerInstances"][0][
                    "agentConnected"]:
                return
            time.sleep(0.2)
        sys.exit("the agent did not connect; see agent.log")

    def stop(self):
        stop(self.proc)


def stop(proc, grace=30):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dockerd_pid():
    out = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    if not out:
        sys.exit("dockerd is not running")
    return int(out[0])


def run_tasks(ecs, n):
    ecs.register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "app", "image": IMAGE, "memory": 8, "command": ["sleep", "100000"], "stopTimeout": 1}])
    arns = []
    while len(arns) < n:
        out = ecs.run_task(taskDefinition=FAMILY, count=min(10, n - len(arns)), startedBy="bench")
        if out["failures"]:
            sys.exit(f"tasks not placed: {out['failures']}")
        arns += [t["taskArn"] for t in out["tasks"]]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = sum(t["lastStatus"] == "RUNNING" for i in range(0, n, 100)
                      for t in ecs.describe_tasks(tasks=arns[i:i + 100])["tasks"])
        if running == n:
            return arns
        time.sleep(1)
    sys.exit("the tasks did not all reach RUNNING")


def containers():
    return subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-definition-family={FAMILY}"],
                          capture_output=True, text=True).stdout.split()


def cpu_percent(pids, window, during=None):
    """CPU of `pids` over `window` seconds, % of one core; `during` runs meanwhile and its
    own CPU (children) is added."""
    before = sum(cpu_seconds(p) for p in pids)
    children_before = os.times().children_user + os.times().children_system
    t0 = time.monotonic()
    if during:
        during(window)
    else:
        time.sleep(window)
    wall = time.monotonic() - t0
    used = sum(cpu_seconds(p) for p in pids) - before
    used += os.times().children_user + os.times().children_system - children_before
    return 100.0 * used / wall


def docker_stats_loop(window):
    ids = containers()
    end = time.monotonic() + window
    while time.monotonic() < end:
        t0 = time.monotonic()
        subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.ID}} {{.CPUPerc}} {{.MemUsage}}", *ids],
                       capture_output=True)
        time.sleep(max(0.0, 5 - (time.monotonic() - t0)))


def sampling_cost(server, agent, args):
    ecs = server.client("ecs")
    log(f"starting {args.containers} tasks")
    run_tasks(ecs, args.containers)
    dockerd = dockerd_pid()
    results = {"off": [], "flotilla": [], "docker stats": []}
    for r in range(args.rounds):
        for mode in ("off", "flotilla", "docker stats"):
            agent.stop()
            agent.start(5 if mode == "flotilla" else 0)
            time.sleep(6)  # past registration and a first round of samples
            before_agent = cpu_seconds(agent.proc.pid)
            t0 = time.monotonic()
            total = cpu_percent([dockerd, agent.proc.pid], args.window,
                                docker_stats_loop if mode == "docker stats" else None)
            agent_cpu = 100.0 * (cpu_seconds(agent.proc.pid) - before_agent) / (time.monotonic() - t0)
            results[mode].append({"total": total, "agent": agent_cpu})
            log(f"round {r + 1} {mode}: agent {agent_cpu:.2f} %, agent + dockerd (+ docker CLI) {total:.2f} %")
    return results


def put_day(cw, series, now):
    """A day of 10-second points for each series; returns puts per second."""
    start = now - 86_400 + 10
    times = list(range(start, now, 10))
    data = []
    t0 = time.monotonic()

    def put(batch):
        cw.put_metric_data(Namespace="Bench", MetricData=batch)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = []
        for ts in times:
            stamp = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
            for s in range(series):
                data.append({"MetricName": "Latency", "Dimensions": [{"Name": "Series", "Value": str(s)}],
                             "Timestamp": stamp, "Value": float((s + ts) % 100), "Unit": "Milliseconds"})
                if len(data) == 1000:
                    futures.append(pool.submit(put, data))
                    data = []
            if len(futures) > 64:
                for f in futures:
                    f.result()
                futures = []
        if data:
            futures.append(pool.submit(put, data))
        for f in futures:
            f.result()
    return len(times) * series / (time.monotonic() - t0)


def query(s, stat="Average"):
    return {"Id": f"m{s}", "MetricStat": {"Metric": {"Namespace": "Bench", "MetricName": "Latency",
                                                     "Dimensions": [{"Name": "Series", "Value": str(s)}]},
                                          "Period": 60, "Stat": stat}}


def timed(call, runs=5):
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        out = call()
        times.append(time.monotonic() - t0)
    return statistics.median(times), out


def get_metric_data(server, args):
    cw = server.client("cloudwatch")
    now = int(time.time()) // 60 * 60
    log(f"putting a day of 10-second data for {args.series} series")
    rate = put_day(cw, args.series, now)
    start = datetime.datetime.fromtimestamp(now - 86_400, datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)

    def read_all():
        points = 0
        for first in range(0, args.series, 500):
            qs = [query(s) for s in range(first, min(first + 500, args.series))]
            token = None
            while True:
                kw = {"NextToken": token} if token else {}
                out = cw.get_metric_data(MetricDataQueries=qs, StartTime=start, EndTime=end, **kw)
                points += sum(len(r["Values"]) for r in out["MetricDataResults"])
                token = out.get("NextToken")
                if not token:
                    break
        return points

    def read_one():
        out = cw.get_metric_data(MetricDataQueries=[query(0)], StartTime=start, EndTime=end)
        return len(out["MetricDataResults"][0]["Values"])

    def read_math():
        qs = [dict(query(s), ReturnData=False) for s in range(min(499, args.series))]
        qs.append({"Id": "avg", "Expression": "AVG(METRICS())", "Period": 60})
        out = cw.get_metric_data(MetricDataQueries=qs, StartTime=start, EndTime=end)
        return len(out["MetricDataResults"][0]["Values"])

    return {
        "put_rate": rate,
        "all": timed(read_all),
        "one": timed(read_one),
        "math": timed(read_math),
    }


def cleanup(server):
    try:
        ecs = server.client("ecs")
        arns = [a for p in ecs.get_paginator("list_tasks").paginate(startedBy="bench") for a in p["taskArns"]]
        for a in arns:
            ecs.stop_task(task=a)
    except Exception:  # noqa: BLE001 - the server may be gone; the containers are removed below
        pass
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.amazonaws.ecs.task-definition-family={FAMILY}"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def render(sampling, gmd, args, meta):
    med = {m: (statistics.median(r["agent"] for r in rs), statistics.median(r["total"] for r in rs))
           for m, rs in sampling.items()}
    off_agent, off_total = med["off"]
    lines = [
        "Command: `.venv/bin/python bench/metrics.py --write`",
        "",
        f"- Date: {meta['date']}; commit {meta['commit']}; {platform.machine()}, {os.cpu_count()} cores (shared, "
        f"noisy); Docker Engine {meta['docker']}; binary {meta['binary']}",
        f"- Sampling: {args.containers} running containers on one agent, {args.rounds} interleaved rounds of "
        f"{args.window} s per mode; CPU as % of one core (user + system from /proc); medians",
        "",
        "| mode | agent CPU | agent + dockerd (+ docker CLI) | above `off` |",
        "| --- | ---: | ---: | ---: |",
    ]
    for mode in ("off", "flotilla", "docker stats"):
        agent, total = med[mode]
        lines.append(f"| {mode} | {agent:.2f} % | {total:.2f} % | {total - off_total:+.2f} points |")
    f_cost = med["flotilla"][1] - off_total
    d_cost = med["docker stats"][1] - off_total
    ratio = f"{f_cost / d_cost:.2f}×" if d_cost > 0 else "n/a"
    lines += [
        "",
        f"Sampling {args.containers} containers every 5 s costs the agent and dockerd together "
        f"{f_cost:.2f} points of one core; `docker stats --no-stream` of the same containers every 5 s costs "
        f"{d_cost:.2f} (ratio Flotilla/docker stats {ratio}).",
        "",
        f"- GetMetricData: a day of 10-second data (8,640 points) for each of {args.series} series put first "
        f"({gmd['put_rate']:,.0f} data points/s through PutMetricData, 1,000 per call, 4 calls at once); "
        "queries over the day at a 1-minute period, median of 5",
        "",
        "| query | median latency | data points answered |",
        "| --- | ---: | ---: |",
        f"| all {args.series} series (at most 500 queries per call: {-(-args.series // 500)} call(s)) | "
        f"{gmd['all'][0] * 1000:.0f} ms | {gmd['all'][1]:,} |",
        f"| one series | {gmd['one'][0] * 1000:.1f} ms | {gmd['one'][1]:,} |",
        f"| `AVG(METRICS())` over 499 series | {gmd['math'][0] * 1000:.0f} ms | {gmd['math'][1]:,} |",
        "",
        "Latency is the client's: boto3 building the request and parsing the answer included.",
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not shutil.which("docker"):
        sys.exit("docker is needed")
    binary = build()
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    tmp = tempfile.mkdtemp(prefix="flotilla-metrics-")
    server = Server(binary, tmp)
    agent = Agent(binary, server, tmp)
    try:
        server.client("ecs").create_cluster(clusterName="default")
        agent.start(0)
        sampling = sampling_cost(server, agent, args)
        cleanup(server)
        gmd = get_metric_data(server, args)
    finally:
        cleanup(server)
        agent.stop()
        server.stop()
    meta = {
        "binary": "release build" if not os.environ.get("FLOTILLA_BIN") else os.environ["FLOTILLA_BIN"],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip(),
        "docker": subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                                 text=True).stdout.strip(),
    }
    table = render(sampling, gmd, args, meta)
    print(table)
    if args.write:
        write_section("bench/metrics.py", table,
                      "## Metrics: sampling 100 containers, GetMetricData over a day (bench/metrics.py)")
        log("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
