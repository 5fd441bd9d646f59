"""Task and execution roles on real containers (issue 18): boto3 inside a task finds its
role's credentials on the agent's credentials endpoint (169.254.170.2), writes to
CloudWatch Logs with them, is denied what the role does not allow, and sees them renewed
while it runs; the endpoint answers only with the task's token. A task's `secrets` reach
its containers' environment, read with its execution role, and nowhere else; a rotated
secret reaches the next task; a denied or missing one fails the task with ECS's reason.

The container runs the test's own Python and boto3: the host's root is mounted read-only
into a busybox task and the script runs under `chroot` there, in the host's network (so
it reaches the server on loopback as well as the endpoint)."""
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from agents import IMAGE, inspect, server_with_agent, wait_for

ACCOUNT = "000000000000"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
LOGS_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]})

# Runs in the container: every step is written to the log group, and the exit code says
# whether all went as expected.
SCRIPT = r'''
import json, os, sys, time
import boto3
from botocore.exceptions import ClientError
endpoint = sys.argv[1]
session = boto3.session.Session(region_name="us-east-1")
logs = session.client("logs", endpoint_url=endpoint)
ecs = session.client("ecs", endpoint_url=endpoint)
first = session.get_credentials().get_frozen_credentials().access_key
logs.create_log_stream(logGroupName="task-role", logStreamName="steps")
def say(message):
    logs.put_log_events(logGroupName="task-role", logStreamName="steps",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(message)}])
say({"step": "first", "key": first})
try:
    ecs.delete_cluster(cluster="default")
    say({"step": "delete-cluster", "denied": False})
    sys.exit(1)
except ClientError as e:
    say({"step": "delete-cluster", "denied": True, "code": e.response["Error"]["Code"],
         "message": e.response["Error"]["Message"]})
# The credentials last 30 seconds; the agent renews them when 10 are left.
deadline = time.time() + 60
second = first
while second == first and time.time() < deadline:
    time.sleep(2)
    second = session.get_credentials().get_frozen_credentials().access_key
say({"step": "renewed", "key": second})
sys.exit(0 if second != first else 2)
'''


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("task-roles")
    with server_with_agent(base, "default", ["--task-credentials-seconds", "30"]) as (server, arn):
        server.agent_log = base / "agent.log"
        yield server


def test_a_task_role_gives_boto3_in_the_container_short_lived_credentials(env):
    server = env
    iam, ecs, logs = server.client("iam"), server.client("ecs"), server.client("logs")
    role = iam.create_role(RoleName="app-task", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.put_role_policy(RoleName="app-task", PolicyName="logs", PolicyDocument=LOGS_ONLY)
    logs.create_log_group(logGroupName="task-role")
    ecs.register_task_definition(
        family="boto3-in-a-task", networkMode="host", taskRoleArn=role["Arn"],
        volumes=[{"name": "host", "host": {"sourcePath": "/"}}],
        containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 256, "essential": True,
            "mountPoints": [{"sourceVolume": "host", "containerPath": "/host", "readOnly": True}],
            "environment": [{"name": "AWS_CONFIG_FILE", "value": "/dev/null"},
                            {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/dev/null"},
                            {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"}],
            "command": ["/bin/busybox", "chroot", "/host", sys.executable, "-c", SCRIPT, server.endpoint],
        }])
    task = ecs.run_task(taskDefinition="boto3-in-a-task")["tasks"][0]

    # The endpoint answers only with the task's token.
    def container():
        t = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0]
        return t["containers"][0].get("runtimeId")
    cid = wait_for(container, timeout=60, what="the task's container")
    variables = dict(v.split("=", 1) for v in inspect(cid)["Config"]["Env"])
    uri = variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert uri.startswith("http://169.254.170.2:")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(uri, timeout=5)
    assert e.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(uri, headers={"Authorization": "not-the-token"}), timeout=5)
    assert e.value.code == 401

    def stopped():
        t = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0]
        return t if t["lastStatus"] == "STOPPED" else None
    done = wait_for(stopped, timeout=120, interval=1, what="the task to finish")
    output = subprocess.run(["docker", "logs", cid], capture_output=True, text=True)
    output = (output.stdout + output.stderr)[-3000:]
    streams = logs.describe_log_streams(logGroupName="task-role")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["steps"], json.dumps([done["containers"], done.get("stoppedReason"), output], default=str)
    events = logs.get_log_events(logGroupName="task-role", logStreamName="steps", startFromHead=True)["events"]
    steps = {m["step"]: m for m in (json.loads(e["message"]) for e in events)}
    assert done["containers"][0].get("exitCode") == 0, (done, steps, output)

    assert steps["first"]["key"].startswith("ASIA")
    denied = steps["delete-cluster"]
    assert denied["denied"] and denied["code"] == "AccessDeniedException"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-task/{task['taskArn'].rsplit('/', 1)[1]}"
    assert denied["message"].startswith(f"User: {session} is not authorized to perform: ecs:DeleteCluster")
    assert steps["renewed"]["key"].startswith("ASIA") and steps["renewed"]["key"] != steps["first"]["key"]
    # Nothing of the credentials reaches the task's description.
    assert "ASIA" not in json.dumps(done, default=str)


