"""The application load balancer end to end: the ELBv2 API through the real AWS CLI and
boto3, real HTTP through the data plane, and ECS services whose busybox httpd tasks are
registered, health-checked, drained and replaced behind it.

One server and one agent for the module; its load balancers take addresses from
127.0.20.1-127.0.20.60 (every 127.x address is loopback), so listeners on port 80 of two
load balancers do not collide, here or with other modules' servers.
"""
import http.client
import socket
import subprocess
import threading
import time
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import Flotilla

CLUSTER = "lb"
LB_RANGE = "127.0.20.1-127.0.20.60"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


class Env:
    def __init__(self, server, base, instance):
        self.server = server
        self.base = base
        self.instance = instance
        self.elb = server.client("elbv2")
        self.ecs = server.client("ecs")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("lb")
    server = Flotilla(base / "server", extra_args=["--lb-bind", LB_RANGE,
                                                   "--service-backoff-base-ms", "50"]).start()
    agent = AgentProcess(server, base / "agent", cluster=CLUSTER)
    arn = None
    try:
        server.aws("ecs", "create-cluster", "--cluster-name", CLUSTER)
        agent.start()
        arn = agent.instance_arn()
        yield Env(server, base, arn)
    finally:
        agent.stop()
        server.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def lb_address(elb, lb_arn):
    """Where a load balancer's listeners are reached: the address DescribeLoadBalancers
    lists in each zone's LoadBalancerAddresses (its own, from --lb-bind)."""
    [lb] = elb.describe_load_balancers(LoadBalancerArns=[lb_arn])["LoadBalancers"]
    [address] = {a["IpAddress"] for z in lb["AvailabilityZones"] for a in z["LoadBalancerAddresses"]}
    return address


def get(addr, port, path="/", host=None, headers=None, method="GET", timeout=10):
    conn = http.client.HTTPConnection(addr, port, timeout=timeout)
    try:
        h = dict(headers or {})
        if host:
            h["Host"] = host
        conn.request(method, path, headers=h)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode(errors="replace")
    finally:
        conn.close()


