"""Memory per case over a batch (``orthoai hip`` through the batch runner, in one process), as JSON.

Resident memory is read after every case; the growth per case is the slope of a least-squares line
through cases 3..N (the first cases load models and warm caches). A flat batch grows by ~0 MB/case.

    .venv/bin/python Testing/benchmarks/bench_batch_memory.py [FILMS]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from OrthoAILib.runtime.memory import growth_per_case, resident_mb

FILMS = int(sys.argv[1]) if len(sys.argv) > 1 else 16


def run(write_scene: bool, folder: Path) -> dict:
    from OrthoAILib.apps.batch import run_batch
    from OrthoAILib.apps.hip import HipJob

    samples = []
    started = time.perf_counter()
    summary = run_batch(HipJob(write_scene=write_scene), folder / "films", folder / f"out-{write_scene}",
                        log=lambda line: samples.append(resident_mb()) if line.startswith("[") else None)
    seconds = time.perf_counter() - started
    slope = growth_per_case(samples)
    return {"scene_bundles_and_pictures": write_scene, "cases": len(samples), "failed": summary.failed,
            "rss_mb_after_case": [round(v, 1) for v in samples], "growth_mb_per_case": round(slope, 2),
            "seconds_per_case": round(seconds / max(1, len(samples)), 3)}


def main() -> dict:
    from OrthoAILib.io.radiograph import write_radiograph_dicom
    from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "films").mkdir()
        for index in range(FILMS):
            film = make_pelvis_radiograph(1_000_600 + index, spacing_mm=0.15)
            write_radiograph_dicom(folder / "films" / f"film{index:03d}.dcm", film.image, film.spacing_mm,
                                   bits_stored=film.bit_depth)
        result = {"benchmark": "batch_memory_per_case", "films": FILMS, "film_spacing_mm": 0.15,
                  "runs": [run(False, folder), run(True, folder)]}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
