#!/usr/bin/env python3
"""DNS server: Flotilla's authoritative DNS server vs NSD 4.6 and Knot DNS 3.2, queries per
second and latency with dnsperf, on the same zone and the same queries.

    .venv/bin/python bench/dns.py [--sizes 10000,100000] [--duration 10] [--clients 4]
        [--threads 2] [--outstanding 100] [--rounds 3] [--systems flotilla,nsd,knot] [--write]

What it does, in order (every loop is bounded in count and time):

1. Makes sure its tools are there, from Debian, with `apt-get install -y` only for what is
   missing (after `apt-get update` if that fails): `dnsperf`, `nsd`, `knotd` (package knot)
   and `dig` (dnsutils). The flotilla binary is `$FLOTILLA_BIN`, else a release build made
   now (`cargo build --release -p flotilla`, into `$CARGO_TARGET_DIR` when set).
2. For each zone size N (`--sizes`), on fresh servers in a fresh temporary directory:
   - generates the zone `bench.example.` with N record sets, the apex's SOA and NS included
     (as Route 53 counts them against its quota of 10,000 per hosted zone), the N - 2 others
     with a TTL of 300 and one name `hK.bench.example.` each: 89% A with one address, 1% A
     with two, 4% AAAA, 2% TXT, 2% MX (to a name outside the zone) and 2% CNAME (to an A name
     of the zone);
   - starts Flotilla, `flotilla server` on a fresh data directory with
     `--dns-addr 127.0.0.1:0` (the port it bound is read from DATA_DIR/dns-addr), and through
     its Route 53 API with boto3 (root credentials): CreateHostedZone, then
     ChangeResourceRecordSets of CREATE changes in batches within Route 53's limits (at
     most 1,000 changes and 1,000 values per batch), timing every call, then GetChange until
     every change is INSYNC. Flotilla's own apex SOA and NS (ListResourceRecordSets) are
     copied into the zone file, so all three servers hold the same records. Flotilla is
     started with `--route53-max-record-sets-per-zone` at the zone's size when that is past
     Route 53's default quota of 10,000 record sets per zone (as AWS raises it on request);
     should it still refuse the zone (InvalidChangeBatch), that is reported and that size
     is measured with NSD and Knot only;
   - writes that zone file and starts NSD and Knot on it, each a child process with its own
     configuration in the temporary directory, on 127.0.0.1 and a free port, running as
     root without dropping privileges (NSD `username: ""`, Knot without `user`), with 2
     servers each: NSD `server-count: 2` with `reuseport`, no database file, remote control
     off, response rate limiting off (`rrl-ratelimit: 0`, it is on by default in Debian's
     build and would cap one client at 200 answers a second) and `minimal-responses: yes`
     (no NS set in the authority section of positive answers, as Knot and Flotilla answer);
     Knot `udp-workers: 2` (reuseport), its control socket, databases and PID file in the
     temporary directory, the zone file loaded whole with no journal. Flotilla's DNS server
     runs on its tokio runtime (one worker per core: 2) with one UDP socket per core
     (SO_REUSEPORT: 2);
   - checks with `dig` that the three answer a sample of names identically: the apex SOA
     and NS, records of every kind (the last one loaded included), a CNAME chased, names
     that do not exist (NXDOMAIN, the SOA in the authority section) and a name without the
     queried type (NODATA): same status, `aa` flag, answer section (names, TTLs, rdata)
     and, for negative answers, authority section;
   - writes one query file of 100,000 queries (fixed seed, shuffled): 92% for names that
     exist, in the proportions of the zone (A for A and CNAME names, AAAA, TXT, MX), and 8%
     for names that do not (`hK` with K >= N: NXDOMAIN). The same file goes to every server.
3. ROUNDS interleaved rounds (flotilla, nsd, knot, flotilla, ...) of one run each:
   `dnsperf -s 127.0.0.1 -p PORT -d QUERIES -l DURATION -c CLIENTS -T THREADS -q OUTSTANDING -v`
   with no `-Q`, i.e. as fast as the server answers with at most OUTSTANDING queries in
   flight (default 100), over UDP. dnsperf prints queries per second, completed and lost
   queries, response codes, packet sizes and the mean/min/max/stddev of latency; `-v` also
   prints every answer's latency, from which p50 and p99 are taken (measured: it does not
   lower dnsperf's rate). The CPU of the server (all its processes and threads: NSD's xfrd,
   main and 2 servers; Knot's and Flotilla's one process), of dnsperf and of the rest of the
   machine is read from /proc around each run.
4. Reports per size and server the medians over the rounds of answers per second, p50,
   p99, mean and max latency, server CPU, CPU per answer, and the sums of lost queries and
   unexpected response codes (anything but NOERROR and NXDOMAIN, or an NXDOMAIN share more
   than 1 point from the query file's), with the Flotilla/NSD and Flotilla/Knot ratios
   against the aim "at least NSD's queries per second", and how long each server took to
   get the zone (Flotilla: the Route 53 calls until INSYNC; NSD and Knot: start until the
   SOA is answered). `--write` puts the result between the bench/dns.py markers in
   BENCHMARKS.md.

Only the processes it started are stopped (by pid), also on error, and its temporary
directory is removed.
"""
import argparse
import datetime
import ipaddress
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api import children_cpu, machine_busy_seconds, machine_description, tail  # noqa: E402
from common import BENCHMARKS, cpu_seconds, free_port, percentile, write_section  # noqa: E402
from lb import (BenchError, Procs, alive, apt_install, debian_version, first_line,  # noqa: E402
                flotilla_binary, http_get, log, wait_until)

