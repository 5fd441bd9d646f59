#!/usr/bin/env python3
"""Image registry: push and pull of a multi-layer image, Flotilla vs distribution 2.8.

    .venv/bin/python bench/registry.py [--size-mb 100] [--layers 5] [--iterations 3]
        [--clients 16] [--requests 2000] [--docker | --no-docker] [--write]

What it does, in order (every loop is bounded in count and time):

1. Makes sure `skopeo` and `docker-registry` (Debian's CNCF distribution 2.8) are
   installed (`apt-get install -y skopeo docker-registry`, after `apt-get update` if that
   fails), and takes the flotilla binary from `$FLOTILLA_BIN` or a release build.
2. Makes the image once per run, without network or `docker build`: LAYERS layers of
   random bytes (SIZE_MB × 10^6 bytes in all, so nothing compresses and no layer is shared
   with any other image on the host), written as a docker-archive by this script, then
   gzipped once by `skopeo copy --dest-compress docker-archive:… dir:SRC`. skopeo pushes
   from that `dir:` copy, so its push sends blobs that are already compressed and measures
   the registry rather than gzip. With `--docker` (the default) the archive is also
   `docker load`ed as `flotilla-bench/registry:TOKEN`; docker compresses on push and
   decompresses and unpacks on pull itself, so its figures are end to end.
3. ITERATIONS interleaved iterations; the registry that goes first alternates. Each
   measured push goes to a registry that has never seen the image: **every round starts a
   fresh server with an empty data directory** (Flotilla: `flotilla server` with its
   registry on a free loopback port, the repository `bench/img` created with ECR's
   CreateRepository and the password from GetAuthorizationToken; distribution:
   `docker-registry serve` with a generated config, filesystem storage, no auth, deletes
   enabled, access log off), and stops it and removes its data after the round. Start-up
   is not measured. Garbage-collecting between pushes was not used: Flotilla stores blobs
   once for all repositories and distribution links them per repository, so "a registry
   without the blobs" is only the same thing on both sides when it is empty. Per
   iteration, for each registry:
   - skopeo round: `skopeo copy dir:SRC docker://HOST/bench/img:TAG` (push), then
     `skopeo copy docker://… dir:OUT` into a new OUT (pull; the blobs written are checked
     against the manifest), then the manifest latency: CLIENTS threads, each with one
     keep-alive connection (opened and checked before the clock starts), GET
     `/v2/bench/img/manifests/TAG` (Accept: Docker schema 2 and OCI manifests) until
     REQUESTS answers in all or 60 s;
   - docker round (with `--docker`): `docker tag` + `docker push` (Flotilla after `docker
     login` with a private `--config` directory), then every tag of the image is removed so
     the daemon no longer has it, `docker pull`, and the source tag is put back.
4. Reports per registry and operation the median wall time and MB/s (10^6 bytes: the
   manifest's config and layer sizes, as the registry stores them) over the iterations,
   the manifest GET p50/p99 over all requests of all iterations and the median req/s, the
   server process's CPU seconds, and the ratio Flotilla/distribution oriented so that
   more than 1 is better for Flotilla. `--write` puts the section between the
   bench/registry.py markers in BENCHMARKS.md.

Only the processes it started are stopped (by pid), also on error; every image tag it
made is removed and its temporary directory deleted.
"""
import argparse
import base64
import datetime
import hashlib
import http.client
import io
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

from common import build, cpu_seconds, free_port, percentile, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TITLE = "## Image registry: push and pull (bench/registry.py)"
ACCESS_KEY = "AKIAFLOTILLABENCH001"
SECRET_KEY = "bEnChReGiStRy/SeCrEt+KeY0123456789abcdef"
REPO = "bench/img"
LOCAL_NAME = "flotilla-bench/registry"
ACCEPT = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
SYSTEMS = ("flotilla", "distribution")
NAMES = {"flotilla": "Flotilla", "distribution": "distribution 2.8"}
OPS = ("skopeo push", "skopeo pull", "docker push", "docker pull")
COMMAND_TIMEOUT = 900  # seconds for one push or pull
START_TIMEOUT = 60
LATENCY_BUDGET = 60.0

