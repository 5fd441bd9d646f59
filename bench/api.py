#!/usr/bin/env python3
"""Wire-protocol throughput and latency: Flotilla vs moto_server, side by side.

    .venv/bin/python bench/api.py [--duration 10] [--connections 8] [--rounds 3] [--write]

What it does, in order (everything bounded in time and count):

1. Makes sure its extras are there: `bench/requirements.txt` (moto[server], boto3) into the
   running venv with pip, and the `wrk` load generator with `apt-get install -y wrk`.
2. Builds `cargo build --release -p flotilla` (or uses `$FLOTILLA_BIN`), starts
   `flotilla server --data-dir TMP --api-addr 127.0.0.1:0` (sqlite store, FLOTILLA_LOG=warn)
   and `moto_server -p PORT` on another loopback port, and creates the cluster `bench` on
   both with boto3.
3. Signs one request per operation with botocore's SigV4Auth (service `ecs`, us-east-1,
   JSON 1.1) and checks that each server answers it with HTTP 200 and the expected JSON;
   it aborts with the answer otherwise.
4. For each operation (DescribeClusters of `bench`; RegisterTaskDefinition of a small web
   task definition, which registers a new revision on every request, i.e. a durable write)
   it runs `wrk -t1 -cN -dDs` with a Lua script that replays the signed request (a SigV4
   signature stays valid for 15 minutes; each run is signed just before it starts), first a
   short unrecorded warm-up per system, then ROUNDS rounds of flotilla, moto, flotilla,
   moto, ... Each RegisterTaskDefinition run registers into a fresh family, so no run
   starts with a longer revision history than another of the same system.
5. Reports per system the medians over the rounds of 2xx responses per second, p50 and p99
   latency (wrk's, from the first byte sent to the last received), the non-2xx and socket
   error counts summed over the rounds, and the CPU each process used (in cores, from
   /proc): the server's, wrk's, and everything else's on the machine (other people's
   builds), so a saturated generator or a noisy neighbour shows. Ratios:
   req/s flotilla/moto, and latency moto/flotilla (both > 1 means Flotilla is better).
   `--write` puts the result between the bench/api.py markers in BENCHMARKS.md.

Only the processes it started are stopped (by pid), also on error.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from common import BENCHMARKS, CLK_TCK, cpu_seconds, free_port, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "bench" / "requirements.txt"

ACCESS_KEY = "AKIAFLOTILLABENCH001"
SECRET_KEY = "bEnChMaRk/SeCrEt+KeY0123456789abcdefghij"  # exactly 40 characters
REGION = "us-east-1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
CONTENT_TYPE = "application/x-amz-json-1.1"
CLUSTER = "bench"
SYSTEMS = ("flotilla", "moto")

assert len(SECRET_KEY) == 40


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Requirements


def ensure_requirements():
    if sys.prefix == sys.base_prefix:
        raise BenchError("run this with the project venv: .venv/bin/python bench/api.py (./scripts/venv creates it)")
    wanted = ["boto3", "botocore", "moto", "flask", "flask_cors", "werkzeug"]
    bindir = Path(sys.executable).parent
    missing = [m for m in wanted if importlib.util.find_spec(m) is None]
    if missing or not (bindir / "moto_server").exists():
        log(f"==> installing {REQUIREMENTS.relative_to(ROOT)} into {sys.prefix} (missing: {missing or ['moto_server']})")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            check=True,
            timeout=600,
        )
        importlib.invalidate_caches()
    if shutil.which("wrk") is None:
        if os.geteuid() != 0:
            raise BenchError("wrk is missing: install it with `sudo apt-get install -y wrk`")
        log("==> installing wrk (apt-get install -y wrk)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, timeout=600)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, check=True, timeout=600)
    return bindir / "moto_server"


def flotilla_binary():
    if os.environ.get("FLOTILLA_BIN"):
        return Path(os.environ["FLOTILLA_BIN"])
    log("==> cargo build --release -p flotilla")
    r = subprocess.run(["cargo", "build", "--release", "-p", "flotilla"], cwd=ROOT, timeout=3600)
    if r.returncode != 0:
        raise BenchError("cargo build --release -p flotilla failed")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "flotilla"


# ---------------------------------------------------------------------------------------
# Servers


def wait_http(url, deadline, proc, logfile):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited with {proc.returncode}:\n{tail(logfile)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except urllib.error.HTTPError:
            return b""  # it answers HTTP: it is up
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{url} did not answer within the start timeout:\n{tail(logfile)}")


def tail(path, n=3000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


def start_flotilla(binary, tmp, keys=None):
    """`flotilla server` with `keys` (access key id, secret) as its root key pair."""
    access_key, secret_key = keys or (ACCESS_KEY, SECRET_KEY)
    data = tmp / "flotilla-data"
    data.mkdir()
    logfile = tmp / "flotilla.log"
    env = dict(
        os.environ,
        FLOTILLA_ACCESS_KEY_ID=access_key,
        FLOTILLA_SECRET_ACCESS_KEY=secret_key,
        FLOTILLA_LOG="warn",
        # The image registry on a free port (older binaries ignore it).
        FLOTILLA_REGISTRY_ADDR="127.0.0.1:0",
    )
    proc = subprocess.Popen(
        [str(binary), "server", "--data-dir", str(data), "--api-addr", "127.0.0.1:0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=open(logfile, "ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    endpoint_file = data / "endpoint"
    while not endpoint_file.exists():
        if proc.poll() is not None:
            raise BenchError(f"flotilla exited with {proc.returncode}:\n{tail(logfile)}")
        if time.monotonic() > deadline:
            raise BenchError(f"flotilla wrote no endpoint file within 30 s:\n{tail(logfile)}")
        time.sleep(0.05)
    endpoint = endpoint_file.read_text().strip().rstrip("/")
    health = wait_http(endpoint + "/_flotilla/health", deadline, proc, logfile)
    if health.strip() != b"ok":
        raise BenchError(f"flotilla health answered {health!r}, expected 'ok'")
    return proc, endpoint, logfile


def start_moto(moto_server, tmp):
    port = free_port()
    logfile = tmp / "moto.log"
    proc = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=open(logfile, "ab"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(endpoint + "/moto-api/", time.monotonic() + 60, proc, logfile)
    return proc, endpoint, logfile


def stop(proc, grace=15):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def boto_client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=30),
    )


# ---------------------------------------------------------------------------------------
# Requests


def task_definition(family):
    """A realistic small web task definition: one container, image, memory, ports, env."""
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "web",
                "image": "public.ecr.aws/nginx/nginx:1.27-alpine",
                "essential": True,
                "cpu": 128,
                "memory": 256,
                "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
                "environment": [
                    {"name": "APP_ENV", "value": "production"},
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "UPSTREAM_URL", "value": "http://api.internal:8080"},
                ],
            }
        ],
        "tags": [{"key": "team", "value": "bench"}],
    }


def op_body(op, family=None):
    if op == "DescribeClusters":
        return json.dumps({"clusters": [CLUSTER]}, separators=(",", ":"))
    if op == "RegisterTaskDefinition":
        return json.dumps(task_definition(family), separators=(",", ":"))
    raise ValueError(op)


def sign(endpoint, op, body, keys=None):
    """Headers of a SigV4-signed ECS JSON 1.1 request (valid for 15 minutes), signed with
    `keys` (access key id, secret; the root pair by default)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = endpoint.split("://", 1)[1]
    req = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body.encode(),
        headers={"Host": host, "X-Amz-Target": f"{TARGET_PREFIX}.{op}", "Content-Type": CONTENT_TYPE},
    )
    SigV4Auth(Credentials(*(keys or (ACCESS_KEY, SECRET_KEY))), "ecs", REGION).add_auth(req)
    return dict(req.headers.items())


