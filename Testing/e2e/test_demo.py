"""The demo end to end: the files it promises, and that they agree with each other and with the truth."""

import json
from pathlib import Path

import numpy as np
import pytest

from OrthoAILib.mrml.app import HeadlessSlicer
from OrthoAILib.mrml.hip.scene import MODEL_POINTS_ATTRIBUTE
from OrthoAILib.mrml.markups import points_from_fiducials
from OrthoAILib.mrml.scene_io import load_scene_bundle
from OrthoAILib.mrml.tables import records_from_table

from .test_cli import orthoai


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = orthoai("demo", "--out", out, check=True)
    return out, json.loads(result.stdout)


def test_demo_detects_the_right_side_accurately(demo_out):
    out, printed = demo_out
    report = json.loads((out / "hip_demo_report.json").read_text(encoding="utf-8"))
    assert report["measures"] == printed["measures"]
    assert report["operated_side"] == "right" == report["true_operated_sides"][0]
    assert report["keypoint_error_mm_mean"] < 2.0
    assert abs(report["measures"]["abduction_deg"] - report["true_measures"]["abduction_deg"]) < 3.0
    for name in ("input", "scene", "picture", "landmarks", "measures", "table", "report"):
        assert Path(report["files"][name]).stat().st_size > 0, name
    assert (out / "ap_pelvis.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_line_agrees_with_the_demo(demo_out):
    out, _ = demo_out
    report = json.loads((out / "hip_demo_report.json").read_text(encoding="utf-8"))
    measured = json.loads(orthoai("hip-measure", out / "ap_pelvis.mrk.json", "--json", "--cup-diameter",
                                  report["cup_diameter_mm"], check=True).stdout)
    for key in ("abduction_deg", "coverage_pct", "rc_vertical_offset_mm", "rc_horizontal_offset_mm"):
        assert measured[key] == pytest.approx(report["measures"][key], abs=2e-3), key


def test_bundle_opens_with_image_points_lines_and_table(demo_out, tmp_path, slicer_app):
    out, _ = demo_out
    case = json.loads((out / "ap_pelvis.measures.json").read_text(encoding="utf-8"))
    with HeadlessSlicer(cache_dir=tmp_path / "reader") as reader:
        load_scene_bundle(out / "ap_pelvis.mrb", reader.scene)
        scene = reader.scene
        volume = scene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        assert volume is not None and volume.GetImageData().GetDimensions()[2] == 1
        node = scene.GetFirstNodeByName("Hip landmarks")
        landmarks = points_from_fiducials(node)
        assert len(landmarks) == 9 and node.GetAttribute(MODEL_POINTS_ATTRIBUTE)
        expected = case["sides"][0]["landmarks_ras_mm"]
        assert all(np.allclose(landmarks[k], v, atol=1e-3) for k, v in expected.items())
        assert scene.GetNodesByClass("vtkMRMLMarkupsLineNode").GetNumberOfItems() == 4
        rows = {row["Key"]: row for row in records_from_table(scene.GetFirstNodeByName("Hip landmarks measures"))}
        assert rows["abduction_deg"]["Value"] == pytest.approx(round(case["sides"][0]["abduction_deg"], 2))
        layout = scene.GetSingletonNode("vtkMRMLLayoutNode", "vtkMRMLLayoutNode")
        assert layout.GetViewArrangement() == layout.SlicerLayoutFourUpTableView
        assert scene.GetSingletonNode("Red", "vtkMRMLSliceNode").GetOrientation() == "Coronal"
    slicer_app.install_globals()