def test_load_balancer_api_shapes_waiters_and_errors(env):
    elb, server = env.elb, env.server
    net = server.default_network()
    ec2 = server.client("ec2")
    second = ec2.create_subnet(VpcId=net.vpc, CidrBlock=server.default_vpc_cidr.replace(".0.0/16", ".224.0/20"))["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="api-shapes", Description="load balancer")["GroupId"]
    out = server.aws("elbv2", "create-load-balancer", "--name", "api-shapes", "--subnets", net.subnet,
                     second, "--security-groups", sg, "--tags", "Key=team,Value=web")
    [lb] = out["LoadBalancers"]
    arn = lb["LoadBalancerArn"]
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/api-shapes/")
    assert lb["Type"] == "application" and lb["Scheme"] == "internet-facing"
    assert lb["State"]["Code"] in ("provisioning", "active")
    assert lb["DNSName"].startswith("api-shapes-") and lb["DNSName"].endswith(".us-east-1.elb.flotilla.internal")
    assert [z["SubnetId"] for z in lb["AvailabilityZones"]] == [net.subnet, second]
    assert lb["SecurityGroups"] == [sg] and lb["VpcId"] == net.vpc
    server.aws("elbv2", "wait", "load-balancer-available", "--load-balancer-arns", arn)
    # Idempotent with the same settings; another name-clash is refused.
    again = elb.create_load_balancer(Name="api-shapes", Subnets=[net.subnet, second],
                                     SecurityGroups=[sg])["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == arn
    with pytest.raises(ClientError) as e:
        elb.create_load_balancer(Name="api-shapes", Scheme="internal")
    assert code_of(e) == "DuplicateLoadBalancerName"
    for bad in ["-bad", "internal-x", "a" * 33, "under_score"]:
        with pytest.raises(ClientError) as e:
            elb.create_load_balancer(Name=bad)
        assert code_of(e) == "ValidationError", bad
    with pytest.raises(ClientError) as e:
        elb.create_load_balancer(Name="nlb", Type="network")
    assert code_of(e) == "InvalidConfigurationRequest"

    # Attributes: defaults, bounds, changes.
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs["idle_timeout.timeout_seconds"] == "60" and attrs["routing.http2.enabled"] == "true"
    assert attrs["deletion_protection.enabled"] == "false"
    with pytest.raises(ClientError) as e:
        elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
            {"Key": "idle_timeout.timeout_seconds", "Value": "4001"}])
    assert code_of(e) == "ValidationError"
    changed = elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "120"},
        {"Key": "deletion_protection.enabled", "Value": "true"}])["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "120"} in changed

    # Target groups: the model's defaults, duplicates, bounds.
    tg = elb.create_target_group(Name="api-tg", Protocol="HTTP", Port=8080, VpcId=net.vpc)["TargetGroups"][0]
    assert tg["HealthCheckProtocol"] == "HTTP" and tg["HealthCheckPort"] == "traffic-port"
    assert tg["HealthCheckIntervalSeconds"] == 30 and tg["HealthCheckTimeoutSeconds"] == 5
    assert tg["HealthyThresholdCount"] == 5 and tg["UnhealthyThresholdCount"] == 2
    assert tg["HealthCheckPath"] == "/" and tg["Matcher"] == {"HttpCode": "200"}
    assert tg["TargetType"] == "instance" and tg["ProtocolVersion"] == "HTTP1"
    tga = tg["TargetGroupArn"]
    with pytest.raises(ClientError) as e:
        elb.create_target_group(Name="api-tg", Protocol="HTTP", Port=9090)
    assert code_of(e) == "DuplicateTargetGroupName"
    with pytest.raises(ClientError) as e:
        elb.create_target_group(Name="bad-hc", Protocol="HTTP", Port=80, HealthCheckIntervalSeconds=5,
                                HealthCheckTimeoutSeconds=5)
    assert code_of(e) == "ValidationError"
    tattrs = {a["Key"]: a["Value"] for a in
              elb.describe_target_group_attributes(TargetGroupArn=tga)["Attributes"]}
    assert tattrs["deregistration_delay.timeout_seconds"] == "300"
    assert tattrs["load_balancing.algorithm.type"] == "round_robin"
    with pytest.raises(ClientError) as e:
        elb.modify_target_group_attributes(TargetGroupArn=tga, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}])
    assert code_of(e) == "ValidationError"

    # Listeners: one per port; a port another process holds is refused and nothing is made.
    listener = elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tga}])["Listeners"][0]
    with pytest.raises(ClientError) as e:
        elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": tga}])
    assert code_of(e) == "DuplicateListener"
    addr = lb_address(elb, arn)
    squatter = socket.socket()
    squatter.bind((addr, 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    try:
        with pytest.raises(ClientError) as e:
            elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=taken, DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
        assert code_of(e) == "InvalidConfigurationRequest" and "cannot bind" in str(e.value)
    finally:
        squatter.close()
    assert [l["Port"] for l in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]] == [80]

    # Rules: bad conditions, duplicate priorities, priorities swapped at once.
    la = listener["ListenerArn"]
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
    for conditions in ([], [{"Field": "path-pattern", "Values": ["/a b"]}],
                       [{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/33"]}}],
                       [{"Field": "no-such-field", "Values": ["x"]}],
                       [{"Field": "path-pattern", "Values": [f"/{i}" for i in range(6)]}]):
        with pytest.raises(ClientError) as e:
            elb.create_rule(ListenerArn=la, Priority=5, Conditions=conditions, Actions=fixed)
        assert code_of(e) == "ValidationError", conditions
    r1 = elb.create_rule(ListenerArn=la, Priority=5, Actions=fixed,
                         Conditions=[{"Field": "path-pattern", "Values": ["/one"]}])["Rules"][0]
    r2 = elb.create_rule(ListenerArn=la, Priority=6, Actions=fixed,
                         Conditions=[{"Field": "path-pattern", "Values": ["/two"]}])["Rules"][0]
    with pytest.raises(ClientError) as e:
        elb.create_rule(ListenerArn=la, Priority=5, Actions=fixed,
                        Conditions=[{"Field": "path-pattern", "Values": ["/x"]}])
    assert code_of(e) == "PriorityInUse"
    elb.set_rule_priorities(RulePriorities=[{"RuleArn": r1["RuleArn"], "Priority": 6},
                                            {"RuleArn": r2["RuleArn"], "Priority": 5}])
    rules = elb.describe_rules(ListenerArn=la)["Rules"]
    assert [(r["Priority"], r["IsDefault"]) for r in rules] == [("5", False), ("6", False), ("default", True)]
    assert rules[0]["RuleArn"] == r2["RuleArn"]
    with pytest.raises(ClientError) as e:
        elb.delete_rule(RuleArn=rules[-1]["RuleArn"])
    assert code_of(e) == "OperationNotPermitted"

    # A target group in use cannot be deleted; tags on every kind.
    with pytest.raises(ClientError) as e:
        elb.delete_target_group(TargetGroupArn=tga)
    assert code_of(e) == "ResourceInUse"
    assert elb.describe_target_groups(LoadBalancerArn=arn)["TargetGroups"][0]["LoadBalancerArns"] == [arn]
    elb.add_tags(ResourceArns=[arn, tga, la, r1["RuleArn"]], Tags=[{"Key": "env", "Value": "test"}])
    described = elb.describe_tags(ResourceArns=[arn, tga, la, r1["RuleArn"]])["TagDescriptions"]
    assert all({"Key": "env", "Value": "test"} in d["Tags"] for d in described)
    elb.remove_tags(ResourceArns=[arn], TagKeys=["env"])
    [d] = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"]
    assert d["Tags"] == [{"Key": "team", "Value": "web"}]

    # Pagination and lookups by name.
    other = elb.create_load_balancer(Name="api-page")["LoadBalancers"][0]["LoadBalancerArn"]
    page = elb.describe_load_balancers(PageSize=1)
    assert len(page["LoadBalancers"]) == 1 and page.get("NextMarker")
    rest = elb.describe_load_balancers(PageSize=1, Marker=page["NextMarker"])
    assert rest["LoadBalancers"][0]["LoadBalancerArn"] != page["LoadBalancers"][0]["LoadBalancerArn"]
    elb.delete_load_balancer(LoadBalancerArn=other)
    with pytest.raises(ClientError) as e:
        elb.describe_load_balancers(Names=["no-such-lb"])
    assert code_of(e) == "LoadBalancerNotFound"

    # Deletion protection, then deletion; the waiter sees it go.
    with pytest.raises(ClientError) as e:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    assert code_of(e) == "OperationNotPermitted"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    elb.delete_load_balancer(LoadBalancerArn=arn)
    server.aws("elbv2", "wait", "load-balancers-deleted", "--load-balancer-arns", arn)
    elb.delete_target_group(TargetGroupArn=tga)
    with pytest.raises(ClientError) as e:
        elb.describe_target_groups(TargetGroupArns=[tga])
    assert code_of(e) == "TargetGroupNotFound"

    # Targets by hand: bad ids refused, the unused states, and the deregistered waiter.
    ip_tg = elb.create_target_group(Name="api-ip", Protocol="HTTP", Port=9, TargetType="ip")[
        "TargetGroups"][0]["TargetGroupArn"]
    with pytest.raises(ClientError) as e:
        elb.register_targets(TargetGroupArn=ip_tg, Targets=[{"Id": "not-an-ip"}])
    assert code_of(e) == "InvalidTarget"
    elb.register_targets(TargetGroupArn=ip_tg, Targets=[{"Id": "127.0.0.1"}])
    [row] = elb.describe_target_health(TargetGroupArn=ip_tg)["TargetHealthDescriptions"]
    assert row["Target"] == {"Id": "127.0.0.1", "Port": 9} and row["TargetHealth"]["Reason"] == "Target.NotInUse"
    [row] = elb.describe_target_health(TargetGroupArn=ip_tg, Targets=[{"Id": "127.0.0.2"}])[
        "TargetHealthDescriptions"]
    assert (row["TargetHealth"]["State"], row["TargetHealth"]["Reason"]) == ("unused", "Target.NotRegistered")
    elb.modify_target_group_attributes(TargetGroupArn=ip_tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}])
    elb.deregister_targets(TargetGroupArn=ip_tg, Targets=[{"Id": "127.0.0.1"}])
    elb.get_waiter("target_deregistered").wait(TargetGroupArn=ip_tg, Targets=[{"Id": "127.0.0.1"}],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    assert elb.describe_target_health(TargetGroupArn=ip_tg)["TargetHealthDescriptions"] == []
    elb.delete_target_group(TargetGroupArn=ip_tg)


# A web server answering its NAME on /, /api/index.html and /weighted, and ok on /health;
# with FLAKY=N its /health disappears N seconds after it starts.
WEB = ("busybox mkdir -p /w/api && for f in /w/index.html /w/api/index.html /w/weighted; do echo $NAME > $f; done"
       " && echo ok > /w/health"
       " && if [ -n \"$FLAKY\" ]; then (sleep $FLAKY; busybox rm /w/health) & fi;"
       " trap 'exit 0' TERM; httpd -f -p 80 -h /w & wait")


def web_task(ecs, family, name, flaky=None):
    env = [{"name": "NAME", "value": name}]
    if flaky:
        env.append({"name": "FLAKY", "value": str(flaky)})
    container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True, "stopTimeout": 2,
                 "command": ["sh", "-c", WEB], "environment": env,
                 "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]}
    return ecs.register_task_definition(family=family, networkMode="bridge",
                                        containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]


def target_group(elb, name, **extra):
    return elb.create_target_group(Name=name, Protocol="HTTP", Port=80, TargetType="instance",
                                   HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                   HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                   UnhealthyThresholdCount=2, **extra)["TargetGroups"][0]["TargetGroupArn"]


def service(ecs, name, td, tg, count, **extra):
    return ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=count,
                              launchType="EC2", loadBalancers=[{"targetGroupArn": tg, "containerName": "app",
                                                                "containerPort": 80}], **extra)["service"]


def healthy_targets(elb, tg):
    return [d for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
            if d["TargetHealth"]["State"] == "healthy"]


def wait_healthy(elb, tg, count, timeout=90):
    return wait_for(lambda: len(healthy_targets(elb, tg)) == count, timeout=timeout,
                    what=f"{count} healthy targets in {tg}")


def stable(ecs, name, desired, td=None):
    svc = ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]
    [*deps] = svc["deployments"]
    return (len(deps) == 1 and deps[0]["rolloutState"] == "COMPLETED" and svc["runningCount"] == desired
            and svc["desiredCount"] == desired and (td is None or deps[0]["taskDefinition"] == td)) and svc


