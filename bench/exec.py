#!/usr/bin/env python3
"""A command in a running container: `flotilla exec` vs `docker exec`, side by side.

    .venv/bin/python bench/exec.py [--runs 20] [--mib 64] [--rounds 2] [--write]

Starts `flotilla up` (server + local agent on this Docker Engine) from a release build (or
$FLOTILLA_BIN), runs one task with enableExecuteCommand, and then, in interleaved rounds
(docker, flotilla, ...):

- round trip: N runs of `true`, one after another: the wall time of `flotilla exec TASK --
  true` (ExecuteCommand, the agent told by its PollExec, both ends attached, Docker's exec,
  the exit status back) and of `docker exec CONTAINER true`, each a new CLI process;
- throughput: M MiB piped through `busybox wc -c` in the container with `-i` by each.

Reports medians (and p90 of the round trips) and the ratio Flotilla/Docker. The task and
the server are stopped at the end; it stops only the processes it started.
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import build, percentile, write_section  # noqa: E402
from launch import ACCESS_KEY, IMAGE, SECRET_KEY, Up  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd, env, data=None):
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, input=data, capture_output=True, timeout=300)
    elapsed = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed ({out.returncode}): {out.stderr[-500:]!r}")
    return elapsed, out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    args.runs = max(1, min(args.runs, 200))
    args.mib = max(1, min(args.mib, 512))
    args.rounds = max(1, min(args.rounds, 5))

    binary = build()
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    tmp = tempfile.mkdtemp(prefix="flotilla-exec-")
    up = Up(binary, Path(tmp) / "data")
    env = dict(os.environ, FLOTILLA_DATA_DIR=str(up.data_dir), FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY,
               FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY)
    results = {k: [] for k in ("docker-rt", "flotilla-rt", "docker-mbs", "flotilla-mbs")}
    data = os.urandom(args.mib * 1024 * 1024)
    task = None
    try:
        up.ecs.register_task_definition(family="exec-bench", containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 32, "command": ["sleep", "1000"], "stopTimeout": 1}])
        task = up.ecs.run_task(taskDefinition="exec-bench", enableExecuteCommand=True)["tasks"][0]["taskArn"]
        deadline = time.monotonic() + 60
        while True:
            t = up.ecs.describe_tasks(tasks=[task])["tasks"][0]
            if t["lastStatus"] == "RUNNING":
                container = t["containers"][0]["runtimeId"]
                break
            if time.monotonic() > deadline:
                sys.exit("the task did not reach RUNNING")
            time.sleep(0.1)
        flotilla = [binary, "exec", task]
        docker = ["docker", "exec", container]
        for r in range(args.rounds):
            for _ in range(args.runs):
                results["docker-rt"].append(timed([*docker, "true"], env)[0])
                results["flotilla-rt"].append(timed([*flotilla, "--", "true"], env)[0])
            for name, cmd in (("docker", [*docker[:2], "-i", container]),
                              ("flotilla", [binary, "exec", "-i", task, "--"])):
                seconds, out = timed([*cmd, "busybox", "wc", "-c"], env, data)
                if int(out.split()[0]) != len(data):
                    sys.exit(f"{name}: {out!r} bytes counted, not {len(data)}")
                results[f"{name}-mbs"].append(args.mib / seconds)
            print(f"round {r + 1} done", file=sys.stderr)
    finally:
        if task:
            up.ecs.stop_task(task=task)
        up.stop()

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    docker_version = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                                    capture_output=True, text=True).stdout.strip()
    d, f = results["docker-rt"], results["flotilla-rt"]
    dm, fm = statistics.median(d), statistics.median(f)
    d90, f90 = percentile(d, 0.9), percentile(f, 0.9)
    dt, ft = statistics.median(results["docker-mbs"]), statistics.median(results["flotilla-mbs"])
    lines = [
        "Command: `.venv/bin/python bench/exec.py --write`",
        "",
        f"- Date: {now}; commit {commit}; {platform.machine()}, {os.cpu_count()} cores (shared); "
        f"Docker Engine {docker_version}",
        f"- {args.rounds} interleaved rounds; per round {args.runs} runs of `true` by each and "
        f"{args.mib} MiB through `busybox wc -c` by each",
        "",
        "| | Docker | Flotilla | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| `true`, median | {dm * 1000:.0f} ms | {fm * 1000:.0f} ms | {fm / dm:.2f}× |",
        f"| `true`, p90 | {d90 * 1000:.0f} ms | {f90 * 1000:.0f} ms | {f90 / d90:.2f}× |",
        f"| stdin throughput, median | {dt:.0f} MiB/s | {ft:.0f} MiB/s | {ft / dt:.2f}× |",
        "",
        "Each figure is a new CLI process's wall time: `flotilla exec TASK -- true` (ExecuteCommand, "
        "the agent's PollExec, both ends of the session attached over HTTP/2, Docker's exec, the "
        "exit status back) against `docker exec CONTAINER true` on the task's host.",
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("bench/exec.py", table, "## A command in a container: flotilla exec vs docker exec")
        print("wrote BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
