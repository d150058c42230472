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


@pytest.mark.parametrize("position", [[None, 2, 3], [float("nan"), 2, 3], [1e999, 2, 3], [1e308, -1e308, 0],
                                      [0, 0, 100_001]])
def test_non_finite_or_absurd_positions_are_refused(tmp_path, position):
    path = _write(tmp_path, _document([{"label": "a", "position": position}]))
    with pytest.raises(InputError, match="control point 'a' (has a non-finite position|is at .* beyond any image)"):
        read_markups_points(path)


def test_positions_up_to_the_limit_are_read(tmp_path):
    path = _write(tmp_path, _document([{"label": "a", "position": [99_999.0, -5e4, 0]}]))
    assert np.allclose(read_markups_points(path)["a"], [99_999.0, -5e4, 0])


@pytest.mark.parametrize("markup, message", [
    ({"controlPoints": {"label": "a", "position": [1, 2, 3]}}, "'controlPoints' is an object; it must be a list of point objects"),
    ({"controlPoints": "a"}, "'controlPoints' is a string; it must be a list"),
    ({"controlPoints": ["a", "b"]}, "control point #1 is a string, not an object with a label and a position"),
    ({"controlPoints": [[1, 2, 3]]}, "control point #1 is a list, not an object"),
    ({"controlPoints": [{"label": ["a"], "position": [1, 2, 3]}]}, "control point #1 has a label that is a list"),
    ({"controlPoints": [{"label": "a", "position": [1, 2, 3], "positionStatus": ["defined"]}]},
     "control point 'a' has a positionStatus that is a list"),
    ({"controlPoints": [{"label": "a", "position": [True, 2, 3]}]}, "not numeric"),
    ({"controlPoints": [{"label": "a", "position": {"x": 1}}]}, "needs a position of three numbers"),
])
def test_malformed_structures_name_what_is_wrong(tmp_path, markup, message):
    path = _write(tmp_path, {"markups": [dict({"type": "Fiducial", "coordinateSystem": "RAS"}, **markup)]})
    with pytest.raises(InputError, match=message):
        read_markups_points(path)


def test_a_markup_that_is_not_an_object(tmp_path):
    with pytest.raises(InputError, match="markup #1 is a list, not an object"):
        read_markups_points(_write(tmp_path, {"markups": [[1, 2]]}))
