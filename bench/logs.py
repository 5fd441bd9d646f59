#!/usr/bin/env python3
"""Log ingest: containers' output to queryable through Flotilla (awslogs → agent → server →
GetLogEvents) vs `docker logs -f` reading the same kind of containers (the raw source).

    .venv/bin/python bench/logs.py [--containers 24] [--rate 17000] [--duration 60]
        [--low-rate 1000] [--low-duration 30] [--stress-rate 40000] [--stress-duration 15]
        [--line-bytes 150] [--poll 0.1] [--rounds 3] [--write]

The question (issue "log ingest"): events per second and MB/s from containers to
queryable, end-to-end latency p50/p99, against `docker logs` reading the same containers as
the baseline of the raw source; the agent's CPU and memory per 1,000 lines/s. Aim:
1,000,000 events a minute on this machine (16,667 lines/s), p99 under 2 s to queryable.

What it does (every loop is bounded in count and time):

1. The flotilla binary is `$FLOTILLA_BIN`, else a release build made now
   (`cargo build --release -p flotilla`, into `$CARGO_TARGET_DIR` when set). Builds the
   test image (`scripts/test-image`, busybox). In a temporary directory it starts
   `flotilla server` (sqlite store, API on a free loopback port) and a separate
   `flotilla agent` process (its own data directory, on this Docker Engine, cluster
   `default`, `--metrics-addr` on a free port, `--cleanup-delay-seconds 5`), so that the
   agent's CPU and memory can be read from /proc on their own. It registers the task
   definition `logs-bench`: one container `gen` (busybox awk, 32 MiB) logging with
   `awslogs` (group `/bench/logs`, prefix `bench`, `awslogs-create-group`), so its stream
   is `bench/gen/TASK_ID`.
2. The load: C containers (`--containers`, 24), each printing RATE/C lines a second for
   DURATION seconds. Every line is exactly `--line-bytes` (150) bytes: a run id,
   `seq=NNNNNNNNN` (the line's number in its container) and an access-log-like text. The
   generator is busybox awk reading the host's clock from /proc/uptime (10 ms): every
   100 ms (`sleep 0.1`) it prints the lines due since the start (so the rate does not
   drift: chunks of about RATE/C/10 lines) and flushes. All containers of a run wait for
   the same start time (12 s after the launch began, leaving time to start them all),
   so the load is C streams at once for DURATION seconds. The rate achieved is measured
   from Docker's timestamps of the lines, not taken from the plan. Three loads: the aim's
   (`--rate`, 17,000 lines/s for 60 s: 1,020,000 a minute, a little over the aim so that
   what the generators achieve on a busy machine still reaches it), a low one
   (`--low-rate`, 1,000 lines/s for 30 s) for the agent's cost per 1,000 lines/s, and a
   short one past the aim (`--stress-rate`, 40,000 lines/s for 15 s; 0 leaves it out).
   C is 24 and not fewer because this Docker Engine rotates json-file logs at 10 MiB
   (`daemon.json` `max-size`), and a line of 150 bytes takes 221 bytes in json-file: 24
   containers keep one minute at the aim's rate (42,500 lines, 9.4 MB each) inside one
   file, so neither system reads across a rotation.
3. Flotilla run: RunTask (`count` 10, 10, 4) with the run's parameters in a container
   override (environment). A reader thread in this process follows every stream with
   GetLogEvents (`startFromHead`, `limit` 10,000, following `nextForwardToken`, raw
   SigV4-signed requests on one keep-alive connection, JSON parsed with `json.loads`):
   every POLL seconds (0.1) it asks each stream, again at once while a page is full. An
   event's end-to-end latency is from its `timestamp` (Docker's time of the line, in ms)
   to the time the answer that first carried it arrived: the pipeline's delay plus up to
   one poll cycle (the resolution, reported as the median poll period). The server-side
   lag is `ingestionTime - timestamp` (the server stamps `ingestionTime` when it appends
   the batch; it does not include the fsync nor the reader). The run ends when every
   line is seen, or 90 s after the load's end (then the rest counts as lost). Each
   stream's sequence numbers are checked: each 0..N-1 exactly once (lost, duplicated).
   After the run: every task STOPPED, the agent's Prometheus counters
   (`flotilla_agent_log_*`: lines shipped, dropped, failed batches) read, and the
   containers removed by the agent after its cleanup delay (waited for).
4. docker run: the same C containers with `docker run -d` (same image, command,
   environment, Docker's default json-file driver, a label of this run), each followed
   at once by `docker logs -f --timestamps ID` (a child process; its stdout is read by a
   thread of this process with `select`). A line's latency is from its Docker timestamp
   (ns) to the time its bytes were read from the pipe: Docker's own delay from its log
   to a reader, with no polling. The containers are removed after the run.
5. Throughput: lines (and message bytes, without newline) delivered, divided by the time
   from the first line's Docker timestamp to the arrival of the last line; the offered
   rate: lines divided by the span of their Docker timestamps. Resources (sampled from
   /proc every 0.25 s): CPU of the agent, the server, dockerd + containerd, the readers
   (this process; the `docker logs` children, from their rusage) and the whole machine
   during the load (start to end of the generators), and the agent's and server's
   resident memory (VmRSS): the peak during the load and the value just before it (the
   containers already running, silent). The agent's cost per 1,000 lines/s: its CPU
   during the load / (offered rate / 1,000), and the marginal cost between the two loads.
6. ROUNDS rounds; in each, for each load, one Flotilla run and one docker run, their order
   alternating from round to round. Medians over the rounds are reported, with the
   ratios Flotilla/docker logs, every run in a details block, and a plain statement of the
   aim. A run during which dockerd itself failed to write log entries (its log,
   /var/log/dockerd.log, says `Failed to log msg`: seen once when the shared disk was full
   for a minute) is run again once, and that is said. `--write` puts the result between
   the bench/logs.py markers in BENCHMARKS.md.

Only what it started is stopped: the server and the agent by pid, the `docker logs`
processes by pid, containers by this run's label or task family; its temporary directory
is removed.
"""
import argparse
import calendar
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from api import machine_busy_seconds, machine_description, tail  # noqa: E402
from common import cpu_seconds, free_port, percentile, write_section  # noqa: E402
from lb import BenchError, Procs, alive, flotilla_binary, log  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TITLE = "## Log ingest: containers to queryable vs docker logs (bench/logs.py)"
ACCESS_KEY = "AKIAFLOTILLABENCHLOG"
SECRET_KEY = "bEnChLoGiNgEsT/SeCrEt+KeY0123456789abcde"
REGION = "us-east-1"
IMAGE = "flotilla-test/busybox:latest"
FAMILY = "logs-bench"
GROUP = "/bench/logs"
PREFIX = "bench"
CONTAINER = "gen"
LEAD = 12.0  # seconds from the launch to the load's start
DRAIN_TIMEOUT = 90.0  # seconds after the load's end to wait for the last line
SAMPLE_EVERY = 0.25
PAGE = 10_000

