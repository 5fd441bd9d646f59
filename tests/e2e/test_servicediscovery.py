"""AWS Cloud Map end to end: a private DNS namespace, a MULTIVALUE service with A and SRV
records, instances registered through the real AWS CLI and boto3, their names answered by
Flotilla's DNS server as the real `dig` sees them, DiscoverInstances through the CLI with
the `data-` host prefix turned off, custom health taking an instance out of the answers,
operations reaching SUCCESS, and deletes refused while something is left inside."""
import time

import pytest
from botocore.exceptions import ClientError

from test_dns import dig

NAMESPACE = "svc.flotilla.test"
NO_HOST_PREFIX = {"AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}


def wait_operation(flotilla, op_id, timeout=15):
    """Poll GetOperation (the CLI) until SUCCESS; the operation as last seen."""
    deadline = time.monotonic() + timeout
    while True:
        op = flotilla.aws("servicediscovery", "get-operation", "--operation-id", op_id)["Operation"]
        if op["Status"] == "SUCCESS" or time.monotonic() > deadline:
            return op
        time.sleep(0.1)


@pytest.fixture(scope="module")
def setup(flotilla):
    """The namespace and the service every test of this module uses."""
    out = flotilla.aws("servicediscovery", "create-private-dns-namespace", "--name", NAMESPACE,
                       "--vpc", flotilla.default_network().vpc, "--creator-request-id", "e2e-ns")
    op = wait_operation(flotilla, out["OperationId"])
    assert op["Status"] == "SUCCESS", op
    assert op["Type"] == "CREATE_NAMESPACE"
    ns_id = op["Targets"]["NAMESPACE"]
    service = flotilla.aws(
        "servicediscovery", "create-service", "--name", "web", "--namespace-id", ns_id,
        "--dns-config",
        "RoutingPolicy=MULTIVALUE,DnsRecords=[{Type=A,TTL=10},{Type=SRV,TTL=10}]",
        "--health-check-custom-config", "{}")["Service"]
    return ns_id, service["Id"]


def addresses(flotilla, name="web." + NAMESPACE):
    status, answer, _, _ = dig(flotilla.dns, name, "A")
    return status, sorted(r[3] for r in answer), {r[1] for r in answer}


def wait_addresses(flotilla, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        status, got, ttls = addresses(flotilla)
        if got == want or time.monotonic() > deadline:
            return status, got, ttls
        time.sleep(0.1)


def test_instances_are_answered_by_dns_and_discovered(flotilla, setup):
    ns_id, srv_id = setup
    ns = flotilla.aws("servicediscovery", "get-namespace", "--id", ns_id)["Namespace"]
    assert ns["Type"] == "DNS_PRIVATE"
    assert ns["Properties"]["DnsProperties"]["HostedZoneId"].startswith("Z")
    # One instance through the CLI, one through boto3.
    out = flotilla.aws("servicediscovery", "register-instance", "--service-id", srv_id,
                       "--instance-id", "task-1", "--attributes",
                       "AWS_INSTANCE_IPV4=127.0.0.11,AWS_INSTANCE_PORT=8080,stage=prod")
    sd = flotilla.client("servicediscovery")
    second = sd.register_instance(ServiceId=srv_id, InstanceId="task-2", Attributes={
        "AWS_INSTANCE_IPV4": "127.0.0.12", "AWS_INSTANCE_PORT": "8081", "stage": "dev"})
    for op_id in (out["OperationId"], second["OperationId"]):
        op = wait_operation(flotilla, op_id)
        assert op["Status"] == "SUCCESS", op
        assert op["Targets"]["INSTANCE"] in ("task-1", "task-2")
    # SUCCESS means the DNS server already answers with it.
    status, got, ttls = addresses(flotilla)
    assert status == "NOERROR"
    assert got == ["127.0.0.11", "127.0.0.12"]
    assert ttls == {10}
    status, answer, _, _ = dig(flotilla.dns, "web." + NAMESPACE, "SRV", tcp=True)
    assert status == "NOERROR"
    srv = sorted(r[3] for r in answer)
    assert srv == [f"1 1 8080 task-1.web.{NAMESPACE}.", f"1 1 8081 task-2.web.{NAMESPACE}."]
    assert {r[1] for r in answer} == {10}
    _, target, _, _ = dig(flotilla.dns, f"task-1.web.{NAMESPACE}", "A")
    assert [r[3] for r in target] == ["127.0.0.11"]
    # A name the namespace does not have: NXDOMAIN with the namespace's SOA.
    status, _, authority, flags = dig(flotilla.dns, "nope." + NAMESPACE, "A")
    assert status == "NXDOMAIN"
    assert "aa" in flags
    assert authority and authority[0][2] == "SOA"
    # DiscoverInstances through the CLI, which needs its `data-` host prefix turned off.
    found = flotilla.aws("servicediscovery", "discover-instances", "--namespace-name", NAMESPACE,
                         "--service-name", "web", "--query-parameters", "stage=prod",
                         env=NO_HOST_PREFIX)
    assert [i["InstanceId"] for i in found["Instances"]] == ["task-1"]
    assert found["Instances"][0]["Attributes"]["AWS_INSTANCE_IPV4"] == "127.0.0.11"
    assert found["Instances"][0]["HealthStatus"] == "HEALTHY"
    # boto3 with inject_host_prefix=False.
    data = flotilla.client("servicediscovery", inject_host_prefix=False)
    rev = data.discover_instances_revision(NamespaceName=NAMESPACE, ServiceName="web")
    assert rev["InstancesRevision"] == found["InstancesRevision"]
    assert len(data.discover_instances(NamespaceName=NAMESPACE, ServiceName="web")["Instances"]) == 2


def test_an_unhealthy_instance_leaves_the_answers(flotilla, setup):
    _, srv_id = setup
    flotilla.aws("servicediscovery", "update-instance-custom-health-status", "--service-id", srv_id,
                 "--instance-id", "task-2", "--status", "UNHEALTHY")
    status, got, _ = wait_addresses(flotilla, ["127.0.0.11"])
    assert (status, got) == ("NOERROR", ["127.0.0.11"])
    health = flotilla.client("servicediscovery").get_instances_health_status(ServiceId=srv_id)
    assert health["Status"] == {"task-1": "HEALTHY", "task-2": "UNHEALTHY"}
    healthy = flotilla.aws("servicediscovery", "discover-instances", "--namespace-name", NAMESPACE,
                           "--service-name", "web", "--health-status", "HEALTHY",
                           env=NO_HOST_PREFIX)
    assert [i["InstanceId"] for i in healthy["Instances"]] == ["task-1"]
    flotilla.aws("servicediscovery", "update-instance-custom-health-status", "--service-id", srv_id,
                 "--instance-id", "task-2", "--status", "HEALTHY")
    assert wait_addresses(flotilla, ["127.0.0.11", "127.0.0.12"])[1] == ["127.0.0.11", "127.0.0.12"]


def test_errors_are_cloud_maps(flotilla, setup):
    ns_id, srv_id = setup
    sd = flotilla.client("servicediscovery")
    with pytest.raises(sd.exceptions.NamespaceAlreadyExists) as e:
        sd.create_private_dns_namespace(Name=NAMESPACE, Vpc=flotilla.default_network().vpc)
    assert e.value.response["NamespaceId"] == ns_id
    with pytest.raises(sd.exceptions.InvalidInput):
        sd.register_instance(ServiceId=srv_id, InstanceId="bad", Attributes={"AWS_INSTANCE_PORT": "1"})
    with pytest.raises(sd.exceptions.ServiceNotFound):
        sd.get_service(Id="srv-aaaaaaaaaaaaaaaa")
    with pytest.raises(sd.exceptions.ResourceInUse):
        sd.delete_service(Id=srv_id)
    with pytest.raises(sd.exceptions.ResourceInUse):
        sd.delete_namespace(Id=ns_id)
    with pytest.raises(sd.exceptions.InvalidInput):
        sd.create_service(Name="c", NamespaceId=ns_id,
                          DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "CNAME", "TTL": 5}]})
    bad = flotilla.aws("servicediscovery", "get-operation", "--operation-id", "nope", check=False)
    assert bad.returncode != 0 and "OperationNotFound" in bad.stderr


