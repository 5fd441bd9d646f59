#!/usr/bin/env python3
"""Load balancer data plane: Flotilla vs nginx 1.22 and HAProxy 2.6 as reverse proxies.

    .venv/bin/python bench/lb.py [--duration 10] [--warmup 2] [--connections 64]
        [--threads 2] [--streams 1] [--rounds 3] [--no-haproxy] [--write]

What it does, in order (every loop is bounded in count and time):

1. Makes sure its tools are there, from Debian, with `apt-get install -y` only for what is
   missing (after `apt-get update` if that fails): `nginx` (package nginx-light), `h2load`
   (nghttp2-client), `openssl`, and `haproxy` unless `--no-haproxy` (HAProxy is skipped
   with a note if it cannot be installed). The flotilla binary is `$FLOTILLA_BIN`, else a
   release build made now.
2. Makes a self-signed ECDSA P-256 certificate with the openssl CLI (one for everyone).
3. Starts, each as a child process of this script with its own configuration in a
   temporary directory (never the system's nginx or HAProxy service):
   - the backend: nginx, one worker, answering every request with the same 100-byte
     body (`return 200`), keep-alive, access log off, on 127.0.0.1:FREE;
   - Flotilla: `flotilla server` on a fresh data directory (API on 127.0.0.1:FREE,
     registry on a free port, `--lb-bind 127.0.9.1-127.0.9.20`), then through its ELBv2
     API with boto3: a load balancer, an `ip` target group (the backend's port, health
     check `/` every 5 s, timeout 2 s, healthy after 2) with the target 127.0.0.1, an
     HTTP listener, and — when ACM ImportCertificate answers — the certificate imported
     and an HTTPS listener using it (h2 is offered by ALPN: `routing.http2.enabled`
     defaults to true). It waits until DescribeTargetHealth says healthy;
   - nginx as reverse proxy: 2 workers (Flotilla's runtime uses both cores too), an
     HTTP and an `ssl http2` server, `proxy_pass` to an upstream with `keepalive 64`,
     `proxy_http_version 1.1` and an empty `Connection` header;
   - HAProxy: `nbthread 2`, `http-reuse always`, an HTTP and an `ssl alpn h2,http/1.1`
     bind.
   nginx and HAProxy add X-Forwarded-For/-Proto/-Port as the ALB does, and allow a
   million requests per connection (client side and upstream) so no proxy recycles
   connections during a run. Every proxy is checked once (200 and the exact body;
   h2 negotiated on the HTTPS port) before anything is measured.
4. For each protocol (HTTP/1.1 over plain TCP with `h2load --h1`; HTTPS with h2 by
   ALPN), ROUNDS interleaved rounds of flotilla, nginx, haproxy, each one
   `h2load -cC -tT -mM --warm-up-time=W -D D` with the same settings. h2load prints no
   latency percentiles (only min/max/mean/sd), so it writes a per-request log
   (`--log-file`: status and microseconds to the end of the response) from which this
   script counts 2xx answers and takes p50 and p99. Errors are h2load's failed, errored
   and timed-out requests; non-2xx are counted from the log.
5. Reports per protocol and proxy the medians over the rounds of 2xx req/s, p50, p99 and
   the CPU used during the run, in cores (from /proc): the proxy's (Flotilla: the whole
   server process; nginx: master and workers), the backend's, h2load's and everything
   else on the machine; the proxy's CPU per request; and Flotilla/nginx (and
   Flotilla/HAProxy) ratios against the aim "at least nginx's req/s, p99 no worse".
   `--write` puts the result between the bench/lb.py markers in BENCHMARKS.md.

Only the processes it started are stopped (by pid), also on error, and its temporary
directory is removed.
"""
import argparse
import datetime
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from api import children_cpu, machine_busy_seconds, machine_description, tail  # noqa: E402
from common import BENCHMARKS, cpu_seconds, free_port, percentile, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TITLE = "## Load balancer: Flotilla vs nginx and HAProxy (bench/lb.py)"
ACCESS_KEY = "AKIAFLOTILLABENCHLB1"
SECRET_KEY = "bEnChLoAdBaLaNcEr/SeCrEt+KeY0123456789ab"
REGION = "us-east-1"
LB_RANGE = ("127.0.9.1", "127.0.9.20")
BODY = ("flotilla-bench-backend " * 5)[:99] + "\n"  # 100 bytes
PROTOCOLS = ("HTTP/1.1", "HTTPS+h2")

