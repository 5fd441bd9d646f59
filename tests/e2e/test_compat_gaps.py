"""Compatibility gaps with AWS ECS found by comparing answers (issue 16), each shown with the
real AWS CLI or boto3 against a real server: one shared server with one agent (cluster
`gaps`) for the module; the credentials test runs its own server with fake short keys.
"""
import json

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, server_with_agent, wait_for
from conftest import REGION, Flotilla

ACCOUNT = "000000000000"
CLUSTER = "gaps"
LB_RANGE = "127.0.33.1-127.0.33.10"
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("gaps")
    args = ["--lb-bind", LB_RANGE]
    with server_with_agent(base, CLUSTER, args) as (server, arn):
        yield server, arn


def error_of(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message", "")


def register(ecs, family, **extra):
    container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True,
                 "command": SLEEPER, "stopTimeout": 2}
    return ecs.register_task_definition(family=family, containerDefinitions=[container],
                                        **extra)["taskDefinition"]["taskDefinitionArn"]


def test_role_arn_is_returned_and_a_role_needs_load_balancers(env):
    server, _ = env
    ecs = server.client("ecs")
    register(ecs, "role-td")
    out = server.aws("ecs", "create-service", "--cluster", CLUSTER, "--service-name", "no-role",
                     "--task-definition", "role-td", "--desired-count", "0")["service"]
    linked = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
    assert out["roleArn"] == linked
    assert ecs.describe_services(cluster=CLUSTER, services=["no-role"])["services"][0]["roleArn"] == linked
    # AWS refuses a role without load balancers, in its own words.
    with pytest.raises(ClientError) as e:
        ecs.create_service(cluster=CLUSTER, serviceName="role-alone", taskDefinition="role-td",
                           desiredCount=0, role="ecsServiceRole")
    assert error_of(e) == ("InvalidParameterException",
                           "You cannot specify an IAM role for services that require a service linked role.")
    # With a load balancer the role given comes back as its ARN.
    elb = server.client("elbv2")
    net = server.default_network()
    lb = elb.create_load_balancer(Name="role-lb", Subnets=net.subnets)["LoadBalancers"][0]
    tg = elb.create_target_group(Name="role-tg", Protocol="HTTP", Port=80, VpcId=net.vpc)["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    svc = ecs.create_service(cluster=CLUSTER, serviceName="with-role", taskDefinition="role-td",
                             desiredCount=0, role="ecsServiceRole",
                             loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"],
                                             "containerName": "app", "containerPort": 80}])["service"]
    assert svc["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/ecsServiceRole"
    for name in ("no-role", "with-role"):
        ecs.delete_service(cluster=CLUSTER, service=name, force=True)


def test_fargate_service_echoes_its_platform(env):
    server, _ = env
    ecs = server.client("ecs")
    register(ecs, "fg-svc", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
             cpu="256", memory="512")
    vpc = server.default_network().awsvpc()
    svc = ecs.create_service(cluster=CLUSTER, serviceName="fg", taskDefinition="fg-svc", desiredCount=0,
                             launchType="FARGATE", networkConfiguration=vpc)["service"]
    assert (svc["platformVersion"], svc["platformFamily"]) == ("LATEST", "Linux")
    [dep] = svc["deployments"]
    assert (dep["platformVersion"], dep["platformFamily"]) == ("1.4.0", "Linux")
    described = ecs.describe_services(cluster=CLUSTER, services=["fg"])["services"][0]
    assert described["platformVersion"] == "LATEST"
    # An EC2 service has none, and may not name one.
    register(ecs, "ec2-svc")
    ec2 = ecs.create_service(cluster=CLUSTER, serviceName="ec2", taskDefinition="ec2-svc", desiredCount=0)
    assert "platformVersion" not in ec2["service"]
    with pytest.raises(ClientError) as e:
        ecs.create_service(cluster=CLUSTER, serviceName="ec2-pv", taskDefinition="ec2-svc", desiredCount=0,
                           platformVersion="LATEST")
    assert error_of(e)[0] == "InvalidParameterException"
    for name in ("fg", "ec2"):
        ecs.delete_service(cluster=CLUSTER, service=name, force=True)


def test_empty_subnets_are_refused(env):
    server, _ = env
    register(server.client("ecs"), "subnets-td")
    out = server.aws("ecs", "create-service", "--cluster", CLUSTER, "--service-name", "no-subnets",
                     "--task-definition", "subnets-td", "--desired-count", "0", "--network-configuration",
                     json.dumps({"awsvpcConfiguration": {"subnets": []}}), check=False)
    assert out.returncode != 0
    assert "InvalidParameterException" in out.stderr and "subnets can not be empty." in out.stderr
    out = server.aws("ecs", "run-task", "--cluster", CLUSTER, "--task-definition", "subnets-td",
                     "--network-configuration", json.dumps({"awsvpcConfiguration": {"subnets": []}}),
                     check=False)
    assert out.returncode != 0 and "subnets can not be empty." in out.stderr


def test_describe_services_failures_echo_the_arn_given(env):
    server, _ = env
    ecs = server.client("ecs")
    other_account = f"arn:aws:ecs:{REGION}:111111111111:service/{CLUSTER}/ghost"
    out = ecs.describe_services(cluster=CLUSTER, services=["ghost", other_account])
    assert out["failures"] == [{"arn": "ghost", "reason": "MISSING"},
                               {"arn": other_account, "reason": "MISSING"}]


def test_register_container_instance_without_total_resources(env):
    server, _ = env
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName="others")
    # A new instance must declare its capacity; the answer says what to send.
    with pytest.raises(ClientError) as e:
        ecs.register_container_instance(cluster="others")
    code, message = error_of(e)
    assert code == "InvalidParameterException" and "totalResources" in message and "MEMORY" in message
    doc = json.dumps({"instanceId": "i-0abc", "availabilityZone": "us-east-1c",
                      "instanceType": "m5.large", "imageId": "ami-1234"})
    resources = [{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                 {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096}]
    inst = ecs.register_container_instance(cluster="others", instanceIdentityDocument=doc,
                                           totalResources=resources)["containerInstance"]
    attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
    assert attrs["ecs.os-type"] == "linux" and attrs["ecs.availability-zone"] == "us-east-1c"
    assert attrs["ecs.instance-type"] == "m5.large" and attrs["ecs.ami-id"] == "ami-1234"
    assert attrs["ecs.cpu-architecture"] == "x86_64"
    # Registering again with its ARN keeps the capacity it declared.
    again = ecs.register_container_instance(cluster="others",
                                            containerInstanceArn=inst["containerInstanceArn"])["containerInstance"]
    cpu = {r["name"]: r.get("integerValue") for r in again["registeredResources"]}
    assert (cpu["CPU"], cpu["MEMORY"]) == (2048, 4096)
    ecs.deregister_container_instance(cluster="others", containerInstance=inst["containerInstanceArn"])


def test_update_container_agent_says_how_agents_are_updated(env):
    server, arn = env
    ecs = server.client("ecs")
    # The real agent runs the server's own version: nothing to update.
    with pytest.raises(ClientError) as e:
        ecs.update_container_agent(cluster=CLUSTER, containerInstance=arn)
    code, message = error_of(e)
    assert code == "NoUpdateAvailableException" and "already runs" in message, message
    # An instance another client registered with an older agent version is told how.
    ecs.create_cluster(clusterName="agents")
    doc = json.dumps({"instanceId": "i-0def", "availabilityZone": "us-east-1a"})
    resources = [{"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                 {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048}]
    old = ecs.register_container_instance(
        cluster="agents", instanceIdentityDocument=doc, totalResources=resources,
        versionInfo={"agentVersion": "1.80.0"})["containerInstance"]["containerInstanceArn"]
    with pytest.raises(ClientError) as e:
        ecs.update_container_agent(cluster="agents", containerInstance=old)
    code, message = error_of(e)
    assert code == "NoUpdateAvailableException" and "1.80.0" in message and "Replace" in message
    bare = ecs.register_container_instance(
        cluster="agents", instanceIdentityDocument=json.dumps({"instanceId": "i-0aaa"}),
        totalResources=resources)["containerInstance"]["containerInstanceArn"]
    with pytest.raises(ClientError) as e:
        ecs.update_container_agent(cluster="agents", containerInstance=bare)
    assert error_of(e)[0] == "MissingVersionException"
    with pytest.raises(ClientError) as e:
        ecs.update_container_agent(cluster="no-such-cluster", containerInstance=bare)
    assert error_of(e)[0] == "ClusterNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.update_container_agent(cluster="agents", containerInstance="0123456789abcdef")
    assert error_of(e)[0] == "InvalidParameterException"
    for inst in (old, bare):
        ecs.deregister_container_instance(cluster="agents", containerInstance=inst)


def test_run_task_checks_its_own_values_before_the_cluster(env):
    server, _ = env
    ecs = server.client("ecs")
    with pytest.raises(ClientError) as e:
        ecs.run_task(cluster="no-such-cluster", taskDefinition="x", launchType="BOGUS")
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        ecs.run_task(cluster="no-such-cluster", taskDefinition="x")
    assert error_of(e) == ("ClusterNotFoundException", "Cluster not found.")


def test_short_fake_credentials_work_with_a_warning(tmp_path):
    class Fake(Flotilla):
        def env(self):
            return {**super().env(), "FLOTILLA_ACCESS_KEY_ID": "test", "FLOTILLA_SECRET_ACCESS_KEY": "test"}

    server = Fake(tmp_path / "fake").start()
    try:
        keys = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        assert server.aws("ecs", "list-clusters", env=keys) == {"clusterArns": []}
        ecs = server.client("ecs", secret="test", access_key="test")
        assert ecs.create_cluster(clusterName="c")["cluster"]["status"] == "ACTIVE"
        with pytest.raises(ClientError) as e:
            server.client("ecs", secret="tess", access_key="test").list_clusters()
        assert error_of(e)[0] == "SignatureDoesNotMatch" or "signature" in error_of(e)[1].lower()
        assert "WARNING" in server.log.read_text() and "4 characters" in server.log.read_text()
    finally:
        server.stop()


def test_ecs_agent_operations_record_state_changes(env):
    server, instance = env
    ecs = server.client("ecs")
    out = ecs.discover_poll_endpoint(cluster=CLUSTER, containerInstance=instance)
    assert out["endpoint"] == server.endpoint and out["telemetryEndpoint"] == server.endpoint
    register(ecs, "reported", networkMode="awsvpc")
    arn = ecs.run_task(cluster=CLUSTER, taskDefinition="reported")["tasks"][0]["taskArn"]
    task = wait_for(lambda: (t := ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0])
                    ["lastStatus"] == "RUNNING" and t, timeout=60, what="task RUNNING")
    ack = ecs.submit_container_state_change(cluster=CLUSTER, task=arn, containerName="app", status="RUNNING",
                                            reason="seen by another agent")
    assert ack["acknowledgment"] == "ACK"
    [c] = ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]["containers"]
    assert c["reason"] == "seen by another agent"
    attachment = task["attachments"][0]["id"]
    attachment_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:attachment/{attachment}"
    assert ecs.submit_attachment_state_changes(
        cluster=CLUSTER, attachments=[{"attachmentArn": attachment_arn, "status": "ATTACHED"}])["acknowledgment"] == "ACK"
    with pytest.raises(ClientError) as e:
        ecs.submit_attachment_state_changes(cluster=CLUSTER, attachments=[{"attachmentArn": "nope", "status": "ATTACHED"}])
    assert error_of(e)[0] == "InvalidParameterException"
    ecs.submit_task_state_change(cluster=CLUSTER, task=arn, status="STOPPED", reason="stopped by the ECS agent")
    stopped = ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]
    assert (stopped["lastStatus"], stopped["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert stopped["stoppedReason"] == "stopped by the ECS agent"
    # Statuses only move forward, as the agent protocol's.
    ecs.submit_task_state_change(cluster=CLUSTER, task=arn, status="RUNNING")
    assert ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]["lastStatus"] == "STOPPED"
    with pytest.raises(ClientError) as e:
        ecs.submit_task_state_change(cluster=CLUSTER, task="0123456789abcdef0123456789abcdef", status="RUNNING")
    assert error_of(e) == ("InvalidParameterException", "The referenced task was not found.")
