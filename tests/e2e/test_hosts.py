"""Three hosts, each a network namespace with an address of its own on one bridge, each
running an etcd member, a `flotilla server` and a `flotilla agent` (issue 19's multi-host
faults). A service behind a load balancer spreads over the three; then one host is cut off
from the others and healed, and one host (the leader's) is lost for good in the middle of
a rolling deployment.

The hosts share this machine's one Docker Engine, which runs in the root namespace: a
container's published port is open there, not in its host's namespace. Each host forwards
the ports Docker publishes (its dynamic range) to the root namespace, so a target at
`host address:port` is reached through its host, and is cut off with it. Every process of a
host (etcd member, server, agent) runs inside its namespace; "losing a host" kills them
all, kills its containers and takes its link down.

Each fault prints what it did and what it found."""
import os
import shutil
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from agents import AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla
from etcd import EtcdCluster
from test_dns import dig
from test_load_balancer import Load, get, healthy_targets, target_group, web_task
from test_services import running_containers

CLUSTER = "hosts"
AGENT_TTL = 3
DISCONNECT_GRACE = 2
LEADER_KEY = "/flotilla//flotilla/leader"
# The bridge's address in the root namespace, and each host's on it.
NET = "10.251"
GATEWAY = f"{NET}.0.1"
# The ports each host's processes listen on (below the dynamic range it forwards).
API_PORT, REGISTRY_PORT, DNS_PORT = 7000, 7001, 7053
# Docker's dynamic host ports (its ip_local_port_range), which hosts forward to it.
DYNAMIC_PORTS = "32768-60999"
# The load balancers' shared pool; host i binds 10.251.(10+i).1-4 in its place.
LB_POOL = f"{NET}.10.1-{NET}.10.4"


def sh(*args, ns=None, check=True):
    cmd = [*(["ip", "netns", "exec", ns] if ns else []), *args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=30)


class Host:
    """A network namespace joined to the bridge by a veth pair: `address` on the bridge,
    its load balancers' addresses on its loopback, Docker's published ports forwarded
    (from other hosts and from its own processes)."""

    def __init__(self, index, tag, bridge):
        self.index = index
        self.ns = f"flh{tag}-{index}"
        self.outside, self.inside = f"flh{tag}r{index}", f"flh{tag}n{index}"
        self.bridge = bridge
        self.address = f"{NET}.0.{10 + index}"
        self.lb_net = f"{NET}.{10 + index}"
        self.wrap = ["ip", "netns", "exec", self.ns]
        self.server = self.agent = self.etcd = None
        self.arn = None

    @property
    def lb_range(self):
        return f"{self.lb_net}.1-{self.lb_net}.4"

    def create(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
        sh("ip", "link", "set", self.inside, "netns", self.ns)
        sh("ip", "link", "set", self.outside, "master", self.bridge, "up")
        sh("ip", "addr", "add", f"{self.address}/16", "dev", self.inside, ns=self.ns)
        sh("ip", "link", "set", self.inside, "up", ns=self.ns)
        sh("ip", "link", "set", "lo", "up", ns=self.ns)
        sh("ip", "route", "add", "default", "via", GATEWAY, ns=self.ns)
        for i in range(1, 5):
            sh("ip", "addr", "add", f"{self.lb_net}.{i}/32", "dev", "lo", ns=self.ns)
        sh("ip", "route", "add", f"{self.lb_net}.0/24", "via", self.address)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=self.ns)
        rules = f"""table ip flotilla_test_host {{
            chain pre {{
                type nat hook prerouting priority dstnat; policy accept;
                ip daddr {self.address} tcp dport {DYNAMIC_PORTS} dnat to {GATEWAY}
            }}
            chain out {{
                type nat hook output priority -100; policy accept;
                ip daddr {self.address} tcp dport {DYNAMIC_PORTS} dnat to {GATEWAY}
            }}
            chain post {{
                type nat hook postrouting priority srcnat; policy accept;
                ip daddr {GATEWAY} tcp dport {DYNAMIC_PORTS} masquerade
            }}
        }}
"""
        subprocess.run([*self.wrap, "nft", "-f", "-"], input=rules, text=True, check=True, capture_output=True,
                       timeout=30)
        return self

    def cut(self):
        sh("ip", "link", "set", self.outside, "down")

    def heal(self):
        sh("ip", "link", "set", self.outside, "up")

    def destroy(self):
        sh("ip", "route", "del", f"{self.lb_net}.0/24", check=False)
        sh("ip", "link", "del", self.outside, check=False)
        sh("ip", "netns", "del", self.ns, check=False)


