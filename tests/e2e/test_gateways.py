"""ECS gateways end to end with boto3: a gateway associated with a cluster, services that
connect to it with a gateway connector, routes made of a target group and a host rule on
one shared load balancer, real HTTP from busybox httpd tasks through that load balancer by
each route's serviceUrl host, the resources a gateway lists, disassociation while routes
remain, and deletion taking the load balancer with it.

One server and one agent for the module; its load balancers take addresses from
127.0.35.1-127.0.35.20.
"""
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, server_with_agent, wait_for
from test_load_balancer import WEB, code_of, get, lb_address

CLUSTER = "gwc"
LB_RANGE = "127.0.35.1-127.0.35.20"
ROLE = "arn:aws:iam::000000000000:role/ecsInfrastructureRole"
HTTP = {"hostSharedAlb": {"protocol": "HTTP", "port": 80}}


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("gw")
    args = ["--lb-bind", LB_RANGE, "--service-backoff-base-ms", "50"]
    with server_with_agent(base, CLUSTER, args) as (server, arn):
        e = Env()
        e.server, e.ecs, e.elb = server, server.client("ecs"), server.client("elbv2")
        yield e


def web_task(ecs, name):
    """busybox httpd answering with NAME, its port mapping named `web`."""
    container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True, "stopTimeout": 2,
                 "command": ["sh", "-c", WEB], "environment": [{"name": "NAME", "value": name}],
                 "portMappings": [{"containerPort": 80, "hostPort": 0, "name": "web"}]}
    return ecs.register_task_definition(family=f"gw-{name}", networkMode="bridge",
                                        containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]


CONNECTOR = {"portName": "web", "deregistrationDelay": {"timeoutSeconds": 0},
             "healthCheck": {"healthCheckPath": "/health", "healthCheckIntervalSeconds": 5,
                             "healthCheckTimeoutSeconds": 2, "healthyThresholdCount": 2,
                             "unhealthyThresholdCount": 2}}


def routes(ecs, **filters):
    return ecs.list_gateway_routes(**filters)["gatewayRoutes"]