assert len(ACCESS_KEY) == 20 and len(SECRET_KEY) == 40

# The generator: prints the lines due since START (host uptime, s) at RATE a second, every
# TICK seconds, until it printed TOTAL, then exits. `seq` is the line's number.
AWK = r"""
function now(  u, a) { getline u < "/proc/uptime"; close("/proc/uptime"); split(u, a, " "); return a[1] + 0 }
BEGIN {
  rate = ENVIRON["RATE"] + 0; total = ENVIRON["TOTAL"] + 0; start = ENVIRON["START"] + 0
  tick = ENVIRON["TICK"]; run = ENVIRON["RUN"]; pad = ENVIRON["PAD"]
  while (now() < start) system("sleep 0.05")
  n = 0
  while (n < total) {
    want = int(rate * (now() - start)) + 1
    if (want > total) want = total
    while (n < want) { printf "%s seq=%09d %s\n", run, n, pad; n++ }
    fflush()
    if (n < total) system("sleep " tick)
  }
}
"""
FILLER = ('level=info msg="request served" method=GET path=/api/v1/orders/4711 status=200 '
          'bytes=5123 ms=12.4 trace_id=')


def uptime():
    return float(Path("/proc/uptime").read_text().split()[0])


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pad_for(run, line_bytes):
    """The text after `RUN seq=NNNNNNNNN ` that makes a line `line_bytes` long."""
    head = len(run) + 1 + 13 + 1
    n = line_bytes - head
    if n < 8:
        raise BenchError(f"--line-bytes {line_bytes} is too short for the run id {run!r}")
    text = (FILLER + "0123456789abcdef" * 64)[:n]
    return text


# ---------------------------------------------------------------------------------------
# Flotilla: server, agent, signed Logs calls


class Signer:
    """SigV4-signed JSON 1.1 calls on one keep-alive connection (one per thread)."""

    def __init__(self, endpoint):
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        self.endpoint = endpoint
        self.host = endpoint.split("://", 1)[1]
        self.auth = {svc: SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), svc, REGION) for svc in ("logs", "ecs")}
        self.conn = None

    def call(self, service, target, body):
        from botocore.awsrequest import AWSRequest

        data = json.dumps(body, separators=(",", ":")).encode()
        req = AWSRequest(method="POST", url=self.endpoint + "/", data=data,
                         headers={"Host": self.host, "X-Amz-Target": target,
                                  "Content-Type": "application/x-amz-json-1.1"})
        self.auth[service].add_auth(req)
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, timeout=30)
                self.conn.request("POST", "/", body=data, headers=dict(req.headers.items()))
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, raw
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")


