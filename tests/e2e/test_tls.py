"""TLS: `flotilla up --tls-self-signed` serves HTTPS with an authority of its own; the AWS CLI
trusts it through `flotilla env` (AWS_CA_BUNDLE); agents verify the server, from --ca-file or
from the fingerprint their join token carries."""
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from agents import IMAGE, AgentProcess, build_test_image, wait_for
from conftest import AWS, BIN, Flotilla


@pytest.fixture(scope="module")
def tls_up(tmp_path_factory):
    build_test_image()
    server = Flotilla(tmp_path_factory.mktemp("tls") / "data", extra_args=["--tls-self-signed"])
    # start() polls /_flotilla/health over plain http; wait on the endpoint file instead.
    server.data_dir.mkdir(parents=True)
    args = [BIN, "up", "--data-dir", str(server.data_dir), "--api-addr", "127.0.0.1:0", "--registry-addr",
            "127.0.0.1:0", "--dns-addr", "127.0.0.1:0", "--tls-self-signed"]
    server.proc = subprocess.Popen(args, env=server.env(), stdout=open(server.log, "ab"), stderr=subprocess.STDOUT)
    wait_for(lambda: (server.data_dir / "endpoint").exists() or server.proc.poll() is not None, timeout=60,
             what="flotilla up to listen")
    assert server.proc.poll() is None, server.log.read_text()[-2000:]
    server.endpoint = (server.data_dir / "endpoint").read_text().strip()
    yield server
    server.stop()


def exports(server):
    out = subprocess.run([BIN, "env", "--data-dir", str(server.data_dir)], env=server.env(),
                         capture_output=True, text=True, check=True).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())


def cli(server, env, *args):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update(env, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_MAX_ATTEMPTS="1")
    return subprocess.run([AWS, "--output", "json", *args], env=clean, capture_output=True, text=True, timeout=60)


def test_the_cli_reaches_an_https_server_through_flotilla_env(tls_up):
    assert tls_up.endpoint.startswith("https://127.0.0.1:")
    env = exports(tls_up)
    assert env["AWS_ENDPOINT_URL"] == tls_up.endpoint
    assert env["AWS_CA_BUNDLE"] == str(tls_up.data_dir / "ca.pem")
    out = cli(tls_up, env, "ecs", "describe-clusters")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["clusters"][0]["clusterName"] == "default"
    # Without the authority, the certificate is not trusted.
    untrusted = {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}
    out = cli(tls_up, untrusted, "ecs", "describe-clusters")
    assert out.returncode != 0 and "SSL" in out.stderr


def test_plain_http_is_not_served(tls_up):
    plain = tls_up.endpoint.replace("https://", "http://") + "/_flotilla/health"
    with pytest.raises(Exception):
        urllib.request.urlopen(plain, timeout=5).read()
    ctx = ssl.create_default_context(cafile=str(tls_up.data_dir / "ca.pem"))
    assert urllib.request.urlopen(tls_up.endpoint + "/_flotilla/health", timeout=5, context=ctx).read() == b"ok\n"


def test_the_registry_serves_tls_with_the_same_authority(tls_up):
    env = exports(tls_up)
    registry = env["FLOTILLA_REGISTRY"]
    out = cli(tls_up, env, "ecr", "get-authorization-token")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["authorizationData"][0]["proxyEndpoint"] == f"https://{registry}"
    ctx = ssl.create_default_context(cafile=str(tls_up.data_dir / "ca.pem"))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"https://{registry}/v2/", timeout=5, context=ctx)
    assert e.value.code == 401 and e.value.headers["WWW-Authenticate"].startswith("Basic")
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://{registry}/v2/", timeout=5).read()


def test_up_runs_its_own_agent_over_tls(tls_up):
    env = exports(tls_up)
    def connected():
        out = cli(tls_up, env, "ecs", "list-container-instances")
        arns = json.loads(out.stdout)["containerInstanceArns"] if out.returncode == 0 else []
        if not arns:
            return False
        d = json.loads(cli(tls_up, env, "ecs", "describe-container-instances", "--container-instances",
                           arns[0]).stdout)
        return d["containerInstances"][0]["agentConnected"]
    wait_for(connected, timeout=60, what="the local agent to connect over TLS")
    # `flotilla exec` reaches that agent through the server over TLS (HTTP/2 by ALPN).
    container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True,
                 "command": ["sleep", "1000"], "stopTimeout": 1}
    cli(tls_up, env, "ecs", "register-task-definition", "--family", "tls-exec",
        "--container-definitions", json.dumps([container]))
    out = cli(tls_up, env, "ecs", "run-task", "--task-definition", "tls-exec", "--enable-execute-command")
    task = json.loads(out.stdout)["tasks"][0]["taskArn"]
    wait_for(lambda: json.loads(cli(tls_up, env, "ecs", "describe-tasks", "--tasks", task).stdout)
             ["tasks"][0]["lastStatus"] == "RUNNING", timeout=60, what="the task RUNNING")
    out = subprocess.run([BIN, "exec", task, "--data-dir", str(tls_up.data_dir), "--", "echo", "over tls"],
                         env=tls_up.env(), capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, "over tls\n"), out
    cli(tls_up, env, "ecs", "stop-task", "--task", task)


def token(server):
    out = subprocess.run([BIN, "token", "create", "--cluster", "default", "--data-dir", str(server.data_dir)],
                         env=server.env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_an_agent_verifies_the_server_by_its_tokens_fingerprint(tls_up, tmp_path):
    t = token(tls_up)
    parts = t.split(".")
    assert len(parts) == 4 and len(parts[3]) == 64, "the token carries the CA fingerprint"
    agent = AgentProcess(tls_up, tmp_path / "joined", join_token=t).start()
    try:
        agent.instance_arn = lambda timeout=60: wait_for(
            lambda: (agent.data_dir / "server-ca.pem").exists() and "registered" in agent.log.read_text(),
            timeout=timeout, what="the agent to join over TLS")
        agent.instance_arn()
        assert (agent.data_dir / "server-ca.pem").read_bytes() == (tls_up.data_dir / "ca.pem").read_bytes()
    finally:
        agent.stop()

    # A token whose fingerprint is not the server's authority's: the agent refuses it.
    forged = ".".join(parts[:3] + ["0" * 64])
    liar = AgentProcess(tls_up, tmp_path / "forged", join_token=forged).start()
    try:
        assert liar.proc.wait(timeout=60) != 0
        assert "refusing to trust it" in liar.log.read_text()
        assert not (liar.data_dir / "server-ca.pem").exists()
    finally:
        liar.stop()
