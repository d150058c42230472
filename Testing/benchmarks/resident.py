"""Resident memory of this process, for the benchmarks (they run as scripts: this folder is on sys.path)."""

from __future__ import annotations

from pathlib import Path


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
