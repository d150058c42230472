import math

import numpy as np
import pytest

from OrthoAILib.errors import InputError
from OrthoAILib.geometry import lps_to_ras
from OrthoAILib.pipelines.hip import LANDMARK_NAMES, MEASURE_SPECS, compute_hip_measures
from OrthoAILib.pipelines.hip.measures import MEASURE_KEYS, midline_segment

from ..conftest import embed_in_3d, random_rotation


def assert_measures(measures, expected, tolerance=1e-9):
    for key, value in expected.items():
        assert measures.value(key) == pytest.approx(value, abs=tolerance), key


def test_hand_computed_case(hand_case):
    points, expected = hand_case
    measures = compute_hip_measures(points)
    assert_measures(measures, expected)
    assert measures.calibrated is False and measures.length_scale == 1.0
    assert measures.cup_diameter_measured_mm == pytest.approx(50.0)
    assert measures.warnings == ()
    assert np.allclose(measures.cup_center, [-60.0, 15.0, 0.0])


@pytest.mark.parametrize("seed", range(6))
def test_independent_of_rotation_translation_and_plane(hand_case, seed):
    points, expected = hand_case
    rotation = random_rotation(seed)
    moved = embed_in_3d(points, rotation, offset=np.random.default_rng(seed).uniform(-300, 300, 3))
    assert_measures(compute_hip_measures(moved), expected, 1e-7)
    assert_measures(compute_hip_measures(moved, plane_normal=rotation[:, 2]), expected, 1e-7)


@pytest.mark.parametrize("flip_axis", [0, 1])
def test_independent_of_image_flips(hand_case, flip_axis):
    points, expected = hand_case
    mirrored = {name: p * np.where(np.arange(2) == flip_axis, -1.0, 1.0) for name, p in points.items()}
    assert_measures(compute_hip_measures(mirrored), expected)


def test_lps_and_ras_give_the_same_measures(hand_case):
    points, expected = hand_case
    ras = embed_in_3d(points, random_rotation(7), offset=(10, -20, 30))
    lps = {name: lps_to_ras(p) for name, p in ras.items()}  # the same points read as the other system
    assert_measures(compute_hip_measures(lps), expected, 1e-7)


def test_coverage_below_half_uses_rays_not_lines(hand_case):
    points, _ = hand_case
    centre = (points["cup_lateral"] + points["cup_medial"]) / 2
    lateral_angle = math.atan2(*(points["cup_lateral"] - centre)[::-1])
    uncovered = math.radians(120)  # more than 90 deg: the acute line angle would say 60
    contact = lateral_angle - uncovered
    points = dict(points, cup_bone_contact=centre + 25 * np.array([math.cos(contact), math.sin(contact)]))
    measures = compute_hip_measures(points)
    assert measures.coverage_pct == pytest.approx(60 / 180 * 100)
    assert measures.flags()["coverage_pct"] == "insufficient"


def test_calibration_scales_lengths_only(hand_case):
    points, expected = hand_case
    measures = compute_hip_measures(points, cup_diameter_mm=44.0)  # film shows 50 mm
    scale = 44.0 / 50.0
    assert measures.calibrated and measures.length_scale == pytest.approx(scale)
    assert measures.abduction_deg == pytest.approx(expected["abduction_deg"])
    assert measures.coverage_pct == pytest.approx(expected["coverage_pct"])
    assert measures.rc_vertical_offset_mm == pytest.approx(3.0 * scale)
    assert measures.rc_horizontal_offset_mm == pytest.approx(2.0 * scale)
    assert measures.to_json_dict()["calibrated"] is True


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_calibration_rejects_impossible_diameters(hand_case, bad):
    with pytest.raises(InputError, match="Cup diameter"):
        compute_hip_measures(hand_case[0], cup_diameter_mm=bad)


def test_offsets_follow_anatomy_and_flags(hand_case):
    points, _ = hand_case
    # cup centre 10 mm higher and 8 mm more lateral: too high, too lateral
    shifted = {k: (v + np.array([-8.0, 10.0]) if k.startswith("cup_") else v) for k, v in points.items()}
    measures = compute_hip_measures(shifted)
    assert measures.rc_vertical_offset_mm == pytest.approx(13.0)
    assert measures.rc_horizontal_offset_mm == pytest.approx(10.0)
    assert measures.flags() == {"abduction_deg": "normal", "coverage_pct": "normal",
                                "rc_vertical_offset_mm": "too_high", "rc_horizontal_offset_mm": "too_lateral"}
    lowered = {k: (v + np.array([12.0, -12.0]) if k.startswith("cup_") else v) for k, v in points.items()}
    flags = compute_hip_measures(lowered).flags()
    assert flags["rc_vertical_offset_mm"] == "too_low" and flags["rc_horizontal_offset_mm"] == "too_medial"


