"""A real etcd member (Debian's etcd-server) started by a test module, on free loopback
ports, with its data in the module's temporary directory; and reads of its keys through
etcd's JSON gateway (/v3/kv/range), so tests can see what the server stored."""
import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import free_port

ETCD = os.environ.get("FLOTILLA_ETCD_BIN") or shutil.which("etcd") or "/usr/bin/etcd"


class Etcd:
    """One member: alone, or one of an `EtcdCluster`'s (`name`, `initial_cluster`). On
    loopback's free ports unless given a host address (and the command it runs under,
    e.g. `ip netns exec NS` for a host of its own), where it takes etcd's own ports."""

    def __init__(self, data_dir: Path, name="e2e", peer_port=None, host=None, wrap=()):
        self.data_dir = data_dir
        self.name = name
        self.host = host or "127.0.0.1"
        self.wrap = list(wrap)
        self.client_port = 2379 if host else free_port()
        self.peer_port = peer_port or (2380 if host else free_port())
        self.initial_cluster = f"{name}=http://{self.host}:{self.peer_port}"
        self.proc = None

    @property
    def endpoint(self):
        return f"{self.host}:{self.client_port}"

    def url(self, prefix=""):
        """The --store URL, with a key prefix when given."""
        return f"etcd://{self.endpoint}" + (f"/{prefix}" if prefix else "")

    def start(self):
        """Start and wait until it answers (a cluster's members: `launch`, then wait)."""
        return self.launch().wait_healthy()

    def launch(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        client, peer = f"http://{self.endpoint}", f"http://{self.host}:{self.peer_port}"
        self.proc = subprocess.Popen(
            [*self.wrap, ETCD, f"--name={self.name}", f"--data-dir={self.data_dir / 'member'}",
             f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
             f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
             f"--initial-cluster={self.initial_cluster}", "--initial-cluster-token=e2e",
             "--log-level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(self.data_dir / "etcd.log", "ab"))
        return self

    def wait_healthy(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {(self.data_dir / 'etcd.log').read_text()[-2000:]}")
            if self.healthy():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"etcd {self.name} did not answer within {timeout} s")

    def status(self):
        """This member's id and its leader's (maintenance status through the gateway)."""
        out = self._post("/v3/maintenance/status", {})
        return int(out["header"]["member_id"]), int(out["leader"])

    def _post(self, path, body):
        data = json.dumps(body).encode()
        return json.loads(urllib.request.urlopen(f"http://{self.endpoint}{path}", data, timeout=5).read())

    def healthy(self):
        try:
            body = urllib.request.urlopen(f"http://{self.endpoint}/health", timeout=1).read()
            return json.loads(body).get("health") == "true"
        except (OSError, ValueError):
            return False

    def keys(self, prefix: str):
        """Every key under a prefix, as text."""
        key = prefix.encode()
        end = key[:-1] + bytes([key[-1] + 1])
        out = self._post("/v3/kv/range", {"key": base64.b64encode(key).decode(),
                                          "range_end": base64.b64encode(end).decode(), "keys_only": True})
        return [base64.b64decode(kv["key"]).decode() for kv in out.get("kvs", [])]

    def get(self, key: str):
        """One key's value as text, or None."""
        out = self._post("/v3/kv/range", {"key": base64.b64encode(key.encode()).decode()})
        kvs = out.get("kvs", [])
        return base64.b64decode(kvs[0].get("value", "")).decode() if kvs else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class EtcdCluster:
    """Three (or `size`) members on loopback, started together; or one member per host
    in `hosts`, a list of (address, wrap) pairs."""

    def __init__(self, data_dir: Path, size=3, hosts=None):
        hosts = hosts or [(None, ())] * size
        self.members = [Etcd(data_dir / f"m{i}", name=f"m{i}", host=h, wrap=w) for i, (h, w) in enumerate(hosts)]
        initial = ",".join(m.initial_cluster for m in self.members)
        for m in self.members:
            m.initial_cluster = initial

    def start(self):
        for m in self.members:
            m.launch()
        for m in self.members:
            m.wait_healthy(timeout=30)
        return self

    def url(self, prefix=""):
        return "etcd://" + ",".join(m.endpoint for m in self.members) + (f"/{prefix}" if prefix else "")

    def leader(self):
        """The member that leads now."""
        for m in self.members:
            if m.proc.poll() is None:
                try:
                    me, leader = m.status()
                except OSError:
                    continue
                for other in self.members:
                    if other.proc.poll() is None and other.status()[0] == leader:
                        return other
        raise RuntimeError("no etcd member knows a leader")

    def any(self):
        """A member that is running."""
        return next(m for m in self.members if m.proc.poll() is None)

    def stop(self):
        for m in self.members:
            m.stop()
