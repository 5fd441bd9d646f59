#!/usr/bin/env python3
"""Services: how fast the service controller heals and rolls out.

    .venv/bin/python bench/services.py [--kills 10] [--rapid-kills 20] [--rounds 3]
                                       [--sim-instances 50] [--sim-tasks 1000] [--sim-rounds 1]
                                       [--skip-docker] [--skip-sim]

Uses a release build (`cargo build --release -p flotilla`) or $FLOTILLA_BIN, and checks
that it implements CreateService (`flotilla operations`). Measures:

(a) Replacement after a crash, on Docker, against a baseline. `flotilla up` (server + one
    local agent on this Docker Engine, sqlite store) in a temporary data directory; a service
    of desired count 3 running `sleep` from the local test image (scripts/test-image). KILLS
    times: SIGKILL the main process of one of its containers from the host (its
    `State.Pid`), then poll ListTasks/DescribeTasks every 10 ms until a task of the service
    that was not there before is RUNNING. Figures per kill, all from the moment before the
    SIGKILL: the death reported by the agent (the task's stoppedAt), the replacement created
    (its createdAt), listed (ListTasks --service-name), RUNNING (DescribeTasks lastStatus),
    and its container started (Docker `State.StartedAt`). Between kills it waits until the
    service is stable again (one deployment, runningCount == desiredCount).
    Baseline, interleaved with those kills (baseline kill i, then Flotilla kill i): one plain
    `docker run -d --restart=always` container of the same image and command, labelled
    BASELINE_LABEL. Its main process gets the same SIGKILL from the host (a `docker kill`
    would count as a manual stop, which the restart policy does not act on); the figure is
    the time from just before the SIGKILL to the restarted container's `State.StartedAt`
    (same container id; `docker inspect` polled every 10 ms until StartedAt changed and
    State.Running is true). Docker delays a restart by 100 ms, doubling on each restart
    unless the container had run >= 10 s, so every baseline kill waits until the container
    has been up at least BASELINE_MIN_UPTIME (10.5 s): each restart then pays the 100 ms
    minimum. Note the difference in work: Flotilla starts a new task (a new container, through
    the scheduler and the agent), Docker restarts the same container in place.
(a') Rapid kills, on the same `flotilla up` and the same service of 3, after (a) (the
    baseline container is removed first): RAPID_KILLS (0 skips it) Flotilla kills back to
    back, with no 10 s spacing and no baseline. Each waits only until the service has 3
    RUNNING tasks, then SIGKILLs the main process of the newest task's container (the tasks
    sorted by createdAt; normally the previous kill's replacement), measured as in (a). The
    spacing in (a) hides anything that only shows when tasks die in quick succession (e.g.
    a launch backoff that counts tasks killed after they ran, and so delays replacements
    after a few quick kills); killing the newest healthy task is what exposed such a bug.
    Every replacement RUNNING more than RAPID_SLOW (1 s) after its kill is listed below the
    table with its figures.
(b) Rolling deployment of a 10-task service on Docker (min 50 %, max 200 %): ROUNDS times
    UpdateService to the other of two revisions (they differ in an environment variable),
    timed from the call until the `services-stable` condition holds for the new revision
    (one deployment, on the new task definition, runningCount == desiredCount), polled
    every 100 ms.
    Baseline, interleaved with those rounds (baseline round r, then Flotilla round r): the same
    rollout by hand with the docker CLI, on plain containers of the same image and command
    labelled ROLLOUT_BASELINE_LABEL and differing in `-e REVISION=<n>`. Before the first round,
    10 containers of the "old" revision are started (untimed). Each round starts 10 containers
    of the new revision (10 `docker run -d` processes started at once, waited for), then removes
    the 10 old ones (one `docker rm -f` of their ids); timed from the first `docker run` to the
    `docker rm -f` returning. The new ones are the old ones of the next round. That is what a
    rolling deployment of 10 tasks with max 200 % comes down to without an orchestrator; note
    the difference in work: Flotilla's time includes waiting for each new task to be RUNNING
    (reported by the agent) and the min/max percent pacing, and its old tasks are stopped
    gracefully (SIGTERM, stopTimeout), while the baseline kills the old containers at once.
    `services-stable` holds only once the old tasks have stopped (runningCount counts tasks
    whose last status is RUNNING, and an old deployment is listed until its tasks stopped),
    so both times include the old containers' exit. The
    baseline containers are removed (by label) before the first round, after the last one
    and on error.
(c) The same rolling deployment of a 1,000-task service on SIM_INSTANCES simulated agents
    (`flotilla bench sim-agents`: the real agent protocol with the `sim` runtime) against
    `flotilla server` (sqlite store): first the time from CreateService until the service
    is stable (the initial scale-up), then SIM_ROUNDS deployments as in (b), polled every
    20 ms (SIM_POLL).

Prints each run, then a table with the median, min and max of each measurement. Every loop
is bounded in count and time; every task and container it creates is stopped and removed;
it stops only the processes it started (by pid), also on error.
"""
import argparse
import collections
import datetime
import os
import platform
import re
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

