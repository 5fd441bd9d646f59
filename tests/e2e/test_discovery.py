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
from test_dns import dig

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
    global NETWORK
    NETWORK = server.default_network()
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


# The server's default network, looked up once its server runs (the env fixture).
NETWORK = None


def awsvpc():
    return NETWORK.awsvpc()


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


def wait_operation(server, op_id, timeout=15):
    sd = server.client("servicediscovery")

    def done():
        op = sd.get_operation(OperationId=op_id)["Operation"]
        return op if op["Status"] == "SUCCESS" else None
    return wait_for(done, timeout=timeout, interval=0.1, what=f"operation {op_id}")


def answers(server, name, rtype="A"):
    status, answer, _, _ = dig(server.dns, name, rtype)
    return status, answer


def task_ips(ecs, service):
    """Each task of a service (any status) with its address and last status."""
    arns = []
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=CLUSTER, serviceName=service, desiredStatus=status)["taskArns"]
    if not arns:
        return {}
    out = {}
    for t in ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]:
        nics = t["containers"][0].get("networkInterfaces") or []
        if nics:
            out[nics[0]["privateIpv4Address"]] = t["lastStatus"]
    return out


def test_a_service_registers_its_tasks_in_cloud_map_and_a_scale_in_outlives_the_ttl(env):
    """ECS `serviceRegistries`: RUNNING tasks are registered with ECS's attributes and
    answered by DNS; another task reaches the service by its name; a scale-in deregisters
    the task first and keeps it running for the record's TTL, so no answer ever names a
    task that is not running."""
    ecs, server = env.ecs, env.server
    sd = server.client("servicediscovery")
    op = sd.create_private_dns_namespace(Name="svc.test", Vpc=NETWORK.vpc)["OperationId"]
    ns_id = wait_operation(server, op)["Targets"]["NAMESPACE"]
    ttl = 3
    registry = sd.create_service(Name="api", NamespaceId=ns_id, DnsConfig={
        "RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": ttl}]})["Service"]

    td = register(ecs, "registered-web", WEB, "awsvpc", env=[("NAME", "registered")], ports=[8080])
    try:
        ecs.create_service(cluster=CLUSTER, serviceName="api", taskDefinition=td, desiredCount=2,
                           networkConfiguration=awsvpc(),
                           serviceRegistries=[{"registryArn": registry["Arn"]}])
        # A registry that does not exist is refused.
        with pytest.raises(ecs.exceptions.InvalidParameterException):
            ecs.create_service(cluster=CLUSTER, serviceName="nope", taskDefinition=td, desiredCount=1,
                               networkConfiguration=awsvpc(), serviceRegistries=[
                                   {"registryArn": registry["Arn"].replace(registry["Id"], "srv-00000000000000aa")}])

        def both_answered():
            ips = {ip for ip, s in task_ips(ecs, "api").items() if s == "RUNNING"}
            status, answer = answers(server, "api.svc.test")
            got = {r[3] for r in answer}
            return (answer, ips) if len(ips) == 2 and got == ips else None
        answer, ips = wait_for(both_answered, timeout=90, interval=0.5, what="both tasks in DNS")
        assert {r[1] for r in answer} == {ttl}

        instances = sd.list_instances(ServiceId=registry["Id"])["Instances"]
        assert len(instances) == 2
        attrs = instances[0]["Attributes"]
        assert attrs["ECS_CLUSTER_NAME"] == CLUSTER and attrs["ECS_SERVICE_NAME"] == "api"
        assert attrs["ECS_TASK_DEFINITION_FAMILY"] == "registered-web"
        assert attrs["AWS_INSTANCE_IPV4"] in ips and attrs["AVAILABILITY_ZONE"]
        task_ids = {t.rsplit("/", 1)[1] for t in ecs.list_tasks(cluster=CLUSTER, serviceName="api")["taskArns"]}
        assert {i["Id"] for i in instances} == task_ids
        assert ecs.list_services_by_namespace(namespace="svc.test")["serviceArns"] == [
            ecs.describe_services(cluster=CLUSTER, services=["api"])["services"][0]["serviceArn"]]
        with pytest.raises(ecs.exceptions.NamespaceNotFoundException):
            ecs.list_services_by_namespace(namespace="missing.test")

        # Another task reaches the service by its name.
        client = run(ecs, register(ecs, "registered-client", fetch_by_name("api.svc.test", 8080, "hello from registered"),
                                   "awsvpc"), "awsvpc")
        assert exit_code(ecs, client) == 0

        # Scale in: watch DNS and the tasks together until one task is left and answered.
        ecs.update_service(cluster=CLUSTER, service="api", desiredCount=1)
        samples = []

        def settled():
            tasks = task_ips(ecs, "api")
            _, answer = answers(server, "api.svc.test")
            got = {r[3] for r in answer}
            samples.append((got, tasks))
            running = {ip for ip, s in tasks.items() if s == "RUNNING"}
            stopped = {ip for ip, s in tasks.items() if s == "STOPPED"}
            return len(running) == 1 and got == running and stopped
        wait_for(settled, timeout=60, interval=0.2, what="the scale-in to settle")
        for got, tasks in samples:
            not_running = {ip for ip in got if tasks.get(ip) != "RUNNING"}
            assert not not_running, f"DNS named tasks that were not running: {not_running} ({tasks})"
        [gone] = [ip for ip, s in samples[-1][1].items() if s == "STOPPED"]
        # It was taken out of DNS while it still ran, and ran on for at least one sample.
        assert any(gone not in got and tasks.get(gone) == "RUNNING" for got, tasks in samples)
        # ... and was held running for the record's TTL after it was asked to stop.
        [stopped] = [t for t in ecs.describe_tasks(cluster=CLUSTER, tasks=ecs.list_tasks(
            cluster=CLUSTER, serviceName="api", desiredStatus="STOPPED")["taskArns"])["tasks"]]
        assert (stopped["stoppedAt"] - stopped["stoppingAt"]).total_seconds() >= ttl, stopped
        events = [e["message"] for e in ecs.describe_services(cluster=CLUSTER, services=["api"])["services"][0]["events"]]
        assert any("deregistered 1 tasks from (service-registry" in m for m in events), events
        assert any("registered 2 tasks in (service-registry" in m or "registered 1 tasks in (service-registry" in m
                   for m in events), events
    finally:
        ecs.update_service(cluster=CLUSTER, service="api", desiredCount=0)
        ecs.delete_service(cluster=CLUSTER, service="api", force=True)


