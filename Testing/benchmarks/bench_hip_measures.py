"""Speed of the hip measures, printed as JSON.

* ``core``: ``compute_hip_measures`` alone (target: well under 1 ms);
* ``live_drag``: one drag event end to end through the real markups observer:
  points read from the node, measures recomputed, four lines moved and the
  table refilled (target: under 1 ms for the recompute; the whole update is
  reported too).

Run: ``.venv/bin/python Testing/benchmarks/bench_hip_measures.py``
"""

from __future__ import annotations

import json
import platform
import statistics
import time

import numpy as np


def _summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "runs": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1e3, 4),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1e3, 4),
        "max_ms": round(ordered[-1] * 1e3, 4),
    }


def bench_core(points, runs: int = 3000) -> dict:
    from OrthoAILib.pipelines.hip import compute_hip_measures

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        compute_hip_measures(points, 52.0)
        timings.append(time.perf_counter() - started)
    return _summary(timings)


def bench_live_drag(radiograph, runs: int = 500) -> dict:
    from OrthoAILib.mrml.app import HeadlessSlicer
    from OrthoAILib.mrml.hip.link import HipMeasurementLink
    from OrthoAILib.mrml.markups import fiducials_from_points
    from OrthoAILib.mrml.volumes import volume_from_array

    with HeadlessSlicer() as app:
        volume = volume_from_array(radiograph.image, radiograph.geometry, "xray", app.scene)
        landmarks = fiducials_from_points(radiograph.keypoints_ras, "landmarks", app.scene)
        link = HipMeasurementLink(landmarks, volume_node=volume, cup_diameter_mm=radiograph.cup_diameter_mm, scene=app.scene)
        index = landmarks.GetControlPointIndexByLabel("cup_lateral")
        start = radiograph.keypoints_ras["cup_lateral"]
        event_times, update_times = [], []
        for step in range(runs):
            position = start + np.array([0.0, 0.0, 5.0 * np.sin(step / 20.0)])
            began = time.perf_counter()
            landmarks.SetNthControlPointPositionWorld(index, *position)
            event_times.append(time.perf_counter() - began)
            update_times.append(link.last_update_seconds)
        assert link.measures is not None
        link.detach()
    return {"drag_event_end_to_end": _summary(event_times), "link_update": _summary(update_times)}


def main() -> dict:
    from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

    radiograph = make_pelvis_radiograph(seed=0, operated="right", spacing_mm=0.5)
    core = bench_core(radiograph.keypoints_ras)
    live = bench_live_drag(radiograph)
    result = {
        "benchmark": "hip_measures",
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "core_recompute": core,
        **live,
        "target_ms": 1.0,
        "core_recompute_under_target": core["p95_ms"] < 1.0,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
