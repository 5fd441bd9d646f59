"""What the benchmark scripts share: the build they measure and how they summarise."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every server a benchmark starts binds its image registry on a free port, not the default
# one (through the environment, which binaries older than the registry ignore).
os.environ.setdefault("FLOTILLA_REGISTRY_ADDR", "127.0.0.1:0")


def build():
    """`$FLOTILLA_BIN`, else a release build of the binary (built now)."""
    if os.environ.get("FLOTILLA_BIN"):
        return os.environ["FLOTILLA_BIN"]
    subprocess.run(["cargo", "build", "--release", "-p", "flotilla"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "release" / "flotilla")


def percentile(values, p):
    """The p-quantile (0..1) of `values`, interpolated; NaN when there are none."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
