"""What the benchmark scripts share: the build they measure, how they summarise, and how
they write their section of BENCHMARKS.md."""
import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Every server a benchmark starts binds its image registry on a free port, not the default
# one (through the environment, which binaries older than the registry ignore).
os.environ.setdefault("FLOTILLA_REGISTRY_ADDR", "127.0.0.1:0")


def build(features=()):
    """`$FLOTILLA_BIN`, else a release build of the binary with `features` (built now)."""
    if os.environ.get("FLOTILLA_BIN"):
        return os.environ["FLOTILLA_BIN"]
    extra = ["--features", ",".join(features)] if features else []
    subprocess.run(["cargo", "build", "--release", "-p", "flotilla", *extra], cwd=ROOT, check=True)
    return str(ROOT / "target" / "release" / "flotilla")


def percentile(values, p):
    """The p-quantile (0..1) of `values`, interpolated; NaN when there are none."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU of a process (all its threads) so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def write_section(script, block, title):
    """Put `block` between the markers of `script` (e.g. `bench/api.py`) in BENCHMARKS.md,
    replacing what was there, or append it under the heading `title`."""
    begin, end = f"<!-- BEGIN {script} -->", f"<!-- END {script} -->"
    text = BENCHMARKS.read_text()
    marked = f"{begin}\n{block.strip(chr(10))}\n{end}"
    if begin in text and end in text:
        text = text[:text.index(begin)] + marked + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n{title}\n\n{marked}\n"
    BENCHMARKS.write_text(text)
