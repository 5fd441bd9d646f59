#!/usr/bin/env python3
"""The cost of authorisation: DescribeClusters and RunTask as the administrator (the root
key: no policy evaluated) and as an IAM user with 10 attached policies of 20 statements
each, side by side in one run.

    .venv/bin/python bench/authz.py [--duration 8] [--connections 8] [--rounds 3] [--write]

What it does (everything bounded in time and count):

1. Builds `cargo build --release -p flotilla` (or uses `$FLOTILLA_BIN`), makes sure `wrk`
   is installed (`apt-get install -y wrk`), starts `flotilla server` (sqlite store) and
   `flotilla bench sim-agents --count 10` (simulated agents: tasks run in memory, no
   containers), so RunTask places real tasks.
2. As the administrator, with boto3: the cluster `bench`, a task definition of one 6 MiB
   container, and the user `bench-user` with 10 policies of its own attached, 20
   statements each: 199 statements that do not apply to ECS (other services' actions,
   resources with wildcards, conditions) and one that allows `ecs:DescribeClusters` and
   `ecs:RunTask` on the cluster's and the task definition's ARNs when
   `aws:RequestedRegion` is `us-east-1`; and an access key for it. One signed request of
   each operation is checked to answer 200 for both identities (and a RunTask to place a
   task) before measuring.
3. For each operation, ROUNDS rounds of `wrk -t1 -cN -dDs` replaying one signed request,
   administrator then user, interleaved. Reports the medians of 2xx answers per second,
   p50 and p99, non-2xx counts, and the ratios user/administrator. `--write` puts the
   result between the bench/authz.py markers in BENCHMARKS.md.

Only the processes it started are stopped (by pid), also on error.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api  # noqa: E402
from common import write_section  # noqa: E402

# The root pair `flotilla bench sim-agents` signs with.
ROOT_KEYS = ("AKIAFLOTILLASCALE001", "sCaLeBeNcH/SeCrEt+KeY0123456789abcdefghi")
CLUSTER = "bench"
FAMILY = "bench-tiny"
AGENTS = 10


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def client(endpoint, service, keys):
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint, region_name=api.REGION, aws_access_key_id=keys[0],
                        aws_secret_access_key=keys[1], config=Config(retries={"max_attempts": 2}))


def policy_documents(account):
    """Ten documents of twenty statements; only the last statement of the last applies."""
    services = ["ecr", "logs", "elasticloadbalancing", "route53", "servicediscovery", "cloudwatch",
                "application-autoscaling", "ec2", "secretsmanager", "ssm"]
    docs = []
    for p in range(10):
        statements = []
        for i in range(20):
            service = services[(p + i) % len(services)]
            statements.append({
                "Sid": f"P{p}S{i}",
                "Effect": "Allow" if i % 5 else "Deny",
                "Action": [f"{service}:Describe{i}*", f"{service}:Get{p}{i}*"],
                "Resource": f"arn:aws:{service}:*:{account}:thing-{p}-{i}/*",
                "Condition": {"StringLike": {"aws:ResourceTag/team": f"team-{p}-{i}-*"}},
            })
        docs.append(statements)
    docs[-1][-1] = {
        "Sid": "Ecs",
        "Effect": "Allow",
        "Action": ["ecs:DescribeClusters", "ecs:RunTask"],
        "Resource": [f"arn:aws:ecs:*:{account}:cluster/{CLUSTER}",
                     f"arn:aws:ecs:*:{account}:task-definition/{FAMILY}:*"],
        "Condition": {"StringEquals": {"aws:RequestedRegion": api.REGION}},
    }
    return [json.dumps({"Version": "2012-10-17", "Statement": s}, separators=(",", ":")) for s in docs]


def set_up(endpoint):
    """The cluster, the task definition and the user; the user's key pair."""
    ecs = client(endpoint, "ecs", ROOT_KEYS)
    iam = client(endpoint, "iam", ROOT_KEYS)
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(family=FAMILY, containerDefinitions=[
        {"name": "app", "image": "sim/app:1", "memory": 6, "cpu": 0, "essential": True}])
    account = client(endpoint, "sts", ROOT_KEYS).get_caller_identity()["Account"]
    iam.create_user(UserName="bench-user")
    for n, doc in enumerate(policy_documents(account)):
        arn = iam.create_policy(PolicyName=f"bench-{n}", PolicyDocument=doc)["Policy"]["Arn"]
        iam.attach_user_policy(UserName="bench-user", PolicyArn=arn)
    key = iam.create_access_key(UserName="bench-user")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def body(op):
    if op == "DescribeClusters":
        return json.dumps({"clusters": [CLUSTER]}, separators=(",", ":"))
    return json.dumps({"cluster": CLUSTER, "taskDefinition": FAMILY, "count": 1}, separators=(",", ":"))