assert len(ACCESS_KEY) == 20 and len(SECRET_KEY) == 40 and len(BODY) == 100


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Tools


def apt_install(packages):
    if os.geteuid() != 0:
        raise BenchError(f"missing tools: install them with `sudo apt-get install -y {' '.join(packages)}`")
    log(f"==> apt-get install -y {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", *packages]
    if subprocess.run(install, env=env, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, timeout=900)
        return subprocess.run(install, env=env, timeout=900).returncode == 0
    return True


def ensure_tools(haproxy):
    """The Debian packages this needs; returns whether HAProxy is available."""
    if sys.prefix == sys.base_prefix:
        raise BenchError("run this with the project venv: .venv/bin/python bench/lb.py (./scripts/venv creates it)")
    try:
        import boto3  # noqa: F401
    except ImportError as e:
        raise BenchError("boto3 is missing from the venv: ./scripts/venv installs it") from e
    wanted = {"nginx": "nginx-light", "h2load": "nghttp2-client", "openssl": "openssl"}
    missing = [pkg for exe, pkg in wanted.items() if not shutil.which(exe)]
    if missing and not apt_install(missing):
        raise BenchError(f"apt-get install -y {' '.join(missing)} failed")
    if haproxy and not shutil.which("haproxy"):
        if not apt_install(["haproxy"]):
            log("==> NOTE: haproxy could not be installed; measuring without it")
    return haproxy and shutil.which("haproxy") is not None


def flotilla_binary():
    if os.environ.get("FLOTILLA_BIN"):
        return Path(os.environ["FLOTILLA_BIN"])
    log("==> cargo build --release -p flotilla")
    if subprocess.run(["cargo", "build", "--release", "-p", "flotilla"], cwd=ROOT, timeout=3600).returncode != 0:
        raise BenchError("cargo build --release -p flotilla failed")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return (target if target.is_absolute() else ROOT / target) / "release" / "flotilla"


def debian_version(package):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, timeout=10)
    return r.stdout.strip() if r.returncode == 0 else "unknown version"


def nginx_package():
    """Which Debian nginx flavour is installed, with its version."""
    for package in ("nginx-light", "nginx-core", "nginx-full", "nginx-extras", "nginx"):
        version = debian_version(package)
        if version[:1].isdigit():
            return f"{package} {version}"
    return "nginx, not from a Debian package"


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def make_cert(tmp):
    """A self-signed P-256 certificate for bench.flotilla.test and 127.0.0.1 (PEM files)."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=bench.flotilla.test",
         "-addext", "subjectAltName=DNS:bench.flotilla.test,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)
    return cert, key


def free_port_on(host):
    """A port free on both 127.0.0.1 and `host`."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue
    raise BenchError(f"no free port on {host}")


# ---------------------------------------------------------------------------------------
# Processes


class Procs:
    """Every process this script starts, stopped by pid at the end."""

    def __init__(self, tmp):
        self.tmp, self.all = tmp, []

    def start(self, name, cmd, env=None):
        logfile = self.tmp / f"{name}.log"
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=open(logfile, "ab"),
                                stderr=subprocess.STDOUT)
        proc.name, proc.logfile = name, logfile
        self.all.append(proc)
        return proc

    def stop_all(self):
        for proc in reversed(self.all):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.all):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def alive(proc):
    if proc.poll() is not None:
        raise BenchError(f"{proc.name} exited with {proc.returncode}:\n{tail(proc.logfile)}")


