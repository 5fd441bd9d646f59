"""Helpers for end-to-end tests with real agents on the local Docker Engine."""
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import ACCESS_KEY, BIN, ROOT, SECRET_KEY, Flotilla

IMAGE = "flotilla-test/busybox:latest"


def build_test_image():
    subprocess.run([str(ROOT / "scripts" / "test-image")], check=True, capture_output=True)


class AgentProcess:
    """A `flotilla agent` process with its own data directory (one container instance)."""

    def __init__(self, server, data_dir: Path, cluster="default", attributes=(), zone="local-1a", memory_mib=None,
                 join_token=None, extra=(), server_url=None, wrap=()):
        self.server = server
        # What --server says: the server's endpoint unless told (several, comma-separated).
        self.server_url = server_url
        self.extra = list(extra)
        # A command the agent runs under, e.g. `ip netns exec NS` for a host of its own.
        self.wrap = list(wrap)
        self.join_token = join_token
        self.data_dir = data_dir
        self.cluster = cluster
        self.attributes = list(attributes)
        self.zone = zone
        self.memory_mib = memory_mib
        self.proc = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY, FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
                   FLOTILLA_LOG=os.environ.get("FLOTILLA_LOG", "info"), RUST_LIB_BACKTRACE="0")
        if self.join_token:
            # A worker host as it should be: a join token, and no root key anywhere.
            for name in ("FLOTILLA_ACCESS_KEY_ID", "FLOTILLA_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                         "AWS_SECRET_ACCESS_KEY"):
                env.pop(name, None)
            env["FLOTILLA_JOIN_TOKEN"] = self.join_token
        args = [*self.wrap, BIN, "agent", "--server", self.server_url or self.server.endpoint, "--cluster", self.cluster,
                "--data-dir", str(self.data_dir), "--availability-zone", self.zone,
                "--poll-wait-seconds", "1", "--cleanup-delay-seconds", "300"]
        if self.memory_mib:
            args += ["--memory-mib", str(self.memory_mib)]
        args += self.extra
        for k, v in [("flotilla.test-agent", self.data_dir.name), *self.attributes]:
            args += ["--attribute", f"{k}={v}"]
        self.proc = subprocess.Popen(args, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def instance_arn(self, timeout=30):
        """The ARN this agent registered as, found through the API by its test attribute,
        once the agent is connected (its first poll lands a moment after it registers; until
        then the scheduler does not place on it)."""
        name = self.data_dir.name
        ecs = self.server.client("ecs")

        def registered():
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited: {self.log.read_text()[-3000:]}")
            arns = ecs.list_container_instances(
                cluster=self.cluster, filter=f"attribute:flotilla.test-agent == {name}")["containerInstanceArns"]
            if not arns:
                return None
            [instance] = ecs.describe_container_instances(
                cluster=self.cluster, containerInstances=arns[:1])["containerInstances"]
            return arns[0] if instance["agentConnected"] else None

        return wait_for(registered, timeout=timeout, what=f"agent {name} to register and connect")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def server_with_agent(base: Path, cluster: str, extra_args=()):
    """A server started with `extra_args` and one agent in `cluster` (created), for a test
    module: yields `(server, instance_arn)`; stops both and removes the agent's containers
    after."""
    build_test_image()
    server = Flotilla(base / "server", extra_args=list(extra_args)).start()
    agent = AgentProcess(server, base / "agent", cluster=cluster)
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", cluster)
        agent.start()
        arn = agent.instance_arn()
        yield server, arn
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def containers_with_label(label: str):
    """Ids of all containers (running or not) carrying a label (k or k=v)."""
    out = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label={label}"],
                         capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def remove_containers(label: str):
    ids = containers_with_label(label)
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def inspect(container_id: str):
    out = subprocess.run(["docker", "inspect", container_id], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def wait_for(predicate, timeout=60, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