class Hosts:
    pass


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("hosts")
    tag = os.getpid() % 100000
    bridge = f"flh{tag}br"
    e = Hosts()
    e.hosts = [Host(i, tag, bridge) for i in (1, 2, 3)]
    accept = ["-I", "DOCKER-USER", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    try:
        sh("ip", "link", "add", bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{GATEWAY}/16", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
        # Docker drops forwarded traffic it does not know, bridged frames included
        # (br_netfilter): the hosts' traffic between each other is let through.
        sh("iptables", "-w", *accept)
        for h in e.hosts:
            h.create()
        e.etcd = EtcdCluster(base / "etcd", hosts=[(h.address, h.wrap) for h in e.hosts]).start()
        for h in e.hosts:
            h.etcd = e.etcd.members[h.index - 1]
        common = ["--store", e.etcd.url(), "--registry-dir", str(base / "registry"), "--lb-bind", LB_POOL,
                  "--insecure-plain-http", "--agent-ttl-seconds", str(AGENT_TTL),
                  "--service-disconnect-grace-seconds", str(DISCONNECT_GRACE), "--service-backoff-base-ms", "50"]
        key = base / "secrets.key"
        for h in e.hosts:
            extra = [*common, "--lb-node-bind", h.lb_range]
            if key.exists():
                extra += ["--secrets-key-file", str(key)]
            h.server = Flotilla(base / f"server{h.index}", extra_args=extra, wrap=h.wrap,
                                api_addr=f"{h.address}:{API_PORT}", registry_addr=f"{h.address}:{REGISTRY_PORT}",
                                dns_addr=f"{h.address}:{DNS_PORT}").start()
            if not key.exists():
                # Every server of one store seals secrets with the same key.
                shutil.copy(h.server.data_dir / "secrets.key", key)
        e.servers = [h.server for h in e.hosts]
        e.hosts[0].server.client("ecs").create_cluster(clusterName=CLUSTER)
        every = ",".join(s.endpoint for s in e.servers)
        for h in e.hosts:
            h.agent = AgentProcess(h.server, base / f"agent{h.index}", cluster=CLUSTER, zone=f"host-{h.index}",
                                   server_url=every, wrap=h.wrap,
                                   attributes=[("flotilla.host-address", h.address)]).start()
        for h in e.hosts:
            h.arn = h.agent.instance_arn()
        yield e
    finally:
        for h in e.hosts:
            sh("ip", "link", "set", h.outside, "up", check=False)
            if h.agent:
                h.agent.stop()
            if h.server:
                h.server.stop()
        if getattr(e, "etcd", None):
            e.etcd.stop()
        for h in e.hosts:
            if h.arn:
                remove_containers(f"flotilla.container-instance={h.arn}")
            h.destroy()
        sh("iptables", "-w", "-D", *accept[1:], check=False)
        sh("ip", "link", "del", bridge, check=False)


def node_id(server):
    return (server.data_dir / "node-id").read_text().strip()


def leader(e):
    """The host whose server holds the leader key."""
    members = [h.etcd for h in e.hosts if h.etcd.proc.poll() is None]
    for m in members:
        try:
            value = m.get(LEADER_KEY)
        except OSError:
            continue
        return next((h for h in e.hosts if node_id(h.server) == value), None)
    return None


def answers(server, name):
    """The load balancer name's A records from this server's DNS, in order."""
    return sorted(r[3] for r in dig(server.dns, name)[1] if r[2] == "A")


def tasks_by_host(e, ecs):
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName="web")["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []
    host_of = {h.arn: h.index for h in e.hosts}
    return sorted(host_of[t["containerInstanceArn"]] for t in tasks if t["lastStatus"] == "RUNNING")


def settle(elb, tg, near, name, at):
    """Wait for three healthy targets again and for the name to answer only the `near`
    hosts' addresses: the seconds from `at` to the targets, and those addresses."""
    wait_for(lambda: len(healthy_targets(elb, tg)) == 3, timeout=60, what="three healthy targets again")
    settled = time.monotonic() - at
    left = sorted(f"{h.lb_net}.1" for h in near)
    wait_for(lambda: answers(near[0].server, name) == left, timeout=30, what="the gone host's address to leave the name")
    return settled, left


def no_failures_after(addr, seconds=4):
    """A short load through `addr` once things have settled: every response 2xx."""
    with Load(addr, 80, workers=2, max_seconds=seconds + 10) as load:
        time.sleep(seconds)
    total = sum(load.statuses.values())
    bad = sum(n for code, n in load.statuses.items() if not 200 <= code < 300)
    assert total > 10 and bad == 0 and not load.errors, (load.statuses, load.errors)
    return total


def after_bodies(addr, requests=12):
    """What a few requests through `addr` answer (each task answers its version)."""
    return {get(addr, 80)[2].strip() for _ in range(requests)}


@pytest.fixture(scope="module")
def web(hosts):
    """A service of three tasks, one per host, behind a load balancer."""
    e = hosts
    ecs, elb = e.servers[0].client("ecs"), e.servers[0].client("elbv2")
    lb = elb.create_load_balancer(Name="hosts-web")["LoadBalancers"][0]
    tg = target_group(elb, "hosts-web")
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    td = web_task(ecs, "hosts-web", "v1")
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=td, desiredCount=3, launchType="EC2",
                       placementStrategy=[{"type": "spread", "field": "instanceId"}],
                       loadBalancers=[{"targetGroupArn": tg, "containerName": "app", "containerPort": 80}])
    wait_for(lambda: len(healthy_targets(elb, tg)) == 3, timeout=120, what="three healthy targets")
    return lb["DNSName"], tg


def test_three_hosts_serve_one_state_and_each_serves_the_load_balancer(hosts, web):
    e = hosts
    name, tg = web
    ecs = e.servers[1].client("ecs")
    # Every server answers for the one state; exactly one leads.
    for s in e.servers:
        assert any(c.endswith(f"/{CLUSTER}") for c in s.client("ecs").list_clusters()["clusterArns"])
    lead = wait_for(lambda: leader(e), timeout=30, what="a leader")
    instances = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[h.arn for h in e.hosts])
    assert all(i["agentConnected"] for i in instances["containerInstances"])
    events = [ev["message"] for ev in ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]["events"]]
    assert tasks_by_host(e, ecs) == [1, 2, 3], "\n".join(events)
    # The name answers one address per host, from every host's DNS, and each serves,
    # through targets on all three hosts.
    expected = sorted(f"{h.lb_net}.1" for h in e.hosts)
    wait_for(lambda: answers(e.servers[0], name) == expected, timeout=30, what="three addresses")
    assert all(answers(s, name) == expected for s in e.servers)
    for addr in expected:
        wait_for(lambda: get(addr, 80)[0] == 200, timeout=30, what=f"an answer through {addr}")
    ports = {d["Target"]["Port"] for d in healthy_targets(e.servers[2].client("elbv2"), tg)}
    print(f"three hosts ({', '.join(h.address for h in e.hosts)}), leader on host {lead.index}; "
          f"the name answers {expected}; targets on ports {sorted(ports)}, one per host")