class Flotilla:
    def __init__(self, procs, binary, tmp):
        self.procs, self.binary, self.tmp = procs, binary, tmp
        env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
                   FLOTILLA_LOG="warn", RUST_LIB_BACKTRACE="0")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
            env.pop(k, None)
        data = tmp / "server"
        data.mkdir()
        self.server = procs.start("server", [str(binary), "server", "--data-dir", str(data), "--api-addr",
                                             "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--dns-addr",
                                             "127.0.0.1:0"], env=env)
        deadline = time.monotonic() + 60
        while not (data / "endpoint").exists():
            alive(self.server)
            if time.monotonic() > deadline:
                raise BenchError(f"flotilla server did not start:\n{tail(self.server.logfile)}")
            time.sleep(0.05)
        self.endpoint = (data / "endpoint").read_text().strip()
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/_flotilla/health", timeout=2).read()
                break
            except OSError:
                alive(self.server)
                if time.monotonic() > deadline:
                    raise BenchError(f"flotilla server is not healthy:\n{tail(self.server.logfile)}")
                time.sleep(0.1)
        self.api = Signer(self.endpoint)
        self.ecs("CreateCluster", {"clusterName": "default"})
        self.metrics_port = free_port()
        self.agent = procs.start("agent", [str(binary), "agent", "--server", self.endpoint, "--cluster", "default",
                                           "--data-dir", str(tmp / "agent"), "--cleanup-delay-seconds", "5",
                                           "--metrics-addr", f"127.0.0.1:{self.metrics_port}"], env=env)
        deadline = time.monotonic() + 60
        while True:
            alive(self.agent)
            arns = self.ecs("ListContainerInstances", {"cluster": "default"})["containerInstanceArns"]
            if arns:
                ci = self.ecs("DescribeContainerInstances", {"cluster": "default", "containerInstances": arns})
                if ci["containerInstances"][0].get("agentConnected"):
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"the agent did not connect:\n{tail(self.agent.logfile)}")
            time.sleep(0.2)
        self.ecs("RegisterTaskDefinition", {"family": FAMILY, "containerDefinitions": [{
            "name": CONTAINER, "image": IMAGE, "memory": 32, "essential": True, "stopTimeout": 2,
            "command": ["busybox", "awk", AWK],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": PREFIX,
                "awslogs-create-group": "true"}}}]})

    def _call(self, service, prefix, op, body):
        status, raw = self.api.call(service, f"{prefix}.{op}", body)
        if status != 200:
            raise BenchError(f"{op} answered HTTP {status}: {raw[:2000]!r}")
        return json.loads(raw)

    def ecs(self, op, body):
        return self._call("ecs", "AmazonEC2ContainerServiceV20141113", op, body)

    def request_durations(self):
        """{(service, operation): (count, sum of seconds)} from the server's /metrics."""
        try:
            with urllib.request.urlopen(self.endpoint + "/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            m = re.match(r'^flotilla_api_request_duration_seconds_(sum|count)\{([^}]*)\} ([0-9.eE+-]+)$', line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            key = (labels.get("service", ""), labels.get("operation", ""))
            count, total = out.get(key, (0.0, 0.0))
            if m.group(1) == "sum":
                total = float(m.group(3))
            else:
                count = float(m.group(3))
            out[key] = (count, total)
        return out

    def agent_counters(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            m = re.match(r"^(flotilla_agent_log_\w+)(?:\{[^}]*\})? ([0-9.eE+-]+)$", line)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
        return out


# ---------------------------------------------------------------------------------------
# Sampling


class Sampler(threading.Thread):
    """CPU seconds and RSS of named processes (and of the machine) every SAMPLE_EVERY s."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = pids  # name -> [pid, ...]
        self.samples = []  # (wall, {name: cpu s}, {name: rss KiB}, machine busy s)
        self.stop_event = threading.Event()

    def sample(self):
        cpu = {n: sum(cpu_seconds(p) for p in ps) for n, ps in self.pids.items()}
        rss = {n: sum(rss_kib(p) for p in ps) for n, ps in self.pids.items()}
        self.samples.append((time.time(), cpu, rss, machine_busy_seconds()))

    def run(self):
        while not self.stop_event.wait(SAMPLE_EVERY):
            self.sample()

    def stop(self):
        self.stop_event.set()
        self.join()
        self.sample()

    def _at(self, t):
        """The sample nearest to wall time t."""
        return min(self.samples, key=lambda s: abs(s[0] - t))

    def cpu(self, name, t0, t1):
        a, b = self._at(t0), self._at(t1)
        return (b[1][name] - a[1][name]) / max(b[0] - a[0], 1e-9)

    def machine(self, t0, t1):
        a, b = self._at(t0), self._at(t1)
        return (b[3] - a[3]) / max(b[0] - a[0], 1e-9)

    def rss_peak(self, name, t0, t1):
        vals = [s[2][name] for s in self.samples if t0 <= s[0] <= t1]
        return max(vals) if vals else self._at(t1)[2][name]

    def rss_at(self, name, t):
        return self._at(t)[2][name]


DOCKERD_LOG = Path("/var/log/dockerd.log")


def dockerd_log_offset():
    try:
        return DOCKERD_LOG.stat().st_size
    except OSError:
        return None


def docker_write_failures(offset):
    """Log entries dockerd failed to write (its own log says so) since `offset`."""
    if offset is None:
        return 0
    try:
        with open(DOCKERD_LOG, "rb") as f:
            f.seek(offset)
            return sum(1 for line in f if b"Failed to log msg" in line)
    except OSError:
        return 0


def daemon_pids():
    out = []
    for name in ("dockerd", "containerd"):
        r = subprocess.run(["pidof", name], capture_output=True, text=True)
        out += [int(p) for p in r.stdout.split()]
    return out


# ---------------------------------------------------------------------------------------
# Runs


def plan(args, rate, duration, run):
    per = rate / args.containers
    return {
        "run": run, "rate": rate, "per": per, "duration": duration,
        "expected": round(per * duration), "pad": pad_for(run, args.line_bytes),
    }


def container_env(p, start):
    return {"RATE": f"{p['per']:.6f}", "TOTAL": str(p["expected"]), "START": f"{start:.2f}", "TICK": "0.1",
            "RUN": p["run"], "PAD": p["pad"]}


class Tally:
    """What a reader saw of one run: latencies, per-stream sequence checks, bytes."""

    def __init__(self, streams, expected):
        self.expected = expected
        self.seen = {s: bytearray(expected) for s in streams}
        self.count = {s: 0 for s in streams}
        self.extra = 0  # lines beyond the expected numbers or unparseable
        self.dups = 0
        self.lat = []  # seconds, timestamp -> seen
        self.lag = []  # seconds, timestamp -> ingestionTime (Flotilla)
        self.first_ts = None
        self.last_ts = None
        self.first_seen = None
        self.last_seen = None
        self.bytes = 0
        self.lines = 0

    def add(self, stream, ts, seen, message, ingested=None):
        try:
            seq = int(message.split(" ", 2)[1][4:])
        except (IndexError, ValueError):
            self.extra += 1
            return
        bitmap = self.seen[stream]
        if not 0 <= seq < self.expected:
            self.extra += 1
            return
        if bitmap[seq]:
            self.dups += 1
            return
        bitmap[seq] = 1
        self.count[stream] += 1
        self.lines += 1
        self.bytes += len(message)
        self.lat.append(seen - ts)
        if ingested is not None:
            self.lag.append(ingested - ts)
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        if self.last_seen is None or seen > self.last_seen:
            self.last_seen = seen
        if self.first_seen is None or seen < self.first_seen:
            self.first_seen = seen

    def complete(self):
        return all(c >= self.expected for c in self.count.values())

    def summary(self):
        total = self.expected * len(self.seen)
        span = (self.last_seen - self.first_seen) if self.lines > 1 else float("nan")
        ts_span = (self.last_ts - self.first_ts) if self.lines > 1 else float("nan")
        out = {
            "expected": total, "lines": self.lines, "lost": total - self.lines, "dups": self.dups,
            "extra": self.extra, "bytes": self.bytes,
            "offered": self.lines / ts_span if ts_span and ts_span > 0 else float("nan"),
            "throughput": self.lines / span if span and span > 0 else float("nan"),
            "mbps": self.bytes / span / 1e6 if span and span > 0 else float("nan"),
            "p50": percentile(self.lat, 0.5), "p99": percentile(self.lat, 0.99),
            "max": max(self.lat) if self.lat else float("nan"),
            "first_ts": self.first_ts, "last_ts": self.last_ts, "last_seen": self.last_seen,
        }
        if self.lag:
            out["lag50"] = percentile(self.lag, 0.5)
            out["lag99"] = percentile(self.lag, 0.99)
        return out


def follow_flotilla(fl, streams, tally, poll, deadline, periods):
    """Follow every stream with GetLogEvents until every line is seen or `deadline`."""
    api = Signer(fl.endpoint)
    tokens = {s: None for s in streams}
    last_start = None
    while not tally.complete() and time.time() < deadline:
        t0 = time.monotonic()
        if last_start is not None:
            periods.append(t0 - last_start)
        last_start = t0
        for s in streams:
            if tally.count[s] >= tally.expected:
                continue
            while True:
                body = {"logGroupName": GROUP, "logStreamName": s, "startFromHead": True, "limit": PAGE}
                if tokens[s]:
                    body["nextToken"] = tokens[s]
                status, raw = api.call("logs", "Logs_20140328.GetLogEvents", body)
                seen = time.time()
                if status != 200:
                    if b"ResourceNotFoundException" in raw:
                        break  # the group or stream is not there yet
                    raise BenchError(f"GetLogEvents answered HTTP {status}: {raw[:2000]!r}")
                page = json.loads(raw)
                events = page.get("events", [])
                tokens[s] = page.get("nextForwardToken") or tokens[s]
                for e in events:
                    ts = e["timestamp"] / 1000
                    tally.add(s, ts, seen, e["message"], e["ingestionTime"] / 1000)
                if len(events) < PAGE:
                    break
        rest = poll - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)


def run_flotilla(fl, sampler_pids, p, args):
    start_up = uptime() + LEAD
    start_wall = time.time() + LEAD
    env = container_env(p, start_up)
    sampler = Sampler(sampler_pids)
    sampler.start()
    counters0 = fl.agent_counters()
    durations0 = fl.request_durations()
    arns = []
    left = args.containers
    while left > 0:
        n = min(10, left)
        out = fl.ecs("RunTask", {"cluster": "default", "taskDefinition": FAMILY, "count": n, "startedBy": FAMILY,
                                 "overrides": {"containerOverrides": [{"name": CONTAINER, "environment": [
                                     {"name": k, "value": v} for k, v in env.items()]}]}})
        if out.get("failures") or len(out["tasks"]) != n:
            raise BenchError(f"RunTask: {out.get('failures')}")
        arns += [t["taskArn"] for t in out["tasks"]]
        left -= n
    streams = [f"{PREFIX}/{CONTAINER}/{arn.rsplit('/', 1)[1]}" for arn in arns]
    tally = Tally(streams, p["expected"])
    periods = []
    end_wall = start_wall + p["duration"]
    reader = threading.Thread(target=follow_flotilla, daemon=True,
                              args=(fl, streams, tally, args.poll, end_wall + DRAIN_TIMEOUT, periods))
    reader.start()
    running_at = None
    while running_at is None and time.time() < start_wall + p["duration"]:
        tasks = fl.ecs("DescribeTasks", {"cluster": "default", "tasks": arns})["tasks"]
        if all(t["lastStatus"] in ("RUNNING", "STOPPED") for t in tasks):
            running_at = time.time()
        else:
            time.sleep(0.2)
    reader.join()
    # Every task stops on its own once its generator is done and its lines are confirmed.
    deadline = time.time() + 60
    while True:
        tasks = fl.ecs("DescribeTasks", {"cluster": "default", "tasks": arns})["tasks"]
        stopped = [t for t in tasks if t["lastStatus"] == "STOPPED"]
        if len(stopped) == len(arns) or time.time() > deadline:
            break
        time.sleep(0.2)
    sampler.stop()
    counters1 = fl.agent_counters()
    durations1 = fl.request_durations()
    exit_codes = sorted({c.get("exitCode") for t in tasks for c in t.get("containers", [])}, key=str)
    # The agent removes the containers after its cleanup delay; wait for that.
    deadline = time.time() + 60
    while containers(f"com.amazonaws.ecs.task-definition-family={FAMILY}") and time.time() < deadline:
        time.sleep(0.5)
    leftover = containers(f"com.amazonaws.ecs.task-definition-family={FAMILY}")
    if leftover:
        subprocess.run(["docker", "rm", "-f", *leftover], capture_output=True)
    s = tally.summary()
    s.update(resources(sampler, start_wall, end_wall, running_at, ["agent", "server"]))
    s["poll_period"] = statistics.median(periods) if periods else float("nan")
    s["stopped"] = f"{len(stopped)}/{len(arns)}"
    s["exit_codes"] = exit_codes
    s["late_start"] = running_at is None or running_at > start_wall
    s["agent_counters"] = {k: counters1.get(k, 0) - counters0.get(k, 0) for k in counters1}
    s["calls"] = {}
    for key, (count, total) in durations1.items():
        c0, t0 = durations0.get(key, (0.0, 0.0))
        if count - c0 > 0 and (key[1] in ("PutLogs", "GetLogEvents") or "log" in key[1].lower()):
            s["calls"][f"{key[0]}:{key[1]}"] = (count - c0, (total - t0) / (count - c0))
    return s


def containers(label):
    r = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label={label}"], capture_output=True,
                       text=True)
    return r.stdout.split()


_SECONDS = {}


def docker_ts(raw):
    """Seconds since the epoch of Docker's RFC3339NanoFixed timestamp (bytes, UTC)."""
    head = raw[:19]
    base = _SECONDS.get(head)
    if base is None:
        base = _SECONDS[head] = calendar.timegm(time.strptime(head.decode(), "%Y-%m-%dT%H:%M:%S"))
    return base + int(raw[20:29]) / 1e9


def read_pipes(procs, chunks, deadline):
    """Read every process's stdout until EOF or `deadline`: chunks[i] gets (arrival, bytes)."""
    fds = {p.stdout.fileno(): i for i, p in enumerate(procs)}
    for fd in fds:
        os.set_blocking(fd, False)
    while fds and time.time() < deadline:
        ready, _, _ = select.select(list(fds), [], [], 0.5)
        now = time.time()
        for fd in ready:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not data:
                del fds[fd]
                continue
            chunks[fds[fd]].append((now, data))


def run_docker(p, args, tmp, sampler_pids):
    label = f"flotilla.bench-logs={os.getpid()}"
    start_up = uptime() + LEAD
    start_wall = time.time() + LEAD
    env = container_env(p, start_up)
    sampler = Sampler(sampler_pids)
    sampler.start()
    cmd = ["docker", "run", "-d", "--label", label, "--memory", "32m"]
    for k, v in env.items():
        cmd += ["-e", f"{k}={v}"]
    cmd += [IMAGE, "busybox", "awk", AWK]

    def launch(_):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"docker run failed: {r.stderr}")
        return r.stdout.strip()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(launch, range(args.containers)))
    running_at = time.time()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    followers = [subprocess.Popen(["docker", "logs", "-f", "--timestamps", cid], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL) for cid in ids]
    chunks = [[] for _ in ids]
    end_wall = start_wall + p["duration"]
    try:
        read_pipes(followers, chunks, end_wall + DRAIN_TIMEOUT)
    finally:
        for f in followers:
            if f.poll() is None:
                f.kill()
            f.wait()
        sampler.stop()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    codes = subprocess.run(["docker", "inspect", "--format", "{{.State.ExitCode}}", *ids], capture_output=True,
                           text=True).stdout.split()
    subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    tally = Tally(list(range(len(ids))), p["expected"])
    for i, cs in enumerate(chunks):
        rest = b""
        for arrival, data in cs:
            parts = (rest + data).split(b"\n")
            rest = parts.pop()
            for line in parts:
                tally.add(i, docker_ts(line), arrival, line[31:].decode(errors="replace"))
        if rest:
            tally.extra += 1
    s = tally.summary()
    s.update(resources(sampler, start_wall, end_wall, running_at, []))
    # The followers' CPU (their rusage, once reaped), over the load's time.
    s["docker_logs_cpu"] = (children1.ru_utime + children1.ru_stime - children0.ru_utime
                            - children0.ru_stime) / p["duration"]
    s["exit_codes"] = sorted(set(codes))
    s["late_start"] = running_at > start_wall
    return s