from common import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "flotilla-test/busybox:latest"
REGION = "us-east-1"
# The Docker part's own key pair (any 20/40-character pair works; the server takes it from
# the environment).
UP_ACCESS_KEY = "AKIAFLOTILLABENCH003"
UP_SECRET_KEY = "bEnChSeRvIcE/SeCrEt+KeY0123456789abcdefgh"[:40]
# `flotilla bench sim-agents` signs with this fixed pair (crates/flotilla/src/bench.rs), so
# the simulated part's server must accept it.
SIM_ACCESS_KEY = "AKIAFLOTILLASCALE001"
SIM_SECRET_KEY = "sCaLeBeNcH/SeCrEt+KeY0123456789abcdefghi"
# A container that exits at once on SIGTERM (busybox sh as PID 1 ignores it otherwise).
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
KILL_SERVICE, KILL_FAMILY = "bench-kill", "bench-kill"
ROLL_SERVICE, ROLL_FAMILY = "bench-roll", "bench-roll"
SIM_CLUSTER, SIM_SERVICE, SIM_FAMILY = "bench", "bench-sim-roll", "bench-sim-roll"
# Part (a)'s baseline: a plain container under Docker's own restart policy.
BASELINE_LABEL = "flotilla-bench=services-restart-baseline"
# Part (b)'s baseline: the rolling deployment done by hand with the docker CLI.
ROLLOUT_BASELINE_LABEL = "flotilla-bench=services-rollout-baseline"
ROLLOUT_TASKS = 10
# Docker's restart delay is 100 ms, doubling on each restart unless the container had run for
# at least 10 s; waiting a little longer than that before every kill keeps it at 100 ms.
BASELINE_MIN_UPTIME = 10.5
# A rapid kill whose replacement takes longer than this to be RUNNING is reported by name.
RAPID_SLOW = 1.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)




def client(endpoint, access_key, secret_key):
    return boto3.client("ecs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key,
                        config=Config(retries={"max_attempts": 2}, read_timeout=120, max_pool_connections=16))


class Proc:
    """A process this script started; stopped with SIGTERM (then SIGKILL) by its pid."""

    def __init__(self, args, env, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_flotilla(binary, command, data_dir, access_key, secret_key, extra=()):
    """`flotilla up|server` on a free loopback port; (Proc, endpoint)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=access_key, FLOTILLA_SECRET_ACCESS_KEY=secret_key,
               FLOTILLA_LOG=os.environ.get("FLOTILLA_LOG", "warn"))
    proc = Proc([binary, command, "--data-dir", str(data_dir), "--api-addr", "127.0.0.1:0", *extra], env,
                data_dir.parent / f"{command}.log")
    endpoint_file = data_dir / "endpoint"
    deadline = time.monotonic() + 60
    while not endpoint_file.exists():
        if not proc.alive() or time.monotonic() > deadline:
            proc.stop()
            sys.exit(f"flotilla {command} did not start; see {data_dir.parent / f'{command}.log'}")
        time.sleep(0.05)
    return proc, endpoint_file.read_text().strip()


def poll(predicate, timeout, interval, what):
    """Calls predicate until it returns something truthy; exits after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            sys.exit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def describe_service(ecs, cluster, name):
    out = ecs.describe_services(cluster=cluster, services=[name])
    if out.get("failures"):
        sys.exit(f"DescribeServices {name}: {out['failures']}")
    return out["services"][0]


def stable(svc, task_definition=None):
    """The `aws ecs wait services-stable` condition, optionally on one task definition."""
    deps = svc["deployments"]
    return (len(deps) == 1 and svc["runningCount"] == svc["desiredCount"]
            and (task_definition is None or deps[0]["taskDefinition"] == task_definition))


def wait_stable(ecs, cluster, name, task_definition=None, timeout=120, interval=0.1):
    return poll(lambda: (s := describe_service(ecs, cluster, name)) and stable(s, task_definition) and s,
                timeout, interval, f"service {name} to be stable")


def service_task_arns(ecs, cluster, name):
    arns = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, serviceName=name, desiredStatus="RUNNING",
                                                        PaginationConfig={"MaxItems": 10_000}):
        arns += page["taskArns"]
    return arns


