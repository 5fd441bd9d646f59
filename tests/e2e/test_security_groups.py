"""Security groups enforced on real containers (issue 17): awsvpc tasks get their address
from their subnet, and the three-tier pattern holds with real connections: a load balancer
open to the world, web tasks that take port 8080 only from the load balancer's group, a
database task that takes 5432 only from the web group. Probes are one-shot busybox tasks
in a group of their own, whose exit code says whether they got through."""
import ipaddress
import json
import socket
import threading
import time
import urllib.request

import pytest

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla
from test_load_balancer import lb_address

# This module's load balancer addresses (modules run side by side, each in its own range).
LB_RANGE = "127.0.37.1-127.0.37.20"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("security-groups")
    server = Flotilla(base / "server", extra_args=["--lb-bind", LB_RANGE]).start()
    agent = AgentProcess(server, base / "agent")
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", "default")
        agent.start()
        arn = agent.instance_arn()
        yield server, agent
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def register(server, family, command, port=None):
    container = {"name": "main", "image": IMAGE, "memory": 32, "essential": True, "stopTimeout": 2,
                 "command": ["sh", "-c", command]}
    if port:
        container["portMappings"] = [{"containerPort": port}]
    body = {"family": family, "networkMode": "awsvpc", "containerDefinitions": [container]}
    server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps(body))


def network(net, *groups):
    return json.dumps({"awsvpcConfiguration": {"subnets": [net.subnet], "securityGroups": list(groups)}})


def run(server, family, net, *groups):
    out = server.aws("ecs", "run-task", "--task-definition", family, "--network-configuration",
                     network(net, *groups))
    assert out["failures"] == [], out
    return out["tasks"][0]


def describe(server, arn):
    return server.aws("ecs", "describe-tasks", "--tasks", arn)["tasks"][0]


def address(server, arn):
    """The task's address once it runs, checked against its attachment and interface."""
    task = wait_for(lambda: (t := describe(server, arn))["lastStatus"] == "RUNNING" and t,
                    timeout=60, what=f"{arn} running")
    ip = task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
    [att] = task["attachments"]
    details = {d["name"]: d["value"] for d in att["details"]}
    assert att["status"] == "ATTACHED" and details["privateIPv4Address"] == ip
    return ip, details


def probe(server, net, group, target, port):
    """Whether a one-shot task in `group` gets the page of target:port (within 3 s; a
    dropped connection times out). Debian's static busybox wget crashes on any address
    (glibc's resolver), so the request goes through `nc`."""
    family = f"probe-{port}"
    register(server, family, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} {port} "
                             f"| busybox grep -q 'hello from flotilla'")
    arn = run(server, family, net, group)["taskArn"]
    task = wait_for(lambda: (t := describe(server, arn))["lastStatus"] == "STOPPED" and t,
                    timeout=60, what=f"probe {arn} stopped")
    return task["containers"][0].get("exitCode") == 0