def wait_until(what, check, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive(proc)
        if check():
            return
        time.sleep(0.1)
    raise BenchError(f"{what} within {timeout} s:\n{tail(proc.logfile)}")


def http_get(url, timeout=3):
    """(status, body) of a GET, or None when nothing answers."""
    ctx = ssl._create_unverified_context()  # our own self-signed certificate
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError:
        return None


def tree_pids(pid):
    """`pid` and its children (nginx's master and workers)."""
    r = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=10)
    return [pid] + [int(p) for p in r.stdout.split()]


def nginx_start(procs, name, tmp, server_block, workers):
    prefix = tmp / name
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes {workers};
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path tmp-body;
    proxy_temp_path tmp-proxy;
    fastcgi_temp_path tmp-fastcgi;
    uwsgi_temp_path tmp-uwsgi;
    scgi_temp_path tmp-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
{server_block}
}}
""")
    return procs.start(name, ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf),
                              "-g", "daemon off; master_process on;"])


def start_backend(procs, tmp):
    port = free_port()
    proc = nginx_start(procs, "backend", tmp, f"""
    server {{
        listen 127.0.0.1:{port} reuseport;
        default_type text/plain;
        location / {{ return 200 "{BODY[:-1]}\\n"; }}
    }}""", workers=1)
    url = f"http://127.0.0.1:{port}/"
    wait_until("the backend nginx did not answer", lambda: http_get(url) == (200, BODY), proc, 20)
    return proc, port


def start_nginx(procs, tmp, backend_port, cert, key):
    http, https = free_port(), free_port()
    proc = nginx_start(procs, "nginx", tmp, f"""
    upstream backend {{
        server 127.0.0.1:{backend_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{http};
        listen 127.0.0.1:{https} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;  # 1.22's default has no TLS 1.3; HAProxy and rustls offer it
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Port $server_port;
        }}
    }}""", workers=2)
    return proc, {"HTTP/1.1": f"http://127.0.0.1:{http}/", "HTTPS+h2": f"https://127.0.0.1:{https}/"}


def start_haproxy(procs, tmp, backend_port, cert, key):
    http, https = free_port(), free_port()
    pem = tmp / "haproxy.pem"
    pem.write_text(cert.read_text() + key.read_text())
    pem.chmod(0o600)
    conf = tmp / "haproxy.cfg"
    conf.write_text(f"""
global
    nbthread 2
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 75s
    timeout server 75s
    timeout http-keep-alive 75s
    option http-keep-alive
    option forwardfor
frontend front
    bind 127.0.0.1:{http}
    bind 127.0.0.1:{https} ssl crt {pem} alpn h2,http/1.1
    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
    http-request set-header X-Forwarded-Proto http if !{{ ssl_fc }}
    http-request set-header X-Forwarded-Port %[dst_port]
    default_backend back
backend back
    http-reuse always
    server backend 127.0.0.1:{backend_port}
