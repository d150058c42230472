"""The demo end to end: the files it promises, and that they agree with each other."""

import json
import sys

import numpy as np
import pytest

from OrthoAILib.mrml.app import HeadlessSlicer
from OrthoAILib.mrml.markups import points_from_fiducials
from OrthoAILib.mrml.scene_io import load_scene_bundle
from OrthoAILib.mrml.tables import records_from_table

from .test_cli import orthoai


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = orthoai("demo", "--out", out, check=True)
    return out, json.loads(result.stdout)


def test_demo_writes_bundle_picture_landmarks_and_report(demo_out):
    out, printed = demo_out
    for name in ("hip_demo.mrb", "hip_demo.png", "hip_landmarks.mrk.json", "hip_demo_report.json"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "hip_demo_report.json").read_text())
    assert report["measures"] == printed["measures"]
    assert report["measures"]["calibrated"] is True
    assert report["cup_diameter_measured_mm"] == pytest.approx(report["cup_diameter_true_mm"] * report["film_magnification"], rel=1e-3)
    assert (out / "hip_demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_line_agrees_with_the_demo(demo_out):
    out, _ = demo_out
    report = json.loads((out / "hip_demo_report.json").read_text())
    measured = json.loads(orthoai("hip-measure", out / "hip_landmarks.mrk.json", "--json", "--cup-diameter",
                                  report["cup_diameter_true_mm"], check=True).stdout)
    for key in ("abduction_deg", "coverage_pct", "rc_vertical_offset_mm", "rc_horizontal_offset_mm"):
        assert measured[key] == pytest.approx(report["measures"][key], abs=2e-3), key


def test_bundle_opens_with_image_points_lines_and_table(demo_out, tmp_path, slicer_app):
    out, _ = demo_out
    report = json.loads((out / "hip_demo_report.json").read_text())
    with HeadlessSlicer(cache_dir=tmp_path / "reader") as reader:
        load_scene_bundle(out / "hip_demo.mrb", reader.scene)
        scene = reader.scene
        volume = scene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        assert volume is not None and volume.GetImageData().GetDimensions()[2] == 1
        landmarks = points_from_fiducials(scene.GetFirstNodeByName("Hip landmarks"))
        assert len(landmarks) == 9
        assert all(np.allclose(landmarks[k], v, atol=1e-3) for k, v in report["landmarks_ras_mm"].items())
        assert scene.GetNodesByClass("vtkMRMLMarkupsLineNode").GetNumberOfItems() == 4
        rows = {row["Key"]: row for row in records_from_table(scene.GetFirstNodeByName("Hip landmarks measures"))}
        assert rows["abduction_deg"]["Value"] == pytest.approx(round(report["measures"]["abduction_deg"], 2))
        layout = scene.GetSingletonNode("vtkMRMLLayoutNode", "vtkMRMLLayoutNode")
        assert layout.GetViewArrangement() == layout.SlicerLayoutFourUpTableView
        assert scene.GetSingletonNode("Red", "vtkMRMLSliceNode").GetOrientation() == "Coronal"
    slicer_app.install_globals()
