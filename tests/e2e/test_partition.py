"""An agent's host cut off from the server by the network, then healed (issue 19's
faults). The agent runs in a network namespace of its own, joined to the host by a veth
pair, the server listening on the host's end: taking that link down is a partition (the
agent's packets go nowhere, nothing is refused), bringing it up heals it. ECS's semantics:
the tasks on the cut-off instance keep running; the service replaces them elsewhere once
the instance has been disconnected for the agent TTL plus the disconnect grace; when the
agent reaches the server again, it stops the tasks that were replaced, so no orphan
container is left and no task runs twice once it is back."""
import os
import subprocess
import time

import pytest

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla, free_port
from test_services import container_running, describe_tasks, register, wait_running_tasks, wait_stable

AGENT_TTL = 3
DISCONNECT_GRACE = 2
CLUSTER = "part"
# The link between the host and the agent's namespace (a /30 of its own).
HOST_IP, NS_IP = "192.168.250.1", "192.168.250.2"


def ip(*args, ns=None):
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


class Link:
    """A network namespace joined to the host by a veth pair; `cut()` and `heal()` take
    the host's end down and up."""

    def __init__(self):
        tag = os.getpid() % 100000
        self.ns, self.host, self.peer = f"flpart{tag}", f"fph{tag}", f"fpn{tag}"

    def __enter__(self):
        ip("netns", "add", self.ns)
        ip("link", "add", self.host, "type", "veth", "peer", "name", self.peer)
        ip("link", "set", self.peer, "netns", self.ns)
        ip("addr", "add", f"{HOST_IP}/30", "dev", self.host)
        ip("link", "set", self.host, "up")
        ip("addr", "add", f"{NS_IP}/30", "dev", self.peer, ns=self.ns)
        ip("link", "set", self.peer, "up", ns=self.ns)
        ip("link", "set", "lo", "up", ns=self.ns)
        return self

    def cut(self):
        ip("link", "set", self.host, "down")

    def heal(self):
        ip("link", "set", self.host, "up")

    def __exit__(self, *exc):
        subprocess.run(["ip", "link", "del", self.host], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=30)


@pytest.fixture
def env(tmp_path):
    build_test_image()
    with Link() as link:
        extra = ["--agent-ttl-seconds", str(AGENT_TTL), "--service-disconnect-grace-seconds", str(DISCONNECT_GRACE),
                 "--service-backoff-base-ms", "50", "--insecure-plain-http"]
        server = Flotilla(tmp_path / "server", extra_args=extra, api_addr=f"{HOST_IP}:{free_port()}").start()
        ecs = server.client("ecs")
        ecs.create_cluster(clusterName=CLUSTER)
        near = AgentProcess(server, tmp_path / "near", cluster=CLUSTER, zone="part-a")
        far = AgentProcess(server, tmp_path / "far", cluster=CLUSTER, zone="part-b", wrap=["ip", "netns", "exec", link.ns])
        arns = {}
        try:
            for a in (near, far):
                a.start()
            arns = {"near": near.instance_arn(), "far": far.instance_arn()}
            yield server, ecs, link, far, arns
        finally:
            link.heal()
            for a in (near, far):
                a.stop()
            server.stop()
            for arn in arns.values():
                remove_containers(f"flotilla.container-instance={arn}")


def test_a_partitioned_host_keeps_its_tasks_until_they_are_replaced_and_stops_them_when_healed(env):
    server, ecs, link, far, arns = env
    td = register(ecs, "part")
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=td, desiredCount=2, launchType="EC2",
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    wait_stable(ecs, CLUSTER, "web", td, timeout=90)
    tasks = wait_running_tasks(ecs, CLUSTER, "web", 2)
    [cut_off] = [t for t in tasks if t["containerInstanceArn"] == arns["far"]]
    container = cut_off["containers"][0]["runtimeId"]

    link.cut()
    cut_at = time.time()
    # Replaced on the near host once the far one has been gone for the TTL and the grace.
    moved = wait_running_tasks(ecs, CLUSTER, "web", 2, timeout=AGENT_TTL + DISCONNECT_GRACE + 60,
                               where=lambda ts: all(t["containerInstanceArn"] == arns["near"] for t in ts))
    [replacement] = [t for t in moved if t["taskArn"] not in {x["taskArn"] for x in tasks}]
    waited = replacement["createdAt"].timestamp() - cut_at
    assert waited >= AGENT_TTL, f"replaced {waited:.1f} s after the cut, before the agent's TTL ran out"
    # The cut-off host's container still runs (the agent cannot hear it is replaced).
    assert container_running(container)
    [old] = describe_tasks(ecs, CLUSTER, [cut_off["taskArn"]])
    assert old["desiredStatus"] == "STOPPED"
    [instance] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arns["far"]])[
        "containerInstances"]
    assert not instance["agentConnected"]

    link.heal()
    healed_at = time.time()
    # The same agent process reconnects as the same instance and stops the replaced task.
    wait_for(lambda: ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arns["far"]])[
        "containerInstances"][0]["agentConnected"], timeout=60, what="the far agent to reconnect")
    wait_for(lambda: not container_running(container), timeout=60, what="the replaced task's container to stop")
    stopped_after = time.time() - healed_at
    wait_for(lambda: describe_tasks(ecs, CLUSTER, [cut_off["taskArn"]])[0]["lastStatus"] == "STOPPED", timeout=30,
             what="the replaced task to be reported STOPPED")
    assert far.proc.poll() is None, "the agent was not restarted"
    # Not registered again: the same two instances.
    assert set(ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]) == set(arns.values())
    svc = wait_stable(ecs, CLUSTER, "web", td)
    assert svc["runningCount"] == 2
    running = {t["taskArn"] for t in wait_running_tasks(ecs, CLUSTER, "web", 2)}
    assert running == {t["taskArn"] for t in moved}
    # No container of the service runs anywhere but for its two tasks.
    out = subprocess.run(["docker", "ps", "-q", "--filter", "label=flotilla.container-instance=" + arns["far"]],
                         capture_output=True, text=True, timeout=30).stdout.split()
    assert out == [], f"orphans on the far host: {out}"
    print(f"partitioned the far host: its task replaced {waited:.1f} s after the cut (TTL {AGENT_TTL} s + grace "
          f"{DISCONNECT_GRACE} s), its container kept running meanwhile; healed: the agent reconnected as the same "
          f"instance and stopped the replaced container {stopped_after:.1f} s after the heal; no orphan left")
