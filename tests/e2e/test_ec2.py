"""EC2's networking subset through the real AWS CLI and boto3: the default VPC, VPCs and
subnets with their CIDR rules, security groups and rules (the three-tier pattern), tags and
filters, waiters, pagination, and the other services checking the ids they are given."""
import http.client
import json
import socket
import time

import pytest
from botocore.exceptions import ClientError

from agents import wait_for
from conftest import Flotilla
from test_load_balancer import lb_address

# This module's load balancer addresses (modules run side by side, each in its own range).
LB_RANGE = "127.0.36.1-127.0.36.20"


def code(e):
    return e.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def flotilla(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("ec2"), extra_args=["--lb-bind", LB_RANGE]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ec2(flotilla):
    return flotilla.client("ec2")


def answer(addr, port=80):
    """The status of a GET, or the error a client sees when the connection is closed."""
    conn = http.client.HTTPConnection(addr, port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except (ConnectionError, http.client.HTTPException) as e:
        return type(e).__name__
    finally:
        conn.close()


def listening(addr, port=80):
    try:
        socket.create_connection((addr, port), timeout=1).close()
        return True
    except OSError:
        return False


def test_a_fresh_server_has_a_default_vpc_subnet_and_group(flotilla, ec2):
    vpcs = flotilla.aws("ec2", "describe-vpcs")["Vpcs"]
    # The server's block (conftest gives each server its own; 172.31.0.0/16 by default).
    block = flotilla.default_vpc_cidr
    assert len(vpcs) == 1 and vpcs[0]["IsDefault"] and vpcs[0]["CidrBlock"] == block
    assert vpcs[0]["State"] == "available"
    vpc = vpcs[0]["VpcId"]
    flotilla.aws("ec2", "wait", "vpc-exists", "--vpc-ids", vpc)
    flotilla.aws("ec2", "wait", "vpc-available", "--vpc-ids", vpc)
    zones = flotilla.aws("ec2", "describe-availability-zones")["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"], z["State"]) for z in zones] == [("local-1a", "local-1-az1", "available")]
    [subnet] = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert subnet["VpcId"] == vpc and subnet["CidrBlock"] == block.replace("/16", "/20")
    assert subnet["AvailabilityZone"] == "local-1a" and subnet["AvailableIpAddressCount"] == 4091
    assert subnet["SubnetArn"].endswith(f":subnet/{subnet['SubnetId']}")
    flotilla.aws("ec2", "wait", "subnet-available", "--subnet-ids", subnet["SubnetId"])
    [group] = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert group["VpcId"] == vpc and group["Description"] == "default VPC security group"
    # The default group: all traffic from its own members in, everything out.
    [inbound] = group["IpPermissions"]
    assert inbound["IpProtocol"] == "-1" and [p["GroupId"] for p in inbound["UserIdGroupPairs"]] == [group["GroupId"]]
    assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=group["GroupId"])
    assert code(e) == "CannotDelete"
    with pytest.raises(ClientError) as e:
        ec2.create_vpc(CidrBlock="10.9.0.0/16", DryRun=True)
    assert code(e) == "DryRunOperation"