def delete_service(ecs, name):
    try:
        ecs.delete_service(cluster=CLUSTER, service=name, force=True)
    except ClientError:
        pass


@pytest.fixture(scope="module")
def routed(env):
    """Services a and b behind one load balancer with a listener on port 80."""
    elb, ecs = env.elb, env.ecs
    lb = elb.create_load_balancer(Name="routed")["LoadBalancers"][0]["LoadBalancerArn"]
    tga, tgb = target_group(elb, "routed-a"), target_group(elb, "routed-b")
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tgb}])["Listeners"][0]["ListenerArn"]
    # ECS needs a target group behind a load balancer before a service names it.
    with pytest.raises(ClientError) as e:
        service(ecs, "a", web_task(ecs, "web-a", "A"), tga, 2)
    assert code_of(e) == "InvalidParameterException" and "does not have an associated load balancer" in str(e.value)
    env.server.aws("elbv2", "create-rule", "--listener-arn", listener, "--priority", "10",
                   "--conditions", "Field=path-pattern,Values=/api/*",
                   "--actions", f"Type=forward,TargetGroupArn={tga}")
    service(ecs, "a", web_task(ecs, "web-a", "A"), tga, 2)
    service(ecs, "b", web_task(ecs, "web-b", "B"), tgb, 2)
    try:
        for tg in (tga, tgb):
            elb.get_waiter("target_in_service").wait(TargetGroupArn=tg, WaiterConfig={"Delay": 1, "MaxAttempts": 90})
            wait_healthy(elb, tg, 2)
        yield env, lb, listener, tga, tgb, lb_address(elb, lb)
    finally:
        for name in ("a", "b"):
            delete_service(ecs, name)


