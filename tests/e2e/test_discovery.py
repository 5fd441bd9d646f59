"""Tasks finding each other by name, end to end: containers started by Flotilla resolve
through its DNS server (bridge and awsvpc tasks), reach another task by a Route 53 name,
and ECS services with `serviceRegistries` are registered in Cloud Map and answered by the
DNS server. Real containers, the real AWS CLI and boto3, the real `dig`."""
import ipaddress
import json
import subprocess
import uuid

import pytest

from agents import (AgentProcess, IMAGE, build_test_image, containers_with_label, inspect,
                    remove_containers, wait_for)
from conftest import Flotilla

CLUSTER = "discovery"
# A web page on 8080 that says its task's NAME.
WEB = "mkdir -p /www && echo \"hello from $NAME\" > /www/index.html && exec httpd -f -p 8080 -h /www"


def bridge_gateway():
    """The host's address on Docker's default bridge, which every container reaches."""
    out = subprocess.run(["docker", "network", "inspect", "bridge", "-f", "{{json .IPAM.Config}}"],
                         capture_output=True, text=True, check=True)
    pool = json.loads(out.stdout)[0]
    if pool.get("Gateway"):
        return pool["Gateway"]
    # Docker lists only the default bridge's subnet; its own address is the first one.
    return str(ipaddress.ip_network(pool["Subnet"]).network_address + 1)


class Env:
    def __init__(self, server, gateway):
        self.server = server
        self.gateway = gateway
        self.ecs = server.client("ecs")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("discovery")
    gateway = bridge_gateway()
    server = Flotilla(base / "server", extra_args=["--container-dns", gateway]).start()
    # Bridge tasks are registered with their host's address, which containers reach here
    # at the bridge gateway.
    agent = AgentProcess(server, base / "agent", cluster=CLUSTER,
                         attributes=[("flotilla.host-address", gateway)],
                         extra=["--container-dns", gateway])
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", CLUSTER)
        agent.start()
        arn = agent.instance_arn()
        yield Env(server, gateway)
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def register(ecs, family, command, network_mode="bridge", env=(), ports=()):
    container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True, "stopTimeout": 1,
                 "command": ["sh", "-c", command],
                 "environment": [{"name": k, "value": v} for k, v in env],
                 "portMappings": [{"containerPort": p, "protocol": "tcp"} for p in ports]}
    return ecs.register_task_definition(family=family, networkMode=network_mode,
                                        containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]


def awsvpc():
    return {"awsvpcConfiguration": {"subnets": ["subnet-a"]}}


def run(ecs, td, network_mode="bridge"):
    extra = {"networkConfiguration": awsvpc()} if network_mode == "awsvpc" else {}
    [task] = ecs.run_task(cluster=CLUSTER, taskDefinition=td, **extra)["tasks"]
    return task["taskArn"]


def describe(ecs, arn):
    [task] = ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]
    return task


def exit_code(ecs, arn, timeout=90):
    """Wait for a one-shot task to stop; its container's exit code."""
    def stopped():
        t = describe(ecs, arn)
        return t if t["lastStatus"] == "STOPPED" else None
    task = wait_for(stopped, timeout=timeout, interval=0.5, what=f"task {arn} to stop")
    return task["containers"][0].get("exitCode")


def running_ip(ecs, arn, timeout=90):
    """Wait for an awsvpc task to run; its address."""
    def ip():
        t = describe(ecs, arn)
        if t["lastStatus"] != "RUNNING":
            return None
        nics = t["containers"][0].get("networkInterfaces") or []
        return nics[0]["privateIpv4Address"] if nics else None
    return wait_for(ip, timeout=timeout, interval=0.5, what=f"task {arn} to run")


def fetch_by_name(name, port, expect):
    """A client's command: resolve `name` through the container's resolver and fetch
    `http://name:port/`, exiting 0 only when the page says `expect`. Debian's static
    busybox cannot use glibc's resolver (its wget crashes in getaddrinfo, even on an
    address), so the name is looked up with busybox's own `nslookup`, which reads
    /etc/resolv.conf as any resolver does, and the request goes through `nc`."""
    return (f"ip=$(busybox nslookup {name} | busybox awk '/^Address: / {{a=$2}} END {{print a}}') && "
            f"[ -n \"$ip\" ] && printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $ip {port} "
            f"| busybox grep -q '{expect}'")


def test_containers_reach_another_task_by_a_route53_name(env):
    ecs, server = env.ecs, env.server
    web = register(ecs, "named-web", WEB, "awsvpc", env=[("NAME", "api")], ports=[8080])
    web_arn = run(ecs, web, "awsvpc")
    try:
        ip = running_ip(ecs, web_arn)
        zone = server.aws("route53", "create-hosted-zone", "--name", "internal.test",
                          "--caller-reference", str(uuid.uuid4()))["HostedZone"]["Id"]
        change = server.aws("route53", "change-resource-record-sets", "--hosted-zone-id", zone,
                            "--change-batch", json.dumps({"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                                "Name": "api.internal.test", "Type": "A", "TTL": 5,
                                "ResourceRecords": [{"Value": ip}]}}]}))["ChangeInfo"]["Id"]
        server.aws("route53", "wait", "resource-record-sets-changed", "--id", change)

        # An awsvpc task (its resolver is on its pause container) reaches the other by name.
        vpc = run(ecs, register(ecs, "client-vpc", fetch_by_name("api.internal.test", 8080, "hello from api"),
                                "awsvpc"), "awsvpc")
        # A bridge task (its resolver given by the agent) resolves the name too; Docker keeps
        # bridge containers off the awsvpc network, so it only looks the name up.
        lookup = "busybox nslookup {} | busybox grep -q 'Address: {}$'"
        bridge = run(ecs, register(ecs, "client-bridge", lookup.format("api.internal.test", ip)))
        # Names that do not exist fail both ways: the test can fail.
        missing = run(ecs, register(ecs, "client-missing", lookup.format("nothing.internal.test", ip)))
        missing_vpc = run(ecs, register(ecs, "client-missing-vpc",
                                        fetch_by_name("nothing.internal.test", 8080, "hello from api"), "awsvpc"),
                          "awsvpc")
        assert exit_code(ecs, vpc) == 0
        assert exit_code(ecs, bridge) == 0
        assert exit_code(ecs, missing) != 0
        assert exit_code(ecs, missing_vpc) != 0

        [container] = containers_with_label(f"com.amazonaws.ecs.task-arn={bridge}")
        assert inspect(container)["HostConfig"]["Dns"] == [env.gateway]
    finally:
        ecs.stop_task(cluster=CLUSTER, task=web_arn)