def test_vpcs_and_subnets_keep_their_blocks_apart(flotilla, ec2):
    vpc = flotilla.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16", "--tag-specifications",
                       "ResourceType=vpc,Tags=[{Key=Name,Value=three-tier}]")["Vpc"]
    vpc_id = vpc["VpcId"]
    assert vpc["Tags"] == [{"Key": "Name", "Value": "three-tier"}] and not vpc["IsDefault"]
    a = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone="local-1a")["Subnet"]
    assert a["AvailableIpAddressCount"] == 251 and not a["DefaultForAz"]
    cases = [
        (dict(VpcId=vpc_id, CidrBlock="10.0.1.128/25"), "InvalidSubnet.Conflict"),
        (dict(VpcId=vpc_id, CidrBlock="10.1.0.0/24"), "InvalidSubnet.Range"),
        (dict(VpcId=vpc_id, CidrBlock="10.0.0.0/29"), "InvalidSubnet.Range"),
        (dict(VpcId=vpc_id, CidrBlock="10.0.2.7/24"), "InvalidParameterValue"),
        (dict(VpcId=vpc_id, CidrBlock="10.0.2.0/24", AvailabilityZone="mars-1a"), "InvalidParameterValue"),
        (dict(VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.2.0/24"), "InvalidVpcID.NotFound"),
    ]
    for args, want in cases:
        with pytest.raises(ClientError) as e:
            ec2.create_subnet(**args)
        assert code(e) == want, (args, e.value)
    for cidr, want in [("10.0.0.0/8", "InvalidVpc.Range"), ("10.0.0.0/33", "InvalidParameterValue")]:
        with pytest.raises(ClientError) as e:
            ec2.create_vpc(CidrBlock=cidr)
        assert code(e) == want
    # Filters as AWS names them, with wildcards.
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["three-*"]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [vpc_id]
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                          {"Name": "cidr-block", "Values": ["10.0.1.0/24"]}])["Subnets"]
    assert [s["SubnetId"] for s in found] == [a["SubnetId"]]
    with pytest.raises(ClientError) as e:
        ec2.describe_vpcs(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert code(e) == "InvalidParameterValue"
    # A VPC with a subnet cannot go; once empty it goes with its default group.
    with pytest.raises(ClientError) as e:
        ec2.delete_vpc(VpcId=vpc_id)
    assert code(e) == "DependencyViolation"
    ec2.delete_subnet(SubnetId=a["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
    with pytest.raises(ClientError) as e:
        ec2.describe_vpcs(VpcIds=[vpc_id])
    assert code(e) == "InvalidVpcID.NotFound"


def test_three_tier_security_groups(flotilla, ec2):
    def group(name):
        return flotilla.aws("ec2", "create-security-group", "--group-name", name,
                            "--description", f"{name} tier")["GroupId"]

    lb, web, db = group("tier-lb"), group("tier-web"), group("tier-db")
    flotilla.aws("ec2", "wait", "security-group-exists", "--group-ids", lb)
    flotilla.aws("ec2", "authorize-security-group-ingress", "--group-id", lb, "--protocol", "tcp",
                 "--port", "80", "--cidr", "0.0.0.0/0")
    rules = ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
         "UserIdGroupPairs": [{"GroupId": lb, "Description": "from the load balancer"}]}])["SecurityGroupRules"]
    assert rules[0]["ReferencedGroupInfo"]["GroupId"] == lb and not rules[0]["IsEgress"]
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web}]}])
    [described] = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    assert described["IpPermissions"] == [{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [{"GroupId": lb, "UserId": "000000000000", "Description": "from the load balancer"}]}]
    # Who may reach the database: filters over rules.
    found = ec2.describe_security_groups(Filters=[{"Name": "ip-permission.group-id", "Values": [web]}])
    assert [g["GroupId"] for g in found["SecurityGroups"]] == [db]
    # A duplicate, or a rule naming a group that does not exist, changes nothing.
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web}]}])
    assert code(e) == "InvalidPermission.Duplicate"
    assert "already exists" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]}])
    assert code(e) == "InvalidGroup.NotFound"
    for bad, want in [({"IpProtocol": "tcp", "FromPort": 80, "IpRanges": [{"CidrIp": "1.2.3.0/24"}]}, "InvalidParameterValue"),
                      ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "1.2.3.4/24"}]}, "InvalidParameterValue")]:
        with pytest.raises(ClientError) as e:
            ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[bad])
        assert code(e) == want
    db_rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [db]}])["SecurityGroupRules"]
    assert sorted((r["IsEgress"], r["FromPort"]) for r in db_rules) == [(False, 5432), (True, -1)]
    # web is named by db's rule: it cannot be deleted.
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=web)
    assert code(e) == "DependencyViolation"
    with pytest.raises(ClientError) as e:
        ec2.create_security_group(GroupName="tier-web", Description="again")
    assert code(e) == "InvalidGroup.Duplicate"
    # Revoke by rule id, and by permission (an unknown one is answered, not an error).
    ingress = [r for r in db_rules if not r["IsEgress"]][0]["SecurityGroupRuleId"]
    out = ec2.revoke_security_group_ingress(GroupId=db, SecurityGroupRuleIds=[ingress])
    assert out["Return"] and out["RevokedSecurityGroupRules"][0]["ReferencedGroupId"] == web
    out = ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": lb}]},
        {"IpProtocol": "tcp", "FromPort": 81, "ToPort": 81, "UserIdGroupPairs": [{"GroupId": lb}]}])
    assert len(out["RevokedSecurityGroupRules"]) == 1 and out["UnknownIpPermissions"][0]["FromPort"] == 81
    out = flotilla.aws("ec2", "revoke-security-group-egress", "--group-id", db, "--ip-permissions",
                       json.dumps([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]))
    assert out["Return"]
    assert ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]["IpPermissionsEgress"] == []
    for g in (db, web, lb):
        flotilla.aws("ec2", "delete-security-group", "--group-id", g)
    with pytest.raises(ClientError) as e:
        ec2.describe_security_groups(GroupIds=[web])
    assert code(e) == "InvalidGroup.NotFound"