def test_rules_route_by_path_host_and_weight_with_fixed_and_redirect_answers(routed):
    env, lb, listener, tga, tgb, addr = routed
    elb = env.elb
    elb.create_rule(ListenerArn=listener, Priority=20, Actions=[{"Type": "forward", "TargetGroupArn": tga}],
                    Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["*.a.example.com"]}}])
    elb.create_rule(ListenerArn=listener, Priority=30, Conditions=[
        {"Field": "path-pattern", "Values": ["/maintenance"]}], Actions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain",
                                                           "MessageBody": "down for maintenance"}}])
    elb.create_rule(ListenerArn=listener, Priority=40, Conditions=[
        {"Field": "path-pattern", "Values": ["/old/*"]}], Actions=[
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "Path": "/new/#{path}",
                                                "StatusCode": "HTTP_301"}}])
    elb.create_rule(ListenerArn=listener, Priority=50, Conditions=[
        {"Field": "path-pattern", "Values": ["/weighted"]}], Actions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tga, "Weight": 80},
                                                              {"TargetGroupArn": tgb, "Weight": 20}]}}])

    assert get(addr, 80, "/api/index.html")[::2] == (200, "A\n")
    assert get(addr, 80, "/")[::2] == (200, "B\n")
    assert get(addr, 80, "/", host="shop.a.example.com")[::2] == (200, "A\n")
    assert get(addr, 80, "/", host="shop.b.example.com")[::2] == (200, "B\n")
    status, headers, body = get(addr, 80, "/maintenance")
    assert (status, body, headers.get("Content-Type")) == (503, "down for maintenance", "text/plain")
    status, headers, _ = get(addr, 80, "/old/page.html?x=1", host="www.example.com")
    assert status == 301 and headers["Location"] == "https://www.example.com/new/old/page.html?x=1"

    # 80/20 over 1,000 requests on keep-alive connections.
    counts = Counter()
    conn = http.client.HTTPConnection(addr, 80, timeout=10)
    for _ in range(1000):
        conn.request("GET", "/weighted")
        resp = conn.getresponse()
        counts[(resp.status, resp.read().decode().strip())] += 1
    conn.close()
    print(f"weighted 80/20 over 1000 requests: {dict(counts)}")
    assert counts[(200, "A")] + counts[(200, "B")] == 1000
    assert 720 <= counts[(200, "A")] <= 880, counts

    # Two load balancers may both listen on port 80: each has its own address.
    other = elb.create_load_balancer(Name="routed-twin")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=other, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "twin"}}])
    twin = lb_address(elb, other)
    assert twin != addr
    assert get(twin, 80, "/")[::2] == (200, "twin") and get(addr, 80, "/")[::2] == (200, "B\n")
    elb.delete_load_balancer(LoadBalancerArn=other)