def describe_tasks(ecs, cluster, arns):
    tasks = []
    for i in range(0, len(arns), 100):
        tasks += ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]
    return tasks


def docker_started_at(container_id):
    """The container's State.StartedAt as a Unix time."""
    state = docker_state(container_id)
    return state[2] if state else None


def parse_docker_time(value):
    """A Docker RFC 3339 UTC timestamp (nanoseconds) as a Unix time, or None."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", value.strip())
    if not m or m.group(1).startswith("0001-"):
        return None
    whole = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return whole.timestamp() + float(m.group(2) or 0)


def docker_state(container_id):
    """(State.Pid, State.Running, State.StartedAt as a Unix time) of a container, or None."""
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}} {{.State.Running}} {{.State.StartedAt}}",
                          container_id], capture_output=True, text=True)
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 3:
        return None
    return int(parts[0]), parts[1] == "true", parse_docker_time(parts[2])


def remove_family_containers(*families):
    ids = []
    for family in families:
        ids += subprocess.run(["docker", "ps", "-aq", "--filter",
                               f"label=com.amazonaws.ecs.task-definition-family={family}"],
                              capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def delete_service(ecs, cluster, name, timeout=120):
    """Force-deletes a service and waits (bounded) until its tasks stopped."""
    try:
        arns = service_task_arns(ecs, cluster, name)
        ecs.delete_service(cluster=cluster, service=name, force=True)
    except Exception as e:  # noqa: BLE001 — cleanup goes on
        log(f"deleting {name}: {e}")
        return
    deadline = time.monotonic() + timeout
    while arns and time.monotonic() < deadline:
        arns = [t["taskArn"] for t in describe_tasks(ecs, cluster, arns) if t["lastStatus"] != "STOPPED"]
        time.sleep(0.25)


# --- (a) kill → replacement ----------------------------------------------------------------


def three_running(ecs):
    tasks = describe_tasks(ecs, "default", service_task_arns(ecs, "default", KILL_SERVICE))
    running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
    return running if len(running) == 3 == len(tasks) else None


def start_baseline():
    """The baseline: one plain container of the service's image and command under Docker's
    own restart policy; its id."""
    out = subprocess.run(["docker", "run", "-d", "--restart=always", "--label", BASELINE_LABEL, IMAGE, *SLEEPER],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"docker run (baseline): {out.stderr.strip()}")
    return out.stdout.strip()


def remove_baseline(label=BASELINE_LABEL):
    """Removes every container with the given baseline label (bounded in time)."""
    try:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"], capture_output=True,
                             text=True, timeout=60).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        log(f"removing containers labelled {label}: {e}")


def baseline_kill(container_id, i, kills):
    """SIGKILLs the baseline container's main process once it has been up BASELINE_MIN_UPTIME;
    seconds until Docker's restart policy started it again (its new State.StartedAt)."""
    state = poll(lambda: (st := docker_state(container_id)) and st[1] and st[2] and st, 30, 0.1,
                 "the baseline container to run")
    wait = state[2] + BASELINE_MIN_UPTIME - time.time()
    if wait > 0:
        time.sleep(min(wait, BASELINE_MIN_UPTIME))
    before = docker_state(container_id)
    if not before or not before[1] or before[2] != state[2]:
        sys.exit(f"baseline kill {i + 1}: the container restarted on its own: {before}")
    wall0 = time.time()
    os.kill(before[0], signal.SIGKILL)

    def restarted():
        st = docker_state(container_id)
        return st and st[1] and st[2] and st[2] != before[2] and st

    after = poll(restarted, 30, 0.01, f"the baseline container to restart (kill {i + 1})")
    started = after[2] - wall0
    log(f"baseline kill {i + 1}/{kills}: Docker restart policy, container started {started * 1000:.0f} ms "
        f"(up {wall0 - before[2]:.1f} s before the kill)")
    return started


