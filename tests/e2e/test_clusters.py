"""Clusters through the real AWS CLI and boto3."""
import pytest
from botocore.exceptions import ClientError


def test_create_describe_list_delete_with_the_cli(flotilla):
    created = flotilla.aws("ecs", "create-cluster", "--cluster-name", "cli-one",
                           "--tags", "key=team,value=web",
                           "--settings", "name=containerInsights,value=enabled")["cluster"]
    assert created["clusterName"] == "cli-one"
    assert created["clusterArn"] == "arn:aws:ecs:us-east-1:000000000000:cluster/cli-one"
    assert created["status"] == "ACTIVE"
    assert created["registeredContainerInstancesCount"] == 0
    assert created["settings"] == [{"name": "containerInsights", "value": "enabled"}]

    # Idempotent, as in ECS: the same name answers with the existing cluster.
    again = flotilla.aws("ecs", "create-cluster", "--cluster-name", "cli-one")["cluster"]
    assert again["clusterArn"] == created["clusterArn"]
    assert again["settings"] == created["settings"]

    flotilla.aws("ecs", "create-cluster", "--cluster-name", "cli-two")
    arns = flotilla.aws("ecs", "list-clusters")["clusterArns"]
    assert created["clusterArn"] in arns and arns == sorted(arns)

    described = flotilla.aws("ecs", "describe-clusters", "--clusters", "cli-one", "nope",
                             "--include", "TAGS", "SETTINGS", "STATISTICS")
    [c] = described["clusters"]
    assert c["tags"] == [{"key": "team", "value": "web"}]
    assert {s["name"] for s in c["statistics"]} >= {"runningEC2TasksCount", "pendingEC2TasksCount"}
    assert described["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:000000000000:cluster/nope", "reason": "MISSING"}
    ]
    # Without include, tags and settings are not shown.
    [plain] = flotilla.aws("ecs", "describe-clusters", "--clusters", created["clusterArn"])["clusters"]
    assert plain.get("tags", []) == [] and plain.get("settings", []) == []

    deleted = flotilla.aws("ecs", "delete-cluster", "--cluster", "cli-one")["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert created["clusterArn"] not in flotilla.aws("ecs", "list-clusters")["clusterArns"]
    [gone] = flotilla.aws("ecs", "describe-clusters", "--clusters", "cli-one")["clusters"]
    assert gone["status"] == "INACTIVE"
    # A deleted name can be created again.
    assert flotilla.aws("ecs", "create-cluster", "--cluster-name", "cli-one")["cluster"]["status"] == "ACTIVE"


def test_list_clusters_paginates(flotilla):
    names = [f"page-{i:02d}" for i in range(7)]
    for n in names:
        flotilla.aws("ecs", "create-cluster", "--cluster-name", n)
    ecs = flotilla.client("ecs")
    first = ecs.list_clusters(maxResults=3)
    assert len(first["clusterArns"]) == 3 and "nextToken" in first
    seen = []
    for page in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}):
        seen.extend(page["clusterArns"])
    assert len(seen) == len(set(seen))
    assert all(any(a.endswith("/" + n) for a in seen) for n in names)
    with pytest.raises(ClientError) as e:
        ecs.list_clusters(nextToken="not-a-token!")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_update_cluster_and_settings(flotilla):
    ecs = flotilla.client("ecs")
    ecs.create_cluster(clusterName="upd")
    c = ecs.update_cluster_settings(cluster="upd", settings=[{"name": "containerInsights", "value": "enhanced"}])
    assert c["cluster"]["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    cfg = {"executeCommandConfiguration": {"logging": "DEFAULT"}}
    c = ecs.update_cluster(cluster="upd", configuration=cfg)["cluster"]
    assert c["configuration"] == cfg
    with pytest.raises(ClientError) as e:
        ecs.update_cluster_settings(cluster="upd", settings=[{"name": "containerInsights", "value": "sometimes"}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "containerInsights" in e.value.response["Error"]["Message"]


def test_missing_clusters_raise_cluster_not_found(flotilla):
    ecs = flotilla.client("ecs")
    for call in (
        lambda: ecs.delete_cluster(cluster="does-not-exist"),
        lambda: ecs.update_cluster_settings(cluster="does-not-exist",
                                            settings=[{"name": "containerInsights", "value": "enabled"}]),
        lambda: ecs.update_cluster(cluster="does-not-exist", settings=[]),
    ):
        with pytest.raises(ecs.exceptions.ClusterNotFoundException):
            call()


def test_arns_of_another_region_or_account_never_act_on_this_one(flotilla):
    ecs = flotilla.client("ecs")
    arn = ecs.create_cluster(clusterName="scoped")["cluster"]["clusterArn"]
    for other in (arn.replace("us-east-1", "eu-west-9"),
                  arn.replace("000000000000", "111111111111"),
                  arn.replace("arn:aws:", "arn:aws-cn:")):
        for call in (lambda: ecs.delete_cluster(cluster=other),
                     lambda: ecs.tag_resource(resourceArn=other, tags=[{"key": "k", "value": "v"}]),
                     lambda: ecs.list_services(cluster=other)):
            with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
                call()
            assert "the request acts in aws:us-east-1:000000000000" in str(e.value)
    [c] = ecs.describe_clusters(clusters=[arn], include=["TAGS"])["clusters"]
    assert c["status"] == "ACTIVE" and c.get("tags", []) == []
    # describe-clusters reports a foreign ARN as missing instead of describing this one.
    out = ecs.describe_clusters(clusters=[arn.replace("us-east-1", "eu-west-9")])
    assert out["clusters"] == [] and out["failures"][0]["reason"] == "MISSING"


def test_invalid_cluster_names_are_refused(flotilla):
    ecs = flotilla.client("ecs")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.create_cluster(clusterName="has spaces")
    assert "Cluster name" in str(e.value)


def test_tags_on_clusters(flotilla):
    ecs = flotilla.client("ecs")
    arn = ecs.create_cluster(clusterName="tagged")["cluster"]["clusterArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "3"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "a", "value": "1"}, {"key": "b", "value": "3"}]
    ecs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "3"}]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "aws:reserved", "value": "x"}])
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_tags_for_resource(resourceArn=arn.replace("tagged", "ghost"))