def test_a_target_failing_its_health_check_is_replaced(env):
    elb, ecs = env.elb, env.ecs
    lb = elb.create_load_balancer(Name="flaky")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = target_group(elb, "flaky")
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    # Its /health goes away 12 s after it starts: healthy first, then unhealthy.
    service(ecs, "flaky", web_task(ecs, "flaky", "F", flaky=12), tg, 1)
    try:
        seen = []

        def first_target_states():
            rows = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
            if rows:
                h = rows[0]["TargetHealth"]
                step = (h["State"], h.get("Reason"))
                if not seen or seen[-1] != step:
                    seen.append(step)
                if h["State"] == "unhealthy":
                    assert h["Reason"] == "Target.ResponseCodeMismatch"
                    assert h["Description"] == "Health checks failed with these codes: [404]"
            return any(s == "draining" for s, _ in seen)

        wait_for(first_target_states, timeout=90, interval=0.1, what="the flaky target to be replaced")
        print(f"target states: {seen}")
        states = [s for s, _ in seen]
        assert "healthy" in states and "unhealthy" in states
        assert states.index("healthy") < states.index("unhealthy") < states.index("draining")
        # The first check runs as soon as the target is registered, so `initial` may pass
        # between two polls; when seen, it comes first with its reason.
        assert states[0] in ("initial", "healthy")
        assert all(r in ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking") for s, r in seen if s == "initial")
        assert ("draining", "Target.DeregistrationInProgress") in seen

        def events():
            return [e["message"] for e in ecs.describe_services(cluster=CLUSTER, services=["flaky"])["services"][0][
                "events"]]

        # The controller writes the event after the target's state is seen (later on a loaded machine).
        wait_for(lambda: any("is unhealthy in (target-group " + tg in m for m in events()), timeout=30,
                 what="the service's event for the unhealthy target")
        messages = events()
        assert any(m.startswith("(service flaky) registered 1 targets in (target-group ") for m in messages)
        assert any(m.startswith("(service flaky) deregistered 1 targets in (target-group ") for m in messages)
        stopped = ecs.list_tasks(cluster=CLUSTER, serviceName="flaky", desiredStatus="STOPPED")["taskArns"]
        reasons = [t.get("stoppedReason", "") for t in ecs.describe_tasks(cluster=CLUSTER, tasks=stopped)["tasks"]]
        assert any(r.startswith("Task failed ELB health checks in (target-group ") for r in reasons), reasons
    finally:
        delete_service(ecs, "flaky")
        elb.delete_load_balancer(LoadBalancerArn=lb)


class Load:
    """A bounded load through the load balancer: `workers` keep-alive clients sending GET /
    until stopped, at most `max_seconds` and `max_requests` in all."""

    def __init__(self, addr, port, workers=4, max_seconds=240, max_requests=200_000):
        self.addr, self.port = addr, port
        self.statuses = Counter()
        self.bodies = Counter()
        self.errors = Counter()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.budget = max_requests
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(workers)]

    def run(self):
        conn = None
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            with self.lock:
                if self.budget <= 0:
                    return
                self.budget -= 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.addr, self.port, timeout=10)
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode().strip()
                with self.lock:
                    self.statuses[resp.status] += 1
                    self.bodies[body if resp.status == 200 else "-"] += 1
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors[type(e).__name__] += 1
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def test_rolling_deployment_scale_in_and_out_drop_no_request(env):
    elb, ecs = env.elb, env.ecs
    lb = elb.create_load_balancer(Name="zero")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = target_group(elb, "zero")  # the default 300 s deregistration delay
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    v1, v2 = web_task(ecs, "zero", "v1"), web_task(ecs, "zero", "v2")
    service(ecs, "zero", v1, tg, 4, deploymentConfiguration={"minimumHealthyPercent": 100,
                                                             "maximumPercent": 200})
    try:
        wait_healthy(elb, tg, 4)
        addr = lb_address(elb, lb)
        phases = {}
        with Load(addr, 80) as load:
            time.sleep(2)
            started = time.monotonic()
            ecs.update_service(cluster=CLUSTER, service="zero", taskDefinition=v2)
            wait_for(lambda: stable(ecs, "zero", 4, v2), timeout=120, interval=0.5, what="the v2 rollout")
            phases["rolling deployment"] = time.monotonic() - started
            started = time.monotonic()
            ecs.update_service(cluster=CLUSTER, service="zero", desiredCount=2)
            wait_for(lambda: stable(ecs, "zero", 2), timeout=120, interval=0.5, what="the scale-in to 2")
            phases["scale-in 4 -> 2"] = time.monotonic() - started
            started = time.monotonic()
            ecs.update_service(cluster=CLUSTER, service="zero", desiredCount=4)
            wait_for(lambda: stable(ecs, "zero", 4) and len(healthy_targets(elb, tg)) == 4, timeout=120,
                     interval=0.5, what="the scale-out to 4")
            phases["scale-out 2 -> 4"] = time.monotonic() - started
            time.sleep(2)
        total = sum(load.statuses.values())
        non_2xx = sum(n for s, n in load.statuses.items() if not 200 <= s < 300)
        print(f"zero downtime: {total} responses, {non_2xx} non-2xx, {sum(load.errors.values())} connection "
              f"errors {dict(load.errors)}; by body {dict(load.bodies)}; phases (s) "
              f"{ {k: round(v, 1) for k, v in phases.items()} }")
        assert total > 100
        assert non_2xx == 0, load.statuses
        assert not load.errors, load.errors
        assert load.bodies["v1"] > 0 and load.bodies["v2"] > 0
        # Drained targets stopped their tasks long before the 300 s delay.
        assert phases["rolling deployment"] < 120 and phases["scale-in 4 -> 2"] < 120
    finally:
        delete_service(ecs, "zero")
        elb.delete_load_balancer(LoadBalancerArn=lb)