def check(endpoint, op, keys, who):
    import urllib.error
    import urllib.request

    headers = api.sign(endpoint, op, body(op), keys)
    req = urllib.request.Request(endpoint + "/", data=body(op).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            answer = json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise api.BenchError(f"{op} as {who} answered {e.code}: {e.read()[:500]!r}")
    if op == "RunTask" and not answer.get("tasks"):
        raise api.BenchError(f"RunTask as {who} placed nothing: {answer}")


def wait_for_agents(endpoint, deadline):
    ecs = client(endpoint, "ecs", ROOT_KEYS)
    while time.monotonic() < deadline:
        arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
        if len(arns) >= AGENTS:
            described = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)
            if all(ci["agentConnected"] for ci in described["containerInstances"]):
                return
        time.sleep(0.5)
    raise api.BenchError("the simulated agents did not all connect within 60 s")


def render(results, args, meta):
    ops = ["DescribeClusters", "RunTask"]
    lines = [
        "Command: `.venv/bin/python bench/authz.py --write`",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['machine']}",
        f"- Flotilla: {meta['flotilla']}",
        f"- Load: {meta['wrk']}, `-t1 -c{args.connections} -d{args.duration}s`, one signed request replayed; "
        f"{args.rounds} interleaved rounds per identity and operation; {AGENTS} simulated agents",
        "- The user: 10 attached policies of its own, 20 statements each (actions, resource ARNs with "
        "wildcards, a condition in every statement); the one statement that allows the calls is the last.",
        "",
        "| operation | caller | req/s | p50 | p99 | non-2xx |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for op in ops:
        for who in ("administrator", "user"):
            runs = results[(op, who)]
            lines.append(f"| {op} | {who} | {api.median(runs, 'rps'):,.0f} | {api.fmt_ms(api.median(runs, 'p50_ms'))} "
                         f"| {api.fmt_ms(api.median(runs, 'p99_ms'))} | {sum(r['non2xx'] for r in runs)} |")
    lines += ["", "| operation | req/s user/administrator | p50 user/administrator | p99 user/administrator |",
              "| --- | ---: | ---: | ---: |"]
    for op in ops:
        a, u = results[(op, "administrator")], results[(op, "user")]
        lines.append(f"| {op} | {api.median(u, 'rps') / api.median(a, 'rps'):.2f}× "
                     f"| {api.median(u, 'p50_ms') / api.median(a, 'p50_ms'):.2f}× "
                     f"| {api.median(u, 'p99_ms') / api.median(a, 'p99_ms'):.2f}× |")
    lines += ["", "<details><summary>Every run</summary>", "",
              "| operation | round | caller | req/s | p50 | p99 | non-2xx | server CPU | other CPU |",
              "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for op in ops:
        for i in range(args.rounds):
            for who in ("administrator", "user"):
                r = results[(op, who)][i]
                lines.append(f"| {op} | {i + 1} | {who} | {r['rps']:,.0f} | {api.fmt_ms(r['p50_ms'])} "
                             f"| {api.fmt_ms(r['p99_ms'])} | {r['non2xx']} | {r['server_cores']:.2f} "
                             f"| {r['other_cores']:.2f} |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not (1 <= args.duration <= 60 and 1 <= args.connections <= 64 and 1 <= args.rounds <= 10):
        ap.error("duration 1-60, connections 1-64, rounds 1-10")
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, timeout=600,
                       stdout=subprocess.DEVNULL)
    binary = api.flotilla_binary()
    server = agents = None
    with tempfile.TemporaryDirectory(prefix="flotilla-authz-") as t:
        tmp = Path(t)
        try:
            server, endpoint, logfile = api.start_flotilla(binary, tmp, keys=ROOT_KEYS)
            user_keys = set_up(endpoint)
            agents = subprocess.Popen(
                [str(binary), "bench", "sim-agents", "--server", endpoint, "--cluster", CLUSTER,
                 "--count", str(AGENTS), "--data-dir", str(tmp / "agents")],
                env=dict(os.environ, FLOTILLA_LOG="warn"), stdout=open(tmp / "agents.log", "ab"),
                stderr=subprocess.STDOUT)
            wait_for_agents(endpoint, time.monotonic() + 60)
            identities = {"administrator": ROOT_KEYS, "user": user_keys}
            for op in ("DescribeClusters", "RunTask"):
                for who, keys in identities.items():
                    check(endpoint, op, keys, who)
            results = {}
            for op in ("DescribeClusters", "RunTask"):
                for who, keys in identities.items():  # warm-up
                    api.run_wrk(tmp, endpoint, server.pid, op, body(op), 2, args.connections, keys)
                for i in range(args.rounds):
                    for who, keys in identities.items():
                        r = api.run_wrk(tmp, endpoint, server.pid, op, body(op), args.duration,
                                        args.connections, keys)
                        results.setdefault((op, who), []).append(r)
                        log(f"{op} round {i + 1} {who}: {r['rps']:,.0f} req/s, p99 {r['p99_ms']:.2f} ms, "
                            f"non-2xx {r['non2xx']}")
        finally:
            api.stop(agents)
            api.stop(server)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": api.machine_description(),
        "flotilla": api.flotilla_description(binary),
        "wrk": api.wrk_description(),
    }
    block = render(results, args, meta)
    print(block)
    if args.write:
        write_section("bench/authz.py", block, "## Authorisation: administrator vs an IAM user with 200 statements (bench/authz.py)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except api.BenchError as e:
        log(f"error: {e}")
        sys.exit(1)
