"""Memory figures for the benchmarks: this process's resident memory now, and the peak of a command
measured honestly from a process that was never big.

A child started from a large process (a benchmark that has already run many cases) inherits that
process's memory high-water mark on Linux: ``exec`` records the old address space's peak in the
child's ``ru_maxrss``. So ``RUSAGE_CHILDREN`` of a busy benchmark reports its own peak, not the
command's. ``run_measured`` starts a small Python launcher (this module, standard library only), and
the launcher starts the command and reads its child's peak: that figure is the command's alone.

    python -m OrthoAILib.runtime.memory REPORT.json -- COMMAND ...
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def resident_mb() -> float:
    """This process's resident memory now (not its high-water mark): flat over a batch means no leak."""
    status = Path("/proc/self/status")
    if not status.exists():  # not Linux
        return float("nan")
    for line in status.read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def growth_per_case(resident_after_case: list[float], warm_up: int = 2) -> float:
    """MB per case: the slope of a least-squares line through the resident memory after each case,
    past the first ``warm_up`` cases (they load models and warm caches). A flat batch gives ~0."""
    tail = resident_after_case[warm_up:]
    if len(tail) < 3:
        return float("nan")
    steps = range(len(tail))
    mean_x, mean_y = sum(steps) / len(tail), sum(tail) / len(tail)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(steps, tail)) / sum((x - mean_x) ** 2 for x in steps)


def run_measured(command: list[str], **run_options) -> tuple[subprocess.CompletedProcess, float]:
    """``subprocess.run(command, **run_options)`` through the launcher: (the completed process, the
    command's peak resident memory in MB)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "peak.json"
        completed = subprocess.run([sys.executable, "-m", __name__, str(report), "--", *command], **run_options)
        peak_mb = json.loads(report.read_text(encoding="utf-8"))["peak_rss_mb"] if report.exists() else float("nan")
    return completed, peak_mb


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    import resource  # Unix only: the benchmarks that measure run there

    code = subprocess.call(argv[2:])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(argv[0]).write_text(json.dumps({"exit_code": code, "peak_rss_mb": round(peak_mb, 1)}), encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
