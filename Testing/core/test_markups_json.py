import hashlib
import json

import numpy as np
import pytest

from OrthoAILib.errors import InputError
from OrthoAILib.io.markups_json import read_markups_points, write_markups_points


def _points():
    return {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([-4.5, 5.25, -6.0])}


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_round_trip_in_either_coordinate_system(tmp_path, system):
    path = write_markups_points(_points(), tmp_path / "p.mrk.json", coordinate_system=system)
    stored = json.loads(path.read_text(encoding="utf-8"))["markups"][0]
    assert stored["coordinateSystem"] == system
    if system == "LPS":  # RAS (1, 2, 3) is stored as LPS (-1, -2, 3)
        assert stored["controlPoints"][0]["position"] == [-1.0, -2.0, 3.0]
    read = read_markups_points(path)
    assert list(read) == ["a", "b"]
    for name, position in _points().items():
        assert np.allclose(read[name], position)


def _document(control_points, **markup):
    return {"markups": [dict({"type": "Fiducial", "coordinateSystem": "RAS", "controlPoints": control_points}, **markup)]}


def _write(tmp_path, document) -> str:
    path = tmp_path / "in.mrk.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_unplaced_points_are_left_out(tmp_path):
    path = _write(tmp_path, _document([
        {"label": "a", "position": [1, 2, 3], "positionStatus": "defined"},
        {"label": "b", "position": [0, 0, 0], "positionStatus": "undefined"},
        {"label": "c", "position": [0, 0, 0], "positionStatus": "preview"},
    ]))
    assert list(read_markups_points(path)) == ["a"]


def test_micrometre_units_become_millimetres(tmp_path):
    path = _write(tmp_path, _document([{"label": "a", "position": [1000, 2000, 3000]}], coordinateUnits="um"))
    assert np.allclose(read_markups_points(path)["a"], [1, 2, 3])


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ({"markups": []}, "no 'markups' list"),
    ({"something": 1}, "no 'markups' list"),
    (_document([{"label": "a", "position": [1, 2, 3]}, {"label": "a", "position": [4, 5, 6]}]), "'a' is used more than once"),
    (_document([{"label": "", "position": [1, 2, 3]}]), "has no label"),
    (_document([{"label": "a", "position": [1, 2]}]), "three numbers"),
    (_document([{"label": "a", "position": [1, "x", 3]}]), "not numeric"),
    (_document([{"label": "a", "position": [1, 2, 3]}], coordinateSystem="XYZ"), "coordinateSystem 'XYZ'"),
    (_document([{"label": "a", "position": [1, 2, 3]}], coordinateUnits="km"), "coordinateUnits 'km'"),
])
def test_bad_files_give_clear_errors_and_stay_unchanged(tmp_path, content, message):
    path = _write(tmp_path, content)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(InputError, match=message):
        read_markups_points(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="No such markups file"):
        read_markups_points(tmp_path / "absent.mrk.json")


def test_null_coordinate_reads_as_nan(tmp_path):
    path = _write(tmp_path, _document([{"label": "a", "position": [None, 2, 3]}]))
    assert np.isnan(read_markups_points(path)["a"][0])
