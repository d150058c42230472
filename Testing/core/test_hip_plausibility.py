"""Refusal and plausibility of hip results: named warnings on hand-built points, and the
pipeline's answer on films that are not post-THA AP pelves."""

import numpy as np
import pytest

from OrthoAILib.pipelines.hip.measures import compute_hip_measures
from OrthoAILib.pipelines.hip.plausibility import (cup_diameter_warning, film_size_warning, region_warning,
                                                   side_warnings, tilt_warnings)

from ..conftest import hand_computed_landmarks

NORMAL = np.array([0.0, 0.0, 1.0])  # the hand-built points lie in the z = 0 plane, x across, y up
ACROSS = np.array([1.0, 0.0, 0.0])


def points_3d(points):
    return {name: np.array([p[0], p[1], 0.0]) for name, p in points.items()}


@pytest.fixture
def hand():
    points, _ = hand_computed_landmarks()
    return points_3d(points)


def names(warnings):
    return {w.split(":")[0] for w in warnings}


def test_a_plausible_case_has_no_warnings(hand):
    measures = compute_hip_measures(hand)
    assert side_warnings(hand, measures, normal=NORMAL, image_across=ACROSS, spacing_calibrated=True) == ()


def test_cup_diameter_outside_shells_on_the_market(hand):
    measures = compute_hip_measures(hand)  # 50 mm measured
    assert cup_diameter_warning(measures, spacing_calibrated=True) is None
    assert cup_diameter_warning(measures, spacing_calibrated=True, mm_per_unit=3.0).startswith("implausible_cup_diameter")
    assert cup_diameter_warning(measures, spacing_calibrated=True, mm_per_unit=0.5).startswith("implausible_cup_diameter")
    calibrated = compute_hip_measures(hand, cup_diameter_mm=52.0)
    assert cup_diameter_warning(calibrated, spacing_calibrated=True, mm_per_unit=3.0) is None  # scaled to the user's cup


def test_tilted_lines_and_points_outside_the_pelvis(hand):
    tilted = dict(hand, teardrop_left=hand["teardrop_right"] + [100.0 * np.cos(np.radians(30)), 100.0 * np.sin(np.radians(30)), 0])
    assert names(tilt_warnings(tilted, ACROSS)) == {"tilted_teardrop_line"}
    far = dict(hand, contralateral_center=hand["contralateral_center"] + [300.0, 0, 0])
    assert region_warning(far, NORMAL).startswith("points_outside_pelvis: contralateral_center")
    assert region_warning(hand, NORMAL) is None


def test_film_size_tells_of_a_wrong_spacing():
    assert film_size_warning((2000, 2400), (0.15, 0.15)) is None  # 360 mm wide
    assert "wide" in film_size_warning((2000, 2400), (1.4, 1.4))  # 3.4 m: a spacing off by ten
    assert film_size_warning((2000, 2400), (0.014, 0.014)).startswith("implausible_film_size")


def test_measures_name_their_own_warnings(hand):
    swapped = dict(hand, cup_lateral=hand["cup_medial"], cup_medial=hand["cup_lateral"])
    assert "swapped_cup_points" in names(compute_hip_measures(swapped).warnings)


@pytest.fixture(scope="module")
def pipeline():
    from OrthoAILib.apps.hip import shared_pipeline

    return shared_pipeline()


@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_films_that_are_no_pelvis_are_refused(pipeline, kind):
    from OrthoAILib.io.radiograph_policy import SpacingChoice, radiograph_image

    rng = np.random.default_rng(1)
    pixels = (np.full((2000, 2400), 2000.0) + rng.normal(0, 20, (2000, 2400)) if kind == "flat"
              else rng.random((2000, 2400)) * 4000)
    result = pipeline.run(radiograph_image(pixels, SpacingChoice((0.15, 0.15), "test", True), kind))
    assert result.status == "not_ap_pelvis" and result.sides == ()
    document = result.to_json()
    assert document["refused"][0]["status"] == "not_ap_pelvis" and "AP pelvis" in document["refused"][0]["message"]
    (row,) = result.csv_rows()
    assert row["status"] == "not_ap_pelvis" and row["warnings"] and not row.get("abduction_deg")


def test_a_post_tha_film_is_measured_with_consistency_figures(pipeline):
    from OrthoAILib.io.radiograph_policy import SpacingChoice, radiograph_image
    from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

    film = make_pelvis_radiograph(1_000_031, operated="left", spacing_mm=0.2)
    result = pipeline.run(radiograph_image(film.image, SpacingChoice((0.2, 0.2), "test", True), "film"))
    assert result.status == "ok" and [s.operated_side for s in result.sides] == ["left"]
    (side,) = result.sides
    assert set(side.consistency_mm) == set(side.points_ras) and max(side.consistency_mm.values()) < 10.0
    assert result.cup_scores[1] > result.cup_scores[0]
