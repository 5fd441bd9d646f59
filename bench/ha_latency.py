#!/usr/bin/env python3
"""API latency on etcd with one and with three servers, beside the embedded sqlite store
(issue 19), in one run.

    .venv/bin/python bench/ha_latency.py [--calls 400] [--write]

Each set-up gets the same sequential calls from one boto3 client per server, taken in
turn (with three servers, call i goes to server i mod 3): a read (DescribeClusters of one
cluster) and a write (TagResource on that cluster, which is a compare-and-swap through
the store followed by the wait until the server's own views show it). Reported: median
and p99 of each. Set-ups: one server on sqlite (its data directory on this disk), one
server on a three-member etcd cluster, three servers on that etcd cluster. Everything
runs on this machine (etcd's members, the servers and the client share its 2 cores).
"""
import argparse
import datetime
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, build, percentile, write_section  # noqa: E402
from failover import Server  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from etcd import EtcdCluster  # noqa: E402


def measure(servers, calls):
    clients = [s.ecs() for s in servers]
    clients[0].create_cluster(clusterName="lat")
    arn = clients[0].describe_clusters(clusters=["lat"])["clusters"][0]["clusterArn"]
    for c in clients:  # warm each connection
        c.describe_clusters(clusters=["lat"])
    reads, writes = [], []
    for i in range(calls):
        c = clients[i % len(clients)]
        t = time.perf_counter()
        c.describe_clusters(clusters=["lat"])
        reads.append(time.perf_counter() - t)
        t = time.perf_counter()
        c.tag_resource(resourceArn=arn, tags=[{"key": "round", "value": str(i)}])
        writes.append(time.perf_counter() - t)
    return reads, writes


def ms(values, p):
    return f"{percentile(values, p) * 1000:.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    binary = build(features=("etcd",))
    tmp = Path(tempfile.mkdtemp(prefix="flotilla-ha-latency-"))
    rows = []
    servers = []
    etcd = None
    try:
        single = Server(binary, tmp / "sqlite", "sqlite").start()
        servers.append(single)
        rows.append(("sqlite, one server", *measure([single], args.calls)))
        single.stop()
        etcd = EtcdCluster(tmp / "etcd").start()
        first = Server(binary, tmp / "a", etcd.url()).start()
        servers.append(first)
        rows.append(("etcd (3 members), one server", *measure([first], args.calls)))
        shutil.copy(first.data_dir / "secrets.key", tmp / "secrets.key")
        others = [Server(binary, tmp / n, etcd.url(), ["--secrets-key-file", str(tmp / "secrets.key")]).start()
                  for n in ("b", "c")]
        servers += others
        # A fresh cluster name for this set-up's own record.
        first.ecs().delete_cluster(cluster="lat")
        rows.append(("etcd (3 members), three servers", *measure([first, *others], args.calls)))
    finally:
        for s in servers:
            s.stop()
        if etcd:
            etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    base_read, base_write = percentile(rows[0][1], 0.5), percentile(rows[0][2], 0.5)
    table = "\n".join(
        f"| {name} | {ms(r, 0.5)} | {ms(r, 0.99)} | {percentile(r, 0.5) / base_read:.2f}× | "
        f"{ms(w, 0.5)} | {ms(w, 0.99)} | {percentile(w, 0.5) / base_write:.2f}× |"
        for name, r, w in rows)
    block = f"""Run {datetime.date.today()} on {platform.machine()}, {args.calls} calls of each kind per set-up;
command: `.venv/bin/python bench/ha_latency.py --calls {args.calls} --write` (release build with
the `etcd` feature; sequential boto3 calls, so each figure includes the client's own
signing and parsing, about the same in every row).

| set-up | read p50 | read p99 | read p50 / sqlite | write p50 | write p99 | write p50 / sqlite |
| --- | --- | --- | --- | --- | --- | --- |
{table}
"""
    print(block)
    if args.write:
        write_section("bench/ha_latency.py", block, "## API latency on etcd, one and three servers (bench/ha_latency.py)")


if __name__ == "__main__":
    main()