def test_bridge_tasks_are_found_by_srv_with_their_host_port(env):
    """A bridge-mode service's registry with an SRV record: each task answers
    `1 1 HOSTPORT TASKID.SERVICE.NAMESPACE.`, and that name its host's address."""
    ecs, server = env.ecs, env.server
    sd = server.client("servicediscovery")
    op = sd.create_private_dns_namespace(Name="bridge.test", Vpc=NETWORK.vpc)["OperationId"]
    ns_id = wait_operation(server, op)["Targets"]["NAMESPACE"]
    registry = sd.create_service(Name="web", NamespaceId=ns_id, DnsConfig={
        "RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "SRV", "TTL": 7}]})["Service"]
    td = register(ecs, "bridge-web", WEB, env=[("NAME", "bridge")], ports=[8080])
    try:
        ecs.create_service(cluster=CLUSTER, serviceName="bridge-web", taskDefinition=td, desiredCount=1,
                           serviceRegistries=[{"registryArn": registry["Arn"], "containerName": "app",
                                               "containerPort": 8080}])

        def srv():
            _, answer = answers(server, "web.bridge.test", "SRV")
            return answer or None
        [(name, ttl, rtype, data)] = wait_for(srv, timeout=90, interval=0.5, what="the SRV record")
        assert (name, ttl, rtype) == ("web.bridge.test.", 7, "SRV")
        priority, weight, port, target = data.split()
        [task_arn] = ecs.list_tasks(cluster=CLUSTER, serviceName="bridge-web")["taskArns"]
        [task] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"]
        [binding] = task["containers"][0]["networkBindings"]
        assert (priority, weight, int(port)) == ("1", "1", binding["hostPort"])
        assert target == f"{task_arn.rsplit('/', 1)[1]}.web.bridge.test."
        _, answer = answers(server, target, "A")
        assert [r[3] for r in answer] == [env.gateway]
        # The host port answers on the host's address, as a client of the record would use it.
        client = run(ecs, register(ecs, "srv-client",
                                   f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {env.gateway} {port} "
                                   f"| busybox grep -q 'hello from bridge'"))
        assert exit_code(ecs, client) == 0
    finally:
        ecs.update_service(cluster=CLUSTER, service="bridge-web", desiredCount=0)
        ecs.delete_service(cluster=CLUSTER, service="bridge-web", force=True)
