#!/usr/bin/env python3
"""Security groups on the hosts: how fast a rule change reaches new connections, and what
a task's nftables table costs a connection.

    .venv/bin/python bench/firewall.py [--rounds 10] [--write]

1. Propagation, on a real `flotilla up` (server + local agent, release build or
   $FLOTILLA_BIN): an awsvpc task (busybox httpd on 5432) in a security group with no
   ingress rule. Each round authorizes TCP 5432 from the host's address on the task's
   subnet, then connects from the host every few milliseconds until a connection is
   accepted; then revokes the rule and connects until one is dropped (a connection that
   has not opened within 20 ms counts as dropped). Reported: the time from sending the
   call to the first connection that shows the change, median and p90 of the rounds,
   against the issue's bound of one second.
2. Connection rate and request rate, in network namespaces (the agent's own renderer and
   `nft`, the test `connection_rates` of crates/agent/tests/firewall.rs, run with `cargo
   test`): new TCP connections per second between two tasks on one bridge, and requests
   per second (64 bytes each way, one at a time) over one established connection, with no
   table (the baseline) and with tables of 0, 10, 100 and 1,000 ingress rules, the
   admitting rules last.

Needs root, Docker, nft, ip and nsenter. Stops only what it started.
"""
import argparse
import datetime
import ipaddress
import json
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from common import ROOT, build, percentile, write_section  # noqa: E402
from launch import ACCESS_KEY, IMAGE, SECRET_KEY, Up  # noqa: E402

PORT = 5432
# A connection that has not opened within this long counts as dropped.
DROPPED_AFTER = 0.02


def client(up, service):
    return boto3.client(service, endpoint_url=up.endpoint, region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=Config(retries={"max_attempts": 2}))


def opens(ip):
    try:
        socket.create_connection((ip, PORT), timeout=DROPPED_AFTER).close()
        return True
    except OSError:
        return False


def until(change, want, limit=10.0):
    """Seconds from the start of `change()` until a connection `opens` as `want`."""
    t0 = time.monotonic()
    change()
    while time.monotonic() - t0 < limit:
        if opens(until.ip) == want:
            return time.monotonic() - t0
        time.sleep(0.002)
    sys.exit(f"no connection showed the change within {limit} s")


def propagation(up, rounds):
    ec2, ecs = client(up, "ec2"), client(up, "ecs")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                           {"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    group = ec2.create_security_group(GroupName="fw-bench", Description="bench", VpcId=vpc)["GroupId"]
    ecs.register_task_definition(family="fw-bench", networkMode="awsvpc", containerDefinitions=[{
        "name": "db", "image": IMAGE, "memory": 32, "essential": True, "stopTimeout": 2,
        "command": ["sh", "-c", f"trap 'exit 0' TERM; httpd -f -p {PORT} -h /www & wait"]}])
    task = ecs.run_task(taskDefinition="fw-bench", networkConfiguration={"awsvpcConfiguration": {
        "subnets": [subnet["SubnetId"]], "securityGroups": [group]}})["tasks"][0]
    deadline = time.monotonic() + 60
    while (t := ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0])["lastStatus"] != "RUNNING":
        if time.monotonic() > deadline or t["lastStatus"] == "STOPPED":
            sys.exit(f"the task did not run: {t.get('stoppedReason')}")
        time.sleep(0.1)
    until.ip = t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
    gateway = str(ipaddress.ip_network(subnet["CidrBlock"])[1])
    perm = [{"IpProtocol": "tcp", "FromPort": PORT, "ToPort": PORT, "IpRanges": [{"CidrIp": f"{gateway}/32"}]}]
    if opens(until.ip):
        sys.exit("the task accepted a connection before any rule allowed it")
    authorize, revoke = [], []
    for _ in range(rounds):
        authorize.append(until(lambda: ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=perm), True))
        revoke.append(until(lambda: ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=perm), False))
    ecs.stop_task(task=task["taskArn"])
    return authorize, revoke


def connection_rates():
    """{rules: (connections per second, requests per second)} from the namespace test."""
    out = subprocess.run(["cargo", "test", "-q", "-p", "flotilla-agent", "--test", "firewall", "--",
                          "--ignored", "--exact", "connection_rates", "--nocapture"],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"the namespace test failed:\n{out.stdout}\n{out.stderr[-3000:]}")
    out = out.stdout
    rates = {rules: (int(conns), int(reqs)) for rules, conns, reqs in re.findall(
        r"firewall-bench rules=(\S+) conns_per_sec=(\d+) reqs_per_sec=(\d+)", out)}
    if "none" not in rates:
        sys.exit(f"the namespace test printed no figures (not root, or a tool missing?):\n{out}")
    return rates


def ms(values, p):
    return f"{percentile(values, p) * 1000:,.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    binary = build()
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(binary, Path(tmp) / "data")
        try:
            authorize, revoke = propagation(up, args.rounds)
        finally:
            up.stop()
            subprocess.run(["docker", "rm", "-f", *subprocess.run(
                ["docker", "ps", "-aq", "--filter", "name=ecs-fw-bench"], capture_output=True,
                text=True).stdout.split()], capture_output=True)
    rates = connection_rates()
    (conns0, reqs0) = rates["none"]
    rows = [f"| no table (baseline) | {conns0:,} | 1.00 | {reqs0:,} | 1.00 |"]
    for n in ("0", "10", "100", "1000"):
        conns, reqs = rates[n]
        rows.append(f"| {int(n):,} rules | {conns:,} | {conns / conns0:.2f} | {reqs:,} | {reqs / reqs0:.2f} |")
    block = f"""Run {datetime.date.today()} on {platform.machine()}, {args.rounds} rounds;
command: `.venv/bin/python bench/firewall.py --rounds {args.rounds} --write` (as root).

| a rule change, from the call to the first new connection that shows it | median | p90 | issue's bound |
| --- | --- | --- | --- |
| authorize → first connection accepted | {ms(authorize, 0.5)} | {ms(authorize, 0.9)} | 1,000 ms |
| revoke → first connection dropped | {ms(revoke, 0.5)} | {ms(revoke, 0.9)} | 1,000 ms |

Between two tasks on one bridge (namespaces), through the task's table: new TCP
connections per second (one client connecting and resetting in a loop, median of 5 runs
of 1,500 connections) and requests per second over one established connection (64 bytes
each way, one at a time, median of 5 runs of 20,000):

| table | connections/s | ratio to no table | requests/s | ratio to no table |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}
"""
    print(block)
    if args.write:
        write_section("bench/firewall.py", block, "## Security groups on the hosts")


if __name__ == "__main__":
    main()