# The figures of one Flotilla kill, in seconds from just before the SIGKILL (the first five
# by position too: listed, RUNNING, container started, death reported, replacement created),
# the killed and the replacement task's ARNs, and the wall-clock time of the kill.
KillFigures = collections.namedtuple(
    "KillFigures", "listed running container reported created victim replacement killed_at")


def victim_by_index(i):
    """Part (a)'s choice: the tasks in ListTasks order, in turn."""
    return lambda tasks: tasks[i % len(tasks)]


def newest_task(tasks):
    """The rapid kills' choice: the newest task (by createdAt), normally the last replacement."""
    return max(tasks, key=lambda t: (t["createdAt"], t["taskArn"]))


def flotilla_kill(ecs, i, kills, choose, what="kill", settle=True):
    """Waits until the service has 3 RUNNING tasks, SIGKILLs the main process of the
    container of `choose(tasks)`, and polls until a new task of the service is RUNNING; its
    KillFigures. With `settle`, then waits until the service is stable again."""
    tasks = poll(lambda: three_running(ecs), 60, 0.1, "3 running tasks")
    known = {t["taskArn"] for t in tasks}
    victim_task = choose(tasks)
    victim = victim_task["containers"][0]["runtimeId"]
    state = docker_state(victim)
    if not state or not state[1] or state[0] <= 0:
        sys.exit(f"{what} {i + 1}: container {victim[:12]} is not running: {state}")
    wall0, t0 = time.time(), time.monotonic()
    os.kill(state[0], signal.SIGKILL)
    listed = running = None
    new_task = None
    deadline = t0 + 60
    while time.monotonic() < deadline:
        fresh = [a for a in service_task_arns(ecs, "default", KILL_SERVICE) if a not in known]
        if fresh:
            listed = listed or time.monotonic() - t0
            up = [t for t in describe_tasks(ecs, "default", fresh) if t["lastStatus"] == "RUNNING"]
            if up:
                running, new_task = time.monotonic() - t0, up[0]
                break
        time.sleep(0.01)
    if running is None:
        sys.exit(f"{what} {i + 1}: no replacement RUNNING within 60 s")
    started = docker_started_at(new_task["containers"][0].get("runtimeId", ""))
    container = started - wall0 if started else float("nan")
    # Server-side timestamps split the time: the agent reporting the death, then the
    # controller creating the replacement.
    dead = describe_tasks(ecs, "default", [victim_task["taskArn"]])[0]
    reported = dead["stoppedAt"].timestamp() - wall0 if dead.get("stoppedAt") else float("nan")
    created = new_task["createdAt"].timestamp() - wall0
    log(f"{what} {i + 1}/{kills}: SIGKILL → death reported {reported * 1000:.0f} ms, replacement created "
        f"{created * 1000:.0f} ms, listed {listed * 1000:.0f} ms, RUNNING {running * 1000:.0f} ms, "
        f"container started {container * 1000:.0f} ms")
    if settle:
        wait_stable(ecs, "default", KILL_SERVICE, timeout=60)
    return KillFigures(listed, running, container, reported, created, victim_task["taskArn"],
                       new_task["taskArn"], wall0)


def rapid_kills(ecs, kills):
    """Part (a'): `kills` Flotilla kills back to back, each of the newest task; their
    KillFigures, and how many of the victims were the previous kill's replacement."""
    rows, previous_killed = [], 0
    for i in range(kills):
        rows.append(flotilla_kill(ecs, i, kills, newest_task, what="rapid kill", settle=False))
        if i and rows[-1].victim == rows[-2].replacement:
            previous_killed += 1
    return rows, previous_killed


def bench_kills(ecs, kills, rapid):
    """Interleaved: baseline kill i, then Flotilla kill i; then `rapid` kills back to back.
    (Flotilla rows, baseline seconds, rapid rows, rapid victims that were the last replacement.)"""
    rows, baseline = [], []
    remove_baseline()
    try:
        # Started first, so that it gathers uptime while the service comes up.
        container_id = start_baseline()
        td = ecs.register_task_definition(family=KILL_FAMILY, containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 8, "command": SLEEPER, "stopTimeout": 2}])["taskDefinition"]
        ecs.create_service(cluster="default", serviceName=KILL_SERVICE, taskDefinition=td["taskDefinitionArn"],
                           desiredCount=3, launchType="EC2")
        wait_stable(ecs, "default", KILL_SERVICE, timeout=120)
        for i in range(kills):
            baseline.append(baseline_kill(container_id, i, kills))
            rows.append(flotilla_kill(ecs, i, kills, victim_by_index(i)))
    finally:
        remove_baseline()
    rapid_rows, previous_killed = rapid_kills(ecs, rapid)
    delete_service(ecs, "default", KILL_SERVICE)
    return rows, baseline, rapid_rows, previous_killed