def test_gateway_api_shapes_and_errors(env):
    ecs = env.ecs
    with pytest.raises(ClientError) as e:
        ecs.create_gateway(name="tls", infrastructureRoleArn=ROLE, configuration={"hostSharedAlb": {}})
    assert code_of(e) == "InvalidParameterException" and "HTTP" in str(e.value)
    for bad in ({"infrastructureRoleArn": "not-a-role", "configuration": HTTP},
                {"infrastructureRoleArn": ROLE, "configuration": {"hostSharedAlb": {
                    "protocol": "HTTP", "maxAlbCount": 0}}},
                {"infrastructureRoleArn": ROLE, "configuration": HTTP, "propagateTags": "ALL"}):
        with pytest.raises(ClientError) as e:
            ecs.create_gateway(name="bad", **bad)
        assert code_of(e) == "InvalidParameterException", bad

    out = ecs.create_gateway(name="shapes", infrastructureRoleArn=ROLE, configuration=HTTP,
                             tags=[{"key": "team", "value": "web"}], clientToken="t-1")
    assert out["status"] == "ACTIVE" and out["gatewayArn"].endswith(":gateway/shapes")
    again = ecs.create_gateway(name="shapes", infrastructureRoleArn=ROLE, configuration=HTTP, clientToken="t-1")
    assert again["gatewayArn"] == out["gatewayArn"]
    with pytest.raises(ClientError) as e:
        ecs.create_gateway(name="shapes", infrastructureRoleArn=ROLE, configuration=HTTP)
    assert code_of(e) == "InvalidParameterException"

    g = ecs.describe_gateway(gateway=out["gatewayArn"])["gateway"]
    alb = g["configuration"]["hostSharedAlb"]
    assert (alb["port"], alb["protocol"], alb["maxAlbCount"], alb["currentAlbCount"]) == (80, "HTTP", 10, 0)
    assert (alb["scheme"], alb["httpDesync"]) == ("internet-facing", "defensive")
    assert (g["accessType"], g["propagateTags"], g["deletionProtection"]) == ("PUBLIC", "GATEWAY", True)
    assert g["tags"] == [{"key": "team", "value": "web"}] and g["infrastructureRoleArn"] == ROLE

    names = [x["name"] for x in ecs.list_gateways(names=["shapes", "other"], status=["ACTIVE"])["gateways"]]
    assert names == ["shapes"]
    with pytest.raises(ClientError) as e:
        ecs.list_gateways(status=["SLEEPING"])
    assert code_of(e) == "InvalidParameterException"

    up = ecs.update_gateway(gateway="shapes", configuration={"hostSharedAlb": {"maxAlbCount": 2}})
    assert up["status"] == "UPDATE_IN_PROGRESS"
    wait_for(lambda: ecs.describe_gateway(gateway="shapes")["gateway"]["status"] == "UPDATE_COMPLETE",
             timeout=30, what="the update to complete")
    assert ecs.describe_gateway(gateway="shapes")["gateway"]["configuration"]["hostSharedAlb"]["maxAlbCount"] == 2
    with pytest.raises(ClientError) as e:
        ecs.update_gateway(gateway="shapes", configuration={"hostSharedAlb": {"httpDesync": "lenient"}})
    assert code_of(e) == "InvalidParameterException"

    for call, kwargs, code in [
        (ecs.describe_gateway, {"gateway": "missing"}, "GatewayNotFoundException"),
        (ecs.update_gateway, {"gateway": "missing", "deletionProtection": False}, "GatewayNotFoundException"),
        (ecs.delete_gateway, {"gateway": "shapes"}, "ClientException"),  # deletion protection
        (ecs.associate_gateway_with_cluster, {"gateway": "shapes", "cluster": "nope"},
         "ClusterNotFoundException"),
        (ecs.associate_gateway_with_cluster, {"gateway": "missing", "cluster": CLUSTER},
         "GatewayNotFoundException"),
        (ecs.disassociate_gateway_from_cluster, {"gateway": "shapes", "cluster": CLUSTER},
         "ResourceNotFoundException"),
        (ecs.describe_gateway_route,
         {"gatewayRouteArn": "arn:aws:ecs:us-east-1:000000000000:gateway-route/shapes/0"},
         "ResourceNotFoundException"),
        (ecs.list_gateway_routes, {"gateway": "missing"}, "GatewayNotFoundException"),
        (ecs.describe_gateway_resources, {"gateway": "shapes", "maxResults": 21}, "InvalidParameterException"),
    ]:
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        assert code_of(e) == code, (call, kwargs)

    td = web_task(ecs, "bad")
    for connectors in ([{"portName": "nope"}], [CONNECTOR, CONNECTOR],
                       [{"portName": "web", "deregistrationDelay": {"timeoutSeconds": 3601}}],
                       [{"portName": "web", "filters": {"accessTypes": ["SOMETIMES"]}}]):
        with pytest.raises(ClientError) as e:
            ecs.create_service(cluster=CLUSTER, serviceName="bad", taskDefinition=td, desiredCount=0,
                               gatewayConnectors=connectors)
        assert code_of(e) == "InvalidParameterException", connectors

    ecs.update_gateway(gateway="shapes", deletionProtection=False)
    assert ecs.delete_gateway(gateway="shapes")["status"] == "DELETED"
    assert ecs.list_gateways(names=["shapes"])["gateways"] == []


@pytest.fixture(scope="module")
def shared(env):
    """Gateway `shared` associated with the cluster; services a and b connected to it."""
    ecs = env.ecs
    gw = ecs.create_gateway(name="shared", infrastructureRoleArn=ROLE, configuration=HTTP,
                            deletionProtection=False)["gatewayArn"]
    assoc = ecs.associate_gateway_with_cluster(gateway="shared", cluster=CLUSTER)
    assert assoc["status"] == "ACTIVE" and assoc["clusterArn"].endswith(f":cluster/{CLUSTER}")
    for name in ("a", "b"):
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=web_task(ecs, name),
                           desiredCount=1, launchType="EC2", gatewayConnectors=[CONNECTOR])
    found = wait_for(lambda: len(routes(ecs, gateway=gw, status=["ACTIVE"])) == 2 and
                     routes(ecs, gateway=gw), timeout=60, what="two ACTIVE routes")
    return gw, {r["serviceArn"].rsplit("/", 1)[1]: r for r in found}


