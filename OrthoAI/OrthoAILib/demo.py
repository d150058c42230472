"""The demo: hip measures on a synthetic AP pelvis radiograph, end to end.

Writes to the output folder:

* ``hip_demo.mrb`` — a Slicer scene bundle: the radiograph (under a demo
  patient and study), the nine landmarks, the four lines and the measure
  table; it opens in Slicer on the image and the table;
* ``hip_demo.png`` — the slice view rendered off-screen by Slicer's view logic;
* ``hip_landmarks.mrk.json`` — the landmarks, in Slicer's markups format;
* ``hip_demo_report.json`` — the measures, flags, warnings and file list.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def run_hip_demo(out_dir: str | Path, seed: int = 0, calibrate: bool = True) -> dict:
    from .mrml.app import HeadlessSlicer
    from .mrml.hierarchy import create_patient_study, move_under, place_with_input
    from .mrml.hip_link import HipMeasurementLink
    from .mrml.markups import fiducials_from_points, save_markups
    from .mrml.render import render_slice_view
    from .mrml.scene_io import save_scene_bundle
    from .mrml.views import show_image_and_table
    from .mrml.volumes import volume_from_array
    from .phantoms.pelvis_xray import make_pelvis_radiograph

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    radiograph = make_pelvis_radiograph(seed, operated="right", spacing_mm=0.3)
    with HeadlessSlicer() as app:
        _, study = create_patient_study("OrthoAI demo patient", "Synthetic AP pelvis (after right THA)", app.scene)
        volume = volume_from_array(radiograph.image, radiograph.geometry, "AP pelvis (synthetic)", app.scene)
        display = volume.GetDisplayNode()
        display.AutoWindowLevelOff()
        display.SetWindowLevelMinMax(float(np.percentile(radiograph.image, 1)), float(np.percentile(radiograph.image, 99.5)))
        move_under(volume, study)

        landmarks = fiducials_from_points(radiograph.keypoints_ras, "Hip landmarks", app.scene)
        landmarks.GetDisplayNode().SetGlyphScale(2.0)
        landmarks.GetDisplayNode().SetTextScale(2.5)
        link = HipMeasurementLink(landmarks, volume_node=volume, scene=app.scene,
                                  cup_diameter_mm=radiograph.cup_diameter_mm if calibrate else None)
        for node in [landmarks, link.table_node, *link.line_nodes.values()]:
            place_with_input(node, volume)
        show_image_and_table(volume, link.table_node, app.scene)

        files = {
            "scene": save_scene_bundle(out_dir / "hip_demo.mrb", app.scene),
            "picture": render_slice_view(app, volume, out_dir / "hip_demo.png"),
            "landmarks": save_markups(landmarks, out_dir / "hip_landmarks.mrk.json"),
        }
        measures = link.measures
        report = {
            "measures": measures.to_json_dict(),
            "warnings": list(measures.warnings),
            "cup_diameter_measured_mm": round(measures.cup_diameter_measured_mm, 3),
            "cup_diameter_true_mm": round(radiograph.cup_diameter_mm, 3),
            "film_magnification": round(radiograph.magnification, 4),
            "landmarks_ras_mm": {name: [round(float(v), 3) for v in p] for name, p in radiograph.keypoints_ras.items()},
            "seed": seed,
            "seconds": round(time.perf_counter() - started, 3),
            "files": {key: str(path) for key, path in files.items()},
        }
        link.detach()
    report_path = out_dir / "hip_demo_report.json"
    report["files"]["report"] = str(report_path)
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