def test_tags_and_pagination(flotilla, ec2):
    groups = [ec2.create_security_group(GroupName=f"page-{i}", Description="paged")["GroupId"] for i in range(7)]
    pages = ec2.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": "description", "Values": ["paged"]}], PaginationConfig={"PageSize": 5})
    seen = [g["GroupId"] for page in pages for g in page["SecurityGroups"]]
    assert sorted(seen) == sorted(groups)
    flotilla.aws("ec2", "create-tags", "--resources", groups[0], groups[1], "--tags", "Key=env,Value=prod")
    tags = flotilla.aws("ec2", "describe-tags", "--filters", "Name=key,Values=env")["Tags"]
    assert sorted(t["ResourceId"] for t in tags) == sorted(groups[:2])
    assert {t["ResourceType"] for t in tags} == {"security-group"}
    # One resource that does not exist: none is tagged.
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[groups[2], "vpc-0123456789abcdef0"], Tags=[{"Key": "x", "Value": "y"}])
    assert code(e) == "InvalidVpcID.NotFound"
    assert not ec2.describe_tags(Filters=[{"Name": "key", "Values": ["x"]}])["Tags"]
    ec2.delete_tags(Resources=[groups[0]], Tags=[{"Key": "env"}])
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["env"]}])["Tags"]
    assert [t["ResourceId"] for t in tags] == [groups[1]]
    for g in groups:
        ec2.delete_security_group(GroupId=g)


def test_other_services_check_the_ids_they_are_given(flotilla, ec2):
    net = flotilla.default_network()
    ecs, elb, sd = flotilla.client("ecs"), flotilla.client("elbv2"), flotilla.client("servicediscovery")
    ecs.create_cluster()
    ecs.register_task_definition(family="ids", networkMode="awsvpc", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 16}])
    with pytest.raises(ClientError) as e:
        ecs.run_task(taskDefinition="ids", networkConfiguration={
            "awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}})
    assert code(e) == "InvalidParameterException"
    assert "InvalidSubnetID.NotFound" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        ecs.create_service(serviceName="ids", taskDefinition="ids", desiredCount=0, networkConfiguration={
            "awsvpcConfiguration": {"subnets": [net.subnet], "securityGroups": ["sg-0123456789abcdef0"]}})
    assert code(e) == "InvalidParameterException" and "InvalidGroup.NotFound" in str(e.value)
    with pytest.raises(ClientError) as e:
        elb.create_load_balancer(Name="ids", Subnets=["subnet-0123456789abcdef0"])
    assert code(e) == "SubnetNotFound"
    with pytest.raises(ClientError) as e:
        elb.create_load_balancer(Name="ids", Subnets=[net.subnet], SecurityGroups=["sg-0123456789abcdef0"])
    assert code(e) == "InvalidSecurityGroup"
    with pytest.raises(ClientError) as e:
        elb.create_target_group(Name="ids", Protocol="HTTP", Port=80, VpcId="vpc-0123456789abcdef0")
    assert code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        sd.create_private_dns_namespace(Name="ids.test", Vpc="vpc-0123456789abcdef0")
    assert code(e) == "InvalidInput"
    # A load balancer in a subnet and group keeps both from being deleted.
    sg = ec2.create_security_group(GroupName="ids-lb", Description="load balancer")["GroupId"]
    lb = elb.create_load_balancer(Name="ids", Subnets=[net.subnet], SecurityGroups=[sg])["LoadBalancers"][0]
    assert lb["VpcId"] == net.vpc and lb["SecurityGroups"] == [sg]
    assert [(z["ZoneName"], z["SubnetId"]) for z in lb["AvailabilityZones"]] == [("local-1a", net.subnet)]
    for call in (lambda: ec2.delete_subnet(SubnetId=net.subnet), lambda: ec2.delete_security_group(GroupId=sg)):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "DependencyViolation"
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    ec2.delete_security_group(GroupId=sg)


def test_a_load_balancers_security_groups_admit_its_clients(flotilla, ec2):
    """A listener admits only the clients its load balancer's groups allow on its port; a
    rule authorized or revoked applies to the next connection."""
    elb = flotilla.client("elbv2")
    sg = ec2.create_security_group(GroupName="front", Description="front door")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    lb = elb.create_load_balancer(Name="front", SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"}}])
    addr = lb_address(elb, lb)
    wait_for(lambda: listening(addr), timeout=30, what="the listener to be bound")
    # Bound, but 127.0.0.1 is not in 10.0.0.0/8: closed before a byte is read.
    assert answer(addr) in ("RemoteDisconnected", "ConnectionResetError"), answer(addr)
    start = time.monotonic()
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "127.0.0.0/8"}]}])
    wait_for(lambda: answer(addr) == 200, timeout=10, interval=0.02, what="the client to be admitted")
    print(f"AuthorizeSecurityGroupIngress → first request admitted: {(time.monotonic() - start) * 1000:.0f} ms")
    # Revoked: the next connection is closed again.
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "127.0.0.0/8"}]}])
    wait_for(lambda: answer(addr) != 200, timeout=10, interval=0.02, what="the client to be shut out")
    # A load balancer in no group of its own (its VPC's default) admits anyone.
    open_lb = elb.create_load_balancer(Name="open")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=open_lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "204"}}])
    open_addr = lb_address(elb, open_lb)
    wait_for(lambda: answer(open_addr) == 204, timeout=30, what="the open load balancer to answer")
    for arn in (lb, open_lb):
        elb.delete_load_balancer(LoadBalancerArn=arn)
