"""IAM and STS through boto3 and the AWS CLI (issue 18): users and their keys, policies of
the account's own with versions, groups, roles and AssumeRole's temporary credentials,
each enforced on the next request with AWS's shapes, quotas, errors and denial messages."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import Flotilla


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Flotilla(tmp_path_factory.mktemp("iam")).start()
    yield s
    s.stop()


def code(e):
    return e.value.response["Error"]["Code"]


def test_users_and_access_keys_follow_iams_rules(server):
    iam = server.client("iam")
    user = iam.create_user(UserName="ci-bot", Path="/automation/", Tags=[{"Key": "team", "Value": "web"}])["User"]
    assert user["Arn"] == "arn:aws:iam::000000000000:user/automation/ci-bot"
    assert user["UserId"].startswith("AIDA") and user["Path"] == "/automation/"
    assert iam.get_user(UserName="ci-bot")["User"]["UserId"] == user["UserId"]
    iam.create_user(UserName="alice")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["alice", "ci-bot"]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/automation/")["Users"]] == ["ci-bot"]
    page = iam.list_users(MaxItems=1)
    assert page["IsTruncated"] and len(page["Users"]) == 1
    assert [u["UserName"] for u in iam.list_users(Marker=page["Marker"])["Users"]] == ["ci-bot"]

    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="CI-BOT")
    assert code(e) == "EntityAlreadyExists"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="bad name")
    assert code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="nobody")
    assert code(e) == "NoSuchEntity"
    assert "nobody" in e.value.response["Error"]["Message"]

    first = iam.create_access_key(UserName="ci-bot")["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["SecretAccessKey"]) == 40
    assert first["Status"] == "Active"
    second = iam.create_access_key(UserName="ci-bot")["AccessKey"]
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName="ci-bot")
    assert code(e) == "LimitExceeded"
    listed = iam.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)

    iam.update_access_key(UserName="ci-bot", AccessKeyId=first["AccessKeyId"], Status="Inactive")
    status = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"]}
    assert status[first["AccessKeyId"]] == "Inactive" and status[second["AccessKeyId"]] == "Active"
    with pytest.raises(ClientError) as e:
        iam.update_access_key(UserName="alice", AccessKeyId=first["AccessKeyId"], Status="Active")
    assert code(e) == "NoSuchEntity"

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="ci-bot")
    assert code(e) == "DeleteConflict"
    for k in (first, second):
        iam.delete_access_key(UserName="ci-bot", AccessKeyId=k["AccessKeyId"])
    iam.delete_user(UserName="ci-bot")
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="ci-bot")
    assert code(e) == "NoSuchEntity"


def test_the_aws_cli_manages_users(server):
    out = server.aws("iam", "create-user", "--user-name", "cli-user")
    assert out["User"]["UserName"] == "cli-user"
    names = [u["UserName"] for u in server.aws("iam", "list-users")["Users"]]
    assert "cli-user" in names
    key = server.aws("iam", "create-access-key", "--user-name", "cli-user")["AccessKey"]
    server.aws("iam", "delete-access-key", "--user-name", "cli-user", "--access-key-id", key["AccessKeyId"])
    server.aws("iam", "delete-user", "--user-name", "cli-user")
    me = server.aws("iam", "get-user")["User"]
    assert me["Arn"] == "arn:aws:iam::000000000000:root"


def test_a_users_key_signs_as_the_user_and_is_denied_what_no_policy_allows(server):
    iam = server.client("iam")
    user = iam.create_user(UserName="signer")["User"]
    key = iam.create_access_key(UserName="signer")["AccessKey"]
    as_user = dict(access_key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    me = server.client("sts", **as_user).get_caller_identity()
    assert me["Arn"] == user["Arn"] and me["UserId"] == user["UserId"] and me["Account"] == "000000000000"
    # Every region: IAM is global.
    assert server.client("sts", region="eu-west-1", **as_user).get_caller_identity()["Arn"] == user["Arn"]

    # No policy allows anything yet: denied, naming the user.
    with pytest.raises(ClientError) as e:
        server.client("ecs", **as_user).list_clusters()
    assert code(e) in ("AccessDenied", "AccessDeniedException")
    assert user["Arn"] in e.value.response["Error"]["Message"]

    # An inactive key, then a deleted one, signs nothing.
    iam.update_access_key(UserName="signer", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        server.client("sts", **as_user).get_caller_identity()
    assert code(e) == "InvalidClientTokenId"
    iam.update_access_key(UserName="signer", AccessKeyId=key["AccessKeyId"], Status="Active")
    server.client("sts", **as_user).get_caller_identity()
    iam.delete_access_key(UserName="signer", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        server.client("sts", **as_user).get_caller_identity()
    assert code(e) == "InvalidClientTokenId"


def test_attached_policies_decide_what_a_user_may_do(server):
    iam = server.client("iam")
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    as_user = dict(access_key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    ecs = server.client("ecs", **as_user)
    arn = "arn:aws:iam::000000000000:user/reader"

    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {"ReadOnlyAccess", "AmazonECS_FullAccess", "AdministratorAccess"} <= names
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert iam.get_policy(PolicyArn=read_only)["Policy"]["DefaultVersionId"] == "v1"
    doc = iam.get_policy_version(PolicyArn=read_only, VersionId="v1")["PolicyVersion"]["Document"]
    assert "ecs:Describe*" in doc["Statement"][0]["Action"]

    iam.attach_user_policy(UserName="reader", PolicyArn=read_only)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="reader")["AttachedPolicies"]] \
        == [read_only]
    ecs.list_clusters()
    with pytest.raises(ClientError) as e:
        ecs.create_cluster(clusterName="not-for-readers")
    assert code(e) in ("AccessDenied", "AccessDeniedException")
    assert e.value.response["Error"]["Message"] == (
        f"User: {arn} is not authorized to perform: ecs:CreateCluster on resource: "
        "arn:aws:ecs:us-east-1:000000000000:cluster/not-for-readers "
        "because no identity-based policy allows the ecs:CreateCluster action")

    # A policy change applies to the next request.
    full = "arn:aws:iam::aws:policy/AmazonECS_FullAccess"
    iam.attach_user_policy(UserName="reader", PolicyArn=full)
    ecs.create_cluster(clusterName="for-ecs-admins")
    iam.detach_user_policy(UserName="reader", PolicyArn=full)
    with pytest.raises(ClientError):
        ecs.delete_cluster(cluster="for-ecs-admins")
    server.client("ecs").delete_cluster(cluster="for-ecs-admins")

    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="reader", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.detach_user_policy(UserName="reader", PolicyArn=full)
    assert code(e) == "NoSuchEntity"
    iam.delete_access_key(UserName="reader", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="reader")
    assert code(e) == "DeleteConflict"
    iam.detach_user_policy(UserName="reader", PolicyArn=read_only)
    iam.delete_user(UserName="reader")


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def new_user(iam, name):
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return dict(access_key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def denied(e, arn, action, resource):
    assert code(e) in ("AccessDenied", "AccessDeniedException"), e.value.response
    assert e.value.response["Error"]["Message"] == (
        f"User: {arn} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action")


def test_own_policy_versions_decide_run_task_and_a_deny_on_one_cluster_wins(server):
    iam, root_ecs = server.client("iam"), server.client("ecs")
    for name in ("prod", "staging"):
        root_ecs.create_cluster(clusterName=name)
    root_ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "busybox", "memory": 32}])
    as_user = new_user(iam, "operator")
    ecs = server.client("ecs", **as_user)
    arn = "arn:aws:iam::000000000000:user/operator"

    readonly = iam.create_policy(PolicyName="ecs-read", Path="/team/", Description="read ECS",
                                 PolicyDocument=policy(allow(["ecs:Describe*", "ecs:List*"])))["Policy"]
    assert readonly["Arn"] == "arn:aws:iam::000000000000:policy/team/ecs-read"
    assert readonly["DefaultVersionId"] == "v1" and readonly["AttachmentCount"] == 0
    iam.attach_user_policy(UserName="operator", PolicyArn=readonly["Arn"])
    assert iam.get_policy(PolicyArn=readonly["Arn"])["Policy"]["AttachmentCount"] == 1
    ecs.describe_clusters(clusters=["prod"])
    with pytest.raises(ClientError) as e:
        ecs.run_task(cluster="staging", taskDefinition="web")
    denied(e, arn, "ecs:RunTask", "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1")

    # A new default version allows RunTask from the next request on.
    iam.create_policy_version(PolicyArn=readonly["Arn"], SetAsDefault=True, PolicyDocument=policy(
        allow(["ecs:Describe*", "ecs:List*", "ecs:RunTask"])))
    versions = iam.list_policy_versions(PolicyArn=readonly["Arn"])["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", True), ("v1", False)]
    # Allowed: ECS itself answers (the cluster has no instances).
    with pytest.raises(ClientError) as e:
        ecs.run_task(cluster="staging", taskDefinition="web")
    assert code(e) == "InvalidParameterException"
    iam.set_default_policy_version(PolicyArn=readonly["Arn"], VersionId="v1")
    with pytest.raises(ClientError) as e:
        ecs.run_task(cluster="staging", taskDefinition="web")
    assert code(e) == "AccessDeniedException"

    # Allow everything through a group, deny one cluster inline: the deny wins there only.
    iam.create_group(GroupName="ops")
    iam.attach_group_policy(GroupName="ops", PolicyArn="arn:aws:iam::aws:policy/AmazonECS_FullAccess")
    iam.add_user_to_group(GroupName="ops", UserName="operator")
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="operator")["Groups"]] == ["ops"]
    prod = "arn:aws:ecs:us-east-1:000000000000:cluster/prod"
    iam.put_user_policy(UserName="operator", PolicyName="not-prod", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "ecs:*", "Resource": prod}))
    assert iam.list_user_policies(UserName="operator")["PolicyNames"] == ["not-prod"]
    ecs.describe_clusters(clusters=["staging"])
    with pytest.raises(ClientError) as e:
        ecs.describe_clusters(clusters=["prod"])
    assert e.value.response["Error"]["Message"] == (
        f"User: {arn} is not authorized to perform: ecs:DescribeClusters on resource: {prod} "
        "with an explicit deny in an identity-based policy")
    with pytest.raises(ClientError):
        ecs.delete_cluster(cluster="prod")

    sim = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["ecs:DeleteCluster"],
                                        ResourceArns=[prod, prod.replace("prod", "staging")])
    assert [r["EvalDecision"] for r in sim["EvaluationResults"]] == ["explicitDeny", "allowed"]

    # Nothing is deleted while still in use.
    for call in (lambda: iam.delete_policy(PolicyArn=readonly["Arn"]),
                 lambda: iam.delete_group(GroupName="ops"),
                 lambda: iam.delete_user(UserName="operator")):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "DeleteConflict"


def test_bad_policies_are_refused_with_iams_errors(server):
    iam = server.client("iam")
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="broken", PolicyDocument='{"Version": "2012-10-17", "Statement": [')
    assert code(e) == "MalformedPolicyDocument"
    assert "line 1, column" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="huge", PolicyDocument=policy(
            *[allow(f"ecs:Describe{'X' * 60}{i}") for i in range(100)]))
    assert code(e) == "LimitExceeded"
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="untrusting", AssumeRolePolicyDocument=policy(allow("sts:AssumeRole")))
    assert code(e) == "MalformedPolicyDocument"
    assert not any(p["PolicyName"] in ("broken", "huge") for p in iam.list_policies(Scope="Local")["Policies"])


def test_roles_hand_out_temporary_credentials_that_act_with_the_roles_policies(server):
    iam = server.client("iam")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                    "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="deployer", Path="/ci/", AssumeRolePolicyDocument=trust,
                           MaxSessionDuration=7200)["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/ci/deployer" and role["RoleId"].startswith("AROA")
    assert iam.get_role(RoleName="deployer")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"] \
        == "sts:AssumeRole"
    iam.put_role_policy(RoleName="deployer", PolicyName="clusters", PolicyDocument=policy(
        allow(["ecs:ListClusters", "ecs:DescribeClusters"])))
    as_user = new_user(iam, "ci-runner")
    sts = server.client("sts", **as_user)
    user_arn = "arn:aws:iam::000000000000:user/ci-runner"

    # The trust policy names the account: the user also needs a policy of its own.
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build-1")
    assert code(e) == "AccessDenied"
    assert e.value.response["Error"]["Message"] == (
        f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}")
    iam.put_user_policy(UserName="ci-runner", PolicyName="assume", PolicyDocument=policy(
        allow("sts:AssumeRole", role["Arn"])))
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build-1", DurationSeconds=9000)
    assert code(e) == "ValidationError"
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build-1", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    session_arn = "arn:aws:sts::000000000000:assumed-role/deployer/build-1"
    assert out["AssumedRoleUser"]["Arn"] == session_arn

    as_role = dict(access_key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
    me = server.client("sts", **as_role).get_caller_identity()
    assert me["Arn"] == session_arn and me["UserId"] == f"{role['RoleId']}:build-1"
    server.client("ecs", **as_role).list_clusters()
    with pytest.raises(ClientError) as e:
        server.client("ecs", **as_role).create_cluster(clusterName="by-role")
    assert session_arn in e.value.response["Error"]["Message"]
    # Without its token, or with another, the temporary key signs nothing.
    with pytest.raises(ClientError) as e:
        server.client("sts", access_key=creds["AccessKeyId"], secret=creds["SecretAccessKey"]).get_caller_identity()
    assert code(e) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as e:
        server.client("sts", **dict(as_role, token="x" + creds["SessionToken"][1:])).get_caller_identity()
    assert code(e) == "InvalidClientTokenId"

    # A role whose trust names only ECS tasks cannot be assumed by anyone here.
    iam.create_role(RoleName="task", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as e:
        server.client("sts").assume_role(RoleArn="arn:aws:iam::000000000000:role/task", RoleSessionName="me")
    assert code(e) == "AccessDenied"

    # Passing a role to ECS takes iam:PassRole.
    iam.put_user_policy(UserName="ci-runner", PolicyName="ecs", PolicyDocument=policy(allow("ecs:*")))
    ecs = server.client("ecs", **as_user)
    task_role = "arn:aws:iam::000000000000:role/task"
    register = dict(family="with-role", taskRoleArn=task_role,
                    containerDefinitions=[{"name": "c", "image": "busybox", "memory": 32}])
    with pytest.raises(ClientError) as e:
        ecs.register_task_definition(**register)
    denied(e, user_arn, "iam:PassRole", task_role)
    iam.put_user_policy(UserName="ci-runner", PolicyName="pass", PolicyDocument=policy(
        allow("iam:PassRole", task_role)))
    ecs.register_task_definition(**register)


def test_the_aws_cli_assumes_a_role(server):
    trust = policy({"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "sts:AssumeRole"})
    server.aws("iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", trust)
    out = server.aws("sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/cli-role",
                     "--role-session-name", "cli")
    c = out["Credentials"]
    me = server.aws("sts", "get-caller-identity", env=dict(
        AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
        AWS_SESSION_TOKEN=c["SessionToken"]))
    assert me["Arn"] == "arn:aws:sts::000000000000:assumed-role/cli-role/cli"
    roles = [r["RoleName"] for r in server.aws("iam", "list-roles")["Roles"]]
    assert "cli-role" in roles
    server.aws("iam", "delete-role", "--role-name", "cli-role")


def test_registry_requests_act_with_the_policies_of_whoever_asked_for_the_token(server):
    import base64
    import urllib.error
    import urllib.request

    iam = server.client("iam")
    server.client("ecr").create_repository(repositoryName="team/app")
    as_user = new_user(iam, "puller")
    iam.attach_user_policy(UserName="puller",
                           PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
    token = server.client("ecr", **as_user).get_authorization_token()["authorizationData"][0]
    basic = "Basic " + token["authorizationToken"]

    def registry(method, path):
        req = urllib.request.Request(f"http://{server.registry}{path}", method=method, data=b"" if method != "GET" else None,
                                     headers={"Authorization": basic})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    assert registry("GET", "/v2/team/app/tags/list")[0] == 200
    status, body = registry("POST", "/v2/team/app/blobs/uploads/")
    assert status == 403
    error = json.loads(body)["errors"][0]
    assert error["code"] == "DENIED"
    assert error["message"] == (
        "User: arn:aws:iam::000000000000:user/puller is not authorized to perform: ecr:InitiateLayerUpload "
        "on resource: arn:aws:ecr:us-east-1:000000000000:repository/team/app because no identity-based "
        "policy allows the ecr:InitiateLayerUpload action")
    # The token acts with the user's policies as they are now.
    iam.detach_user_policy(UserName="puller",
                           PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
    assert registry("GET", "/v2/team/app/tags/list")[0] == 403
    assert base64.b64decode(token["authorizationToken"]).startswith(b"AWS:")


def test_the_flotilla_cli_acts_with_the_signed_in_users_permissions(server):
    import os
    import subprocess

    from conftest import BIN

    iam = server.client("iam")
    as_user = new_user(iam, "cli-person")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOTILLA_", "AWS_"))}
    env.update(AWS_ACCESS_KEY_ID=as_user["access_key"], AWS_SECRET_ACCESS_KEY=as_user["secret"])

    def logs():
        return subprocess.run([BIN, "logs", "no-such-service", "--data-dir", str(server.data_dir)],
                              env=env, capture_output=True, text=True, timeout=60)
    out = logs()
    assert out.returncode != 0
    assert "arn:aws:iam::000000000000:user/cli-person is not authorized to perform: ecs:" in out.stderr, out.stderr
    iam.attach_user_policy(UserName="cli-person", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    out = logs()
    # Allowed to read now: the service itself is what is missing.
    assert "not authorized" not in out.stderr, out.stderr
