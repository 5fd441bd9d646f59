"""A 10,000-task simulation: 100 simulated agents (the `sim` runtime, real agent protocol)
and RunTask batches through the real API, via `flotilla bench scale`."""
import re
import subprocess

from conftest import BIN


def test_ten_thousand_tasks_are_placed_and_run():
    out = subprocess.run([BIN, "bench", "scale", "--instances", "100", "--tasks", "10000",
                          "--timeout-seconds", "600"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    row = [line for line in out.stdout.splitlines() if re.match(r"\| 100 \|", line)]
    assert row, out.stdout
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    instances, placed, failed = int(cells[0]), int(cells[1]), int(cells[2])
    assert (instances, placed, failed) == (100, 10000, 0), row[0]
