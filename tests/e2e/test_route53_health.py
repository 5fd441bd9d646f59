"""Route 53 health checks end to end: a check made with the real AWS CLI probes a small
HTTP server this test runs on 127.0.0.1; while the server answers 500 the multivalue
record set naming the check is left out of the real `dig`'s answers and
GetHealthCheckStatus says Failure, and once it answers 200 again the set is back. An alias
to a load balancer with EvaluateTargetHealth and no healthy target is left out next to a
plain weighted set. Checks run every 10 s (Route 53's shortest interval) with
FailureThreshold 1, and the first probe runs at creation, so every wait below is short and
bounded."""
import http.server
import json
import threading
import time
import uuid

import botocore.exceptions
import pytest

from conftest import Flotilla
from test_dns import change, create_zone, dig

ZONE = "health.example.test"
LB_RANGE = "127.0.23.1-127.0.23.10"
# A check's interval plus the time to rebuild and serve: how long a change may take.
DEADLINE = 25


class Endpoint:
    """An HTTP server on 127.0.0.1 answering every GET with `code`."""

    def __init__(self):
        self.code = 200
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"ok\n" if endpoint.code < 400 else b"broken\n"
                self.send_response(endpoint.code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def flotilla(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("r53health"),
                      extra_args=["--lb-bind", LB_RANGE]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def eventually(what, check):
    """Poll `check` until it returns something truthy, for at most DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {DEADLINE} s (last: {last!r})")


def addresses(flotilla, name):
    return sorted(a[3] for a in dig(flotilla.dns, name)[1])


def statuses(r53, check_id):
    obs = r53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    return [o["StatusReport"]["Status"] for o in obs]


def test_an_unhealthy_check_takes_its_record_out_of_dns_answers(flotilla, endpoint):
    r53 = flotilla.client("route53")
    created = flotilla.aws(
        "route53", "create-health-check", "--caller-reference", str(uuid.uuid4()),
        "--health-check-config",
        f"IPAddress=127.0.0.1,Port={endpoint.port},Type=HTTP,ResourcePath=/health,"
        "RequestInterval=10,FailureThreshold=1")
    check = created["HealthCheck"]
    assert check["HealthCheckConfig"]["Type"] == "HTTP"
    assert check["HealthCheckVersion"] == 1
    check_id = check["Id"]

    zone = create_zone(flotilla, ZONE)
    name = f"www.{ZONE}"

    def multivalue(ident, value, health_check=None):
        rrset = {"Name": name, "Type": "A", "TTL": 10, "SetIdentifier": ident,
                 "MultiValueAnswer": True, "ResourceRecords": [{"Value": value}]}
        if health_check:
            rrset["HealthCheckId"] = health_check
        return {"Action": "UPSERT", "ResourceRecordSet": rrset}

    change(flotilla, zone, [multivalue("checked", "192.0.2.1", check_id),
                            multivalue("plain", "192.0.2.2")])
    assert eventually("the first probe", lambda: statuses(r53, check_id)) == \
        ["Success: HTTP Status Code 200, OK"]
    assert addresses(flotilla, name) == ["192.0.2.1", "192.0.2.2"]

    endpoint.code = 500
    eventually("the checked record leaving the answers",
               lambda: addresses(flotilla, name) == ["192.0.2.2"])
    status = statuses(r53, check_id)
    assert status[0].startswith("Failure: HTTP Status Code 500"), status
    obs = r53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"][0]
    assert obs["IPAddress"] == "127.0.0.1"
    assert obs["Region"]

    endpoint.code = 200
    eventually("the checked record coming back",
               lambda: addresses(flotilla, name) == ["192.0.2.1", "192.0.2.2"])
    assert statuses(r53, check_id) == ["Success: HTTP Status Code 200, OK"]

    # In use: Flotilla refuses to delete it; a record naming a missing check is refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r53.delete_health_check(HealthCheckId=check_id)
    assert e.value.response["Error"]["Code"] == "HealthCheckInUse"
    out = flotilla.aws("route53", "change-resource-record-sets", "--hosted-zone-id", zone,
                       "--change-batch", json.dumps({"Changes": [multivalue(
                           "other", "192.0.2.3", str(uuid.uuid4()))]}), check=False)
    assert out.returncode != 0 and "NoSuchHealthCheck" in out.stderr, out.stderr


def test_health_checks_list_update_and_delete(flotilla, endpoint):
    r53 = flotilla.client("route53")
    ref = str(uuid.uuid4())
    config = {"IPAddress": "127.0.0.1", "Port": endpoint.port, "Type": "TCP",
              "RequestInterval": 30, "FailureThreshold": 3}
    first = r53.create_health_check(CallerReference=ref, HealthCheckConfig=config)
    again = r53.create_health_check(CallerReference=ref, HealthCheckConfig=config)
    check_id = first["HealthCheck"]["Id"]
    assert again["HealthCheck"]["Id"] == check_id
    assert first["Location"].endswith(f"/healthcheck/{check_id}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r53.create_health_check(CallerReference=ref, HealthCheckConfig={**config, "Port": 1})
    assert e.value.response["Error"]["Code"] == "HealthCheckAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r53.create_health_check(CallerReference=str(uuid.uuid4()),
                                HealthCheckConfig={"Type": "CALCULATED", "HealthThreshold": 1})
    assert e.value.response["Error"]["Code"] == "InvalidInput"

    ids = [c["Id"] for c in r53.get_paginator("list_health_checks").paginate(
        PaginationConfig={"PageSize": 1}).build_full_result()["HealthChecks"]]
    assert check_id in ids and len(ids) == r53.get_health_check_count()["HealthCheckCount"]

    eventually("a TCP probe", lambda: statuses(r53, check_id) ==
               ["Success: TCP connection established"])
    updated = r53.update_health_check(HealthCheckId=check_id, HealthCheckVersion=1,
                                      Disabled=True)["HealthCheck"]
    assert (updated["HealthCheckConfig"]["Disabled"], updated["HealthCheckVersion"]) == (True, 2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r53.update_health_check(HealthCheckId=check_id, HealthCheckVersion=1, Inverted=True)
    assert e.value.response["Error"]["Code"] == "HealthCheckVersionMismatch"

    r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id,
                                 AddTags=[{"Key": "team", "Value": "web"}])
    tags = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id)
    assert tags["ResourceTagSet"]["Tags"] == [{"Key": "team", "Value": "web"}]
    r53.delete_health_check(HealthCheckId=check_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r53.get_health_check(HealthCheckId=check_id)
    assert e.value.response["Error"]["Code"] == "NoSuchHealthCheck"


def test_an_alias_to_a_load_balancer_with_no_healthy_target_is_left_out(flotilla):
    elb = flotilla.client("elbv2")
    net = flotilla.default_network()
    lb = elb.create_load_balancer(Name="health-alias", Subnets=net.subnets,
                                  Type="application")["LoadBalancers"][0]
    tg = elb.create_target_group(Name="health-alias", Protocol="HTTP", Port=80,
                                 TargetType="ip", VpcId=net.vpc)["TargetGroups"][0]
    # Nothing listens there: the target never becomes healthy.
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                         Targets=[{"Id": "127.0.23.200", "Port": 9}])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=18423,
                        DefaultActions=[{"Type": "forward",
                                         "TargetGroupArn": tg["TargetGroupArn"]}])
    zone = create_zone(flotilla, "alias-health.example.test")
    name = "api.alias-health.example.test"

    def weighted(ident, **rest):
        return {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": name, "Type": "A", "SetIdentifier": ident, "Weight": 1, **rest}}

    change(flotilla, zone, [
        weighted("lb", AliasTarget={"HostedZoneId": lb["CanonicalHostedZoneId"],
                                    "DNSName": lb["DNSName"], "EvaluateTargetHealth": True}),
        weighted("plain", TTL=10, ResourceRecords=[{"Value": "192.0.2.9"}]),
    ])
    # Each answer picks one set by weight (1:1): without EvaluateTargetHealth about half
    # of these would be the load balancer's address.
    answers = {tuple(addresses(flotilla, name)) for _ in range(12)}
    assert answers == {("192.0.2.9",)}

    # Without EvaluateTargetHealth the load balancer is answered too.
    change(flotilla, zone, [
        weighted("lb", AliasTarget={"HostedZoneId": lb["CanonicalHostedZoneId"],
                                    "DNSName": lb["DNSName"], "EvaluateTargetHealth": False}),
    ])
    seen = set()
    for _ in range(40):
        seen.update(addresses(flotilla, name))
        if len(seen) == 2:
            break
    assert len(seen) == 2, seen