def test_three_tier_security_groups_hold_on_real_connections(env):
    server, _ = env
    net = server.default_network()
    ec2 = server.client("ec2")

    def group(name, desc):
        return ec2.create_security_group(GroupName=name, Description=desc, VpcId=net.vpc)["GroupId"]

    lb_sg, web_sg, db_sg, other_sg = (group("lb", "load balancer"), group("web", "web tier"),
                                      group("db", "database"), group("other", "nothing allowed in"))
    tcp = lambda port, **peer: [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peer}]
    ec2.authorize_security_group_ingress(GroupId=lb_sg, IpPermissions=tcp(80, IpRanges=[{"CidrIp": "0.0.0.0/0"}]))
    ec2.authorize_security_group_ingress(GroupId=web_sg, IpPermissions=tcp(8080, UserIdGroupPairs=[{"GroupId": lb_sg}]))
    db_rule = tcp(5432, UserIdGroupPairs=[{"GroupId": web_sg}])
    ec2.authorize_security_group_ingress(GroupId=db_sg, IpPermissions=db_rule)

    # The database: httpd on 5432 (any TCP server does).
    register(server, "db", "trap 'exit 0' TERM; httpd -f -p 5432 -h /www & wait", port=5432)
    db = run(server, "db", net, db_sg)
    assert db["attachments"][0]["status"] == "PRECREATED"
    db_ip, db_details = address(server, db["taskArn"])

    # Its network interface, as EC2 shows it.
    [eni] = ec2.describe_network_interfaces(
        NetworkInterfaceIds=[db_details["networkInterfaceId"]])["NetworkInterfaces"]
    assert eni["PrivateIpAddress"] == db_ip and eni["SubnetId"] == net.subnet == db_details["subnetId"]
    assert [g["GroupId"] for g in eni["Groups"]] == [db_sg] and eni["Groups"][0]["GroupName"] == "db"
    by_group = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [db_sg]}])
    assert [i["NetworkInterfaceId"] for i in by_group["NetworkInterfaces"]] == [eni["NetworkInterfaceId"]]

    # The web service behind a load balancer in the lb group.
    register(server, "web", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait", port=8080)
    elb = server.client("elbv2")
    lb = elb.create_load_balancer(Name="three-tier", Subnets=[net.subnet], SecurityGroups=[lb_sg])
    lb = lb["LoadBalancers"][0]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=net.vpc, TargetType="ip",
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                 HealthyThresholdCount=2)["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    server.client("ecs").create_service(
        cluster="default", serviceName="web", taskDefinition="web", desiredCount=1,
        loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "main", "containerPort": 8080}],
        networkConfiguration=json.loads(network(net, web_sg)))
    [web_arn] = wait_for(lambda: server.client("ecs").list_tasks(serviceName="web")["taskArns"], timeout=60,
                         what="the web task")
    web_ip, _ = address(server, web_arn)
    assert web_ip != db_ip

    # Through the load balancer: the page.
    lb_ip = lb_address(elb, lb["LoadBalancerArn"])
    page = wait_for(lambda: _get(f"http://{lb_ip}:80/"), timeout=60, what="a page through the load balancer")
    assert b"hello from flotilla" in page

    # Web reaches the database; a task in another group reaches neither tier.
    assert probe(server, net, web_sg, db_ip, 5432)
    assert not probe(server, net, other_sg, db_ip, 5432)
    assert not probe(server, net, other_sg, web_ip, 8080)

    # Revoking web → db cuts new connections from web.
    ec2.revoke_security_group_ingress(GroupId=db_sg, IpPermissions=db_rule)
    assert not probe(server, net, web_sg, db_ip, 5432)

    # A group in use cannot go, nor its subnet.
    with pytest.raises(Exception) as e:
        ec2.delete_security_group(GroupId=db_sg)
    assert e.value.response["Error"]["Code"] == "DependencyViolation"


def _get(url):
    try:
        return urllib.request.urlopen(url, timeout=3).read()
    except OSError:
        return None


def test_an_agent_restart_leaves_no_window_open(env):
    """A task's rules live in its namespace, not in the agent: while its agent is killed
    and restarted, a port no rule opens stays closed to every attempt, and the restarted
    agent still applies a new rule."""
    server, agent = env
    net = server.default_network()
    ec2 = server.client("ec2")
    guarded = ec2.create_security_group(GroupName="guarded", Description="no ingress", VpcId=net.vpc)["GroupId"]
    register(server, "guarded", "trap 'exit 0' TERM; httpd -f -p 5432 -h /www & wait", port=5432)
    ip, _ = address(server, run(server, "guarded", net, guarded)["taskArn"])
    # The host reaches the task from its address on the subnet's bridge.
    cidr = ec2.describe_subnets(SubnetIds=[net.subnet])["Subnets"][0]["CidrBlock"]
    host = str(ipaddress.ip_network(cidr)[1])

    attempts, opened = [0], [0]
    stop = threading.Event()

    def knock():
        while not stop.is_set():
            attempts[0] += 1
            try:
                socket.create_connection((ip, 5432), timeout=0.05).close()
                opened[0] += 1
            except OSError:
                pass
            time.sleep(0.02)

    knocker = threading.Thread(target=knock)
    knocker.start()
    try:
        time.sleep(1)
        agent.kill9()
        time.sleep(2)
        agent.start()
        agent.instance_arn()
        time.sleep(2)
    finally:
        stop.set()
        knocker.join()
    assert attempts[0] > 40 and opened[0] == 0, (attempts, opened)

    # The restarted agent enforces a new rule (the knocks could have got through).
    ec2.authorize_security_group_ingress(GroupId=guarded, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": f"{host}/32"}]}])
    wait_for(lambda: _opens(ip, 5432), timeout=10, what="the new rule on the restarted agent")


def _opens(ip, port):
    try:
        socket.create_connection((ip, port), timeout=0.5).close()
        return True
    except OSError:
        return False
