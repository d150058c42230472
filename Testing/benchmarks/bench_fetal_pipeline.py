"""Speed and memory of the fetal head pipeline, printed as JSON.

1. End to end per still, as ``orthoai fetal`` runs it in one process: read the PNG, segment,
   fit, measure, classify, Grad-CAM, encode and write the mask and heatmap PNGs and the JSON.
   HC18 validation stills (800×540) when ``../shared/data/hc18`` is there, else generated stills.
2. Memory per case over a batch (``run_batch`` with ``FetalJob``, in this process): resident
   memory after every case and the slope through cases 3..N (a flat batch grows ~0 MB/case).

    .venv/bin/python Testing/benchmarks/bench_fetal_pipeline.py [STILLS]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from OrthoAILib.runtime.memory import growth_per_case, resident_mb

STILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
HC18 = Path(__file__).resolve().parents[3] / "shared" / "data" / "hc18"


def stills(folder: Path) -> tuple[list[Path], str]:
    from PIL import Image as PILImage

    folder.mkdir()
    if HC18.is_dir():
        names = sorted(p.name for p in (HC18 / "images").glob("*_HC.png") if int(p.name[:3]) % 5 == 0)[:STILLS]
        for name in names:
            (folder / name).write_bytes((HC18 / "images" / name).read_bytes())
        return sorted(folder.iterdir()), "HC18 validation stills (800x540)"
    from OrthoAILib.phantoms.fetal_us import make_fetal_still

    for index in range(STILLS):
        pixels, _, _ = make_fetal_still(index)
        PILImage.fromarray(pixels).save(folder / f"still{index:03d}.png")
    return sorted(folder.iterdir()), "generated stills"


def speed(paths: list[Path], out: Path) -> dict:
    from OrthoAILib.apps.fetal import FetalJob
    from OrthoAILib.apps.jobs import CaseInput

    job = FetalJob(pixel_size_mm=0.15)
    began = time.perf_counter()
    job.prepare()
    load = time.perf_counter() - began
    seconds, statuses = [], {}
    out.mkdir()
    for index, path in enumerate(paths):
        began = time.perf_counter()
        outcome = job.process(CaseInput(f"case{index}", (str(path),), path.name), out)
        seconds.append(time.perf_counter() - began)
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    import torch

    return {"stills": len(paths), "statuses": statuses, "model_load_seconds": round(load, 3),
            "end_to_end_seconds_median": round(statistics.median(seconds[1:]), 4),
            "end_to_end_seconds_p95": round(float(np.percentile(seconds[1:], 95)), 4),
            "end_to_end_seconds_max": round(max(seconds[1:]), 4), "torch_threads": torch.get_num_threads()}


def memory(folder: Path, out: Path) -> dict:
    from OrthoAILib.apps.batch import run_batch
    from OrthoAILib.apps.fetal import FetalJob

    samples = []
    summary = run_batch(FetalJob(pixel_size_mm=0.15), folder, out,
                        log=lambda line: samples.append(resident_mb()) if line.startswith("[") else None)
    slope = growth_per_case(samples)
    return {"cases": len(samples), "failed": summary.failed, "rss_mb_first_last": [round(samples[0], 1), round(samples[-1], 1)],
            "growth_mb_per_case": round(slope, 3)}


def main() -> dict:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        paths, source = stills(folder / "stills")
        result = {"benchmark": "fetal_pipeline", "input": source, "speed": speed(paths, folder / "speed"),
                  "batch_memory": memory(folder / "stills", folder / "batch")}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
