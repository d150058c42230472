import json

import numpy as np
import pytest

from OrthoAILib.errors import InputError
from OrthoAILib.io.markups_json import read_markups_points, write_markups_points
from OrthoAILib.mrml.markups import (
    fiducials_from_points, line_between, load_markups, points_from_fiducials, roi_from_box, save_markups,
    unplaced_fiducials,
)

POINTS = {"cup_lateral": np.array([10.0, -20.0, 30.0]), "teardrop_left": np.array([-5.5, 4.25, 0.0])}


def test_fiducials_keep_labels_and_positions(scene):
    node = fiducials_from_points(POINTS, "landmarks", scene)
    read = points_from_fiducials(node)
    assert list(read) == list(POINTS)
    assert all(np.allclose(read[k], POINTS[k]) for k in POINTS)
    fiducials_from_points({"only": [1, 2, 3]}, "landmarks", scene, node=node)  # refill in place
    assert list(points_from_fiducials(node)) == ["only"]


def test_unplaced_points_are_not_reported_until_placed(scene):
    node = unplaced_fiducials(["a", "b"], "todo", scene)
    assert node.GetNumberOfControlPoints() == 2 and points_from_fiducials(node) == {}
    node.SetNthControlPointPositionWorld(1, 1.0, 2.0, 3.0)
    assert list(points_from_fiducials(node)) == ["b"]


def test_duplicate_labels_are_refused(scene):
    node = fiducials_from_points({"a": [0, 0, 0]}, "dups", scene)
    node.AddControlPoint(1.0, 1.0, 1.0, "a")
    with pytest.raises(InputError, match="label 'a' is used by more than one point"):
        points_from_fiducials(node)


def test_line_follows_its_ends(scene):
    line = line_between([0, 0, 0], [3, 4, 0], "diameter", scene)
    assert line.GetLineLengthWorld() == pytest.approx(5.0)
    line_between([0, 0, 0], [6, 8, 0], "diameter", scene, node=line)
    assert line.GetLineLengthWorld() == pytest.approx(10.0) and line.GetNumberOfControlPoints() == 2


def test_roi_box_contains_what_it_should(scene):
    roi = roi_from_box(center=(10, 20, 30), size=(4, 6, 8), name="box", scene=scene)
    assert roi.IsPointInROIWorld([11.9, 22.9, 33.9]) and not roi.IsPointInROIWorld([12.1, 20, 30])
    tilted = roi_from_box((0, 0, 0), (10, 2, 2), "tilted", scene,
                          axes=np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=float))
    assert tilted.IsPointInROIWorld([0, 4.5, 0]) and not tilted.IsPointInROIWorld([4.5, 0, 0])
    with pytest.raises(InputError, match="positive size"):
        roi_from_box((0, 0, 0), (0, 1, 1), "flat", scene)


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_slicer_writer_and_core_reader_agree(scene, tmp_path, system):
    node = fiducials_from_points(POINTS, "landmarks", scene)
    path = save_markups(node, tmp_path / "landmarks.mrk.json", coordinate_system=system)
    assert json.loads(path.read_text(encoding="utf-8"))["markups"][0]["coordinateSystem"] == system
    read = read_markups_points(path)
    assert all(np.allclose(read[k], POINTS[k]) for k in POINTS)


def test_core_writer_and_slicer_reader_agree(scene, tmp_path):
    path = write_markups_points(POINTS, tmp_path / "core.mrk.json", coordinate_system="LPS")
    node = load_markups(path)
    read = points_from_fiducials(node)
    assert all(np.allclose(read[k], POINTS[k]) for k in POINTS)