# --- (b), (c) rolling deployments ----------------------------------------------------------


def bench_rollout(ecs, cluster, name, tds, rounds, timeout, interval, before_round=None):
    """ROUNDS deployments alternating between the two task definitions; seconds each.
    `before_round(r)`, if given, runs before round r (untimed here): the interleaved baseline."""
    durations = []
    for r in range(rounds):
        if before_round:
            before_round(r)
        target = tds[(r + 1) % 2]
        t0 = time.monotonic()
        ecs.update_service(cluster=cluster, service=name, taskDefinition=target)
        wait_stable(ecs, cluster, name, target, timeout=timeout, interval=interval)
        durations.append(time.monotonic() - t0)
        log(f"{name}: deployment {r + 1}/{rounds} to {target.rsplit('/', 1)[-1]} in {durations[-1]:.2f} s")
    return durations


def register_pair(ecs, family, image, memory, command=None):
    arns = []
    for rev in ("1", "2"):
        container = {"name": "app", "image": image, "memory": memory, "cpu": 0, "essential": True,
                     "environment": [{"name": "REVISION", "value": rev}], "stopTimeout": 2}
        if command:
            container["command"] = command
        arns.append(ecs.register_task_definition(family=family, containerDefinitions=[container])
                    ["taskDefinition"]["taskDefinitionArn"])
    return arns


def docker_run_many(revision, n=ROLLOUT_TASKS, timeout=120):
    """Starts n baseline containers of `revision` at once (n `docker run -d` processes) and
    waits for all of them; their ids. Exits if any fails or they take longer than `timeout`."""
    args = ["docker", "run", "-d", "--label", ROLLOUT_BASELINE_LABEL, "-e", f"REVISION={revision}", IMAGE, *SLEEPER]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    deadline = time.monotonic() + timeout
    ids, errors = [], []
    for p in procs:
        try:
            out, err = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()  # our own child, by its pid
            try:
                p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            errors.append(f"timed out after {timeout} s")
            continue
        if p.returncode != 0 or not out.strip():
            errors.append(err.strip() or f"exit status {p.returncode}")
        else:
            ids.append(out.strip())
    if errors:
        sys.exit(f"docker run (rollout baseline, REVISION={revision}): {'; '.join(errors)}")
    return ids


def baseline_rollout_round(old_ids, revision, r, rounds):
    """One hand-rolled rollout: start ROLLOUT_TASKS containers of `revision`, then `docker rm
    -f` the old ones. (seconds from the first `docker run` to `docker rm -f` returning, new ids)."""
    t0 = time.monotonic()
    new_ids = docker_run_many(revision)
    started = time.monotonic() - t0
    out = subprocess.run(["docker", "rm", "-f", *old_ids], capture_output=True, text=True, timeout=120)
    total = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"docker rm -f (rollout baseline): {out.stderr.strip()}")
    log(f"baseline round {r + 1}/{rounds}: {len(new_ids)} docker run -d (REVISION={revision}) in {started:.2f} s, "
        f"then docker rm -f of {len(old_ids)} old: {total:.2f} s in all")
    return total, new_ids


