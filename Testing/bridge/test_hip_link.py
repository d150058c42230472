"""Live recomputation through the real markups observer."""

import numpy as np
import pytest

from OrthoAILib.pipelines.hip import compute_hip_measures
from OrthoAILib.pipelines.hip.landmarks import HIP_LINES, MIDLINE_NAME
from OrthoAILib.mrml.hip.link import HipMeasurementLink
from OrthoAILib.mrml.markups import fiducials_from_points, points_from_fiducials
from OrthoAILib.mrml.tables import records_from_table
from OrthoAILib.mrml.volumes import volume_from_array
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph


@pytest.fixture
def linked(scene):
    radiograph = make_pelvis_radiograph(seed=1, operated="right", spacing_mm=0.5)
    volume = volume_from_array(radiograph.image, radiograph.geometry, "xray", scene)
    landmarks = fiducials_from_points(radiograph.keypoints_ras, "Hip landmarks", scene)
    updates = []
    link = HipMeasurementLink(landmarks, volume_node=volume, scene=scene, on_update=updates.append)
    yield link, landmarks, radiograph, updates
    link.detach()


def _table_values(link) -> dict:
    return {row["Key"]: row["Value"] for row in records_from_table(link.table_node)}


def test_initial_measures_match_the_core(linked):
    link, _, radiograph, _ = linked
    expected = compute_hip_measures(radiograph.keypoints_ras)
    assert link.measures.abduction_deg == pytest.approx(expected.abduction_deg)
    assert _table_values(link)["rc_vertical_offset_mm"] == pytest.approx(round(expected.rc_vertical_offset_mm, 2))
    assert set(link.line_nodes) == set(HIP_LINES) | {MIDLINE_NAME}


def test_dragging_a_point_updates_measures_table_and_lines(linked):
    link, landmarks, radiograph, updates = linked
    count = len(updates)
    index = landmarks.GetControlPointIndexByLabel("cup_lateral")
    moved = radiograph.keypoints_ras["cup_lateral"] + np.array([0.0, 0.0, 6.0])
    landmarks.SetNthControlPointPositionWorld(index, *moved)
    assert len(updates) == count + 1  # one recompute per drag event
    expected = compute_hip_measures(dict(radiograph.keypoints_ras, cup_lateral=moved))
    assert link.measures.abduction_deg == pytest.approx(expected.abduction_deg)
    assert _table_values(link)["abduction_deg"] == pytest.approx(round(expected.abduction_deg, 2))
    diameter = link.line_nodes["Cup diameter"]
    start = diameter.GetNthControlPointPositionWorld(0)
    assert np.allclose(start, moved)


def test_removing_a_point_names_it_and_restoring_recovers(linked):
    link, landmarks, radiograph, _ = linked
    index = landmarks.GetControlPointIndexByLabel("teardrop_left")
    landmarks.UnsetNthControlPointPosition(index)
    assert link.measures is None and "teardrop_left" in link.status
    rows = records_from_table(link.table_node)
    assert {row["Flag"] for row in rows[:4]} == {"incomplete"} and "teardrop_left" in rows[-1]["Flag"]
    assert not link.line_nodes["Teardrop line"].GetDisplayVisibility()
    landmarks.SetNthControlPointPositionWorld(index, *radiograph.keypoints_ras["teardrop_left"])
    assert link.measures is not None and link.line_nodes["Teardrop line"].GetDisplayVisibility()


def test_cup_diameter_calibrates_lengths(linked):
    link, _, radiograph, _ = linked
    raw = link.measures.rc_horizontal_offset_mm
    link.set_cup_diameter(radiograph.cup_diameter_mm)
    assert link.measures.calibrated
    assert link.measures.rc_horizontal_offset_mm == pytest.approx(raw / radiograph.magnification, rel=1e-6)
    assert "calibrated" in link.status.lower()


def test_the_landmarks_node_is_never_modified(linked):
    link, landmarks, radiograph, _ = linked
    before = landmarks.GetMTime()
    link.set_cup_diameter(50.0)
    link.update()
    assert landmarks.GetMTime() == before
    assert all(np.allclose(points_from_fiducials(landmarks)[k], v) for k, v in radiograph.keypoints_ras.items())


def test_detached_link_stops_following(linked):
    link, landmarks, radiograph, updates = linked
    link.detach()
    count = len(updates)
    landmarks.SetNthControlPointPositionWorld(0, 1.0, 2.0, 3.0)
    assert len(updates) == count