ROOT = Path(__file__).resolve().parents[1]
TITLE = "## DNS server: Flotilla vs NSD and Knot (bench/dns.py)"
ACCESS_KEY = "AKIAFLOTILLABENCHDNS"
SECRET_KEY = "bEnChDnSsErVeR/SeCrEt+KeY0123456789abcde"
REGION = "us-east-1"
ZONE = "bench.example."
TTL = 300
SEED = 53
QUERIES = 100_000
NX_SHARE = 0.08
SYSTEMS = ("flotilla", "nsd", "knot")
# Route 53's limits on one ChangeResourceRecordSets call.
MAX_CHANGES, MAX_VALUES, MAX_VALUE_CHARS = 1000, 1000, 32000
# Route 53's default quota of record sets per hosted zone (Flotilla's default too).
ROUTE53_DEFAULT_QUOTA = 10_000
LOAD_TIMEOUT = 1800  # seconds for all of one zone's Route 53 calls

assert len(ACCESS_KEY) == 20 and len(SECRET_KEY) == 40


# ---------------------------------------------------------------------------------------
# Tools


def ensure_tools():
    if sys.prefix == sys.base_prefix:
        raise BenchError("run this with the project venv: .venv/bin/python bench/dns.py (./scripts/venv creates it)")
    try:
        import boto3  # noqa: F401
    except ImportError as e:
        raise BenchError("boto3 is missing from the venv: ./scripts/venv installs it") from e
    wanted = {"dnsperf": "dnsperf", "nsd": "nsd", "knotd": "knot", "dig": "dnsutils"}
    missing = [pkg for exe, pkg in wanted.items() if not shutil.which(exe)]
    if missing and not apt_install(missing):
        raise BenchError(f"apt-get install -y {' '.join(missing)} failed")


def free_dns_port():
    """A port on 127.0.0.1 free for both UDP and TCP now."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise BenchError("no port free for both UDP and TCP on 127.0.0.1")


def descendants(pid):
    """`pid` and every process below it (NSD forks its main and server processes)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo and len(out) < 1000:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mib(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1024


# ---------------------------------------------------------------------------------------
# The zone and the queries


def zone_records(n):
    """The zone's record sets but the apex SOA and NS (N - 2 of them): (relative name,
    type, [values]), one name each."""
    records = []
    for k in range(n - 2):
        name, kind = f"h{k}", k % 100
        a = f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"
        if kind < 89:
            records.append((name, "A", [a]))
        elif kind == 89:
            records.append((name, "A", [a, f"10.{128 + ((k >> 16) & 127)}.{(k >> 8) & 255}.{k & 255}"]))
        elif kind < 94:
            records.append((name, "AAAA", [str(ipaddress.IPv6Address((0x20010DB8 << 96) + k))]))
        elif kind < 96:
            records.append((name, "TXT", [f'"bench record {k}"']))
        elif kind < 98:
            records.append((name, "MX", [f"{10 * (kind - 95)} mx{kind - 95}.example.net."]))
        else:
            records.append((name, "CNAME", [f"h{k - kind + 1}.{ZONE}"]))
    return records


def write_zone_file(path, records, soa, ns):
    """The zone in master-file format, with Flotilla's own apex SOA and NS."""
    lines = [f"$ORIGIN {ZONE}", f"$TTL {TTL}", f"@ {soa[0]} IN SOA {soa[1][0]}"]
    lines += [f"@ {ns[0]} IN NS {v}" for v in ns[1]]
    for name, rtype, values in records:
        lines += [f"{name} {TTL} IN {rtype} {v}" for v in values]
    path.write_text("\n".join(lines) + "\n")


def query_type(rtype):
    return "A" if rtype == "CNAME" else rtype


def write_queries(path, records, n):
    """QUERIES lines `name TYPE`, shuffled with a fixed seed; returns the NXDOMAIN share."""
    rng = random.Random(SEED)
    nx = int(QUERIES * NX_SHARE)
    lines = [f"h{n + rng.randrange(n)}.{ZONE} A" for _ in range(nx)]
    for _ in range(QUERIES - nx):
        name, rtype, _ = records[rng.randrange(len(records))]
        lines.append(f"{name}.{ZONE} {query_type(rtype)}")
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n")
    return nx / QUERIES


def batches(records):
    """Route 53 change batches of CREATE changes, within its per-call limits."""
    batch, values, chars = [], 0, 0
    for name, rtype, vals in records:
        size = sum(len(v) for v in vals)
        if batch and (len(batch) == MAX_CHANGES or values + len(vals) > MAX_VALUES or chars + size > MAX_VALUE_CHARS):
            yield batch
            batch, values, chars = [], 0, 0
        batch.append({"Action": "CREATE", "ResourceRecordSet": {
            "Name": f"{name}.{ZONE}", "Type": rtype, "TTL": TTL, "ResourceRecords": [{"Value": v} for v in vals]}})
        values += len(vals)
        chars += size
    if batch:
        yield batch


# ---------------------------------------------------------------------------------------
# Servers


def flotilla_quota_args(n):
    """The record set quota Flotilla needs for a zone of `n` sets (none at the default)."""
    return ["--route53-max-record-sets-per-zone", str(n)] if n > ROUTE53_DEFAULT_QUOTA else []


def start_flotilla(procs, binary, tmp, n):
    """`flotilla server` with a fresh data directory, taking a zone of `n` record sets;
    (process, API endpoint, DNS port)."""
    api_port = free_port()
    data = tmp / "flotilla-data"
    data.mkdir()
    env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
               FLOTILLA_LOG="warn")
    proc = procs.start("flotilla", [str(binary), "server", "--data-dir", str(data), "--api-addr",
                                    f"127.0.0.1:{api_port}", "--registry-addr", "127.0.0.1:0",
                                    "--dns-addr", "127.0.0.1:0", *flotilla_quota_args(n)], env=env)
    endpoint = f"http://127.0.0.1:{api_port}"
    wait_until("flotilla's API did not answer /_flotilla/health",
               lambda: http_get(endpoint + "/_flotilla/health") == (200, "ok\n"), proc, 60)
    addr_file = data / "dns-addr"
    wait_until("flotilla wrote no DATA_DIR/dns-addr", addr_file.exists, proc, 30)
    host, port = addr_file.read_text().strip().rsplit(":", 1)
    if host != "127.0.0.1":
        raise BenchError(f"flotilla's DNS server is on {host}:{port}, expected 127.0.0.1")
    return proc, endpoint, int(port)