def curl(*args):
    out = subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout, out.stderr


def test_https_listener_speaks_h2_and_picks_certificates_by_sni(routed, tmp_path):
    from test_acm import self_signed
    env, lb, listener, tga, tgb, addr = routed
    elb, server = env.elb, env.server
    certs = {}
    for name in ("a.example.com", "b.example.com"):
        cert, key = self_signed(tmp_path / name, name, key="prime256v1")
        out = server.aws("acm", "import-certificate", "--certificate", f"fileb://{cert}",
                         "--private-key", f"fileb://{key}")
        certs[name] = (cert, out["CertificateArn"])
    https = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=443,
                                Certificates=[{"CertificateArn": certs["a.example.com"][1]}],
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tgb}])["Listeners"][0]
    assert https["SslPolicy"] and https["Certificates"] == [{"CertificateArn": certs["a.example.com"][1]}]
    elb.add_listener_certificates(ListenerArn=https["ListenerArn"],
                                  Certificates=[{"CertificateArn": certs["b.example.com"][1]}])
    listed = elb.describe_listener_certificates(ListenerArn=https["ListenerArn"])["Certificates"]
    assert {(c["CertificateArn"], c["IsDefault"]) for c in listed} == {
        (certs["a.example.com"][1], True), (certs["b.example.com"][1], False)}
    # In use by the listener: ACM will not delete it.
    with pytest.raises(ClientError) as e:
        env.server.client("acm").delete_certificate(CertificateArn=certs["b.example.com"][1])
    assert code_of(e) == "ResourceInUseException"

    def fetch(name, path="/"):
        # Verified against the one certificate for that name: it passes only when SNI
        # chose that certificate.
        return curl("--http2", "--cacert", str(certs[name][0]), "--resolve", f"{name}:443:{addr}",
                    "-w", "\n%{http_version}", f"https://{name}{path}")

    def served():
        code, out, err = fetch("a.example.com")
        return code == 0 and out

    wait_for(served, timeout=15, what="the HTTPS listener")
    for name in ("a.example.com", "b.example.com"):
        code, out, err = fetch(name, "/api/index.html")
        assert code == 0, err
        body, version = out.rsplit("\n", 1)
        # /api/* is a rule of the HTTP listener only; the HTTPS listener forwards all to b.
        assert (body, version) == ("B\n", "2"), (name, out)
    # An unknown name gets the default certificate, which does not match it.
    code, _, err = curl("--cacert", str(certs["a.example.com"][0]), "--resolve", f"c.example.com:443:{addr}",
                        "https://c.example.com/")
    assert code != 0 and "certificate" in err.lower()
    elb.delete_listener(ListenerArn=https["ListenerArn"])


