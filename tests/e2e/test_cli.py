"""The command-line contract: `flotilla up` and `flotilla env`."""
import os
import subprocess

from conftest import AWS, BIN, Flotilla


def test_up_generates_credentials_creates_default_cluster_and_env_points_the_cli_at_it(tmp_path):
    server = Flotilla(tmp_path / "data")
    env = server.env()
    del env["FLOTILLA_ACCESS_KEY_ID"], env["FLOTILLA_SECRET_ACCESS_KEY"]
    server.env = lambda: env
    server.start(command="up")
    try:
        creds = (tmp_path / "data" / "credentials").read_text()
        assert "aws_access_key_id = AKIA" in creds
        assert oct((tmp_path / "data" / "credentials").stat().st_mode & 0o777) == "0o600"
        banner = server.log.read_text()
        assert "eval \"$(flotilla env --data-dir" in banner

        exports = subprocess.run([BIN, "env", "--data-dir", str(tmp_path / "data")], env=env,
                                 capture_output=True, text=True, check=True).stdout
        for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
            assert f"export {var}=" in exports
        # The exports alone (no --endpoint-url, no other configuration) reach Flotilla.
        script = f'eval "$1"; exec "{AWS}" ecs describe-clusters --output json'
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        clean.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        out = subprocess.run(["bash", "-c", script, "-", exports], env=clean,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert '"clusterName": "default"' in out.stdout and '"ACTIVE"' in out.stdout

        # The same generated credentials are used again after a restart.
        server.restart()
        assert (tmp_path / "data" / "credentials").read_text() == creds
    finally:
        server.stop()


def test_env_without_a_running_instance_says_so(tmp_path):
    out = subprocess.run([BIN, "env", "--data-dir", str(tmp_path / "nothing")], capture_output=True, text=True)
    assert out.returncode != 0
    assert "no Flotilla has run" in out.stderr


def test_bad_configuration_is_refused_at_start(tmp_path):
    env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID="AKIAX", FLOTILLA_SECRET_ACCESS_KEY="x" * 41)
    out = subprocess.run([BIN, "server", "--data-dir", str(tmp_path), "--api-addr", "127.0.0.1:0"],
                         env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "40" in out.stderr
    out = subprocess.run([BIN, "server", "--data-dir", str(tmp_path), "--api-addr", "127.0.0.1:0",
                          "--account-id", "12"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "12 digits" in out.stderr


def test_two_servers_cannot_share_a_data_directory(flotilla):
    out = subprocess.run([BIN, "server", "--data-dir", str(flotilla.data_dir), "--api-addr", "127.0.0.1:0"],
                         env=flotilla.env(), capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "already using the data directory" in out.stderr


def test_up_runs_tasks_and_adopts_them_after_ctrl_c(tmp_path):
    import json
    import signal
    import time

    from agents import IMAGE, build_test_image, containers_with_label, remove_containers, wait_for

    build_test_image()
    server = Flotilla(tmp_path / "up").start(command="up")
    task_arn = None
    try:
        server.aws("ecs", "register-task-definition", "--cli-input-json", json.dumps({
            "family": "kept", "containerDefinitions": [
                {"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"], "stopTimeout": 2}]}))
        [instance] = wait_for(lambda: server.aws("ecs", "list-container-instances")["containerInstanceArns"],
                              timeout=30, what="the local agent to register")
        # The local agent joined with a token `up` made, and signs with its own key.
        state = json.loads((tmp_path / "up" / "agent" / "agent-state.json").read_text())["data"]
        assert state["agentKey"]["accessKeyId"].startswith("FAK")
        assert state["containerInstanceArn"] == instance
        task_arn = server.aws("ecs", "run-task", "--task-definition", "kept")["tasks"][0]["taskArn"]
        server.aws("ecs", "wait", "tasks-running", "--tasks", task_arn)
        [container] = containers_with_label(f"com.amazonaws.ecs.task-arn={task_arn}")

        server.proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert server.proc.wait(timeout=30) == 0
        # The container outlives `up`...
        assert containers_with_label(f"com.amazonaws.ecs.task-arn={task_arn}") == [container]
        # ...and the next `up` adopts it: same container, task still RUNNING.
        server.start(command="up")
        time.sleep(2)
        task = server.aws("ecs", "describe-tasks", "--tasks", task_arn)["tasks"][0]
        assert task["lastStatus"] == "RUNNING"
        # Still the same instance, with the same key; no second token was made.
        assert server.aws("ecs", "list-container-instances")["containerInstanceArns"] == [instance]
        again = json.loads((tmp_path / "up" / "agent" / "agent-state.json").read_text())["data"]
        assert again["agentKey"] == state["agentKey"]
        tokens = subprocess.run([BIN, "token", "list", "--data-dir", str(tmp_path / "up")], env=server.env(),
                                capture_output=True, text=True, check=True).stdout
        assert tokens.count("FJT") == 1 and "flotilla up's own agent" in tokens
        assert containers_with_label(f"com.amazonaws.ecs.task-arn={task_arn}") == [container]
        server.aws("ecs", "stop-task", "--task", task_arn)
        server.aws("ecs", "wait", "tasks-stopped", "--tasks", task_arn)
    finally:
        server.stop()
        if task_arn:
            remove_containers(f"com.amazonaws.ecs.task-arn={task_arn}")


def test_two_agents_cannot_share_a_data_directory(flotilla, tmp_path):
    from agents import AgentProcess

    flotilla.aws("ecs", "create-cluster", "--cluster-name", "default")
    first = AgentProcess(flotilla, tmp_path / "shared-agent").start()
    try:
        arn = first.instance_arn()
        env = dict(os.environ, FLOTILLA_ACCESS_KEY_ID="AKIAFLOTILLATEST0001",
                   FLOTILLA_SECRET_ACCESS_KEY=flotilla.env()["FLOTILLA_SECRET_ACCESS_KEY"])
        out = subprocess.run([BIN, "agent", "--server", flotilla.endpoint, "--data-dir",
                              str(tmp_path / "shared-agent")], env=env, capture_output=True, text=True,
                             timeout=30)
        assert out.returncode != 0
        assert "already using the data directory" in out.stderr
        # Take the instance out of the cluster again for the tests that follow.
        first.stop()
        flotilla.aws("ecs", "deregister-container-instance", "--container-instance", arn, "--force")
    finally:
        first.stop()