def bench_docker_rollout(ecs, rounds):
    """Interleaved: baseline round r, then Flotilla round r. (Flotilla seconds, baseline seconds.)"""
    baseline = []
    remove_baseline(ROLLOUT_BASELINE_LABEL)
    try:
        # The baseline's "old" revision, started (untimed) before the first round; the
        # revisions alternate like the task definitions' REVISION (1, then 2, 1, ...).
        old_ids = docker_run_many("1")

        def baseline_round(r):
            nonlocal old_ids
            seconds, old_ids = baseline_rollout_round(old_ids, str((r + 1) % 2 + 1), r, rounds)
            baseline.append(seconds)

        tds = register_pair(ecs, ROLL_FAMILY, IMAGE, 8, SLEEPER)
        ecs.create_service(cluster="default", serviceName=ROLL_SERVICE, taskDefinition=tds[0],
                           desiredCount=ROLLOUT_TASKS, launchType="EC2",
                           deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
        try:
            wait_stable(ecs, "default", ROLL_SERVICE, tds[0], timeout=180)
            roll = bench_rollout(ecs, "default", ROLL_SERVICE, tds, rounds, timeout=300, interval=0.1,
                                 before_round=baseline_round)
        finally:
            delete_service(ecs, "default", ROLL_SERVICE)
    finally:
        remove_baseline(ROLLOUT_BASELINE_LABEL)
    return roll, baseline


def run_docker(binary, tmp, kills, rapid, rounds):
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)
    proc, endpoint = start_flotilla(binary, "up", tmp / "up", UP_ACCESS_KEY, UP_SECRET_KEY,
                                    ["--cleanup-delay-seconds", "5"])
    try:
        ecs = client(endpoint, UP_ACCESS_KEY, UP_SECRET_KEY)

        def agent_connected():
            try:
                arns = ecs.list_container_instances(cluster="default")["containerInstanceArns"]
                return arns and ecs.describe_container_instances(
                    cluster="default", containerInstances=arns[:1])["containerInstances"][0]["agentConnected"]
            except Exception:  # noqa: BLE001 — still starting
                return False

        poll(agent_connected, 60, 0.1, "the local agent to connect")
        kill_rows, baseline, rapid_rows, previous_killed = bench_kills(ecs, kills, rapid)
        roll, roll_baseline = bench_docker_rollout(ecs, rounds)
        return kill_rows, baseline, rapid_rows, previous_killed, roll, roll_baseline
    finally:
        proc.stop()
        remove_family_containers(KILL_FAMILY, ROLL_FAMILY)
        remove_baseline()
        remove_baseline(ROLLOUT_BASELINE_LABEL)


def rss_peak_mib(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) / 1024 if m else float("nan")


# How often the simulated service is polled for stable: the figures are only as fine as
# this (it was 0.25 s, which put every rollout on a 250 ms step).
SIM_POLL = 0.02