def test_a_port_offset_serves_listeners_on_port_plus_offset(tmp_path):
    """The fallback for a server that may not bind ports below 1024: --lb-port-offset."""
    server = Flotilla(tmp_path / "offset", extra_args=["--lb-bind", "127.0.20.61", "--lb-port-offset", "10000"]).start()
    try:
        elb = server.client("elbv2")
        lb = elb.create_load_balancer(Name="offset")["LoadBalancers"][0]["LoadBalancerArn"]
        listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "offset"}}])
        assert listener["Listeners"][0]["Port"] == 80
        addr = lb_address(elb, lb)
        assert addr == "127.0.20.61"
        assert wait_for(lambda: _answers(addr, 10080), timeout=10, what="port 10080") == (200, "offset")
        # X-Forwarded-Port and redirects name the port the listener was given, not the bound one.
        elb.create_rule(ListenerArn=listener["Listeners"][0]["ListenerArn"], Priority=1, Conditions=[
            {"Field": "path-pattern", "Values": ["/go"]}], Actions=[
            {"Type": "redirect", "RedirectConfig": {"Path": "/went", "StatusCode": "HTTP_302"}}])
        # The rule reaches the data plane a moment after CreateRule answers.
        status, headers, _ = wait_for(lambda: (r := get(addr, 10080, "/go", host="example.com"))[0] == 302 and r,
                                      timeout=10, what="the redirect rule")
        assert headers["Location"] == "http://example.com/went"
    finally:
        server.stop()


def _answers(addr, port):
    try:
        status, _, body = get(addr, port, "/", timeout=2)
        return status, body
    except OSError:
        return None


def test_awsvpc_tasks_are_ip_targets(env):
    """awsvpc tasks register their own address and the container port (target type ip)."""
    elb, ecs = env.elb, env.ecs
    lb = elb.create_load_balancer(Name="vpc")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="vpc", Protocol="HTTP", Port=80, TargetType="ip", HealthCheckPath="/health",
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2)[
        "TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True, "stopTimeout": 2,
                 "command": ["sh", "-c", WEB], "environment": [{"name": "NAME", "value": "vpc"}],
                 "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}
    td = ecs.register_task_definition(family="vpc", networkMode="awsvpc",
                                      containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]
    service(ecs, "vpc", td, tg, 1, networkConfiguration=env.server.default_network().awsvpc())
    try:
        wait_healthy(elb, tg, 1)
        [row] = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        [task_arn] = ecs.list_tasks(cluster=CLUSTER, serviceName="vpc")["taskArns"]
        [task] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"]
        ip = task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        assert row["Target"]["Id"] == ip and row["Target"]["Port"] == 80
        assert get(lb_address(elb, lb), 80, "/")[::2] == (200, "vpc\n")
    finally:
        delete_service(ecs, "vpc")
        elb.delete_load_balancer(LoadBalancerArn=lb)
