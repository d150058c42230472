"""Speed and memory of the model runtime on the shipped test model, printed as JSON.

Run: ``.venv/bin/python Testing/benchmarks/bench_model_runtime.py``
"""

from __future__ import annotations

import json
import resource
import statistics
import time


def main(runs: int = 5) -> dict:
    import numpy as np
    import torch

    from OrthoAILib.phantoms.bone_ct import make_bone_phantom
    from OrthoAILib.runtime.inference import sliding_window_predict
    from OrthoAILib.runtime.torchscript import load_model

    started = time.perf_counter()
    model = load_model("phantom-bone-seg-tiny", device=torch.device("cpu"), download=False)
    load_seconds = time.perf_counter() - started
    phantom = make_bone_phantom(4242, shape=(96, 128, 128))
    image = phantom.image_hu[np.newaxis].astype(np.float32)
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        sliding_window_predict(model.module, image, model.entry.input["patch_size"], overlap=0.25, sw_batch_size=4)
        timings.append(time.perf_counter() - began)
    result = {
        "benchmark": "model_runtime",
        "model": model.entry.id,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "volume_kji": list(phantom.image_hu.shape),
        "load_seconds": round(load_seconds, 3),
        "inference_seconds_median": round(statistics.median(timings), 3),
        "inference_seconds_min": round(min(timings), 3),
        "megavoxels_per_second": round(phantom.image_hu.size / statistics.median(timings) / 1e6, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