def test_a_host_cut_off_and_healed(hosts, web):
    e = hosts
    name, tg = web
    lead = leader(e)
    # Cut a host that does not lead (the leader's loss is the next test).
    cut = next(h for h in reversed(e.hosts) if h is not lead)
    near = [h for h in e.hosts if h is not cut]
    ecs, elb = near[0].server.client("ecs"), near[0].server.client("elbv2")
    [cut_task] = [t for t in ecs.describe_tasks(cluster=CLUSTER, tasks=ecs.list_tasks(
        cluster=CLUSTER, serviceName="web")["taskArns"])["tasks"] if t["containerInstanceArn"] == cut.arn]
    container = cut_task["containers"][0]["runtimeId"]
    addr = f"{near[0].lb_net}.1"

    with Load(addr, 80) as load:
        time.sleep(1)
        cut.cut()
        at = time.monotonic()
        # Replaced on the other hosts once the cut one's agent is past its TTL and grace.
        wait_for(lambda: len(tasks_by_host(e, ecs)) == 3 and cut.index not in tasks_by_host(e, ecs),
                 timeout=AGENT_TTL + DISCONNECT_GRACE + 60, interval=0.25, what="the cut host's task replaced")
        replaced = time.monotonic() - at
        settled, gone = settle(elb, tg, near, name, at)
    during = sum(load.statuses.values())
    during_bad = sum(n for code, n in load.statuses.items() if not 200 <= code < 300)
    after = no_failures_after(addr)
    # Its container ran on meanwhile (its agent could not hear it was replaced).
    assert running_containers(f"flotilla.container-instance={cut.arn}"), "the cut host's container stopped"

    cut.heal()
    healed = time.monotonic()
    wait_for(lambda: ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[cut.arn])[
        "containerInstances"][0]["agentConnected"], timeout=60, what="the cut host's agent to reconnect")
    wait_for(lambda: not running_containers(f"flotilla.container-instance={cut.arn}"), timeout=60,
             what="the replaced task's container to stop")
    stopped = time.monotonic() - healed
    assert cut.agent.proc.poll() is None and cut.server.proc.poll() is None
    assert set(ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]) == {h.arn for h in e.hosts}
    every = sorted(f"{h.lb_net}.1" for h in e.hosts)
    wait_for(lambda: answers(cut.server, name) == every, timeout=30, what="the healed host back in the name")
    # The healed host's server serves the state written while it was away.
    [svc] = cut.server.client("ecs").describe_services(cluster=CLUSTER, services=["web"])["services"]
    assert svc["runningCount"] == 3
    print(f"cut host {cut.index} off: its task replaced {replaced:.1f} s after the cut (TTL {AGENT_TTL} s + grace "
          f"{DISCONNECT_GRACE} s), three healthy targets {settled:.1f} s after, the name then answered {gone}; "
          f"through host {near[0].index}'s address: {during} responses while it settled ({during_bad} non-2xx, "
          f"errors {dict(load.errors)}: requests sent to the cut host's target), then {after} with none failed; "
          f"healed: the same agent reconnected and stopped the replaced container {stopped:.1f} s after, no orphan")


