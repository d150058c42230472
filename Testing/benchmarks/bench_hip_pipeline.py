"""Speed and memory of the hip pipeline on one large film, printed as JSON.

A generated AP pelvis film at 0.1 mm pixels (the largest the method expects,
about 13 megapixels, 16-bit) is written as DICOM; a fresh process then reads
it and runs preprocess, detect, refine and measure several times, reporting
each stage's time and the process's peak memory.

Run: ``.venv/bin/python Testing/benchmarks/bench_hip_pipeline.py``
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = 5

MEASURE = r"""
import json, resource, statistics, sys, time
started = time.perf_counter()
from OrthoAILib.pipelines.hip.pipeline import HipPipeline
from OrthoAILib.io.radiograph import read_radiograph
import torch
pipeline = HipPipeline()
setup = time.perf_counter() - started
baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
stages = {}
for _ in range(int(sys.argv[2])):
    began = time.perf_counter()
    radiograph = read_radiograph(sys.argv[1])
    read = time.perf_counter() - began
    case = pipeline.run(radiograph)
    total = time.perf_counter() - began
    for name, seconds in {"read": read, **case.timings_s, "end_to_end": total}.items():
        stages.setdefault(name, []).append(seconds)
print(json.dumps({
    "stages_seconds_median": {k: round(statistics.median(v), 4) for k, v in stages.items()},
    "end_to_end_seconds_max": round(max(stages["end_to_end"]), 4),
    "setup_seconds_imports_and_model_load": round(setup, 3),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "peak_rss_mb_after_model_load": round(baseline_mb, 1),
    "torch_threads": torch.get_num_threads(),
    "operated_sides": [s.operated_side for s in case.sides],
}))
"""


def main() -> dict:
    from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph
    from OrthoAILib.io.radiograph import write_radiograph_dicom

    film = make_pelvis_radiograph(1_000_500, operated="right", spacing_mm=0.1)
    with tempfile.TemporaryDirectory() as folder:
        path = write_radiograph_dicom(Path(folder) / "film.dcm", film.image, 0.1, bits_stored=16)
        output = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(RUNS)], capture_output=True, text=True,
                                check=True).stdout
    result = {"benchmark": "hip_pipeline_speed", "film_pixels": list(film.image.shape), "pixel_spacing_mm": 0.1,
              "runs": RUNS, **json.loads(output.strip().splitlines()[-1])}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