assert len(SECRET_KEY) == 40


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, timeout=COMMAND_TIMEOUT, **kw):
    """Run a command to completion; its output goes into the error when it fails."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited with {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


def timed(cmd, **kw):
    t0 = time.monotonic()
    run(cmd, **kw)
    return time.monotonic() - t0


# ---------------------------------------------------------------------------------------
# Tools


def ensure_packages():
    """skopeo and docker-registry from Debian, installed when missing."""
    missing = [pkg for pkg, exe in (("skopeo", "skopeo"), ("docker-registry", "docker-registry")) if not shutil.which(exe)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {', '.join(missing)}: install with `sudo apt-get install -y {' '.join(missing)}`")
    log(f"==> apt-get install -y {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", *missing]
    if subprocess.run(install, env=env, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, timeout=900)
        subprocess.run(install, env=env, check=True, timeout=900)


def version_of(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


# ---------------------------------------------------------------------------------------
# The image


class RandomBytes(io.RawIOBase):
    """`size` bytes from os.urandom, read in whatever pieces tarfile asks for."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_archive(path, size_bytes, layers, tag, workdir):
    """A docker-archive (what `docker save` writes) of `layers` layers, each one file of
    random bytes; returns the image's reference in the archive."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    per_layer = size_bytes // layers
    diff_ids, layer_paths = [], []
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for i in range(layers):
            layer = Path(workdir) / f"layer{i}.tar"
            with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as t:
                info = tarfile.TarInfo(f"layer{i}")
                info.size, info.mode, info.mtime = per_layer, 0o644, 0
                t.addfile(info, RandomBytes(per_layer))
            digest = sha256_file(layer)
            diff_ids.append(f"sha256:{digest}")
            layer_paths.append(f"{digest}/layer.tar")
            archive.add(layer, arcname=layer_paths[-1])
            layer.unlink()
        config = json.dumps({
            "architecture": arch, "os": "linux", "created": now,
            "config": {"Cmd": ["/layer0"], "Labels": {"flotilla.bench": "registry"}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": now, "created_by": f"bench/registry.py: random layer {i}"} for i in range(layers)],
        }, separators=(",", ":")).encode()
        config_name = f"{hashlib.sha256(config).hexdigest()}.json"
        ref = f"{LOCAL_NAME}:{tag}"
        manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": layer_paths}]).encode()
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return ref


def image_size(manifest):
    """Bytes a registry stores for an image: its config and layer blobs."""
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def check_dir_image(out, manifest):
    """A `dir:` copy holds every blob of `manifest`, at its size."""
    for blob in [manifest["config"], *manifest["layers"]]:
        f = Path(out) / blob["digest"].split(":", 1)[1]
        if not f.exists() or f.stat().st_size != blob["size"]:
            raise RuntimeError(f"the pulled copy in {out} lacks {blob['digest']} ({blob['size']} bytes)")


# ---------------------------------------------------------------------------------------
# The registries


class Server:
    """One registry process with an empty data directory: start() starts it and waits until
    it answers; stop() (also after a failed start) ends it by pid and removes the
    directory."""

    system = None
    creds = None  # (user, password) when the registry wants Basic auth

    def __init__(self, workdir):
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.system}-", dir=workdir))
        self.log_path = self.dir / "server.log"
        self.proc = None

    def spawn(self, cmd, env=None):
        """Start the server: its log (stderr, at level warn) apart from what it prints."""
        self.outf = open(self.dir / "server.out", "ab")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self.outf, stderr=self.logf)

    def expected(self, line):
        """Log lines that are part of a normal push or pull."""
        return False

    def failed(self, what):
        try:
            tail = self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            tail = ""
        return RuntimeError(f"{self.system}: {what}\n{tail}")

    def wait_for(self, check, what):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise self.failed(f"exited with {self.proc.returncode} before {what}")
            if check():
                return
            if time.monotonic() > deadline:
                raise self.failed(f"not {what} within {START_TIMEOUT} s")
            time.sleep(0.05)

    def headers(self):
        h = {"Accept": ACCEPT}
        if self.creds:
            h["Authorization"] = "Basic " + base64.b64encode(":".join(self.creds).encode()).decode()
        return h

    def get(self, path):
        req = urllib.request.Request(f"http://{self.host}{path}", headers=self.headers())
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()

    def answers_v2(self):
        try:
            return self.get("/v2/")[0] == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def manifest(self, tag):
        return json.loads(self.get(f"/v2/{REPO}/manifests/{tag}")[1])

    def skopeo_creds(self, side):
        return [f"--{side}-creds", ":".join(self.creds)] if self.creds else [f"--{side}-no-creds"]

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and not self.outf.closed:
            self.outf.close()
            self.logf.close()
            # Both log at level warn: whatever they wrote is a warning or an error.
            self.errors = [line for line in self.log_path.read_text(errors="replace").splitlines()
                           if line.strip() and not self.expected(line)]
        shutil.rmtree(self.dir, ignore_errors=True)


class Flotilla(Server):
    system = "flotilla"

    def __init__(self, workdir, binary):
        super().__init__(workdir)
        self.binary = binary

    def start(self):
        data = self.dir / "data"
        env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
                   FLOTILLA_LOG="warn")
        self.spawn([self.binary, "server", "--data-dir", str(data), "--api-addr", "127.0.0.1:0",
                    "--registry-addr", "127.0.0.1:0"], env=env)
        self.wait_for(lambda: (data / "endpoint").exists() and (data / "registry-host").exists(),
                      "listening (endpoint and registry-host files)")
        endpoint = (data / "endpoint").read_text().strip()
        self.host = (data / "registry-host").read_text().strip()
        ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                           aws_secret_access_key=SECRET_KEY,
                           config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30))
        ecr.create_repository(repositoryName=REPO)
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        user, password = base64.b64decode(token).decode().split(":", 1)
        self.creds = (user, password)
        self.wait_for(self.answers_v2, "answering GET /v2/ with 200")


class Distribution(Server):
    system = "distribution"

    def start(self):
        self.host = f"127.0.0.1:{free_port()}"
        config = self.dir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.dir / 'storage'}\n"
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"
            f"http:\n  addr: {self.host}\n"
        )
        self.spawn(["docker-registry", "serve", str(config)])
        self.wait_for(self.answers_v2, "answering GET /v2/ with 200")

    def expected(self, line):
        # It logs every 404 as an error, including the existence checks (HEAD of a blob)
        # clients make before each upload; and it warns that it made its own upload secret.
        return 'err.code="blob unknown"' in line or "No HTTP secret provided" in line


# ---------------------------------------------------------------------------------------
# Measurements


def manifest_latency(server, tag, clients, total, budget=LATENCY_BUDGET):
    """CLIENTS threads with one keep-alive connection each GET the manifest until `total`
    answers in all or `budget` seconds: the latencies in ms of the 200s, the failures, the
    wall time from the first client's start to the last one's end, req/s, and the CPU
    seconds this process used meanwhile."""
    host, port = server.host.rsplit(":", 1)
    path = f"/v2/{REPO}/manifests/{tag}"
    headers = server.headers()
    lock = threading.Lock()
    state = {"sent": 0, "failed": 0}
    latencies = []
    ready = threading.Barrier(clients + 1, timeout=30)
    bounds = []

    def connect():
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{server.system}: GET {path} answered {r.status}")
        return conn

    def client():
        try:
            conn = connect()
        except Exception as e:  # noqa: BLE001 — reported once the barrier breaks
            bounds.append(e)
            ready.abort()
            return
        mine = []
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            return
        start_at = time.perf_counter()
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            with lock:
                if state["sent"] >= total:
                    break
                state["sent"] += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            if ok:
                mine.append((time.perf_counter() - t0) * 1000)
            else:
                with lock:
                    state["failed"] += 1
        end_at = time.perf_counter()
        conn.close()
        with lock:
            latencies.extend(mine)
            bounds.append((start_at, end_at))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    times0 = os.times()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for t in threads:
            t.join(timeout=15)
        errors = [b for b in bounds if isinstance(b, Exception)]
        raise errors[0] if errors else RuntimeError(f"{server.system}: the manifest clients did not start")
    for t in threads:
        t.join(timeout=budget + 30)
    times1 = os.times()
    client_cpu = (times1.user - times0.user) + (times1.system - times0.system)
    spans = [b for b in bounds if isinstance(b, tuple)]
    wall = max(e for _, e in spans) - min(s for s, _ in spans) if spans else float("nan")
    return {"latencies": latencies, "failed": state["failed"], "wall": wall,
            "rps": len(latencies) / wall if wall > 0 else float("nan"), "client_cpu": client_cpu}


def skopeo_round(server, src, tag, workdir, args):
    dest = f"docker://{server.host}/{REPO}:{tag}"
    cpu0 = server.cpu()
    push = timed(["skopeo", "--insecure-policy", "copy", "--retry-times", "0", "--dest-tls-verify=false",
                  *server.skopeo_creds("dest"), f"dir:{src}", dest])
    cpu1 = server.cpu()
    manifest = server.manifest(tag)
    out = Path(tempfile.mkdtemp(prefix="pull-", dir=workdir))
    shutil.rmtree(out)  # skopeo creates it
    try:
        pull = timed(["skopeo", "--insecure-policy", "copy", "--retry-times", "0", "--src-tls-verify=false",
                      *server.skopeo_creds("src"), dest, f"dir:{out}"])
        cpu2 = server.cpu()
        check_dir_image(out, manifest)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    size = image_size(manifest)
    lat = manifest_latency(server, tag, args.clients, args.requests)
    lat["cpu"] = server.cpu() - cpu2
    return {
        "skopeo push": {"seconds": push, "bytes": size, "cpu": cpu1 - cpu0},
        "skopeo pull": {"seconds": pull, "bytes": size, "cpu": cpu2 - cpu1},
    }, lat


def image_id(ref):
    r = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True,
                       timeout=60)
    return r.stdout.strip() if r.returncode == 0 else None


def docker_round(server, source_ref, tag, docker_config):
    ref = f"{server.host}/{REPO}:{tag}"
    docker = ["docker", "--config", str(docker_config)]
    if server.creds:
        run([*docker, "login", "-u", server.creds[0], "--password-stdin", server.host], input=server.creds[1],
            timeout=60)
    wanted = image_id(source_ref)
    run(["docker", "tag", source_ref, ref], timeout=60)
    try:
        cpu0 = server.cpu()
        push = timed([*docker, "push", ref])
        cpu1 = server.cpu()
        manifest = server.manifest(tag)
        # Every tag of the image goes, so the daemon has none of its layers and pulls all.
        run(["docker", "rmi", ref, source_ref], timeout=120)
        if image_id(wanted) is not None:
            raise RuntimeError(f"image {wanted} is still in the daemon after removing its tags; docker pull would "
                               "download nothing")
        cpu2 = server.cpu()
        pull = timed([*docker, "pull", ref])
        cpu3 = server.cpu()
        if image_id(ref) != wanted:
            raise RuntimeError(f"docker pull {ref} gave image {image_id(ref)}, expected {wanted}")
    finally:
        # Put the source tag back (from whichever tag still has the image), drop the registry's.
        if image_id(source_ref) is None and image_id(ref) is not None:
            subprocess.run(["docker", "tag", ref, source_ref], capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", ref], capture_output=True, timeout=120)
    size = image_size(manifest)
    return {
        "docker push": {"seconds": push, "bytes": size, "cpu": cpu1 - cpu0},
        "docker pull": {"seconds": pull, "bytes": size, "cpu": cpu3 - cpu2},
    }


# ---------------------------------------------------------------------------------------
# Report


def mbps(r):
    return r["bytes"] / r["seconds"] / 1e6


def render(results, latency, args, meta):
    def cell_ops(runs):
        return (f"{statistics.median(mbps(r) for r in runs):,.1f} MB/s "
                f"({statistics.median(r['seconds'] for r in runs):.2f} s)")

    def ms(x):
        return f"{x:.2f} ms" if x < 10 else f"{x:.1f} ms"

    out = [
        f"Command: `{meta['command']}`",
        "",
        f"- Date: {meta['date']}; {meta['machine']}",
        f"- Flotilla: {meta['flotilla']}; distribution: {meta['distribution']} (Debian `docker-registry`, "
        f"filesystem storage, access log off); skopeo {meta['skopeo']}; Docker Engine {meta['docker']}",
        f"- Image: {args.layers} layers of random bytes, {meta['size'] / 1e6:,.1f} MB as stored (gzip, config "
        f"included); {args.iterations} interleaved iteration{'s' if args.iterations > 1 else ''}, each on fresh "
        f"servers with empty storage; manifest "
        f"GETs: {args.clients} keep-alive clients, {args.requests} requests (or 60 s) per iteration",
        "",
        f"| operation | {NAMES['flotilla']} | {NAMES['distribution']} | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for op in OPS:
        f, d = results[op]["flotilla"], results[op]["distribution"]
        if not f or not d:
            continue
        ratio = statistics.median(mbps(r) for r in f) / statistics.median(mbps(r) for r in d)
        out.append(f"| {op} | {cell_ops(f)} | {cell_ops(d)} | {ratio:.2f}× |")
    lf, ld = latency["flotilla"], latency["distribution"]
    p = {s: {q: percentile(latency[s]["latencies"], q) for q in (0.5, 0.99)} for s in SYSTEMS}
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        out.append(f"| manifest GET {name} | {ms(p['flotilla'][q])} | {ms(p['distribution'][q])} | "
                   f"{p['distribution'][q] / p['flotilla'][q]:.2f}× |")
    rps_f, rps_d = statistics.median(lf["rps"]), statistics.median(ld["rps"])
    out.append(f"| manifest GET req/s | {rps_f:,.0f} | {rps_d:,.0f} | {rps_f / rps_d:.2f}× |")
    out.append(f"| manifest GET failures | {sum(lf['failed'])} | {sum(ld['failed'])} | — |")
    out += [
        "",
        "Medians over the iterations; MB/s is 10^6 bytes of the image's blobs (config and layers, as stored) per "
        "second of the command's wall time. The ratio is oriented so that more than 1 is better for Flotilla: "
        "MB/s and req/s Flotilla/distribution, latency distribution/Flotilla. skopeo pushes blobs that are "
        "already gzipped and pulls them into a `dir:` without unpacking; docker gzips on push and unpacks "
        f"on pull ({meta['docker_storage']} storage driver), so its figures include that client work. "
        "Manifest latency is from a Python client on the same machine (p50/p99 over every request of every "
        "iteration, req/s the median per iteration); where its CPU (below) is close to the wall time, the "
        "client, not the server, set the rate.",
        "",
        "<details><summary>Every run</summary>",
        "",
        "| iteration | operation | system | wall | MB/s | server CPU | client CPU |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for i in range(args.iterations):
        for op in OPS:
            for s in SYSTEMS:
                runs = results[op][s]
                if i < len(runs):
                    r = runs[i]
                    out.append(f"| {i + 1} | {op} | {s} | {r['seconds']:.2f} s | {mbps(r):,.1f} | {r['cpu']:.2f} s | — |")
        for s in SYSTEMS:
            lat = latency[s]
            if i < len(lat["rps"]):
                out.append(f"| {i + 1} | {args.requests} manifest GETs | {s} | {lat['wall'][i]:.2f} s | "
                           f"{lat['rps'][i]:,.0f} req/s | "
                           f"{lat['cpu'][i]:.2f} s | {lat['client_cpu'][i]:.2f} s |")
    out += ["", "</details>"]
    if meta["server_errors"]:
        out += ["", "Warnings and errors the servers logged (all iterations; distribution's 404s for blob "
                "existence checks left out):", ""]
        out += [f"- {s}, {n}×: `{line[:240]}`" for (s, line), n in summarise_logs(meta["server_errors"])[:20]]
    return "\n".join(out)


def summarise_logs(lines):
    """(system, line) pairs counted once per distinct message (timestamps, colours and
    digests taken out), most frequent first."""
    counts = {}
    for system, line in lines:
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        line = re.sub(r'time="[^"]*"\s*|^\S*\d{4}-\d\d-\d\dT\S+\s*', "", line)
        line = re.sub(r"sha256:[0-9a-f]{64}", "sha256:…", line).strip()
        counts[(system, line)] = counts.get((system, line), 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def describe_machine():
    model = "unknown CPU"
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {platform.machine()}, {os.cpu_count()} cores (shared with other builds)"


def describe_flotilla(binary):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            timeout=10).stdout.strip() or "no commit"
    kind = "debug build" if "/debug/" in str(binary) else "release build" if "/release/" in str(binary) else str(binary)
    return f"{version_of([binary, '--version'])} (commit {commit}, {kind})"


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--size-mb", type=int, default=100, help="random bytes in the image, in 10^6 bytes")
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--clients", type=int, default=16, help="concurrent manifest GET clients")
    ap.add_argument("--requests", type=int, default=2000, help="manifest GETs per iteration and registry")
    ap.add_argument("--docker", action=argparse.BooleanOptionalAction, default=True,
                    help="also push and pull with docker (uses the host's image store; its tags are removed)")
    ap.add_argument("--write", action="store_true", help="update the bench/registry.py section of BENCHMARKS.md")
    args = ap.parse_args()
    args.size_mb = max(1, min(args.size_mb, 2000))
    args.layers = max(1, min(args.layers, 50))
    args.iterations = max(1, min(args.iterations, 20))
    args.clients = max(1, min(args.clients, 256))
    args.requests = max(args.clients, min(args.requests, 1_000_000))

    ensure_packages()
    binary = str(build())
    token = secrets.token_hex(6)
    workdir = Path(tempfile.mkdtemp(prefix="flotilla-registry-bench-"))
    source_ref = None
    servers = []
    results = {op: {s: [] for s in SYSTEMS} for op in OPS}
    latency = {s: {"latencies": [], "failed": [], "wall": [], "rps": [], "cpu": [], "client_cpu": []} for s in SYSTEMS}
    server_errors = []
    try:
        log(f"==> making a {args.size_mb} MB image of {args.layers} random layers")
        archive = workdir / "image.tar"
        ref = write_archive(archive, args.size_mb * 1_000_000, args.layers, token, workdir)
        src = workdir / "src"
        run(["skopeo", "--insecure-policy", "copy", "--dest-compress", f"docker-archive:{archive}", f"dir:{src}"])
        size = image_size(json.loads((src / "manifest.json").read_text()))
        docker_config = workdir / "docker-config"
        if args.docker:
            docker_config.mkdir()
            run(["docker", "load", "-q", "-i", str(archive)])
            source_ref = ref
        archive.unlink()

        def one(system, fn):
            server = Flotilla(workdir, binary) if system == "flotilla" else Distribution(workdir)
            servers.append(server)
            try:
                server.start()
                return fn(server)
            finally:
                server.stop()
                servers.remove(server)
                server_errors.extend((system, line) for line in getattr(server, "errors", []))

        for i in range(args.iterations):
            order = SYSTEMS if i % 2 == 0 else SYSTEMS[::-1]
            tag = f"{token}-{i}"
            for system in order:
                log(f"==> iteration {i + 1}: skopeo on {system}")
                ops, lat = one(system, lambda s: skopeo_round(s, src, tag, workdir, args))
                for op, r in ops.items():
                    results[op][system].append(r)
                for k in ("failed", "wall", "rps", "cpu", "client_cpu"):
                    latency[system][k].append(lat[k])
                latency[system]["latencies"].extend(lat["latencies"])
            if args.docker:
                for system in order:
                    log(f"==> iteration {i + 1}: docker on {system}")
                    ops = one(system, lambda s: docker_round(s, source_ref, tag, docker_config))
                    for op, r in ops.items():
                        results[op][system].append(r)
    finally:
        for server in list(servers):
            server.stop()
        if source_ref:
            subprocess.run(["docker", "rmi", source_ref], capture_output=True, timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)

    cmd = ".venv/bin/python bench/registry.py --write"
    defaults = {"size_mb": 100, "layers": 5, "iterations": 3, "clients": 16, "requests": 2000, "docker": True}
    extra = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k, v in defaults.items()
             if k != "docker" and getattr(args, k) != v]
    if not args.docker:
        extra.append("--no-docker")
    if extra:
        cmd = cmd.replace(" --write", " " + " ".join(extra) + " --write")
    if os.environ.get("FLOTILLA_BIN"):
        shown = Path(os.environ["FLOTILLA_BIN"]).resolve()
        shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
        cmd = f"FLOTILLA_BIN={shown} {cmd}"
    meta = {
        "command": cmd,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": describe_machine(),
        "flotilla": describe_flotilla(binary),
        "distribution": version_of(["docker-registry", "--version"]).replace("docker-registry ", ""),
        "skopeo": version_of(["skopeo", "--version"]).replace("skopeo version ", ""),
        "docker": version_of(["docker", "version", "--format", "{{.Server.Version}}"]),
        "docker_storage": version_of(["docker", "info", "--format", "{{.Driver}}"]),
        "size": size,
        "server_errors": server_errors,
    }
    block = render(results, latency, args, meta)
    print(f"{TITLE}\n\n{block}")
    if args.write:
        write_section("bench/registry.py", block, TITLE)
        log("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