def run_to_completion(ecs, family):
    task = ecs.run_task(taskDefinition=family)["tasks"][0]

    def stopped():
        t = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0]
        return t if t["lastStatus"] == "STOPPED" else None
    return wait_for(stopped, timeout=60, interval=0.5, what=f"a {family} task to finish")


def output_of(task):
    cid = task["containers"][0].get("runtimeId")
    out = subprocess.run(["docker", "logs", cid], capture_output=True, text=True) if cid else None
    return (out.stdout + out.stderr) if out else ""


def test_secrets_reach_the_environment_and_nowhere_else(env):
    server = env
    iam, ecs = server.client("iam"), server.client("ecs")
    sm, ssm = server.client("secretsmanager"), server.client("ssm")
    first, second = "hunter2-first-value", "hunter2-rotated-value"
    secret = sm.create_secret(Name="db", SecretString=json.dumps({"user": "app", "password": first}))["ARN"]
    ssm.put_parameter(Name="/app/greeting", Type="SecureString", Value="hello-secure-greeting")
    sm.create_secret(Name="other", SecretString="not-for-this-role")
    iam.create_role(RoleName="exec", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="exec", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret},
            {"Effect": "Allow", "Action": "ssm:GetParameters",
             "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/*"}]}))
    execution = f"arn:aws:iam::{ACCOUNT}:role/exec"

    def register(family, secrets):
        ecs.register_task_definition(family=family, executionRoleArn=execution, containerDefinitions=[{
            "name": "app", "image": IMAGE, "memory": 32, "essential": True, "secrets": secrets,
            "command": ["sh", "-c", "echo password=$DB_PASSWORD greeting=$GREETING"]}])
    register("with-secrets", [{"name": "DB_PASSWORD", "valueFrom": f"{secret}:password::"},
                              {"name": "GREETING", "valueFrom": "/app/greeting"}])
    done = run_to_completion(ecs, "with-secrets")
    assert done["containers"][0].get("exitCode") == 0, done.get("stoppedReason")
    assert f"password={first} greeting=hello-secure-greeting" in output_of(done)

    # Rotation reaches the next task.
    sm.put_secret_value(SecretId="db", SecretString=json.dumps({"user": "app", "password": second}))
    rotated = run_to_completion(ecs, "with-secrets")
    assert f"password={second} " in output_of(rotated)

    # A secret the execution role may not read, and one that does not exist, fail the task.
    other = sm.describe_secret(SecretId="other")["ARN"]
    register("denied", [{"name": "X", "valueFrom": other}])
    denied = run_to_completion(ecs, "denied")
    assert denied["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: unable to retrieve secret from asm")
    assert "AccessDeniedException" in denied["stoppedReason"]
    assert f"assumed-role/exec/{denied['taskArn'].rsplit('/', 1)[1]}" in denied["stoppedReason"]
    assert "secretsmanager:GetSecretValue" in denied["stoppedReason"]
    register("missing", [{"name": "X", "valueFrom": "/app/no-such-parameter"}])
    missing = run_to_completion(ecs, "missing")
    assert missing["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets")
    assert "no-such-parameter" in missing["stoppedReason"]

    # The values appear in no API answer, event or log of the server or the agent.
    answers = json.dumps([ecs.describe_tasks(tasks=[t["taskArn"] for t in (done, rotated, denied, missing)]),
                          ecs.describe_task_definition(taskDefinition="with-secrets"),
                          sm.describe_secret(SecretId="db"), sm.list_secrets(),
                          ssm.describe_parameters()], default=str)
    logs = server.log.read_text(errors="replace") + server.agent_log.read_text(errors="replace")
    for value in (first, second, "hello-secure-greeting", "not-for-this-role"):
        assert value not in answers
        assert value not in logs