def test_deregistered_instances_and_deleted_namespaces_stop_answering(flotilla, setup):
    ns_id, srv_id = setup
    out = flotilla.aws("servicediscovery", "deregister-instance", "--service-id", srv_id,
                       "--instance-id", "task-1")
    assert wait_operation(flotilla, out["OperationId"])["Status"] == "SUCCESS"
    assert addresses(flotilla)[1] == ["127.0.0.12"]
    flotilla.client("servicediscovery").deregister_instance(ServiceId=srv_id, InstanceId="task-2")
    status, got, _ = wait_addresses(flotilla, [])
    assert got == []
    flotilla.aws("servicediscovery", "delete-service", "--id", srv_id)
    out = flotilla.aws("servicediscovery", "delete-namespace", "--id", ns_id)
    op = wait_operation(flotilla, out["OperationId"])
    assert (op["Status"], op["Type"]) == ("SUCCESS", "DELETE_NAMESPACE")
    status, _, _, _ = dig(flotilla.dns, "web." + NAMESPACE, "A")
    assert status in ("REFUSED", "NXDOMAIN", "SERVFAIL")
    listed = flotilla.aws("servicediscovery", "list-operations", "--filters",
                          f"Name=NAMESPACE_ID,Values={ns_id},Condition=EQ")
    assert len(listed["Operations"]) == 2
