"""`flotilla exec` and ECS ExecuteCommand against a real server, agent and Docker container:
a command's stdout, stderr and exit status come back apart; standard input (`-i`) reaches
it, large or small; `-it` under a real pseudo-terminal gives the command a terminal of the
same size, follows a resize, and puts this terminal back as it was; boto3 sees ECS's answer
shape; bad input (a task without enableExecuteCommand, one that does not exist, a wrong
container, a command that is not in the image, a wrong token, HTTP/1.1) is refused with a
message that says what to do.

One server and one agent for the module (cluster `default`).
"""
import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest
from botocore.exceptions import ClientError

from agents import IMAGE, server_with_agent, wait_for
from conftest import BIN

CLUSTER = "default"
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


class Env:
    pass


def running_task(ecs, family, enable=True, containers=("app",)):
    defs = [{"name": n, "image": IMAGE, "memory": 16, "essential": True, "command": SLEEPER,
             "stopTimeout": 2} for n in containers]
    ecs.register_task_definition(family=family, containerDefinitions=defs)
    arn = ecs.run_task(cluster=CLUSTER, taskDefinition=family,
                       enableExecuteCommand=enable)["tasks"][0]["taskArn"]
    wait_for(lambda: ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]["lastStatus"]
             == "RUNNING", timeout=60, what=f"{family} RUNNING")
    return arn


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("exec")
    with server_with_agent(base, CLUSTER) as (server, _):
        e = Env()
        e.server, e.ecs = server, server.client("ecs")
        e.task = running_task(e.ecs, "exec-one")
        e.task_id = e.task.rsplit("/", 1)[1]
        yield e


def cli_env(e):
    return {**e.server.env(), "FLOTILLA_DATA_DIR": str(e.server.data_dir)}


def flotilla(e, *args, input=None, timeout=60):
    return subprocess.run([BIN, *args], env=cli_env(e), input=input, capture_output=True,
                          timeout=timeout)


def test_output_streams_and_exit_status_come_back_apart(env):
    out = flotilla(env, "exec", env.task_id, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert out.returncode == 3, out
    assert out.stdout == b"out\n" and out.stderr == b"err\n", out
    # Words with blanks and quotes arrive as they were given.
    out = flotilla(env, "exec", env.task, "app", "--", "sh", "-c", 'printf "[%s]" "$@"', "sh",
                   "a b", "it's", "")
    assert (out.returncode, out.stdout) == (0, b"[a b][it's][]"), out


def test_standard_input_reaches_the_command(env):
    out = flotilla(env, "exec", "-i", env.task_id, "--", "cat", input=b"hello\n")
    assert (out.returncode, out.stdout) == (0, b"hello\n"), out
    big = os.urandom(300 * 1024)
    out = flotilla(env, "exec", "-i", env.task_id, "--", "busybox", "md5sum", input=big)
    import hashlib
    assert out.returncode == 0 and out.stdout.split()[0].decode() == hashlib.md5(big).hexdigest()
    # Without -i the command's input is closed at once.
    out = flotilla(env, "exec", env.task_id, "--", "cat", input=b"not sent")
    assert (out.returncode, out.stdout) == (0, b""), out


def read_until(fd, needle, timeout=20):
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} not seen in {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_a_terminal_of_the_same_size_that_follows_resizes(env):
    master, slave = pty.openpty()
    set_size(slave, 30, 100)
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([BIN, "exec", "-it", env.task_id, "--", "sh"], env=cli_env(env),
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    try:
        read_until(master, b"# ")  # the shell's prompt
        # Quotes keep the typed line (echoed by the remote terminal) from matching.
        os.write(master, b"busybox stty size; busybox tty; echo RE''ADY\n")
        seen = read_until(master, b"READY")
        assert b"30 100" in seen and b"/dev/pts/" in seen, seen
        # This terminal is raw while the command runs: no local echo of what is typed
        # beyond the remote terminal's own.
        assert not termios.tcgetattr(slave)[3] & termios.ECHO
        set_size(slave, 40, 120)
        os.killpg(proc.pid, 28)  # SIGWINCH, as the terminal emulator sends it
        time.sleep(0.5)
        os.write(master, b"busybox stty size; exit 7\n")
        seen = read_until(master, b"40 120")
        assert proc.wait(timeout=20) == 7, seen
        assert termios.tcgetattr(slave) == before, "the terminal was not put back"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)


def test_boto3_sees_the_ecs_answer_and_the_stream_wants_its_token(env):
    answer = env.ecs.execute_command(cluster=CLUSTER, task=env.task, command="sh",
                                     interactive=True)
    assert answer["taskArn"] == env.task and answer["containerName"] == "app"
    assert answer["interactive"] is True
    session = answer["session"]
    assert session["sessionId"].startswith("ecs-execute-command-") and session["tokenValue"]
    url = env.server.endpoint + session["streamUrl"]
    curl = ["curl", "-sS", "-o", "-", "-w", "%{http_code}", "-X", "POST", "--max-time", "10"]
    wrong = subprocess.run([*curl, "--http2-prior-knowledge", "-H", "x-flotilla-exec-token: no",
                            url], capture_output=True, text=True)
    assert wrong.stdout.endswith("403") and "token does not match" in wrong.stdout, wrong
    old = subprocess.run([*curl, "--http1.1", "-H", f"x-flotilla-exec-token: {session['tokenValue']}",
                          url], capture_output=True, text=True)
    assert old.stdout.endswith("505") and "HTTP/2" in old.stdout, old


def test_bad_input_is_refused_with_what_to_do(env):
    plain = running_task(env.ecs, "exec-off", enable=False)
    out = flotilla(env, "exec", plain, "--", "sh")
    assert out.returncode == 1 and b"--enable-execute-command" in out.stderr, out
    with pytest.raises(ClientError) as e:
        env.ecs.execute_command(cluster=CLUSTER, task=plain, command="sh", interactive=True)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    env.ecs.stop_task(cluster=CLUSTER, task=plain)

    out = flotilla(env, "exec", "0123456789abcdef0123456789abcdef", "--", "sh")
    assert out.returncode == 1 and b"task was not found" in out.stderr, out
    out = flotilla(env, "exec", env.task_id, "web", "--", "sh")
    assert out.returncode == 1 and b"no container named 'web': it has app" in out.stderr, out
    two = running_task(env.ecs, "exec-two", containers=("app", "side"))
    out = flotilla(env, "exec", two, "--", "sh")
    assert out.returncode == 1 and b"more than one container" in out.stderr, out
    out = flotilla(env, "exec", two, "side", "--", "echo", "side")
    assert (out.returncode, out.stdout) == (0, b"side\n"), out
    env.ecs.stop_task(cluster=CLUSTER, task=two)

    # A command the image does not have: the runtime's own status and message.
    out = flotilla(env, "exec", env.task_id, "--", "no-such-command")
    assert out.returncode in (126, 127), out
    assert b"no-such-command" in out.stdout + out.stderr, out
    with pytest.raises(ClientError) as e:
        env.ecs.execute_command(cluster=CLUSTER, task=env.task, command="echo 'unclosed",
                                interactive=True)
    assert "unclosed single quote" in e.value.response["Error"]["Message"]