def resources(sampler, start_wall, end_wall, running_at, names):
    out = {"machine_cpu": sampler.machine(start_wall, end_wall),
           "daemon_cpu": sampler.cpu("dockerd", start_wall, end_wall),
           "reader_cpu": sampler.cpu("reader", start_wall, end_wall)}
    idle0 = max(running_at or start_wall - 3, start_wall - 5)
    for n in names:
        out[f"{n}_cpu"] = sampler.cpu(n, start_wall, end_wall)
        out[f"{n}_idle_cpu"] = sampler.cpu(n, idle0, start_wall - 0.2) if start_wall - 0.2 - idle0 > 0.9 else float("nan")
        out[f"{n}_rss_peak"] = sampler.rss_peak(n, start_wall, end_wall)
        out[f"{n}_rss_idle"] = sampler.rss_at(n, start_wall - 0.3)
    return out


# ---------------------------------------------------------------------------------------
# Report


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None and r[key] == r[key]]
    return statistics.median(vals) if vals else float("nan")


def ms(x):
    if x != x:
        return "–"
    return f"{x * 1000:.0f} ms" if x >= 0.0995 else f"{x * 1000:.1f} ms"


def num(x, digits=0):
    return "–" if x != x else f"{x:,.{digits}f}"


def render(results, loads, args, meta):
    out = [
        f"Command: `{meta['command']}`",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['machine']}",
        f"- Flotilla: {meta['flotilla']}; `flotilla server` and `flotilla agent` as separate processes",
        f"- Docker Engine {meta['docker']} (json-file logs, rotated at 10 MiB), busybox {meta['busybox']} "
        f"as the generator; Python {meta['python']} readers",
        f"- Load: {args.containers} containers, lines of {args.line_bytes} bytes with a sequence number, "
        f"printed every 100 ms at a set rate (busybox awk) and all started at once; "
        f"{args.rounds} rounds, each one Flotilla run and one docker run per load, in alternating order",
        f"- Flotilla's reader: GetLogEvents on every stream every {args.poll * 1000:.0f} ms, following "
        f"`nextForwardToken`; docker's: `docker logs -f --timestamps` per container, read as the bytes come",
        "",
        "| load | system | lines/s offered | delivered events/s | events/min | MB/s | p50 | p99 | max "
        "| server-side lag p50 / p99 | lost | duplicated |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for load in loads:
        for system in ("flotilla", "docker logs"):
            runs = results[(load["name"], system)]
            lag = (f"{ms(med(runs, 'lag50'))} / {ms(med(runs, 'lag99'))}" if system == "flotilla" else "–")
            out.append(
                f"| {load['label']} | {system} | {num(med(runs, 'offered'))} | {num(med(runs, 'throughput'))} "
                f"| {num(med(runs, 'throughput') * 60)} | {num(med(runs, 'mbps'), 2)} | {ms(med(runs, 'p50'))} "
                f"| {ms(med(runs, 'p99'))} | {ms(med(runs, 'max'))} | {lag} "
                f"| {sum(r['lost'] for r in runs):,} | {sum(r['dups'] for r in runs):,} |")
    out += [
        "",
        "| load | delivered events/s flotilla / docker logs | p50 flotilla − docker logs | p99 flotilla − docker logs "
        "| p99 flotilla / docker logs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for load in loads:
        f, d = results[(load["name"], "flotilla")], results[(load["name"], "docker logs")]
        out.append(f"| {load['label']} | {med(f, 'throughput') / med(d, 'throughput'):.2f}× "
                   f"| {ms(med(f, 'p50') - med(d, 'p50'))} | {ms(med(f, 'p99') - med(d, 'p99'))} "
                   f"| {med(f, 'p99') / med(d, 'p99'):.1f}× |")
    out += [
        "",
        "Resources during the load (from the generators' start to their end; CPU in cores out of 2, medians):",
        "",
        "| load | system | agent CPU | agent CPU idle | agent RSS before / peak | server CPU | server RSS before / peak "
        "| reader CPU | dockerd CPU | machine CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for load in loads:
        for system in ("flotilla", "docker logs"):
            runs = results[(load["name"], system)]
            if system == "flotilla":
                out.append(
                    f"| {load['label']} | flotilla | {med(runs, 'agent_cpu'):.3f} | {med(runs, 'agent_idle_cpu'):.3f} "
                    f"| {med(runs, 'agent_rss_idle') / 1024:.1f} / {med(runs, 'agent_rss_peak') / 1024:.1f} MiB "
                    f"| {med(runs, 'server_cpu'):.3f} "
                    f"| {med(runs, 'server_rss_idle') / 1024:.1f} / {med(runs, 'server_rss_peak') / 1024:.1f} MiB "
                    f"| {med(runs, 'reader_cpu'):.3f} | {med(runs, 'daemon_cpu'):.3f} | {med(runs, 'machine_cpu'):.2f} |")
            else:
                out.append(
                    f"| {load['label']} | docker logs | – | – | – | – | – "
                    f"| {med(runs, 'reader_cpu'):.3f} + `docker logs` {med(runs, 'docker_logs_cpu'):.3f} "
                    f"| {med(runs, 'daemon_cpu'):.3f} | {med(runs, 'machine_cpu'):.2f} |")
    by_name = {ld["name"]: ld for ld in loads}
    hi = by_name["high"]
    fh = results[("high", "flotilla")]
    per = []
    for load in loads:
        runs = results[(load["name"], "flotilla")]
        rate = med(runs, "offered")
        per.append((load, rate, med(runs, "agent_cpu") / (rate / 1000), med(runs, "agent_rss_peak") / 1024))
    out += ["", "The agent's cost per 1,000 lines/s:", ""]
    for load, rate, cpu, rss in per:
        out.append(f"- at {num(rate)} lines/s ({load['label']}): {cpu * 100:.2f}% of a core per 1,000 lines/s "
                   f"(its CPU during the load / the rate in thousands), peak RSS {rss:.1f} MiB")
    if "low" in by_name:
        fl_ = results[("low", "flotilla")]
        dr = (med(fh, "offered") - med(fl_, "offered")) / 1000
        dc = med(fh, "agent_cpu") - med(fl_, "agent_cpu")
        drss = (med(fh, "agent_rss_peak") - med(fl_, "agent_rss_peak")) / 1024
        out.append(f"- marginal, between the two loads: {dc / dr * 100:.2f}% of a core and {drss / dr:.2f} MiB of RSS "
                   f"per 1,000 lines/s")
    # The aim.
    aim_rate = 1_000_000 / 60
    rate, offered, p99 = med(fh, "throughput"), med(fh, "offered"), med(fh, "p99")
    bad = sum(r["lost"] + r["dups"] for r in fh)
    worst_p99 = max(r["p99"] for r in fh)
    rate_ok, p99_ok = rate >= aim_rate, p99 < 2.0
    verdict = "met" if rate_ok and p99_ok and not bad else "missed"
    kept_up = rate >= offered * 0.99
    out += [
        "",
        f"**The aim (1,000,000 events a minute, p99 under 2 s to queryable) was {verdict}** at {hi['label']}: "
        f"Flotilla made {num(rate * 60)} events a minute queryable ({rate / aim_rate * 100:.1f}% of the aim's "
        f"1,000,000; the generators offered {num(offered * 60)} a minute"
        + (" and it kept up with them" if kept_up else f" and it fell behind them by {(1 - rate / offered) * 100:.1f}%")
        + f") with a p99 of {ms(p99)} from a line's write to queryable, "
        f"{'under' if p99_ok else 'over'} 2 s by {ms(abs(2.0 - p99))} (worst run {ms(worst_p99)}), "
        f"{'and nothing was lost or duplicated' if not bad else f'with {bad:,} lines lost or duplicated'}"
        f" in {len(fh)} runs of {num(med(fh, 'expected'))} lines.",
    ]
    if "stress" in by_name:
        fs, ds = results[("stress", "flotilla")], results[("stress", "docker logs")]
        out.append(
            f"Past the aim, at {by_name['stress']['label']} for {by_name['stress']['duration']:.0f} s (the machine "
            f"saturated: machine CPU {med(fs, 'machine_cpu'):.2f} of 2), the generators reached "
            f"{num(med(fs, 'offered'))} lines/s with Flotilla and {num(med(ds, 'offered'))} with `docker logs`; "
            f"Flotilla delivered {num(med(fs, 'throughput'))} events/s with a p99 of {ms(med(fs, 'p99'))}.")
    out += [
        "",
        f"How to read it: lines/s offered is the generators' rate measured from Docker's timestamps of the lines "
        f"(lines / the span of their timestamps); delivered events/s and MB/s (message bytes, 10^6/s) count the lines "
        f"read back, over the time from the first to the last arrival at the reader (the rate at which they became "
        f"queryable). p50/p99/max are per line, from its Docker timestamp (ms for Flotilla's events, ns for `docker "
        f"logs`) to the moment the reader had it: for Flotilla that includes up to one poll cycle (median period "
        f"{ms(med(fh, 'poll_period'))} at {hi['label']}: the resolution), for `docker logs` it is Docker's own delay "
        f"to a follower. Server-side lag is `ingestionTime − timestamp`: the agent's read, its batching (up to 200 ms "
        f"after a batch's first line) and PutLogs until the server stamps it, before its fsync. Lost: numbers of 0..N-1 "
        f"never read back within {DRAIN_TIMEOUT:.0f} s of the load's end; duplicated: read twice. Agent CPU idle: with "
        f"the containers running but not yet printing. The server's CPU includes answering the reader's GetLogEvents "
        f"calls (one per stream every poll: {args.containers / args.poll:,.0f} a second). Reader CPU is this script's Python (the polling, or the "
        f"pipes); dockerd CPU (with containerd) includes the json-file logging both systems pay for. Machine CPU "
        f"includes the generators and other people's work.",
    ]
    for rnd, label, system, n in meta.get("skipped", []):
        out += ["", f"Run again: round {rnd}, {label}, {system}: dockerd failed to write {n:,} log entries "
                    f"(its log: `Failed to log msg`, e.g. no space left on its disk for a moment), so both sides "
                    f"would have missed lines Docker never kept."]
    out += ["", "<details><summary>Every run</summary>", "",
            "| load | round | system | offered | delivered/s | p50 | p99 | max | lag p99 | lost | dup | agent CPU "
            "| agent RSS peak | server CPU | dockerd CPU | machine CPU | notes |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | --- |"]
    for load in loads:
        for system in ("flotilla", "docker logs"):
            for r in results[(load["name"], system)]:
                notes = []
                if r.get("late_start"):
                    notes.append("not all running at the start")
                if system == "flotilla":
                    c = r.get("agent_counters", {})
                    notes.append(f"stopped {r['stopped']}; agent shipped "
                                 f"{c.get('flotilla_agent_log_lines_shipped_total', 0):,.0f}, dropped "
                                 f"{c.get('flotilla_agent_log_lines_dropped_total', 0):,.0f}, failed batches "
                                 f"{c.get('flotilla_agent_log_batches_failed_total', 0):,.0f}; poll "
                                 f"{ms(r['poll_period'])}")
                    for op, (n, mean) in sorted(r.get("calls", {}).items()):
                        notes.append(f"{op.split(':', 1)[1]} {n:,.0f} calls, mean {ms(mean)}")
                if r.get("docker_failed"):
                    notes.append(f"dockerd failed to write {r['docker_failed']:,} entries")
                if r.get("extra"):
                    notes.append(f"{r['extra']} unexpected lines")
                if r.get("exit_codes") not in ([0], ["0"]):
                    notes.append(f"exit codes {r.get('exit_codes')}")
                agent = (f"{r['agent_cpu']:.3f} | {r['agent_rss_peak'] / 1024:.1f} MiB | {r['server_cpu']:.3f}"
                         if system == "flotilla" else "– | – | –")
                out.append(
                    f"| {load['label']} | {r['round']} | {system} | {num(r['offered'])} | {num(r['throughput'])} "
                    f"| {ms(r['p50'])} | {ms(r['p99'])} | {ms(r['max'])} | {ms(r.get('lag99', float('nan')))} "
                    f"| {r['lost']:,} | {r['dups']:,} | {agent} | {r['daemon_cpu']:.3f} | {r['machine_cpu']:.2f} "
                    f"| {'; '.join(notes)} |")
    out += ["", "</details>"]
    return "\n".join(out) + "\n"


def versions(binary):
    flot = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip() or "flotilla"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "crates", "Cargo.lock"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                            text=True).stdout.strip()
    bb = subprocess.run(["docker", "run", "--rm", IMAGE, "busybox"], capture_output=True, text=True).stdout
    m = re.search(r"BusyBox (v[0-9.]+)", bb)
    return {
        "flotilla": f"{flot} (commit {rev.stdout.strip()}{' + local changes' if dirty else ''}), release build, "
                    f"sqlite store",
        "docker": docker, "busybox": m.group(1) if m else "?", "python": sys.version.split()[0],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=24)
    ap.add_argument("--rate", type=float, default=17_000, help="lines a second, all containers (the aim's load)")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--low-rate", type=float, default=1_000)
    ap.add_argument("--low-duration", type=float, default=30)
    ap.add_argument("--stress-rate", type=float, default=40_000, help="a short load past the aim (0: none)")
    ap.add_argument("--stress-duration", type=float, default=15)
    ap.add_argument("--line-bytes", type=int, default=150)
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between GetLogEvents rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    args.containers = max(1, min(args.containers, 100))
    args.rounds = max(1, min(args.rounds, 9))
    args.duration = max(5.0, min(args.duration, 300.0))
    args.low_duration = max(5.0, min(args.low_duration, 300.0))
    args.rate = max(1.0, min(args.rate, 200_000.0))
    args.low_rate = max(0.0, min(args.low_rate, 200_000.0))
    args.stress_rate = max(0.0, min(args.stress_rate, 200_000.0))
    args.stress_duration = max(5.0, min(args.stress_duration, 300.0))
    args.poll = max(0.02, min(args.poll, 2.0))
    args.line_bytes = max(40, min(args.line_bytes, 16_000))

    if sys.prefix == sys.base_prefix:
        raise BenchError("run this with the project venv: .venv/bin/python bench/logs.py")
    for rate, duration in ((args.rate, args.duration), (args.stress_rate, args.stress_duration)):
        per_file = rate / args.containers * duration * (args.line_bytes + 71)
        if per_file > 10 * 2**20:
            log(f"==> NOTE: {per_file / 2**20:.1f} MiB of json-file log per container: past Docker's 10 MiB rotation")
    binary = flotilla_binary()
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    loads = [{"name": "high", "label": f"{args.rate:,.0f} lines/s", "rate": args.rate, "duration": args.duration}]
    if args.low_rate > 0:
        loads.append({"name": "low", "label": f"{args.low_rate:,.0f} lines/s", "rate": args.low_rate,
                      "duration": args.low_duration})
    if args.stress_rate > 0:
        loads.append({"name": "stress", "label": f"{args.stress_rate:,.0f} lines/s", "rate": args.stress_rate,
                      "duration": args.stress_duration})
    tmp = Path(tempfile.mkdtemp(prefix="flotilla-logs-"))
    procs = Procs(tmp)
    results = {(ld["name"], s): [] for ld in loads for s in ("flotilla", "docker logs")}
    started = time.time()
    skipped = []
    try:
        fl = Flotilla(procs, binary, tmp)
        pids = {"agent": [fl.agent.pid], "server": [fl.server.pid], "dockerd": daemon_pids(),
                "reader": [os.getpid()]}
        for rnd in range(1, args.rounds + 1):
            for li, load in enumerate(loads):
                order = ("flotilla", "docker logs") if (rnd + li) % 2 else ("docker logs", "flotilla")
                for system in order:
                    run = f"r{rnd}{load['name'][0]}{'f' if system == 'flotilla' else 'd'}"
                    p = plan(args, load["rate"], load["duration"], run)
                    log(f"==> round {rnd}, {load['label']}, {system} ({p['expected'] * args.containers:,} lines)")
                    alive(fl.server)
                    alive(fl.agent)
                    for attempt in (1, 2):
                        offset = dockerd_log_offset()
                        if system == "flotilla":
                            r = run_flotilla(fl, pids, p, args)
                        else:
                            r = run_docker(p, args, tmp, pids)
                        r["docker_failed"] = docker_write_failures(offset)
                        if not r["docker_failed"] or attempt == 2:
                            break
                        # Docker itself lost lines (e.g. its disk was full for a moment):
                        # not what is measured here; run again once.
                        log(f"    dockerd failed to write {r['docker_failed']} log entries; running again")
                        p = plan(args, load["rate"], load["duration"], run + "x")
                        skipped.append((rnd, load["label"], system, r["docker_failed"]))
                    r["round"] = rnd
                    results[(load["name"], system)].append(r)
                    log(f"    offered {num(r['offered'])}/s, delivered {num(r['throughput'])}/s, p50 {ms(r['p50'])}, "
                        f"p99 {ms(r['p99'])}, max {ms(r['max'])}, lost {r['lost']}, dup {r['dups']}"
                        + (f", lag p99 {ms(r['lag99'])}, agent {r['agent_cpu']:.3f} cores "
                           f"{r['agent_rss_peak'] / 1024:.1f} MiB, server {r['server_cpu']:.3f}"
                           if system == "flotilla" else "")
                        + f", dockerd {r['daemon_cpu']:.3f}, machine {r['machine_cpu']:.2f}"
                        + (f", calls {r['calls']}" if r.get("calls") else ""))
        meta = versions(binary)
    finally:
        procs.stop_all()
        for label in (f"flotilla.bench-logs={os.getpid()}", f"com.amazonaws.ecs.task-definition-family={FAMILY}"):
            ids = containers(label)
            if ids:
                subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        if os.environ.get("KEEP_TMP"):
            log(f"==> kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    cmd = ".venv/bin/python bench/logs.py " + " ".join(sys.argv[1:])
    meta.update(command=cmd.strip(), machine=machine_description(), skipped=skipped,
                date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    text = render(results, loads, args, meta)
    print(text)
    log(f"==> {time.time() - started:.0f} s")
    if args.write:
        write_section("bench/logs.py", text, TITLE)
        log("==> wrote BENCHMARKS.md")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(1)
