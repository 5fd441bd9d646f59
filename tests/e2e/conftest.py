"""Fixtures that run a real Flotilla server and talk to it with the real AWS CLI and boto3.

Each test module gets its own server on a free loopback port with its own data directory;
`Flotilla.restart()` and `Flotilla.kill9()` exercise durability.

Modules run in parallel (scripts/test: pytest-xdist, `-n 3 --dist loadfile`), so a module
touches nothing another one could: no fixed ports (port 0, or its own 127.0.X.0/24 for load
balancer listeners, see each module's LB_RANGE), Docker containers, volumes and images found
by its own labels, names or registry address, never by counting the host's. A module that
cannot share the machine is marked `pytestmark = pytest.mark.serial` and runs alone after.
"""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("FLOTILLA_BIN", str(ROOT / "target" / "debug" / "flotilla"))
AWS = str(ROOT / ".venv" / "bin" / "aws")
ACCESS_KEY = "AKIAFLOTILLATEST0001"
SECRET_KEY = "fLoTiLlA/TeStSeCrEt+KeY0123456789abcdefg"[:40]
REGION = "us-east-1"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DefaultNetwork:
    def __init__(self, vpc, subnets, group):
        self.vpc = vpc
        self.subnets = subnets
        self.subnet = subnets[0]
        self.group = group

    def awsvpc(self, **extra):
        """A networkConfiguration in the default subnet."""
        return {"awsvpcConfiguration": {"subnets": [self.subnet], **extra}}


_servers_started = 0


def _default_vpc_cidr():
    """A default VPC block of its own for each server of the run: every server's agents
    make a Docker bridge per subnet on the one Docker host, and Docker refuses two bridges
    whose blocks overlap. 10.64.0.0/16 to 10.243.0.0/16, spread over the xdist workers."""
    global _servers_started
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").lstrip("gw") or 0)
    n = (worker * 45 + _servers_started) % 180
    _servers_started += 1
    return f"10.{64 + n}.0.0/16"


class Flotilla:
    def __init__(self, data_dir: Path, extra_args=(), api_addr="127.0.0.1:0", registry_addr="127.0.0.1:0",
                 dns_addr="127.0.0.1:0", wrap=()):
        self.data_dir = data_dir
        # A fixed address keeps the endpoint across restarts (agents keep polling it).
        self.api_addr = api_addr
        self.registry_addr, self.dns_addr = registry_addr, dns_addr
        # A command the server runs under, e.g. `ip netns exec NS` for a host of its own.
        self.wrap = list(wrap)
        self.default_vpc_cidr = _default_vpc_cidr()
        self.extra_args = list(extra_args)
        self.proc = None
        self.endpoint = None
        # The registry's host:port (what repositoryUris start with).
        self.registry = None
        self.dns = None
        # The web console's URL.
        self.console = None
        self.log = data_dir / "server.log"

    def env(self):
        env = dict(os.environ)
        env.update(
            FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY,
            FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
            FLOTILLA_LOG=env.get("FLOTILLA_LOG", "warn"),
            # An error's message, not a backtrace symbolised at length.
            RUST_LIB_BACKTRACE="0",
            # Port 53 on Docker's bridge gateway is one per host, and the modules run in
            # parallel (scripts/test): `up` as root would take it for its containers' DNS.
            # Only test_discovery needs it, and asks with --container-dns.
            FLOTILLA_CONTAINER_DNS="none",
            FLOTILLA_DEFAULT_VPC_CIDR=self.default_vpc_cidr,
            # Every server serves a web console, on a free port (`up` would take 4568).
            FLOTILLA_CONSOLE_ADDR="127.0.0.1:0",
        )
        return env

    def start(self, command="server"):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        endpoint_file = self.data_dir / "endpoint"
        if endpoint_file.exists():
            endpoint_file.unlink()
        args = [*self.wrap, BIN, command, "--data-dir", str(self.data_dir), "--api-addr", self.api_addr,
                "--registry-addr", self.registry_addr, "--dns-addr", self.dns_addr, *self.extra_args]
        self.proc = subprocess.Popen(args, env=self.env(), stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"flotilla exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            if endpoint_file.exists():
                self.endpoint = endpoint_file.read_text().strip()
                self.registry = (self.data_dir / "registry-host").read_text().strip()
                # The DNS server's ip:port (UDP and TCP).
                host, _, port = (self.data_dir / "dns-addr").read_text().strip().rpartition(":")
                self.dns = (host, int(port))
                console = self.data_dir / "console-url"
                self.console = console.read_text().strip() if console.exists() else None
                try:
                    urllib.request.urlopen(self.endpoint + "/_flotilla/health", timeout=2).read()
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("flotilla did not start within 30 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def default_network(self):
        """The region's default VPC: its id, its default subnets' ids and its default
        security group's id (what tests name where AWS wants real network ids)."""
        ec2 = self.client("ec2")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
        group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                      {"Name": "group-name", "Values": ["default"]}])
        return DefaultNetwork(vpc, [s["SubnetId"] for s in subnets], group["SecurityGroups"][0]["GroupId"])

    # --- clients ---------------------------------------------------------------------
    def client(self, service, secret=SECRET_KEY, access_key=ACCESS_KEY, region=REGION, token=None, **cfg):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 1}, **cfg),
        )

    def aws(self, *args, check=True, region=REGION, env=None):
        """Run the real AWS CLI against this server; JSON output parsed. `env` adds
        environment variables (e.g. AWS_DISABLE_HOST_PREFIX_INJECTION)."""
        extra = env or {}
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=region,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            AWS_MAX_ATTEMPTS="1",
        )
        env.pop("AWS_PROFILE", None)
        env.update(extra)
        cmd = [AWS, "--endpoint-url", self.endpoint, "--output", "json", *args]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({out.returncode}): {out.stderr}")
        if not check:
            return out
        return json.loads(out.stdout) if out.stdout.strip() else {}


# About how many seconds the slowest modules take (alone, on a loaded 2-core machine):
# they are collected first, so that the parallel run hands them out first and does not
# end on one long module started last. Other modules follow in their usual order.
SLOW_MODULES = {
    "test_telemetry.py": 270, "test_tasks.py": 160, "test_migration.py": 130, "test_blue_green.py": 125,
    "test_registry.py": 115, "test_load_balancer.py": 80, "test_acm.py": 80, "test_services.py": 80,
    "test_autoscaling.py": 75, "test_placement.py": 70, "test_console.py": 50, "test_hosts.py": 70, "test_task_features.py": 65, "test_cloudwatch.py": 60,
}


def pytest_collection_modifyitems(items):
    # A stable sort: each module's tests keep their order.
    items.sort(key=lambda item: -SLOW_MODULES.get(item.path.name, 0))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "serial: a module that must run alone, not beside the others (scripts/test runs the "
        "others in parallel first, then these one by one)")


@pytest.fixture(scope="module")
def flotilla(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("flotilla")).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_flotilla(tmp_path):
    server = Flotilla(tmp_path / "data").start()
    yield server
    server.stop()
