"""Express services (CreateExpressGatewayService and its siblings) end to end with boto3:
one call makes a task definition, a target group, a load balancer with an HTTP listener,
an ECS service behind it and a scalable target with a target tracking policy; real HTTP
goes through the load balancer to a busybox httpd task, its endpoint resolves through
Flotilla's DNS with the real `dig`, an update rolls out a new revision, a delete drains the
service and then removes what the create made.

One server and one agent for the module; load balancers take addresses from
127.0.34.1-127.0.34.20.
"""
import json

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, server_with_agent, wait_for
from test_dns import dig
from test_load_balancer import WEB, code_of, get, lb_address

CLUSTER = "express"
LB_RANGE = "127.0.34.1-127.0.34.20"
INFRA = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForExpressServices"
EXEC = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("express")
    args = ["--lb-bind", LB_RANGE, "--service-backoff-base-ms", "50"]
    with server_with_agent(base, CLUSTER, args) as (server, arn):
        # The tasks' execution role, as a user makes it: the agent assumes it for them.
        iam = server.client("iam")
        iam.create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}))
        iam.attach_role_policy(RoleName="ecsTaskExecutionRole",
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
        e = Env()
        e.server, e.ecs, e.elb = server, server.client("ecs"), server.client("elbv2")
        e.scaling = server.client("application-autoscaling")
        yield e


def web(name):
    return {"image": IMAGE, "containerPort": 80, "command": ["sh", "-c", WEB],
            "environment": [{"name": "NAME", "value": name}]}


def steady(ecs, name, td):
    """The service once its one deployment of `td` completed with its tasks running."""
    [svc] = ecs.describe_services(cluster=CLUSTER, services=[name])["services"]
    [*deps] = svc["deployments"]
    done = (len(deps) == 1 and deps[0]["rolloutState"] == "COMPLETED" and deps[0]["taskDefinition"] == td
            and svc["runningCount"] == svc["desiredCount"] >= 1)
    return done and svc


def body(addr):
    try:
        status, _, text = get(addr, 80, "/", timeout=3)
        return status, text
    except OSError:
        return None


def load_balancer_names(elb):
    return sorted(lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"])


def test_create_serve_update_delete(env):
    ecs, elb = env.ecs, env.elb
    out = ecs.create_express_gateway_service(
        cluster=CLUSTER, serviceName="web", infrastructureRoleArn=INFRA, executionRoleArn=EXEC,
        healthCheckPath="/health", primaryContainer=web("v1"),
        scalingTarget={"minTaskCount": 1, "maxTaskCount": 3}, tags=[{"key": "team", "value": "web"}])["service"]
    arn = out["serviceArn"]
    assert arn == f"arn:aws:ecs:us-east-1:000000000000:service/{CLUSTER}/web"
    assert out["status"]["statusCode"] == "ACTIVE" and out["infrastructureRoleArn"] == INFRA
    assert out["currentDeployment"].startswith(f"arn:aws:ecs:us-east-1:000000000000:service-deployment/{CLUSTER}/web/")
    [config] = out["activeConfigurations"]
    assert config["serviceRevisionArn"].startswith(f"arn:aws:ecs:us-east-1:000000000000:service-revision/{CLUSTER}/web/")
    assert (config["cpu"], config["memory"], config["cpuArchitecture"]) == ("256", "512", "X86_64")
    assert config["healthCheckPath"] == "/health" and config["executionRoleArn"] == EXEC
    assert config["scalingTarget"] == {"minTaskCount": 1, "maxTaskCount": 3, "autoScalingMetric": "AVERAGE_CPU",
                                       "autoScalingTargetValue": 60}
    [ingress] = config["ingressPaths"]
    endpoint = ingress["endpoint"]
    assert ingress["accessType"] == "PUBLIC" and endpoint.endswith(".us-east-1.elb.flotilla.internal")
    td = config["taskDefinitionArn"]
    assert td == "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    [main] = ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]["containerDefinitions"]
    assert main["name"] == "Main" and main["portMappings"][0]["containerPort"] == 80

    # The underlying service is an ECS service like any other, behind the new target group.
    [lb] = [b for b in elb.describe_load_balancers()["LoadBalancers"] if b["DNSName"] == endpoint]
    [tg] = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert (tg["TargetType"], tg["HealthCheckPath"], tg["Port"]) == ("ip", "/health", 80)
    svc = wait_for(lambda: steady(ecs, "web", td), timeout=120, what="the express service to be steady")
    assert svc["launchType"] == "FARGATE"
    assert svc["loadBalancers"] == [{"targetGroupArn": tg["TargetGroupArn"], "containerName": "Main",
                                     "containerPort": 80}]

    # Its endpoint resolves through Flotilla's DNS to the load balancer, which serves v1.
    addr = lb_address(elb, lb["LoadBalancerArn"])
    assert addr.startswith("127.0.34.")
    status, answer, _, _ = dig(env.server.dns, endpoint)
    assert status == "NOERROR" and [a[3] for a in answer if a[2] == "A"] == [addr]
    assert wait_for(lambda: body(addr) == (200, "v1\n") and body(addr), timeout=60, what="v1 through the LB")

    # Scaling: a target with the bounds and a target tracking policy on CPU at 60 %.
    resource = f"service/{CLUSTER}/web"
    [target] = env.scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    [policy] = env.scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 60.0
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"

    # Update: a new image configuration and scaling bounds; a new deployment, the same LB.
    up = ecs.update_express_gateway_service(serviceArn=arn, primaryContainer=web("v2"),
                                            scalingTarget={"maxTaskCount": 4})["service"]
    target_config = up["targetConfiguration"]
    assert up["status"]["statusCode"] == "ACTIVE"
    assert target_config["primaryContainer"]["environment"] == [{"name": "NAME", "value": "v2"}]
    assert target_config["scalingTarget"]["minTaskCount"] == 1 and target_config["scalingTarget"]["maxTaskCount"] == 4
    assert target_config["healthCheckPath"] == "/health" and target_config["executionRoleArn"] == EXEC
    td2 = target_config["taskDefinitionArn"]
    assert td2 == "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"
    wait_for(lambda: steady(ecs, "web", td2), timeout=120, what="the second revision to complete")
    assert wait_for(lambda: body(addr) == (200, "v2\n") and body(addr), timeout=60, what="v2 through the LB")
    described = ecs.describe_express_gateway_service(serviceArn=arn, include=["TAGS"])["service"]
    [config2] = described["activeConfigurations"]
    assert config2["taskDefinitionArn"] == td2 and config2["serviceRevisionArn"] != config["serviceRevisionArn"]
    assert config2["ingressPaths"][0]["endpoint"] == endpoint
    assert described["tags"] == [{"key": "team", "value": "web"}]
    [target] = env.scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)

    # Delete: DRAINING at once (scaling gone), INACTIVE when the tasks are; then no LB/TG.
    gone = ecs.delete_express_gateway_service(serviceArn=arn)["service"]
    assert gone["status"]["statusCode"] == "DRAINING"
    assert env.scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"] == []
    with pytest.raises(ClientError) as e:
        ecs.update_express_gateway_service(serviceArn=arn, primaryContainer=web("v3"))
    assert code_of(e) == "ServiceNotActiveException"
    wait_for(lambda: ecs.describe_express_gateway_service(serviceArn=arn)["service"]["status"]["statusCode"]
             == "INACTIVE", timeout=120, what="the express service to be INACTIVE")
    wait_for(lambda: lb["LoadBalancerName"] not in load_balancer_names(elb), timeout=30,
             what="the load balancer to be deleted")
    # The target group goes right after the load balancer, in the same pass.
    def target_group_gone():
        try:
            elb.describe_target_groups(TargetGroupArns=[tg["TargetGroupArn"]])
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "TargetGroupNotFound"
    wait_for(target_group_gone, timeout=30, what="the target group to be deleted")
    with pytest.raises(ClientError) as e:
        ecs.delete_express_gateway_service(serviceArn=arn)
    assert code_of(e) == "ServiceNotActiveException"


def test_own_task_definition_and_request_count_scaling(env):
    """A task definition of the user's (container Main, one named TCP port) in place of a
    primary container; REQUEST_COUNT_PER_TARGET tracks the load balancer's target group."""
    ecs = env.ecs
    main = {"name": "Main", "image": IMAGE, "essential": True, "command": ["sh", "-c", WEB],
            "environment": [{"name": "NAME", "value": "own"}],
            "portMappings": [{"containerPort": 80, "protocol": "tcp", "name": "http"}]}
    td = ecs.register_task_definition(family="own", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                      cpu="256", memory="512", containerDefinitions=[main])[
        "taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ClientError) as e:
        ecs.create_express_gateway_service(cluster=CLUSTER, serviceName="own", infrastructureRoleArn=INFRA,
                                           taskDefinitionArn=td, primaryContainer=web("x"))
    assert code_of(e) == "InvalidParameterException"
    out = ecs.create_express_gateway_service(
        cluster=CLUSTER, serviceName="own", infrastructureRoleArn=INFRA, taskDefinitionArn=td,
        healthCheckPath="/health",
        scalingTarget={"autoScalingMetric": "REQUEST_COUNT_PER_TARGET", "autoScalingTargetValue": 500})["service"]
    [config] = out["activeConfigurations"]
    assert config["taskDefinitionArn"] == td and "primaryContainer" not in config
    resource = f"service/{CLUSTER}/own"
    [policy] = env.scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"]
    spec = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert spec["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert spec["ResourceLabel"].startswith("app/ex-own-") and "/targetgroup/ex-own-" in spec["ResourceLabel"]
    wait_for(lambda: steady(ecs, "own", td), timeout=120, what="the service to be steady")
    lb_name = spec["ResourceLabel"].split("/")[1]
    assert lb_name in load_balancer_names(env.elb)
    ecs.delete_express_gateway_service(serviceArn=out["serviceArn"])
    wait_for(lambda: lb_name not in load_balancer_names(env.elb), timeout=120,
             what="the load balancer to be deleted")


def test_bad_input(env):
    ecs, elb = env.ecs, env.elb
    before = load_balancer_names(elb)

    def refused(code, **kw):
        args = dict(cluster=CLUSTER, serviceName="bad", infrastructureRoleArn=INFRA, primaryContainer=web("x"))
        args.update(kw)
        args = {k: v for k, v in args.items() if v is not None}
        with pytest.raises(ClientError) as e:
            ecs.create_express_gateway_service(**args)
        assert code_of(e) == code, (kw, e.value)

    refused("ClusterNotFoundException", cluster="no-such-cluster")
    refused("InvalidParameterException", serviceName="bad name!")
    refused("InvalidParameterException", primaryContainer=dict(web("x"), containerPort=0))
    refused("InvalidParameterException", primaryContainer=dict(web("x"), containerPort=65536))
    refused("InvalidParameterException", healthCheckPath="health")
    refused("InvalidParameterException", scalingTarget={"minTaskCount": 5, "maxTaskCount": 2})
    refused("InvalidParameterException", scalingTarget={"autoScalingMetric": "P99_LATENCY"})
    refused("InvalidParameterException", scalingTarget={"autoScalingTargetValue": 101})
    refused("InvalidParameterException", cpuArchitecture="SPARC")
    refused("InvalidParameterException", primaryContainer=None)
    refused("ClientException", cpu="300")
    # Nothing was left behind by the refused creates.
    assert load_balancer_names(elb) == before

    unknown = f"arn:aws:ecs:us-east-1:000000000000:service/{CLUSTER}/nope"
    with pytest.raises(ClientError) as e:
        ecs.describe_express_gateway_service(serviceArn=unknown)
    assert code_of(e) == "ResourceNotFoundException"
    for call in (lambda: ecs.update_express_gateway_service(serviceArn=unknown, cpu="512"),
                 lambda: ecs.delete_express_gateway_service(serviceArn=unknown)):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "ServiceNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.describe_express_gateway_service(serviceArn="not-an-arn")
    assert code_of(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        ecs.describe_express_gateway_service(
            serviceArn="arn:aws:ecs:us-east-1:000000000000:service/no-such-cluster/web")
    assert code_of(e) == "ClusterNotFoundException"
    # A plain ECS service is not an express service.
    ecs.register_task_definition(family="plain", containerDefinitions=[
        {"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "600"]}])
    plain = ecs.create_service(cluster=CLUSTER, serviceName="plain", taskDefinition="plain", desiredCount=0)
    with pytest.raises(ClientError) as e:
        ecs.describe_express_gateway_service(serviceArn=plain["service"]["serviceArn"])
    assert code_of(e) == "ResourceNotFoundException"