def test_two_services_share_one_load_balancer_and_are_routed_apart(env, shared):
    ecs, elb = env.ecs, env.elb
    gw, by_service = shared
    res = ecs.describe_gateway_resources(gateway=gw)["gatewayResources"]
    [alb] = res["resources"]["hostSharedAlb"]
    assert res["gatewayArn"] == gw
    assert sorted(alb["gatewayRouteArns"]) == sorted(r["gatewayRouteArn"] for r in by_service.values())
    assert ecs.describe_gateway(gateway=gw)["gateway"]["configuration"]["hostSharedAlb"]["currentAlbCount"] == 1
    [lb] = elb.describe_load_balancers(LoadBalancerArns=[alb["loadBalancerArn"]])["LoadBalancers"]
    [listener] = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert listener["ListenerArn"] == alb["listenerArn"] and listener["Port"] == 80

    addr = lb_address(elb, alb["loadBalancerArn"])
    urls = {}
    for name, summary in by_service.items():
        route = ecs.describe_gateway_route(gatewayRouteArn=summary["gatewayRouteArn"])["gatewayRoute"]
        assert route["status"] == "ACTIVE" and route["serviceContainerPortName"] == "web"
        [r] = route["resources"]["hostSharedAlb"]
        assert r["loadBalancerArn"] == alb["loadBalancerArn"]
        [rule] = elb.describe_rules(RuleArns=[r["listenerRuleArn"]])["Rules"]
        host = urlparse(route["serviceUrl"]).hostname
        assert rule["Conditions"][0]["Field"] == "host-header" and host in str(rule["Conditions"])
        [tg] = [a["TargetGroupArn"] for a in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]]
        assert elb.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]["HealthCheckPath"] == "/health"
        urls[name] = host
    assert urls["a"] != urls["b"]

    for name, host in urls.items():
        wait_for(lambda: get(addr, 80, host=host)[0] == 200, timeout=90, what=f"{name} through the gateway")
        status, _, body = get(addr, 80, host=host)
        assert (status, body.strip()) == (200, name)
    assert get(addr, 80, host="nobody.example")[0] == 404

    svc = ecs.describe_services(cluster=CLUSTER, services=["a"])["services"][0]
    rev = ecs.describe_service_revisions(serviceRevisionArns=[svc["currentServiceRevisions"][0]["arn"]])
    [revision] = rev["serviceRevisions"]
    assert revision["gatewayConnectors"][0]["portName"] == "web"
    [conn] = revision["ecsManagedResources"]["gatewayConnections"]
    assert conn["gatewayArn"] == gw and urlparse(conn["serviceUrl"]).hostname == urls["a"]


def test_disassociating_waits_for_routes_and_delete_removes_the_load_balancer(env, shared):
    ecs, elb = env.ecs, env.elb
    gw, by_service = shared
    lb = ecs.describe_gateway_resources(gateway=gw)["gatewayResources"]["resources"]["hostSharedAlb"][0]
    rules = [ecs.describe_gateway_route(gatewayRouteArn=r["gatewayRouteArn"])["gatewayRoute"]["resources"]
             ["hostSharedAlb"][0]["listenerRuleArn"] for r in by_service.values()]
    groups = [a["TargetGroupArn"] for rule in elb.describe_rules(RuleArns=rules)["Rules"]
              for a in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]]
    out = ecs.disassociate_gateway_from_cluster(gateway=gw, cluster=CLUSTER)
    assert out["status"] == "DISASSOCIATING"
    [assoc] = ecs.list_gateway_cluster_associations(gateway=gw)["gatewayClusterAssociations"]
    assert assoc["status"] == "DISASSOCIATING"
    assert len(routes(ecs, gateway=gw, cluster=CLUSTER)) == 2
    assert len(routes(ecs, service="a")) == 1
    with pytest.raises(ClientError) as e:
        ecs.delete_gateway(gateway=gw)
    assert code_of(e) == "ClientException"

    for name in ("a", "b"):
        ecs.update_service(cluster=CLUSTER, service=name, gatewayConnectors=[])
    wait_for(lambda: not routes(ecs, gateway=gw), timeout=30, what="the routes to go")
    wait_for(lambda: not ecs.list_gateway_cluster_associations(gateway=gw)["gatewayClusterAssociations"],
             timeout=30, what="the association to go")
    for tg in groups:
        with pytest.raises(ClientError) as e:
            elb.describe_target_groups(TargetGroupArns=[tg])
        assert code_of(e) == "TargetGroupNotFound"
    for r in by_service.values():
        with pytest.raises(ClientError):
            ecs.describe_gateway_route(gatewayRouteArn=r["gatewayRouteArn"])

    assert ecs.delete_gateway(gateway=gw)["status"] == "DELETED"
    with pytest.raises(ClientError) as e:
        ecs.describe_gateway(gateway=gw)
    assert code_of(e) == "GatewayNotFoundException"
    with pytest.raises(ClientError) as e:
        elb.describe_load_balancers(LoadBalancerArns=[lb["loadBalancerArn"]])
    assert code_of(e) == "LoadBalancerNotFound"
    for name in ("a", "b"):
        ecs.delete_service(cluster=CLUSTER, service=name, force=True)