def run_sim(binary, tmp, instances, tasks, rounds):
    server, endpoint = start_flotilla(binary, "server", tmp / "sim-server", SIM_ACCESS_KEY, SIM_SECRET_KEY,
                                      ["--agent-ttl-seconds", "120"])
    agents = None
    try:
        ecs = client(endpoint, SIM_ACCESS_KEY, SIM_SECRET_KEY)
        ecs.create_cluster(clusterName=SIM_CLUSTER)
        tds = register_pair(ecs, SIM_FAMILY, "sim/app:1", 6)
        env = dict(os.environ, FLOTILLA_LOG=os.environ.get("FLOTILLA_LOG", "warn"))
        agents = Proc([binary, "bench", "sim-agents", "--server", endpoint, "--cluster", SIM_CLUSTER,
                       "--count", str(instances), "--data-dir", str(tmp / "sim-agents")], env, tmp / "sim-agents.log")

        def registered():
            if not agents.alive():
                sys.exit(f"sim-agents exited; see {tmp / 'sim-agents.log'}")
            c = ecs.describe_clusters(clusters=[SIM_CLUSTER])["clusters"][0]
            return c["registeredContainerInstancesCount"] >= instances

        t0 = time.monotonic()
        poll(registered, 300, 0.5, f"{instances} simulated agents to register")
        log(f"{instances} simulated agents registered in {time.monotonic() - t0:.1f} s")

        t0 = time.monotonic()
        ecs.create_service(cluster=SIM_CLUSTER, serviceName=SIM_SERVICE, taskDefinition=tds[0], desiredCount=tasks,
                           launchType="EC2",
                           deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
        wait_stable(ecs, SIM_CLUSTER, SIM_SERVICE, tds[0], timeout=900, interval=SIM_POLL)
        scale_up = time.monotonic() - t0
        log(f"{SIM_SERVICE}: {tasks} tasks stable {scale_up:.2f} s after CreateService")
        durations = bench_rollout(ecs, SIM_CLUSTER, SIM_SERVICE, tds, rounds, timeout=900, interval=SIM_POLL)
        peak = rss_peak_mib(server.proc.pid)
        try:
            ecs.delete_service(cluster=SIM_CLUSTER, service=SIM_SERVICE, force=True)
        except Exception as e:  # noqa: BLE001
            log(f"deleting {SIM_SERVICE}: {e}")
        return scale_up, durations, peak
    finally:
        if agents:
            agents.stop()
        server.stop()


def fmt(seconds):
    if seconds != seconds:  # NaN
        return "n/a"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def row(label, values):
    values = [v for v in values if v == v]
    if not values:
        return f"| {label} | 0 | n/a | n/a | n/a |"
    return (f"| {label} | {len(values)} | {fmt(statistics.median(values))} | {fmt(min(values))} | "
            f"{fmt(max(values))} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--rapid-kills", type=int, default=20,
                    help="Flotilla kills back to back (newest task, no baseline) after --kills; 0 skips them")
    ap.add_argument("--rounds", type=int, default=3, help="rolling deployments of the 10-task Docker service")
    ap.add_argument("--sim-instances", type=int, default=50)
    ap.add_argument("--sim-tasks", type=int, default=1000)
    ap.add_argument("--sim-rounds", type=int, default=1, help="rolling deployments of the simulated service")
    ap.add_argument("--skip-docker", action="store_true")
    ap.add_argument("--skip-sim", action="store_true")
    args = ap.parse_args()
    args.kills = max(1, min(args.kills, 50))
    args.rapid_kills = max(0, min(args.rapid_kills, 100))
    args.rounds = max(1, min(args.rounds, 10))
    args.sim_instances = max(1, min(args.sim_instances, 500))
    args.sim_tasks = max(1, min(args.sim_tasks, 5000))
    args.sim_rounds = max(1, min(args.sim_rounds, 5))

    binary = build()
    ops = subprocess.run([binary, "operations"], capture_output=True, text=True, timeout=30).stdout.split()
    if "CreateService" not in ops:
        sys.exit(f"{binary} does not implement CreateService yet")

    tmp = Path(tempfile.mkdtemp(prefix="flotilla-services-"))
    kill_rows, baseline, rapid_rows, previous_killed, roll, roll_baseline, sim = [], [], [], 0, [], [], None
    try:
        if not args.skip_docker:
            kill_rows, baseline, rapid_rows, previous_killed, roll, roll_baseline = run_docker(
                binary, tmp, args.kills, args.rapid_kills, args.rounds)
        if not args.skip_sim:
            sim = run_sim(binary, tmp, args.sim_instances, args.sim_tasks, args.sim_rounds)
    except BaseException:
        log(f"logs kept in {tmp}")
        raise
    shutil.rmtree(tmp, ignore_errors=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"- Date: {now}; commit {commit}; {platform.machine()}, {os.cpu_count()} cores",
        "",
        "| measurement | runs | median | min | max |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    if kill_rows:
        lines += [
            row("SIGKILL → death reported by the agent (task stoppedAt)", [r[3] for r in kill_rows]),
            row("SIGKILL → replacement task created (task createdAt)", [r[4] for r in kill_rows]),
            row("SIGKILL → replacement task listed (service of 3, Docker)", [r[0] for r in kill_rows]),
            row("SIGKILL → replacement task RUNNING (DescribeTasks)", [r[1] for r in kill_rows]),
            row("SIGKILL → replacement container started (Docker StartedAt)", [r[2] for r in kill_rows]),
        ]
    if baseline:
        lines.append(row("Docker restart policy (--restart=always): SIGKILL → container started", baseline))
    if rapid_rows:
        lines += [
            row("rapid kills (back to back, newest task): SIGKILL → replacement task RUNNING",
                [r.running for r in rapid_rows]),
            row("rapid kills (back to back, newest task): SIGKILL → replacement task created",
                [r.created for r in rapid_rows]),
        ]
    if roll:
        lines.append(row(f"rolling deployment, {ROLLOUT_TASKS} tasks on Docker, min 50 % / max 200 %", roll))
    if roll_baseline:
        lines.append(row(f"Docker CLI baseline: start {ROLLOUT_TASKS} new containers, then remove {ROLLOUT_TASKS} old",
                         roll_baseline))
    if sim:
        scale_up, durations, _ = sim
        lines += [
            row(f"CreateService → stable, {args.sim_tasks:,} tasks on {args.sim_instances} simulated instances",
                [scale_up]),
            row(f"rolling deployment, {args.sim_tasks:,} tasks on {args.sim_instances} simulated instances, "
                "min 50 % / max 200 %", durations),
        ]
    lines.append("")
    if kill_rows:
        lines.append("Kill figures are from just before the container's main process got SIGKILL from the host "
                     "(its State.Pid); \"listed\" and \"RUNNING\" are the first ListTasks/DescribeTasks poll "
                     "(every 10 ms) showing the new task.")
    if kill_rows and baseline:
        flotilla_started = [r[2] for r in kill_rows if r[2] == r[2]]
        if flotilla_started:
            ratio = statistics.median(flotilla_started) / statistics.median(baseline)
            lines.append(f"ratio Flotilla/Docker restart: {ratio:.1f}× (median SIGKILL → replacement container "
                         "started, over median SIGKILL → container restarted)")
        lines.append("Baseline: one plain `docker run --restart=always` container of the same image and command, "
                     "killed the same way (SIGKILL to its main process; a `docker kill` is a manual stop, which the "
                     "policy ignores), interleaved with Flotilla's kills (baseline kill i, then Flotilla kill i); "
                     "its figure is to its new State.StartedAt. Every baseline kill waits until the container has "
                     f"been up at least {BASELINE_MIN_UPTIME} s, so Docker's restart delay stays at its 100 ms "
                     "minimum (it doubles on each restart after less than 10 s of uptime). Flotilla starts a new "
                     "task (a new container, through the scheduler and the agent); Docker restarts the same "
                     "container in place.")
    if rapid_rows:
        gaps = [b.killed_at - a.killed_at for a, b in zip(rapid_rows, rapid_rows[1:])]
        spacing = (f"; kills {fmt(statistics.median(gaps))} apart (median, SIGKILL to SIGKILL)" if gaps else "")
        lines.append(f"Rapid kills: after the kills above, on the same service of 3, {len(rapid_rows)} Flotilla "
                     "kills back to back, no baseline and no 10 s spacing: each waits only until the service has "
                     "3 RUNNING tasks, then SIGKILLs the main process of the newest task (by createdAt), measured "
                     "the same way. The victim was the previous kill's replacement in "
                     f"{previous_killed}/{max(len(rapid_rows) - 1, 0)} kills{spacing}. With the kills spaced "
                     "≥ 10 s apart, a launch backoff that wrongly counts tasks killed after running would not "
                     "show; here it would delay the replacements (1 s, 2 s, ...) after a few kills.")
        slow = [(i, r) for i, r in enumerate(rapid_rows) if r.running > RAPID_SLOW]
        if slow:
            lines.append(f"**WARNING: {len(slow)} rapid-kill replacement(s) RUNNING more than {fmt(RAPID_SLOW)} "
                         "after the kill:** " + "; ".join(
                             f"kill {i + 1}: death reported {fmt(r.reported)}, created {fmt(r.created)}, "
                             f"listed {fmt(r.listed)}, RUNNING {fmt(r.running)}, container started "
                             f"{fmt(r.container)}" for i, r in slow))
    if roll or sim:
        lines.append("A deployment's time is from the UpdateService call until DescribeServices shows one "
                     "deployment, on the new task definition, with runningCount == desiredCount "
                     "(the `services-stable` condition).")
    if roll and roll_baseline:
        ratio = statistics.median(roll) / statistics.median(roll_baseline)
        lines.append(f"ratio Flotilla/Docker rollout: {ratio:.1f}× (median rolling deployment of {ROLLOUT_TASKS} "
                     "tasks, over median Docker CLI baseline)")
        lines.append(f"Rollout baseline: a hand-rolled rollout with the docker CLI, interleaved with Flotilla's "
                     f"deployments (baseline round r, then Flotilla round r): {ROLLOUT_TASKS} `docker run -d` of the "
                     f"same image and command (`-e REVISION=<n>`) started at once and waited for, then one "
                     f"`docker rm -f` of the {ROLLOUT_TASKS} old containers, timed from the first `docker run` to "
                     "`docker rm -f` returning. Flotilla's time includes waiting for each new task to be RUNNING "
                     "and the min/max percent pacing, and it stops the old tasks gracefully (SIGTERM, stopTimeout) "
                     "where the baseline kills the old containers at once; `services-stable` holds only once the "
                     "old tasks have stopped, so both times include the old containers' exit.")
    if sim:
        lines.append(f"Server peak RSS in the simulated run: {sim[2]:.0f} MiB.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