def call(endpoint, op, body):
    headers = sign(endpoint, op, body)
    req = urllib.request.Request(endpoint + "/", data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def verify(system, endpoint):
    status, raw = call(endpoint, "DescribeClusters", op_body("DescribeClusters"))
    answer = _json(raw)
    clusters = (answer or {}).get("clusters") or []
    if status != 200 or len(clusters) != 1 or clusters[0].get("clusterName") != CLUSTER or answer.get("failures"):
        raise BenchError(f"{system}: DescribeClusters answered HTTP {status}, expected 200 with cluster {CLUSTER!r}: {raw[:2000]!r}")
    family = f"bench-verify-{system}"
    status, raw = call(endpoint, "RegisterTaskDefinition", op_body("RegisterTaskDefinition", family))
    td = ((_json(raw) or {}).get("taskDefinition")) or {}
    ok = (
        status == 200
        and td.get("family") == family
        and td.get("revision") == 1
        and td.get("status") == "ACTIVE"
        and [c.get("name") for c in td.get("containerDefinitions", [])] == ["web"]
    )
    if not ok:
        raise BenchError(f"{system}: RegisterTaskDefinition answered HTTP {status}, expected 200 with {family}:1: {raw[:2000]!r}")


def _json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------
# Load generation


LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"status":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def lua_long(s):
    level = "=" * 4
    assert f"]{level}]" not in s
    return f"[{level}[{s}]{level}]"


def write_lua(path, endpoint, op, body, keys=None):
    headers = sign(endpoint, op, body, keys)
    lines = ['wrk.method = "POST"', 'wrk.path = "/"', f"wrk.body = {lua_long(body)}"]
    for k, v in headers.items():
        lines.append(f"wrk.headers[ {lua_long(k)} ] = {lua_long(v)}")
    path.write_text("\n".join(lines) + "\n" + LUA_DONE)


ANSI = re.compile(r"\x1b\[[0-9;]*m")
MOTO_STATUS = re.compile(r'"[A-Z]+ \S+ HTTP/[0-9.]+" (\d{3}) ')


def log_errors(system, logfile, offset):
    """Non-2xx answers the server logged since offset: {description: count}, new offset.

    Flotilla logs every failed operation at warn (`operation failed ... error=...`); moto's
    Werkzeug access log has the status of every request."""
    with open(logfile, "rb") as f:
        f.seek(offset)
        data = f.read()
    seen = {}
    for line in ANSI.sub("", data.decode(errors="replace")).splitlines():
        if system == "flotilla" and "operation failed" in line and "error=" in line:
            key = re.sub(r"bench-web-[\w-]+", "<family>", line.split("error=", 1)[1].strip())
        elif system == "moto" and (m := MOTO_STATUS.search(line)) and not m.group(1).startswith("2"):
            key = f"HTTP {m.group(1)}"
        else:
            continue
        seen[key] = seen.get(key, 0) + 1
    return seen, offset + len(data)


def machine_busy_seconds():
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = vals
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_wrk(tmp, endpoint, server_pid, op, body, duration, connections, keys=None):
    lua = tmp / "req.lua"
    write_lua(lua, endpoint, op, body, keys)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(lua), endpoint + "/"]
    s0, m0, c0, t0 = cpu_seconds(server_pid), machine_busy_seconds(), children_cpu(), time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    s1, m1, c1, t1 = cpu_seconds(server_pid), machine_busy_seconds(), children_cpu(), time.monotonic()
    line = next((l for l in r.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if r.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({r.returncode}): {r.stdout[-2000:]}{r.stderr[-2000:]}")
    w = json.loads(line[len("WRKJSON ") :])
    wall = t1 - t0
    ok = w["requests"] - w["status"]
    server_cores = (s1 - s0) / wall
    wrk_cores = (c1 - c0) / wall
    return {
        "requests": w["requests"],
        "rps": ok / (w["duration_us"] / 1e6),
        "p50_ms": w["p50_us"] / 1000,
        "p90_ms": w["p90_us"] / 1000,
        "p99_ms": w["p99_us"] / 1000,
        "max_ms": w["max_us"] / 1000,
        "non2xx": w["status"],
        "socket_errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "server_cores": server_cores,
        "wrk_cores": wrk_cores,
        "other_cores": max(0.0, (m1 - m0) / wall - server_cores - wrk_cores),
    }


# ---------------------------------------------------------------------------------------
# Report


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def fmt_ms(x):
    return f"{x:.2f} ms" if x < 10 else f"{x:.1f} ms"


def render(results, args, meta):
    ops = list(results)
    out = []
    out.append(f"Command: `{meta['command']}`\n")
    out.append(f"- Date: {meta['date']}")
    out.append(f"- Machine: {meta['machine']}")
    out.append(f"- Flotilla: {meta['flotilla']}")
    out.append(f"- moto: {meta['moto']}")
    out.append(
        f"- Load: {meta['wrk']}, `-t1 -c{args.connections} -d{args.duration}s`, one signed request replayed; "
        f"{args.rounds} interleaved rounds per system and operation after a {args.warmup} s warm-up each"
    )
    out.append("")
    out.append("| operation | system | req/s | p50 | p99 | non-2xx | socket errors | server CPU | wrk CPU | other CPU |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for op in ops:
        for system in SYSTEMS:
            runs = results[op][system]
            out.append(
                f"| {op} | {system} | {median(runs, 'rps'):,.0f} | {fmt_ms(median(runs, 'p50_ms'))} | "
                f"{fmt_ms(median(runs, 'p99_ms'))} | {sum(r['non2xx'] for r in runs)} | "
                f"{sum(r['socket_errors'] for r in runs)} | {median(runs, 'server_cores'):.2f} | "
                f"{median(runs, 'wrk_cores'):.2f} | {median(runs, 'other_cores'):.2f} |"
            )
    out.append("")
    out.append("| operation | req/s flotilla/moto | p50 moto/flotilla | p99 moto/flotilla |")
    out.append("| --- | ---: | ---: | ---: |")
    for op in ops:
        f, m = results[op]["flotilla"], results[op]["moto"]
        out.append(
            f"| {op} | {median(f, 'rps') / median(m, 'rps'):.1f}× | "
            f"{median(m, 'p50_ms') / median(f, 'p50_ms'):.1f}× | {median(m, 'p99_ms') / median(f, 'p99_ms'):.1f}× |"
        )
    out.append("")
    out.append(
        "req/s counts 2xx answers only; p50/p99 are wrk's latencies of every answer; each figure is the median "
        "over the rounds, errors are summed. RegisterTaskDefinition runs register revisions of one family from "
        f"all {args.connections} connections at once (contended writes to one family counter). CPU columns are "
        "cores used during the run (median) by the server process (all threads), by wrk, and by the rest of the "
        "machine (other people's work) — out of 2."
    )
    errors = []
    for op in ops:
        for system in SYSTEMS:
            seen = {}
            for r in results[op][system]:
                for what, n in r["errors"].items():
                    seen[what] = seen.get(what, 0) + n
            for what, n in sorted(seen.items(), key=lambda kv: -kv[1]):
                errors.append(f"- {op} on {system}: {n} × `{what}`")
    if errors:
        out.append("")
        out.append("Non-2xx answers, as the servers logged them (all rounds):\n")
        out.extend(errors)
    out.append("")
    out.append("<details><summary>Every run</summary>\n")
    out.append("| operation | round | system | req/s | p50 | p99 | non-2xx | server CPU | wrk CPU | other CPU |")
    out.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for op in ops:
        for i in range(args.rounds):
            for system in SYSTEMS:
                r = results[op][system][i]
                out.append(
                    f"| {op} | {i + 1} | {system} | {r['rps']:,.0f} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r['p99_ms'])} | "
                    f"{r['non2xx']} | {r['server_cores']:.2f} | {r['wrk_cores']:.2f} | {r['other_cores']:.2f} |"
                )
    out.append("\n</details>")
    return "\n".join(out) + "\n"


def machine_description():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores shared with other builds, {mem_gib:.0f} GiB, Linux {platform.release()}"


def flotilla_description(binary):
    try:
        version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        version = "flotilla"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    where = f"commit {rev.stdout.strip()}" if rev.returncode == 0 else "no commit yet"
    if rev.returncode == 0 and dirty.stdout.strip():
        where += " + local changes"
    return f"{version} ({where}), release build, sqlite store (synchronous=FULL) on {fs_type(tempfile.gettempdir())}"


def fs_type(path):
    r = subprocess.run(["df", "--output=fstype", path], capture_output=True, text=True, timeout=10)
    lines = r.stdout.split()
    return lines[-1] if r.returncode == 0 and len(lines) > 1 else "unknown filesystem"


def moto_description():
    from importlib.metadata import version

    return f"moto {version('moto')} (`moto_server`: Werkzeug {version('werkzeug')} threaded server, as shipped)"


def wrk_description():
    r = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    first = (r.stdout + r.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (1-60, default 10)")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections (1-64, default 8)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per system and operation (1-9, default 3)")
    ap.add_argument("--warmup", type=int, default=2, help="unrecorded warm-up seconds per system and operation (0-10)")
    ap.add_argument("--write", action="store_true", help="update the bench/api.py section of BENCHMARKS.md")
    args = ap.parse_args()
    if not (1 <= args.duration <= 60 and 1 <= args.connections <= 64 and 1 <= args.rounds <= 9 and 0 <= args.warmup <= 10):
        ap.error("out of bounds: --duration 1-60, --connections 1-64, --rounds 1-9, --warmup 0-10")

    moto_server = ensure_requirements()
    binary = flotilla_binary()
    if not binary.exists():
        raise BenchError(f"no flotilla binary at {binary}")

    flo = moto = None
    tmp = Path(tempfile.mkdtemp(prefix="flotilla-bench-api-"))
    try:
        flo, flo_url, flo_log = start_flotilla(binary, tmp)
        moto, moto_url, moto_log = start_moto(moto_server, tmp)
        servers = {"flotilla": (flo, flo_url, flo_log), "moto": (moto, moto_url, moto_log)}
        log(f"==> flotilla pid {flo.pid} at {flo_url}; moto_server pid {moto.pid} at {moto_url}")

        for system, (_, url, _) in servers.items():
            boto_client(url).create_cluster(clusterName=CLUSTER)
            verify(system, url)
        log("==> both servers answer DescribeClusters and RegisterTaskDefinition as expected")

        results = {}
        for op in ("DescribeClusters", "RegisterTaskDefinition"):
            results[op] = {s: [] for s in SYSTEMS}
            for rnd in range(-1 if args.warmup else 0, args.rounds):
                for system in SYSTEMS:
                    proc, url, logfile = servers[system]
                    if proc.poll() is not None:
                        raise BenchError(f"{system} exited with {proc.returncode}:\n{tail(logfile)}")
                    family = f"bench-web-{system}-{'warmup' if rnd < 0 else f'r{rnd + 1}'}"
                    body = op_body(op, family)
                    duration = args.warmup if rnd < 0 else args.duration
                    offset = logfile.stat().st_size
                    r = run_wrk(tmp, url, proc.pid, op, body, duration, args.connections)
                    r["errors"], _ = log_errors(system, logfile, offset)
                    if op == "RegisterTaskDefinition":
                        # Every 2xx answer must be a registered revision.
                        last = boto_client(url).describe_task_definition(taskDefinition=family)["taskDefinition"]["revision"]
                        ok = r["requests"] - r["non2xx"]
                        if last < ok:
                            raise BenchError(f"{system}: {ok} successful registrations of {family} but the last revision is {last}")
                    label = "warm-up" if rnd < 0 else f"round {rnd + 1}"
                    log(
                        f"    {op:<22} {label:<8} {system:<8} {r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                        f"p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non2xx']}  sock err {r['socket_errors']}  "
                        f"cpu server {r['server_cores']:.2f} wrk {r['wrk_cores']:.2f} other {r['other_cores']:.2f}"
                    )
                    for what, n in r["errors"].items():
                        log(f"      {n} x {what}")
                    if rnd >= 0:
                        results[op][system].append(r)

        cmd = ".venv/bin/python bench/api.py"
        if (args.duration, args.connections, args.rounds, args.warmup) != (10, 8, 3, 2):
            cmd += f" --duration {args.duration} --connections {args.connections} --rounds {args.rounds} --warmup {args.warmup}"
        meta = {
            "command": cmd + " --write",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_description(),
            "flotilla": flotilla_description(binary),
            "moto": moto_description(),
            "wrk": wrk_description(),
        }
        section = render(results, args, meta)
        print(section)
        if args.write:
            write_section("bench/api.py", section, "## API over the wire: Flotilla vs moto_server")
            log(f"==> wrote {BENCHMARKS.relative_to(ROOT)}")
    finally:
        stop(flo)
        stop(moto)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log(f"bench/api.py: {e}")
        sys.exit(1)
