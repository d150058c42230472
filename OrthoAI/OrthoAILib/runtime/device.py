"""Compute device: CUDA when present, else CPU; the user can force CPU.

``force_cpu`` wins; otherwise ``ORTHOAI_FORCE_CPU=1`` forces CPU (useful on a
shared GPU, or to compare results).
"""

from __future__ import annotations

import os

FORCE_CPU_ENV = "ORTHOAI_FORCE_CPU"


def cpu_forced_by_environment() -> bool:
    return os.environ.get(FORCE_CPU_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def select_device(force_cpu: bool | None = None):
    """A ``torch.device``: ``cuda`` if available and not forced off, else ``cpu``."""
    import torch

    if force_cpu is None:
        force_cpu = cpu_forced_by_environment()
    if not force_cpu and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
