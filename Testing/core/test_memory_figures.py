"""The benchmarks' memory figures: a command's peak measured apart from a big parent; growth per case."""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pytest

from OrthoAILib.runtime.memory import growth_per_case, resident_mb, run_measured

ALLOCATE_300_MB = "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and Linux's ru_maxrss")
def test_a_commands_peak_is_its_own_not_its_big_parents():
    ballast = np.ones(900 * 2**20 // 8)  # this process holds 900 MB more than the command ever will
    ballast[::512] = 2.0  # touched: resident
    assert resident_mb() > 900
    plain = subprocess.run([sys.executable, "-c", ALLOCATE_300_MB], capture_output=True, text=True)
    inherited_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    completed, peak_mb = run_measured([sys.executable, "-c", ALLOCATE_300_MB], capture_output=True, text=True)
    assert plain.returncode == completed.returncode == 0 and completed.stdout.strip() == plain.stdout.strip()
    assert inherited_mb > 900  # the pitfall: a plain child reports its parent's high-water mark
    assert 300 <= peak_mb < 600, peak_mb  # the command's 300 MB and an interpreter, nothing of the parent
    del ballast


def test_the_launcher_passes_the_exit_code_through():
    completed, peak_mb = run_measured([sys.executable, "-c", "raise SystemExit(3)"])
    assert completed.returncode == 3 and peak_mb > 0


def test_growth_per_case_is_the_slope_past_the_warm_up():
    assert growth_per_case([100, 400, 500, 500, 500, 500]) == pytest.approx(0.0)
    assert growth_per_case([100, 400, 500, 502, 504, 506]) == pytest.approx(2.0)
    assert np.isnan(growth_per_case([100, 400, 500]))