def test_the_leaders_host_lost_for_good(hosts, web):
    e = hosts
    name, tg = web
    lost = wait_for(lambda: leader(e), timeout=30, what="a leader")
    near = [h for h in e.hosts if h is not lost]
    ecs, elb = near[0].server.client("ecs"), near[0].server.client("elbv2")
    addr = f"{near[0].lb_net}.1"
    acked, failed = [], []
    stop = threading.Event()

    def writer():
        w = near[1].server.client("ecs")
        for i in range(300):
            if stop.is_set():
                return
            try:
                w.create_cluster(clusterName=f"lost-{i}")
                acked.append(f"lost-{i}")
            except (ClientError, EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as ex:
                failed.append(str(ex)[:100])
            time.sleep(0.05)

    v2 = web_task(ecs, "hosts-web", "v2")

    def rolled():
        [svc] = ecs.describe_services(cluster=CLUSTER, services=["web"])["services"]
        [*deps] = svc["deployments"]
        return (len(deps) == 1 and deps[0]["taskDefinition"] == v2 and deps[0]["rolloutState"] == "COMPLETED"
                and svc["runningCount"] == 3)

    def v2_running():
        arns = ecs.list_tasks(cluster=CLUSTER, serviceName="web")["taskArns"]
        return any(t["taskDefinitionArn"] == v2 and t["lastStatus"] == "RUNNING"
                   for t in ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"])

    with Load(addr, 80) as load:
        t = threading.Thread(target=writer)
        t.start()
        # In the middle of a rolling deployment: a v2 task up beside the v1 ones.
        ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=v2)
        wait_for(v2_running, timeout=90, interval=0.2, what="a v2 task to run")
        # The host goes: every process on it, its containers, its link.
        for proc in (lost.server, lost.agent, lost.etcd):
            proc.proc.kill()
            proc.proc.wait()
        remove_containers(f"flotilla.container-instance={lost.arn}")
        lost.cut()
        at = time.monotonic()
        successor = wait_for(lambda: (h := leader(e)) not in (None, lost) and h, timeout=60, interval=0.1,
                             what="a leader on another host")
        led = time.monotonic() - at
        wait_for(lambda: rolled() and lost.index not in tasks_by_host(e, ecs), timeout=180, interval=0.25,
                 what="the rollout to finish on the survivors")
        finished = time.monotonic() - at
        settled, left = settle(elb, tg, near, name, at)
        time.sleep(1)
        stop.set()
        t.join(timeout=60)
    during = sum(load.statuses.values())
    during_bad = sum(n for code, n in load.statuses.items() if not 200 <= code < 300)
    after = no_failures_after(addr)
    # No acknowledged write lost: every cluster created is there, from both survivors.
    for h in near:
        have = set()
        for page in h.server.client("ecs").get_paginator("list_clusters").paginate():
            have |= {a.rsplit("/", 1)[1] for a in page["clusterArns"]}
        assert set(acked) <= have, sorted(set(acked) - have)
    # The lost instance is disconnected; each task runs once, on the survivors.
    [instance] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[lost.arn])[
        "containerInstances"]
    assert not instance["agentConnected"]
    # Spread is best effort, as on ECS: a survivor whose agent missed a heartbeat on the
    # loaded machine while the lost host's tasks were replaced leaves them all to the other.
    running = tasks_by_host(e, ecs)
    assert len(running) == 3 and set(running) <= {h.index for h in near}, running
    assert after_bodies(addr) == {"v2"}
    print(f"lost host {lost.index} (etcd member, leading server, agent, containers; link down) in the middle of a "
          f"rolling deployment: host {successor.index} led {led:.1f} s after, the rollout finished on the "
          f"survivors {finished:.1f} s after, three healthy "
          f"targets {settled:.1f} s after, the name then answered {left}; {len(acked)} clusters created through "
          f"host {near[1].index} acknowledged and all present ({len(failed)} refused); through host "
          f"{near[0].index}'s address: {during} responses meanwhile ({during_bad} non-2xx, errors "
          f"{dict(load.errors)}), then {after} with none failed")
