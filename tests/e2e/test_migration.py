"""docs/migration.md, run as written: every ```sh block of the page, in order, in one bash
(`set -euo pipefail`), against `flotilla up` with the real AWS CLI, `dig` and `curl`. The
page's own checks (`test ...`) make the run fail when a step does not do what it says:
the blue/green alias cut-over, the rollback, weighted records at 90/10, 50/50 and 0/100,
the old stack's request count in CloudWatch going still, and retiring the old stack."""
import os
import re
import subprocess

from agents import build_test_image, remove_containers
from conftest import ACCESS_KEY, AWS, BIN, ROOT, SECRET_KEY, Flotilla

PAGE = ROOT / "docs" / "migration.md"


def blocks(text):
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_the_migration_walkthrough_runs_as_written(tmp_path):
    build_test_image()
    script = "\n".join(blocks(PAGE.read_text()))
    assert "change \"$(alias UPSERT \"$GREEN\")\"" in script, "the page lost its cut-over step"
    server = Flotilla(tmp_path / "up", extra_args=["--lb-bind", "127.0.22.1-127.0.22.20"]).start(command="up")
    env = dict(os.environ, FLOTILLA_DATA_DIR=str(server.data_dir), FLOTILLA_ACCESS_KEY_ID=ACCESS_KEY,
               FLOTILLA_SECRET_ACCESS_KEY=SECRET_KEY,
               PATH=os.pathsep.join([str(os.path.dirname(BIN)), str(os.path.dirname(AWS)), os.environ["PATH"]]))
    try:
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"the walkthrough failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        out = run.stdout.split()
        # What the page prints along the way: green on its own, then through the name.
        assert out[:3] == ["green", "blue", "green"], run.stdout
        shares = [int(n) for n in re.findall(r"green: (\d+) of 200", run.stdout)]
        assert len(shares) == 2 and 0 < shares[0] < shares[1] < 200, run.stdout
        # CloudWatch counted blue's requests (the page checks no new one came).
        [(before, after)] = re.findall(r"blue: ([\d.]+) requests, then ([\d.]+)", run.stdout)
        assert float(before) > 0 and before == after, run.stdout
    finally:
        server.stop()
        for family in ("web-blue", "web-green"):
            remove_containers(f"com.amazonaws.ecs.task-definition-family={family}")
