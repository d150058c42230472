"""The ``orthoai`` command as users run it: a real process, real files."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from OrthoAILib.pipelines.hip.measures import MEASURE_KEYS
from OrthoAILib.io.markups_json import write_markups_points

from ..conftest import embed_in_3d, hand_computed_landmarks, random_rotation


def orthoai_command(*args) -> list[str]:
    executable = shutil.which("orthoai", path=str(Path(sys.executable).parent))
    return [*([executable] if executable else [sys.executable, "-m", "OrthoAILib.apps"]), *map(str, args)]


# the command writes UTF-8; decode it so even when a library loaded here has set the C locale
RUN_OPTIONS = {"capture_output": True, "text": True, "encoding": "utf-8", "timeout": 300}


def orthoai(*args, check=False):
    result = subprocess.run(orthoai_command(*args), **RUN_OPTIONS)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def hand_file(tmp_path):
    points, expected = hand_computed_landmarks()
    ras = embed_in_3d(points, random_rotation(11), offset=(20, -40, 60))
    return write_markups_points(ras, tmp_path / "hand.mrk.json", coordinate_system="LPS"), ras, expected


def test_json_output_agrees_with_hand_computation(hand_file):
    path, _, expected = hand_file
    document = json.loads(orthoai("hip-measure", path, "--json", check=True).stdout)
    assert set(document) == set(MEASURE_KEYS) | {"flags", "calibrated"}
    for key, value in expected.items():
        assert document[key] == pytest.approx(value, abs=1e-3), key
    assert document["calibrated"] is False
    assert set(document["flags"].values()) == {"normal"}


def test_ras_file_gives_the_same_numbers(hand_file, tmp_path):
    path, ras, _ = hand_file
    ras_path = write_markups_points(ras, tmp_path / "ras.mrk.json", coordinate_system="RAS")
    lps = json.loads(orthoai("hip-measure", path, "--json", check=True).stdout)
    assert json.loads(orthoai("hip-measure", ras_path, "--json", check=True).stdout) == lps


def test_cup_diameter_calibrates(hand_file):
    path, _, expected = hand_file
    document = json.loads(orthoai("hip-measure", path, "--json", "--cup-diameter", 45, check=True).stdout)
    assert document["calibrated"] is True
    assert document["rc_vertical_offset_mm"] == pytest.approx(expected["rc_vertical_offset_mm"] * 45 / 50, abs=1e-3)
    assert document["abduction_deg"] == pytest.approx(expected["abduction_deg"], abs=1e-3)


def test_text_output_names_measures_ranges_and_calibration(hand_file):
    out = orthoai("hip-measure", hand_file[0], check=True).stdout
    assert "Cup abduction angle" in out and "40.00" in out and "normal: 30 to 50 deg" in out
    assert "uncalibrated" in out


def _variant(tmp_path, name, transform):
    points, _ = hand_computed_landmarks()
    points = {k: np.array([v[0], v[1], 0.0]) for k, v in points.items()}
    document = json.loads(write_markups_points(points, tmp_path / "base.mrk.json").read_text(encoding="utf-8"))
    transform(document["markups"][0]["controlPoints"])
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def _set(label, position):
    def apply(control_points):
        for point in control_points:
            if point["label"] == label:
                point["position"] = position
    return apply


def _copy(source, target):
    def apply(control_points):
        positions = {point["label"]: point["position"] for point in control_points}
        _set(target, list(positions[source]))(control_points)
    return apply


@pytest.mark.parametrize("name, transform, message", [
    ("missing.mrk.json", lambda cps: cps.pop(2), "Missing landmark(s): cup_bone_contact"),
    ("duplicate.mrk.json", lambda cps: cps.append(dict(cps[0])), "'cup_lateral' is used more than once"),
    ("coincident.mrk.json", _copy("cup_lateral", "cup_medial"), "cup_lateral and cup_medial coincide"),
    ("nan.mrk.json", _set("teardrop_left", [None, 0, 0]), "'teardrop_left' has a non-finite position"),
])
def test_bad_landmarks_exit_non_zero_and_leave_the_file_alone(tmp_path, name, transform, message):
    path = _variant(tmp_path, name, transform)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = orthoai("hip-measure", path, "--json")
    assert result.returncode == 1 and result.stdout == ""
    assert message in result.stderr and result.stderr.startswith("orthoai: error:")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_unreadable_inputs(tmp_path):
    missing = orthoai("hip-measure", tmp_path / "absent.mrk.json")
    assert missing.returncode == 1 and "No such markups file" in missing.stderr
    garbage = tmp_path / "garbage.mrk.json"
    garbage.write_bytes(b"\x00\xff not json")
    result = orthoai("hip-measure", garbage)
    assert result.returncode == 1 and "markups" in result.stderr
    if os.geteuid() != 0:  # root reads anything
        locked = _variant(tmp_path, "locked.mrk.json", lambda cps: None)
        locked.chmod(0)
        assert orthoai("hip-measure", locked).returncode == 1


def test_bad_cup_diameter_and_usage_errors(hand_file):
    result = orthoai("hip-measure", hand_file[0], "--cup-diameter", "-3")
    assert result.returncode == 1 and "Cup diameter must be a positive number" in result.stderr
    assert orthoai("hip-measure").returncode == 2
    assert orthoai("no-such-command").returncode == 2


def test_models_list_and_verify():
    listing = orthoai("models", "list", check=True).stdout
    assert "phantom-bone-seg-tiny" in listing and "ready" in listing
    assert "verified" in orthoai("models", "verify", "phantom-bone-seg-tiny", check=True).stdout
    assert orthoai("models", "verify", "no-such-model").returncode == 1


def _replace_control_points(value):
    def apply(control_points):
        control_points[:] = value
    return apply


@pytest.mark.parametrize("name, transform, message", [
    ("points-object.mrk.json", None, "'controlPoints' is an object; it must be a list of point objects"),
    ("points-strings.mrk.json", _replace_control_points(["cup_lateral", "cup_medial"]),
     "control point #1 is a string, not an object"),
    ("huge.mrk.json", _set("cup_lateral", [1e308, -1e308, 0]), "'cup_lateral' is at [1e+308, -1e+308, 0], more than"),
    ("infinite.mrk.json", _set("cup_medial", [1e999, 0, 0]), "'cup_medial' has a non-finite position"),
])
def test_malformed_or_absurd_markups_are_one_line_and_exit_1(tmp_path, name, transform, message):
    """Found by a new user: these gave a traceback, or 0.0 measures with exit 0."""
    if transform is None:  # controlPoints an object instead of a list
        path = _variant(tmp_path, name, lambda cps: None)
        document = json.loads(path.read_text(encoding="utf-8"))
        document["markups"][0]["controlPoints"] = document["markups"][0]["controlPoints"][0]
        path.write_text(json.dumps(document))
    else:
        path = _variant(tmp_path, name, transform)
    result = orthoai("hip-measure", path, "--json")
    assert result.returncode == 1 and result.stdout == "", result.stdout
    assert result.stderr.startswith("orthoai: error:") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