""")
    proc = procs.start("haproxy", ["haproxy", "-db", "-f", str(conf)])
    return proc, {"HTTP/1.1": f"http://127.0.0.1:{http}/", "HTTPS+h2": f"https://127.0.0.1:{https}/"}


def start_flotilla(procs, binary, tmp, backend_port, cert, key):
    """The server and its load balancer; URLs by protocol (no HTTPS+h2 when ACM is not
    there yet) and notes on what was skipped."""
    import boto3
    from botocore.config import Config

    api_port = free_port()
    data = tmp / "flotilla-data"
    data.mkdir()
    env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
               FLOTILLA_LOG="warn")
    proc = procs.start("flotilla", [str(binary), "server", "--data-dir", str(data), "--api-addr",
                                    f"127.0.0.1:{api_port}", "--registry-addr", "127.0.0.1:0",
                                    "--lb-bind", "-".join(LB_RANGE)], env=env)
    endpoint = f"http://127.0.0.1:{api_port}"
    wait_until("flotilla's API did not answer /_flotilla/health",
               lambda: http_get(endpoint + "/_flotilla/health") == (200, "ok\n"), proc, 60)

    def client(service):
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY,
                            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))

    elb = client("elbv2")
    lb = elb.create_load_balancer(Name="bench", Type="application")["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name="bench-backend", Protocol="HTTP", Port=backend_port, TargetType="ip", HealthCheckPath="/",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
    )["TargetGroups"][0]
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "127.0.0.1", "Port": backend_port}])
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    # A fresh data directory and one load balancer: it has the range's first address.
    host = LB_RANGE[0]
    http = free_port_on(host)
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=http, DefaultActions=forward)
    urls, notes = {"HTTP/1.1": f"http://{host}:{http}/"}, []
    try:
        arn = client("acm").import_certificate(Certificate=cert.read_bytes(), PrivateKey=key.read_bytes())[
            "CertificateArn"]
        https = free_port_on(host)
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=https,
                            Certificates=[{"CertificateArn": arn}], DefaultActions=forward)
        urls["HTTPS+h2"] = f"https://{host}:{https}/"
    except Exception as e:  # noqa: BLE001 — ACM is being wired: say so and go on without HTTPS
        notes.append(f"Flotilla's HTTPS listener was not measured: ACM ImportCertificate or the HTTPS "
                     f"CreateListener failed ({type(e).__name__}: {str(e)[:300]})")
        log(f"==> NOTE: {notes[-1]}")

    def healthy():
        states = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
        return [s["TargetHealth"]["State"] for s in states] == ["healthy"]

    wait_until("the target did not become healthy", healthy, proc, 60)
    return proc, urls, notes


# ---------------------------------------------------------------------------------------
# Load


def h2load(url, protocol, args, logfile, check=False):
    cmd = ["h2load", f"-c{args.connections}", f"-t{args.threads}", f"-m{args.streams}"]
    if protocol == "HTTP/1.1":
        cmd.append("--h1")
    if check:
        cmd += ["-n", str(args.connections * 4)]
    else:
        cmd += [f"--warm-up-time={args.warmup}", f"-D{args.duration}", f"--log-file={logfile}"]
    return cmd + [url]


def verify(system, url, protocol, args):
    """One answer by urllib (status and body) and a short h2load run in the measured protocol."""
    got = http_get(url)
    if got != (200, BODY):
        raise BenchError(f"{system} {protocol}: GET {url} answered {got!r}, expected 200 with the backend's body")
    r = subprocess.run(h2load(url, protocol, args, None, check=True), capture_output=True, text=True, timeout=60)
    want = "h2" if protocol == "HTTPS+h2" else "http/1.1"
    if r.returncode != 0 or f"Application protocol: {want}" not in r.stdout or " 0 failed, 0 errored" not in r.stdout:
        raise BenchError(f"{system} {protocol}: h2load check failed (want {want}, no errors):\n{r.stdout[-2000:]}{r.stderr[-1000:]}")
    tls = dict(re.findall(r"^(TLS Protocol|Cipher|Server Temp Key): (.+)$", r.stdout, re.M))
    return " ".join(tls[k] for k in ("TLS Protocol", "Cipher", "Server Temp Key") if k in tls)


def run_load(url, protocol, args, tmp, proxy_pids, backend_pids):
    logfile = tmp / "h2load-requests.tsv"
    logfile.unlink(missing_ok=True)
    cmd = h2load(url, protocol, args, logfile)
    cpu = lambda pids: sum(cpu_seconds(p) for p in pids)  # noqa: E731
    g0, s0 = children_cpu(), time.monotonic()
    gen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The proxy's, the backend's and the machine's CPU over the measured seconds only.
        time.sleep(args.warmup)
        p0, b0, m0, t0 = cpu(proxy_pids), cpu(backend_pids), machine_busy_seconds(), time.monotonic()
        stdout, stderr = gen.communicate(timeout=args.duration + 60)
    finally:
        if gen.poll() is None:
            gen.kill()
            gen.wait()
    p1, b1, m1, t1 = cpu(proxy_pids), cpu(backend_pids), machine_busy_seconds(), time.monotonic()
    g1 = children_cpu()
    counts = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored, (\d+) timeout", stdout)
    if gen.returncode != 0 or counts is None:
        raise BenchError(f"h2load failed ({gen.returncode}): {' '.join(cmd)}\n{stdout[-2000:]}{stderr[-2000:]}")
    latencies, non2xx = [], 0
    with open(logfile) as f:
        for line in f:
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            if fields[1].startswith("2"):
                latencies.append(int(fields[2]) / 1000)
            else:
                non2xx += 1
    _, _, _, _, failed, errored, timeout = (int(g) for g in counts.groups())
    wall = t1 - t0
    total = len(latencies) + non2xx
    return {
        "rps": len(latencies) / args.duration,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "requests": total,
        "non2xx": non2xx,
        "errors": failed + errored + timeout,
        "proxy_cores": (p1 - p0) / wall,
        "backend_cores": (b1 - b0) / wall,
        # h2load's own CPU is known once it exits: over warm-up and run.
        "gen_cores": (g1 - g0) / (t1 - s0),
        "other_cores": max(0.0, (m1 - m0 - (p1 - p0) - (b1 - b0)) / wall - (g1 - g0) / (t1 - s0)),
        "proxy_us_per_req": (p1 - p0) * 1e6 / total if total else float("nan"),
    }


# ---------------------------------------------------------------------------------------
# Report


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def fmt_ms(x):
    return f"{x:.2f} ms" if x < 10 else f"{x:.1f} ms"


def render(results, systems, args, meta, notes):
    out = ["`bench/lb.py` sends the same HTTP load through Flotilla's application load balancer and through "
           "nginx and HAProxy configured as reverse proxies to the same backend (an nginx answering a fixed "
           "100-byte body), all on loopback, with one load generator (h2load) and the same settings for each, "
           "in interleaved rounds: HTTP/1.1 over plain TCP, and HTTPS with HTTP/2. Flotilla's side is set up "
           "through its own ELBv2 (and ACM) API with boto3. See the docstring of `bench/lb.py` for the details.\n",
           f"Command: `{meta['command']}`\n"]
    out += [f"- Date: {meta['date']}", f"- Machine: {meta['machine']}", f"- Flotilla: {meta['flotilla']}",
            f"- nginx: {meta['nginx']}, 2 workers, upstream `keepalive 64`, HTTP/1.1 to the backend",
            f"- HAProxy: {meta['haproxy']}, `nbthread 2`, `http-reuse always`" if "haproxy" in systems
            else "- HAProxy: not measured",
            f"- Backend: nginx, 1 worker, `return 200` of a 100-byte body, keep-alive, on 127.0.0.1",
            f"- Load: {meta['h2load']}, `-c{args.connections} -t{args.threads} -m{args.streams} "
            f"--warm-up-time={args.warmup} -D{args.duration}` (`--h1` for HTTP/1.1; HTTPS negotiates h2 by ALPN "
            f"with a self-signed ECDSA P-256 certificate: {meta['tls'] or 'no HTTPS measured'}); {args.rounds} interleaved rounds (flotilla, nginx, haproxy) per "
            f"protocol", ""]
    out.append("| protocol | proxy | req/s | p50 | p99 | non-2xx | errors | proxy CPU | µs proxy CPU/req | "
               "backend CPU | h2load CPU | other CPU |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for proto in PROTOCOLS:
        for system in systems:
            runs = results[proto].get(system)
            if not runs:
                out.append(f"| {proto} | {system} | not measured | | | | | | | | | |")
                continue
            out.append(
                f"| {proto} | {system} | {med(runs, 'rps'):,.0f} | {fmt_ms(med(runs, 'p50_ms'))} | "
                f"{fmt_ms(med(runs, 'p99_ms'))} | {sum(r['non2xx'] for r in runs)} | {sum(r['errors'] for r in runs)} | "
                f"{med(runs, 'proxy_cores'):.2f} | {med(runs, 'proxy_us_per_req'):.1f} | "
                f"{med(runs, 'backend_cores'):.2f} | {med(runs, 'gen_cores'):.2f} | {med(runs, 'other_cores'):.2f} |")
    out += ["", "| protocol | vs | req/s flotilla/other | p99 flotilla/other | proxy CPU per request flotilla/other | "
                "aim (req/s ≥ 1, p99 ≤ 1) |", "| --- | --- | ---: | ---: | ---: | --- |"]
    for proto in PROTOCOLS:
        f = results[proto].get("flotilla")
        for other in systems[1:]:
            o = results[proto].get(other)
            if not f or not o:
                continue
            rps = med(f, "rps") / med(o, "rps")
            p99 = med(f, "p99_ms") / med(o, "p99_ms")
            cpu = med(f, "proxy_us_per_req") / med(o, "proxy_us_per_req")
            aim = "met" if rps >= 1 and p99 <= 1 else "not met"
            out.append(f"| {proto} | {other} | {rps:.2f}× | {p99:.2f}× | {cpu:.2f}× | {aim} |")
    out += ["", "req/s counts 2xx answers in the measured seconds; p50/p99 are over every 2xx answer of the run, "
            "from h2load's per-request log (h2load itself prints only min/max/mean/sd); each figure is the median "
            "over the rounds, non-2xx and errors (h2load's failed + errored + timed out) are summed. CPU columns "
            "are cores used during the measured seconds (median), out of 2 shared by everything: the proxy "
            "(Flotilla: the whole server process, all threads; nginx: master and workers; HAProxy: its one "
            "process), the backend nginx, h2load, and the rest of the machine (other people's work); h2load's includes its warm-up. µs "
            "proxy CPU/req is the proxy's CPU over the measured requests. The load generator, the proxy and "
            "the backend share the machine's 2 cores, so a proxy that uses less CPU leaves more to the others."]
    if notes:
        out += [""] + [f"- Note: {n}" for n in notes]
    out += ["", "<details><summary>Every run</summary>\n",
            "| protocol | round | proxy | req/s | p50 | p99 | non-2xx | errors | proxy CPU | backend CPU | "
            "h2load CPU | other CPU |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for proto in PROTOCOLS:
        for i in range(args.rounds):
            for system in systems:
                runs = results[proto].get(system)
                if not runs:
                    continue
                r = runs[i]
                out.append(f"| {proto} | {i + 1} | {system} | {r['rps']:,.0f} | {fmt_ms(r['p50_ms'])} | "
                           f"{fmt_ms(r['p99_ms'])} | {r['non2xx']} | {r['errors']} | {r['proxy_cores']:.2f} | "
                           f"{r['backend_cores']:.2f} | {r['gen_cores']:.2f} | {r['other_cores']:.2f} |")
    out.append("\n</details>")
    return "\n".join(out) + "\n"


def flotilla_description(binary):
    version = first_line([str(binary), "--version"])
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    where = f"commit {rev.stdout.strip()}" if rev.returncode == 0 else "no commit yet"
    if rev.returncode == 0 and dirty.stdout.strip():
        where += " + local changes"
    return (f"{version} ({where}), release build (`cargo build --release -p flotilla`, or `$FLOTILLA_BIN`), "
            f"`flotilla server`, its load balancer's listeners on {LB_RANGE[0]}")


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per run (1-60, default 10)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each run (1-10, default 2)")
    ap.add_argument("--connections", type=int, default=64, help="h2load connections (1-1024, default 64)")
    ap.add_argument("--threads", type=int, default=2, help="h2load threads (1-8, default 2)")
    ap.add_argument("--streams", type=int, default=1, help="requests in flight per connection (1-32, default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per protocol (1-9, default 3)")
    ap.add_argument("--no-haproxy", action="store_true", help="measure Flotilla and nginx only")
    ap.add_argument("--write", action="store_true", help="update the bench/lb.py section of BENCHMARKS.md")
    args = ap.parse_args()
    if not (1 <= args.duration <= 60 and 1 <= args.warmup <= 10 and 1 <= args.connections <= 1024
            and 1 <= args.threads <= 8 and 1 <= args.streams <= 32 and 1 <= args.rounds <= 9):
        ap.error("out of bounds: see --help")
    if args.connections < args.threads:
        ap.error("--connections must be at least --threads")

    with_haproxy = ensure_tools(not args.no_haproxy)
    binary = flotilla_binary()
    if not binary.exists():
        raise BenchError(f"no flotilla binary at {binary}")
    tmp = Path(tempfile.mkdtemp(prefix="flotilla-bench-lb-"))
    tmp.chmod(0o755)  # nginx's workers run as nobody and look into their prefix
    procs = Procs(tmp)
    try:
        cert, key = make_cert(tmp)
        key.chmod(0o600)
        backend, backend_port = start_backend(procs, tmp)
        flotilla, flotilla_urls, notes = start_flotilla(procs, binary, tmp, backend_port, cert, key)
        nginx, nginx_urls = start_nginx(procs, tmp, backend_port, cert, key)
        targets = {"flotilla": (flotilla, flotilla_urls), "nginx": (nginx, nginx_urls)}
        if with_haproxy:
            targets["haproxy"] = start_haproxy(procs, tmp, backend_port, cert, key)
        elif not args.no_haproxy:
            notes.append("HAProxy could not be installed and was not measured")
        time.sleep(0.5)
        handshakes = {}
        for system, (proc, urls) in targets.items():
            alive(proc)
            for proto, url in urls.items():
                if tls := verify(system, url, proto, args):
                    handshakes[system] = tls
        log(f"==> every proxy answers the backend's body; flotilla {flotilla_urls}, nginx {nginx_urls}")
        backend_pids = tree_pids(backend.pid)
        pids = {system: tree_pids(proc.pid) for system, (proc, _) in targets.items()}

        results = {proto: {} for proto in PROTOCOLS}
        for proto in PROTOCOLS:
            for rnd in range(args.rounds):
                for system, (proc, urls) in targets.items():
                    if proto not in urls:
                        continue
                    alive(proc)
                    alive(backend)
                    r = run_load(urls[proto], proto, args, tmp, pids[system], backend_pids)
                    results[proto].setdefault(system, []).append(r)
                    log(f"    {proto:<8} round {rnd + 1} {system:<8} {r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                        f"p99 {r['p99_ms']:6.2f} ms  non-2xx {r['non2xx']}  errors {r['errors']}  cpu proxy "
                        f"{r['proxy_cores']:.2f} backend {r['backend_cores']:.2f} h2load {r['gen_cores']:.2f} "
                        f"other {r['other_cores']:.2f}")

        cmd = ".venv/bin/python bench/lb.py"
        defaults = (10, 2, 64, 2, 1, 3)
        given = (args.duration, args.warmup, args.connections, args.threads, args.streams, args.rounds)
        if given != defaults:
            cmd += (f" --duration {args.duration} --warmup {args.warmup} --connections {args.connections} "
                    f"--threads {args.threads} --streams {args.streams} --rounds {args.rounds}")
        if args.no_haproxy:
            cmd += " --no-haproxy"
        meta = {
            "command": f"{cmd} --write",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_description(),
            "flotilla": flotilla_description(binary),
            "nginx": f"{first_line(['nginx', '-v']).replace('nginx version: ', '')} (Debian {nginx_package()})",
            "haproxy": f"HAProxy {debian_version('haproxy')} (Debian)" if with_haproxy else "",
            "h2load": first_line(["h2load", "--version"]),
            "tls": ", ".join(f"{s} {t}" for s, t in handshakes.items()),
        }
        section = render(results, list(targets), args, meta, notes)
        print(section)
        if args.write:
            write_section("bench/lb.py", section, TITLE)
            log(f"==> wrote {BENCHMARKS.relative_to(ROOT)}")
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log(f"bench/lb.py: {e}")
        sys.exit(1)