def test_flag_boundaries_count_as_normal():
    specs = {spec.key: spec for spec in MEASURE_SPECS}
    assert specs["abduction_deg"].flag(30.0) == "normal" and specs["abduction_deg"].flag(50.0) == "normal"
    assert specs["abduction_deg"].flag(29.99) == "too_low" and specs["abduction_deg"].flag(50.01) == "too_high"
    assert specs["coverage_pct"].flag(70.0) == "normal" and specs["coverage_pct"].flag(69.9) == "insufficient"
    assert specs["rc_vertical_offset_mm"].normal_range_text == "-6 to 6 mm"
    assert specs["coverage_pct"].normal_range_text == "above 70 %"


def test_json_has_exactly_the_measures_flags_and_calibration(hand_case):
    document = compute_hip_measures(hand_case[0]).to_json_dict()
    assert set(document) == set(MEASURE_KEYS) | {"flags", "calibrated"}
    assert set(document["flags"]) == set(MEASURE_KEYS)


def test_missing_landmarks_are_named(hand_case):
    points = dict(hand_case[0])
    del points["teardrop_left"], points["pubic_symphysis"]
    with pytest.raises(InputError) as error:
        compute_hip_measures(points)
    assert "teardrop_left, pubic_symphysis" in str(error.value)


def test_non_finite_position_is_named(hand_case):
    points = dict(hand_case[0], ischium_left=np.array([np.nan, 1.0]))
    with pytest.raises(InputError, match="ischium_left.*non-finite"):
        compute_hip_measures(points)


@pytest.mark.parametrize("first, second, message", [
    ("cup_lateral", "cup_medial", "cup_lateral and cup_medial coincide"),
    ("teardrop_right", "teardrop_left", "teardrop_right and teardrop_left coincide"),
    ("ischium_right", "ischium_left", "ischium_right and ischium_left coincide"),
])
def test_coincident_points_are_refused(hand_case, first, second, message):
    points = dict(hand_case[0])
    points[second] = points[first].copy()
    with pytest.raises(InputError, match=message):
        compute_hip_measures(points)


def test_bone_contact_on_cup_centre_is_refused(hand_case):
    points = dict(hand_case[0])
    points["cup_bone_contact"] = (points["cup_lateral"] + points["cup_medial"]) / 2
    with pytest.raises(InputError, match="cup_bone_contact and the cup centre coincide"):
        compute_hip_measures(points)


def test_ischia_on_teardrop_line_is_refused(hand_case):
    points = dict(hand_case[0], ischium_right=np.array([-45.0, 0.0]), ischium_left=np.array([45.0, 0.0]))
    with pytest.raises(InputError, match="ischia lie on the teardrop line"):
        compute_hip_measures(points)


def test_swapped_labels_give_warnings(hand_case):
    points = dict(hand_case[0])
    points["cup_lateral"], points["cup_medial"] = points["cup_medial"], points["cup_lateral"]
    points["contralateral_center"] = np.array([-58.0, 12.0])
    warnings = " ".join(compute_hip_measures(points).warnings)
    assert "same side of the midline" in warnings and "are the two swapped" in warnings


def test_points_off_a_common_plane_give_a_warning(hand_case):
    points = {name: np.array([p[0], p[1], 0.0]) for name, p in hand_case[0].items()}
    points["pubic_symphysis"][2] = 30.0
    assert any("common plane" in w for w in compute_hip_measures(points).warnings)


def test_every_landmark_has_a_role():
    assert len(LANDMARK_NAMES) == 9 and len(set(LANDMARK_NAMES)) == 9


def test_midline_is_perpendicular_to_teardrops_through_symphysis(hand_case):
    points = embed_in_3d(hand_case[0], random_rotation(3), offset=(5, 6, 7))
    start, end = midline_segment(points)
    direction = (end - start) / np.linalg.norm(end - start)
    teardrop = points["teardrop_left"] - points["teardrop_right"]
    assert abs(np.dot(direction, teardrop)) < 1e-9
    to_symphysis = points["pubic_symphysis"] - start
    assert np.linalg.norm(np.cross(direction, to_symphysis)) < 1e-9


def test_midline_needs_its_three_points(hand_case):
    with pytest.raises(InputError, match="pubic_symphysis"):
        midline_segment({k: v for k, v in hand_case[0].items() if k != "pubic_symphysis"})


def test_points_in_other_units_give_millimetres(hand_case):
    points, expected = hand_case
    shown_at_one_mm = {name: p / 0.2 for name, p in points.items()}  # a 0.2 mm film shown with 1 mm pixels
    measures = compute_hip_measures(shown_at_one_mm, mm_per_unit=0.2)
    assert_measures(measures, expected, 1e-9)
    assert measures.cup_diameter_measured_mm == pytest.approx(50.0)
    calibrated = compute_hip_measures(shown_at_one_mm, cup_diameter_mm=44.0, mm_per_unit=0.2)
    assert calibrated.rc_vertical_offset_mm == pytest.approx(3.0 * 44 / 50)