def test_account_settings(flotilla):
    ecs = flotilla.client("ecs")
    eff = ecs.list_account_settings(effectiveSettings=True, name="containerInsights")["settings"]
    assert eff[0]["value"] == "disabled" and eff[0]["type"] == "aws_managed"
    put = ecs.put_account_setting(name="containerInsights", value="enabled")["setting"]
    assert put["principalArn"] == "arn:aws:iam::000000000000:root" and put["type"] == "user"
    assert ecs.list_account_settings(name="containerInsights")["settings"][0]["value"] == "enabled"
    role = "arn:aws:iam::000000000000:role/deployer"
    # The role inherits the root's explicit setting until it has its own.
    eff = ecs.list_account_settings(effectiveSettings=True, name="containerInsights", principalArn=role)
    assert eff["settings"][0]["value"] == "enabled"
    ecs.put_account_setting(name="containerInsights", value="disabled", principalArn=role)
    assert ecs.list_account_settings(name="containerInsights", principalArn=role)["settings"][0]["value"] == "disabled"
    ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")
    ecs.delete_account_setting(name="containerInsights")
    assert ecs.list_account_settings(name="containerInsights")["settings"] == []
    everything = ecs.get_paginator("list_account_settings").paginate(effectiveSettings=True)
    names = [s["name"] for page in everything for s in page["settings"]]
    assert "awsvpcTrunking" in names and len(names) == len(set(names)) >= 10
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.put_account_setting(name="serviceLongArnFormat", value="perhaps")