def route53_client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client("route53", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY,
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=300))


class Refused(Exception):
    """Flotilla refused a change batch (e.g. the zone's record set quota)."""

    def __init__(self, message, soa, ns, figures):
        super().__init__(message)
        self.soa, self.ns, self.figures = soa, ns, figures


def load_flotilla(proc, endpoint, records):
    """The zone through Route 53's API; (apex SOA, apex NS, load figures). Raises Refused
    when a batch is refused as invalid (InvalidChangeBatch), with what was loaded so far."""
    from botocore.exceptions import ClientError

    r53 = route53_client(endpoint)
    t0 = time.monotonic()
    zone = r53.create_hosted_zone(Name=ZONE, CallerReference=f"bench-dns-{time.time_ns()}")["HostedZone"]
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    apex = r53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=ZONE, MaxItems="10")
    sets = {(s["Name"], s["Type"]): s for s in apex["ResourceRecordSets"]}
    if (ZONE, "SOA") not in sets or (ZONE, "NS") not in sets:
        raise BenchError(f"flotilla's new zone has no apex SOA and NS: {apex['ResourceRecordSets'][:3]}")
    soa, ns = ((sets[(ZONE, t)]["TTL"], [r["Value"] for r in sets[(ZONE, t)]["ResourceRecords"]])
               for t in ("SOA", "NS"))
    calls, changes, loaded, deadline = [], [], 2, t0 + LOAD_TIMEOUT
    for batch in batches(records):
        alive(proc)
        if time.monotonic() > deadline:
            raise BenchError(f"loading the zone into flotilla took more than {LOAD_TIMEOUT} s "
                             f"({len(calls)} batches of {len(records) // MAX_CHANGES or 1} sent)")
        c0 = time.monotonic()
        try:
            info = r53.change_resource_record_sets(HostedZoneId=zone_id,
                                                   ChangeBatch={"Changes": batch})["ChangeInfo"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "InvalidChangeBatch":
                raise
            figures = {"batches": len(calls), "api_s": time.monotonic() - t0, "loaded": loaded}
            raise Refused(f"{e.response['Error'].get('Message', e)}", soa, ns, figures) from e
        loaded += len(batch)
        calls.append(time.monotonic() - c0)
        changes.append(info["Id"].rsplit("/", 1)[-1])
        if len(calls) % 20 == 0:
            log(f"    flotilla: {len(calls)} batches, last call {calls[-1] * 1000:.0f} ms")
    sent = time.monotonic()
    pending = list(changes)
    while pending:
        alive(proc)
        if time.monotonic() > deadline:
            raise BenchError(f"{len(pending)} changes not INSYNC {LOAD_TIMEOUT} s after the zone's first call")
        status = r53.get_change(Id=pending[0])["ChangeInfo"]["Status"]
        if status == "INSYNC":
            pending.pop(0)
        else:
            time.sleep(0.05)
    done = time.monotonic()
    figures = {
        "loaded": loaded,
        "batches": len(calls),
        "api_s": sent - t0,
        "insync_s": done - sent,
        "total_s": done - t0,
        "first_calls_ms": statistics.median(calls[:5]) * 1000,
        "last_calls_ms": statistics.median(calls[-5:]) * 1000,
        "max_call_ms": max(calls) * 1000,
    }
    return soa, ns, figures


def start_nsd(procs, tmp, zone_file):
    d = tmp / "nsd"
    d.mkdir()
    port = free_dns_port()
    conf = d / "nsd.conf"
    conf.write_text(f"""server:
  ip-address: 127.0.0.1@{port}
  do-ip6: no
  server-count: 2
  reuseport: yes
  username: ""
  chroot: ""
  zonesdir: "{d}"
  database: ""
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  pidfile: "{d}/nsd.pid"
  cookie-secret-file: "{d}/cookiesecrets.txt"
  verbosity: 1
  hide-version: yes
  minimal-responses: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: {ZONE}
  zonefile: "{zone_file}"
""")
    check = subprocess.run(["nsd-checkconf", str(conf)], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise BenchError(f"nsd-checkconf refused the configuration:\n{check.stdout}{check.stderr}")
    return procs.start("nsd", ["nsd", "-d", "-c", str(conf)]), port


def start_knot(procs, tmp, zone_file):
    d = tmp / "knot"
    d.mkdir()
    port = free_dns_port()
    conf = d / "knot.conf"
    conf.write_text(f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: notice
database:
    storage: "{d}"
control:
    listen: "{d}/knot.sock"
template:
  - id: default
    storage: "{zone_file.parent}"
    file: "{zone_file.name}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {ZONE}
""")
    check = subprocess.run(["knotc", "-c", str(conf), "conf-check"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise BenchError(f"knotc conf-check refused the configuration:\n{check.stdout}{check.stderr}")
    return procs.start("knot", ["knotd", "-c", str(conf)]), port


# ---------------------------------------------------------------------------------------
# Answers


def dig(port, queries, tmp):
    """Each query's answer by `dig -f`: {(name, type): (status, aa, answer, authority)},
    the sections as sorted tuples of (name, TTL, type, rdata)."""
    batch = tmp / f"dig-{port}.txt"
    batch.write_text("".join(f"{name} {rtype}\n" for name, rtype in queries))
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+norecurse", "+nocmd", "+noall", "+comments",
                        "+question", "+answer", "+authority", "+nottlunits", "+time=2", "+tries=2", "-f", str(batch)],
                       capture_output=True, text=True, timeout=60 + 5 * len(queries))
    out = {}
    for chunk in r.stdout.split("->>HEADER<<-")[1:]:
        status = re.search(r"status: (\w+)", chunk)
        flags = re.search(r"flags:([a-z ]*);", chunk)
        question, section, sections = None, None, {"ANSWER": [], "AUTHORITY": []}
        for line in chunk.splitlines():
            line = line.strip()
            if m := re.match(r";; (\w+) SECTION:", line):
                section = m.group(1)
            elif section == "QUESTION" and line.startswith(";") and not line.startswith(";;"):
                f = line[1:].split()
                question = (f[0].lower(), f[-1])
            elif line and not line.startswith(";") and section in sections:
                f = line.split(None, 4)
                sections[section].append((f[0].lower(), int(f[1]), f[3], " ".join(f[4].split()) if len(f) > 4 else ""))
        if question and status:
            out[question] = (status.group(1), "aa" in (flags.group(1).split() if flags else []),
                             tuple(sorted(sections["ANSWER"])), tuple(sorted(sections["AUTHORITY"])))
    return out


def sample_queries(records, n):
    rng = random.Random(SEED + 1)
    picks = {0, len(records) - 1} | {rng.randrange(len(records)) for _ in range(40)}
    for kind in (89, 90, 94, 96, 98):  # every kind at least once
        picks |= {k for k in range(kind, len(records), 100)[:3]}
    queries = [(ZONE, "SOA"), (ZONE, "NS")]
    queries += [(f"{records[k][0]}.{ZONE}", query_type(records[k][1])) for k in sorted(picks)]
    queries += [(f"h{n + rng.randrange(n)}.{ZONE}", "A") for _ in range(4)]
    queries += [(f"nothing.{ZONE}", "AAAA"), (f"x.h0.{ZONE}", "A"), (f"h0.{ZONE}", "TXT")]
    return queries


def verify(ports, records, n, tmp):
    """The same answers from every server for a sample of names; raises otherwise."""
    queries = sample_queries(records, n)
    answers = {system: dig(port, queries, tmp) for system, port in ports.items()}
    ref_system = next(iter(ports))
    problems = []
    for name, rtype in queries:
        key = (name.lower(), rtype)
        expect_nx = (name.startswith(("nothing.", "x.h0."))
                     or (name.startswith("h") and int(re.match(r"h(\d+)", name).group(1)) >= n))
        got = {system: answers[system].get(key) for system in ports}
        ref = got[ref_system]
        for system, a in got.items():
            if a is None:
                problems.append(f"{system}: no answer to {name} {rtype}")
                continue
            status, aa, answer, authority = a
            want_status = "NXDOMAIN" if expect_nx else "NOERROR"
            if status != want_status or not aa:
                problems.append(f"{system}: {name} {rtype} answered {status}{' aa' if aa else ' (no aa)'}, "
                                f"expected {want_status} aa")
            if ref is not None and system != ref_system:
                same = (status, aa, answer) == ref[:3] and (answer or authority == ref[3])
                if not same:
                    problems.append(f"{system} and {ref_system} differ on {name} {rtype}:\n      {system}: {a}\n"
                                    f"      {ref_system}: {ref}")
        if ref is not None and not expect_nx and not ref[2] and (name, rtype) != (f"h0.{ZONE}", "TXT"):
            problems.append(f"{ref_system}: empty answer to {name} {rtype}")
    if problems:
        raise BenchError("the servers do not answer alike:\n  " + "\n  ".join(problems[:20]))
    return len(queries)


def wait_answering(system, proc, port, tmp, timeout):
    """Seconds until the server answers the zone's SOA authoritatively."""
    t0 = time.monotonic()
    wait_until(f"{system} did not answer {ZONE} SOA", lambda: dig(port, [(ZONE, "SOA")], tmp).get(
        (ZONE, "SOA"), ("",))[0] == "NOERROR", proc, timeout)
    return time.monotonic() - t0


# ---------------------------------------------------------------------------------------
# Load


def run_dnsperf(port, queryfile, args, tmp, server_pids, nx_share):
    out = tmp / "dnsperf.out"
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queryfile), "-l", str(args.duration),
           "-c", str(args.clients), "-T", str(args.threads), "-q", str(args.outstanding), "-v"]
    cpu = lambda: sum(cpu_seconds(p) for p in server_pids)  # noqa: E731
    s0, m0, g0, t0 = cpu(), machine_busy_seconds(), children_cpu(), time.monotonic()
    with open(out, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE, text=True, timeout=args.duration + 60)
    s1, m1, g1, t1 = cpu(), machine_busy_seconds(), children_cpu(), time.monotonic()
    latencies, rcodes, summary = [], {}, []
    with open(out) as f:
        for line in f:
            if line.startswith("> "):
                fields = line.split()
                if fields[1] not in ("T", "I") and len(fields) >= 5:
                    latencies.append(float(fields[-1]) * 1000)
            else:
                summary.append(line)
    text = "".join(summary)
    out.unlink()
    num = lambda pattern: re.search(pattern, text)  # noqa: E731
    completed, lost = num(r"Queries completed:\s+(\d+)"), num(r"Queries lost:\s+(\d+)")
    qps, avg = num(r"Queries per second:\s+([\d.]+)"), num(r"Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)")
    sizes = num(r"Average packet size:\s+request (\d+), response (\d+)")
    codes = num(r"Response codes:\s+(.*)")
    if r.returncode != 0 or not (completed and lost and qps and avg):
        raise BenchError(f"dnsperf failed ({r.returncode}): {' '.join(cmd)}\n{text[-2000:]}{r.stderr[-2000:]}")
    if codes:
        rcodes = {m.group(1): int(m.group(2)) for m in re.finditer(r"(\w+) (\d+) \(", codes.group(1))}
    done = int(completed.group(1))
    other = sum(v for k, v in rcodes.items() if k not in ("NOERROR", "NXDOMAIN"))
    nx = rcodes.get("NXDOMAIN", 0) / done if done else 0.0
    wall = t1 - t0
    return {
        "qps": float(qps.group(1)),
        "completed": done,
        "lost": int(lost.group(1)),
        "unexpected": other,
        "nx_share": nx,
        "nx_off": abs(nx - nx_share) > 0.01,
        "avg_ms": float(avg.group(1)) * 1000,
        "max_ms": float(avg.group(3)) * 1000,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "response_bytes": int(sizes.group(2)) if sizes else 0,
        "server_cores": (s1 - s0) / wall,
        "gen_cores": (g1 - g0) / wall,
        "other_cores": max(0.0, (m1 - m0 - (s1 - s0) - (g1 - g0)) / wall),
        "us_per_query": (s1 - s0) * 1e6 / done if done else float("nan"),
    }


# ---------------------------------------------------------------------------------------
# Report


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def fmt_ms(x):
    return f"{x:.2f} ms" if x < 10 else f"{x:.1f} ms"


def render(results, loads, systems, args, meta, notes):
    sizes = list(results)
    out = ["`bench/dns.py` measures Flotilla's authoritative DNS server against NSD and Knot DNS, the "
           "Debian packages, on the same zone and the same queries: one zone `bench.example.` of N record "
           "sets (the apex SOA and NS included, as Route 53 counts them; the others 89% A, 1% A with two addresses, 4% AAAA, 2% TXT, 2% MX, 2% CNAME; TTL 300), loaded into "
           "Flotilla through its Route 53 API with boto3 and into NSD and Knot from a zone file holding the "
           "same records, checked with `dig` to answer alike, then queried with dnsperf over UDP on "
           "loopback, as fast as each server answers, in interleaved rounds. See the docstring of "
           "`bench/dns.py` for the details.\n",
           f"Command: `{meta['command']}`\n"]
    out += [f"- Date: {meta['date']}", f"- Machine: {meta['machine']}", f"- Flotilla: {meta['flotilla']}",
            f"- NSD: {meta['nsd']}, `server-count: 2`, `reuseport: yes`, `minimal-responses: yes`, rate limiting off",
            f"- Knot: {meta['knot']}, `udp-workers: 2`",
            f"- Load: {meta['dnsperf']}, `-c {args.clients} -T {args.threads} -q {args.outstanding} -l {args.duration}` "
            f"(no `-Q`: as fast as answers come with at most {args.outstanding} queries in flight), UDP; "
            f"{QUERIES:,} queries per size ({100 - NX_SHARE * 100:.0f}% existing names, {NX_SHARE * 100:.0f}% "
            f"NXDOMAIN), the same file for every server; {args.rounds} interleaved rounds "
            f"({', '.join(systems)}) per size", ""]
    out.append("| records | server | answers/s | p50 | p99 | mean | max | lost | unexpected | response bytes | "
               "server CPU | µs server CPU/answer | dnsperf CPU | other CPU | server RSS |")
    out.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        for system in systems:
            runs = results[size].get(system)
            if not runs:
                why = "refused the zone (quota)" if "refused" in loads[size].get(system, {}) else "not measured"
                out.append(f"| {size:,} | {system} | {why} | | | | | | | | | | | | |")
                continue
            out.append(
                f"| {size:,} | {system} | {med(runs, 'qps'):,.0f} | {fmt_ms(med(runs, 'p50_ms'))} | "
                f"{fmt_ms(med(runs, 'p99_ms'))} | {fmt_ms(med(runs, 'avg_ms'))} | {fmt_ms(med(runs, 'max_ms'))} | "
                f"{sum(r['lost'] for r in runs)} | {sum(r['unexpected'] + r['nx_off'] for r in runs)} | "
                f"{med(runs, 'response_bytes'):.0f} | {med(runs, 'server_cores'):.2f} | "
                f"{med(runs, 'us_per_query'):.1f} | {med(runs, 'gen_cores'):.2f} | {med(runs, 'other_cores'):.2f} | "
                f"{loads[size][system]['rss_mib']:.0f} MiB |")
    if "flotilla" in systems:
        out += ["", "| records | vs | answers/s flotilla/other | p99 flotilla/other | server CPU per answer "
                    "flotilla/other | aim (answers/s ≥ NSD's) |", "| ---: | --- | ---: | ---: | ---: | --- |"]
        for size in sizes:
            f = results[size].get("flotilla")
            for other in systems:
                o = results[size].get(other)
                if other == "flotilla" or not f or not o:
                    continue
                qps = med(f, "qps") / med(o, "qps")
                aim = ("met" if qps >= 1 else "not met") if other == "nsd" else "—"
                out.append(f"| {size:,} | {other} | {qps:.2f}× | {med(f, 'p99_ms') / med(o, 'p99_ms'):.2f}× | "
                           f"{med(f, 'us_per_query') / med(o, 'us_per_query'):.2f}× | {aim} |")
    out += ["", "Getting the zone (seconds until it is answered; Flotilla's Route 53 calls are sequential, "
            "CREATE changes in batches of up to 1,000):", "",
            "| records | Flotilla: Route 53 calls | batches | first / last calls (median of 5) | slowest call | "
            "then INSYNC | NSD: start to SOA answered | Knot: start to SOA answered |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sizes:
        ld = loads[size]
        fl = ld.get("flotilla", {})
        cell = lambda s: f"{ld[s]['ready_s']:.2f} s" if s in ld and "ready_s" in ld[s] else "—"  # noqa: E731
        if "refused" in fl:
            out.append(f"| {size:,} | refused after {fl['loaded']:,} sets, {fl['api_s']:.1f} s | {fl['batches']} | "
                       f"— | — | — | {cell('nsd')} | {cell('knot')} |")
        elif "api_s" in fl:
            out.append(f"| {size:,} | {fl['api_s']:.1f} s | {fl['batches']} | {fl['first_calls_ms']:.0f} / "
                       f"{fl['last_calls_ms']:.0f} ms | {fl['max_call_ms']:.0f} ms | {fl['insync_s']:.2f} s | "
                       f"{cell('nsd')} | {cell('knot')} |")
        else:
            out.append(f"| {size:,} | — | — | — | — | — | {cell('nsd')} | {cell('knot')} |")
    out += ["", "answers/s is dnsperf's \"queries per second\" (answers received over the run); p50/p99 are over "
            "every answer's latency as dnsperf `-v` prints it, mean and max from dnsperf's summary; each figure "
            "is the median over the rounds, lost (no answer within dnsperf's 5 s timeout) and unexpected (answers "
            "other than NOERROR/NXDOMAIN, plus runs whose NXDOMAIN share is more than 1 point from the query "
            "file's) are summed. With a fixed number of queries in flight and no rate limit, latency is mostly "
            "time spent queued (in flight ÷ rate), so it mirrors the rate. CPU columns are cores used during "
            "the run (median), out of 2 shared by everything: the server (all its processes and threads), "
            "dnsperf, and the rest of the machine (other people's work); the server and dnsperf compete for "
            "the same 2 cores, so a server that needs less CPU per answer leaves more to the load generator "
            "and is answered faster. Server RSS is resident memory after the rounds (all processes)."]
    if notes:
        out += [""] + [f"- Note: {n}" for n in notes]
    out += ["", "<details><summary>Every run</summary>\n",
            "| records | round | server | answers/s | p50 | p99 | mean | max | lost | unexpected | NXDOMAIN | "
            "server CPU | dnsperf CPU | other CPU |",
            "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sizes:
        for i in range(args.rounds):
            for system in systems:
                runs = results[size].get(system)
                if not runs or i >= len(runs):
                    continue
                r = runs[i]
                out.append(f"| {size:,} | {i + 1} | {system} | {r['qps']:,.0f} | {fmt_ms(r['p50_ms'])} | "
                           f"{fmt_ms(r['p99_ms'])} | {fmt_ms(r['avg_ms'])} | {fmt_ms(r['max_ms'])} | {r['lost']} | "
                           f"{r['unexpected']} | {r['nx_share'] * 100:.1f}% | {r['server_cores']:.2f} | "
                           f"{r['gen_cores']:.2f} | {r['other_cores']:.2f} |")
    out.append("\n</details>")
    return "\n".join(out) + "\n"


def flotilla_description(binary):
    version = first_line([str(binary), "--version"])
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True, timeout=10)
    where = f"commit {rev.stdout.strip()}" if rev.returncode == 0 else "no commit yet"
    if rev.returncode == 0 and dirty.stdout.strip():
        where += " + local changes"
    return (f"{version} ({where}), release build, `flotilla server --dns-addr 127.0.0.1:0` "
            f"(`--route53-max-record-sets-per-zone N` for a zone of N > {ROUTE53_DEFAULT_QUOTA:,}), "
            f"the DNS server on its tokio runtime (2 worker threads on 2 cores), one UDP socket per core "
            f"(SO_REUSEPORT)")


# ---------------------------------------------------------------------------------------


def measure_size(n, systems, binary, args, notes):
    """Fresh servers holding a zone of `n` record sets, checked, then the rounds."""
    tmp = Path(tempfile.mkdtemp(prefix=f"flotilla-bench-dns-{n}-"))
    procs = Procs(tmp)
    try:
        records = zone_records(n)
        zone_file = tmp / "bench.example.zone"
        queryfile = tmp / "queries.txt"
        nx_share = write_queries(queryfile, records, n)
        targets, loads = {}, {s: {} for s in systems}
        if "flotilla" in systems:
            log(f"==> {n:,} records: flotilla server, loading the zone through Route 53")
            proc, endpoint, port = start_flotilla(procs, binary, tmp, n)
            try:
                soa, ns, figures = load_flotilla(proc, endpoint, records)
                loads["flotilla"].update(figures)
                log(f"    flotilla: {figures['batches']} batches in {figures['api_s']:.1f} s (first calls "
                    f"{figures['first_calls_ms']:.0f} ms, last {figures['last_calls_ms']:.0f} ms, slowest "
                    f"{figures['max_call_ms']:.0f} ms), INSYNC {figures['insync_s']:.2f} s later")
                targets["flotilla"] = (proc, port)
            except Refused as e:
                soa, ns = e.soa, e.ns
                loads["flotilla"].update(e.figures, refused=str(e))
                notes.append(f"{n:,} records: Flotilla was not measured: after {e.figures['loaded']:,} record sets "
                             f"(apex SOA and NS included, {e.figures['batches']} batches accepted) it refused the "
                             f"next ChangeResourceRecordSets with InvalidChangeBatch \"{e}\"")
                log(f"==> NOTE: {notes[-1]}")
                procs.all.remove(proc)
                proc.terminate()
                proc.wait(timeout=30)
        else:
            soa = (900, [f"ns-1.flotilla.internal. hostmaster.{ZONE} 1 7200 900 1209600 86400"])
            ns = (172800, ["ns-1.flotilla.internal."])
        write_zone_file(zone_file, records, soa, ns)
        for system, start in (("nsd", start_nsd), ("knot", start_knot)):
            if system not in systems:
                continue
            proc, port = start(procs, tmp, zone_file)
            loads[system]["ready_s"] = wait_answering(system, proc, port, tmp, 120)
            targets[system] = (proc, port)
            log(f"    {system}: answering on port {port} {loads[system]['ready_s']:.2f} s after its start")
        checked = verify({s: p for s, (_, p) in targets.items()}, records, n, tmp)
        log(f"==> {n:,} records: {', '.join(targets)} answer {checked} sample queries alike")
        pids = {s: descendants(proc.pid) for s, (proc, _) in targets.items()}
        results = {}
        for rnd in range(args.rounds):
            for system, (proc, port) in targets.items():
                alive(proc)
                r = run_dnsperf(port, queryfile, args, tmp, pids[system], nx_share)
                results.setdefault(system, []).append(r)
                log(f"    {n:>7,} round {rnd + 1} {system:<8} {r['qps']:>9,.0f} answers/s  p50 {r['p50_ms']:6.2f} ms  "
                    f"p99 {r['p99_ms']:6.2f} ms  max {r['max_ms']:6.1f} ms  lost {r['lost']}  unexpected "
                    f"{r['unexpected']}  NXDOMAIN {r['nx_share'] * 100:.1f}%  cpu server {r['server_cores']:.2f} "
                    f"dnsperf {r['gen_cores']:.2f} other {r['other_cores']:.2f}")
                if r["nx_off"] or r["unexpected"]:
                    notes.append(f"{system}, {n:,} records, round {rnd + 1}: {r['unexpected']} answers other than "
                                 f"NOERROR/NXDOMAIN, NXDOMAIN share {r['nx_share'] * 100:.1f}% "
                                 f"(query file: {nx_share * 100:.1f}%)")
        for system, (proc, _) in targets.items():
            loads[system]["rss_mib"] = rss_mib(descendants(proc.pid))
        return results, loads, list(targets)
    finally:
        leftovers = {s: descendants(p.pid) for s, p in ((p.name, p) for p in procs.all) if p.poll() is None}
        procs.stop_all()
        for pids in leftovers.values():  # NSD's processes below the one started, should any outlive it
            for pid in pids[1:]:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="zone sizes in record sets (100-1000000, default 10000,100000)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run (1-60, default 10)")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf clients, i.e. sockets (1-64, default 4)")
    ap.add_argument("--threads", type=int, default=2, help="dnsperf threads (1-8, default 2)")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf queries in flight (1-10000, default 100)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size (1-9, default 3)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="servers to measure (default flotilla,nsd,knot)")
    ap.add_argument("--write", action="store_true", help="update the bench/dns.py section of BENCHMARKS.md")
    args = ap.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error("--sizes takes numbers separated by commas")
    systems = [s for s in SYSTEMS if s in args.systems.split(",")]
    if not (sizes and all(100 <= s <= 1_000_000 for s in sizes) and len(sizes) <= 5 and 1 <= args.duration <= 60
            and 1 <= args.clients <= 64 and 1 <= args.threads <= 8 and 1 <= args.outstanding <= 10000
            and 1 <= args.rounds <= 9 and systems and set(args.systems.split(",")) <= set(SYSTEMS)):
        ap.error("out of bounds: see --help")
    if args.clients < args.threads:
        ap.error("--clients must be at least --threads")

    started = time.monotonic()
    ensure_tools()
    binary = flotilla_binary() if "flotilla" in systems else None
    if binary is not None and not binary.exists():
        raise BenchError(f"no flotilla binary at {binary}")
    results, loads, notes, measured = {}, {}, [], {}
    for n in sizes:
        results[n], loads[n], measured[n] = measure_size(n, systems, binary, args, notes)

    cmd = ".venv/bin/python bench/dns.py"
    if sizes != [10000, 100000]:
        cmd += f" --sizes {','.join(map(str, sizes))}"
    for flag, value, default in (("--duration", args.duration, 10), ("--clients", args.clients, 4),
                                 ("--threads", args.threads, 2), ("--outstanding", args.outstanding, 100),
                                 ("--rounds", args.rounds, 3)):
        if value != default:
            cmd += f" {flag} {value}"
    if systems != list(SYSTEMS):
        cmd += f" --systems {','.join(systems)}"
    meta = {
        "command": f"{cmd} --write",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "flotilla": flotilla_description(binary) if binary else "not measured",
        "nsd": f"{first_line(['nsd', '-v'])} (Debian nsd {debian_version('nsd')})",
        "knot": f"{first_line(['knotd', '-V'])} (Debian knot {debian_version('knot')})",
        "dnsperf": f"dnsperf {debian_version('dnsperf')} (Debian)",
    }
    section = render(results, loads, systems, args, meta, notes)
    took = time.monotonic() - started
    section += f"\nThe whole run took {int(took // 60)} min {int(took % 60)} s.\n"
    print(section)
    if args.write:
        write_section("bench/dns.py", section, TITLE)
        log(f"==> wrote {BENCHMARKS.relative_to(ROOT)}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log(f"bench/dns.py: {e}")
        sys.exit(1)
