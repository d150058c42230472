"""Negatives for the "prosthesis present" decision: films that are no adult AP pelvis after arthroplasty."""

import numpy as np
import pytest

from OrthoAILib.phantoms.negatives import draw_negative_case
from OrthoAILib.phantoms.pelvis_xray import NEGATIVE_KINDS, make_negative_radiograph

CHILD_POINTS = {"teardrop_right", "teardrop_left", "ischium_right", "ischium_left", "pubic_symphysis",
                "femoral_head_right", "femoral_head_left"}


@pytest.fixture(scope="module")
def coarse_negatives():
    return {kind: [make_negative_radiograph(seed, kind, spacing_mm=2.0) for seed in range(40)] for kind in NEGATIVE_KINDS}


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_negative_is_deterministic_and_a_plausible_film(kind):
    film, again, other = (make_negative_radiograph(seed, kind, spacing_mm=0.5) for seed in (3, 3, 4))
    assert np.array_equal(film.image, again.image) and not np.array_equal(film.image, other.image)
    assert film.image.dtype == np.uint16 and film.bit_depth in (12, 14, 16)
    assert film.image.max() <= 2 ** film.bit_depth - 1 and film.image.std() > 0
    assert film.operated_sides == () and film.implants == {} and film.details["kind"] == kind
    assert film.spacing_mm == 0.5 and 0.1 <= film.native_spacing_mm <= 0.2
    assert all(150 <= n * film.spacing_mm <= 500 for n in film.image.shape)  # a real detector's field
    with pytest.raises(ValueError, match="no operated side"):
        film.primary_side
    if kind == "child_pelvis":
        assert set(film.keypoints_rc) == {"none"} and set(film.keypoints_rc["none"]) == CHILD_POINTS
        for row, column in film.keypoints_rc["none"].values():
            assert 0 <= row < film.image.shape[0] and 0 <= column < film.image.shape[1]
    else:
        assert film.keypoints_rc == {}


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_negative_is_drawn_at_its_own_spacing_by_default(kind):
    assert 0.1 <= draw_negative_case(11, kind).setup.spacing <= 0.2


def test_hard_negatives_and_growth_variants_occur(coarse_negatives):
    details = {kind: [film.details for film in films] for kind, films in coarse_negatives.items()}
    assert any(d["knee_prosthesis"] != "none" for d in details["knee_ap"])
    assert any(d["knee_prosthesis"] == "none" for d in details["knee_ap"])
    assert any(d["hip_prosthesis"] for d in details["lateral_hip"]) and not all(d["hip_prosthesis"] for d in details["lateral_hip"])
    assert any(d["devices"] for d in details["chest"])
    assert any(d["gonad_shield"] for d in details["child_pelvis"]) and any(d["dysplastic"] for d in details["child_pelvis"])
    ages = [d["age_years"] for d in details["child_pelvis"]]
    assert 2 <= min(ages) < 4 and 10 < max(ages) <= 12
    looks = {d["vendor_look"] for films in details.values() for d in films}
    assert len(looks) >= 4 and {d["exposure"] for films in details.values() for d in films} == {"normal", "under", "over"}


def test_child_pelvis_points_are_in_place_and_the_child_is_small(coarse_negatives):
    for film in coarse_negatives["child_pelvis"]:
        p = film.keypoints_rc["none"]
        # radiological orientation: the patient's right on the image's left; ischia below the teardrops
        assert p["femoral_head_right"][1] < p["teardrop_right"][1] < p["teardrop_left"][1] < p["femoral_head_left"][1]
        assert p["ischium_right"][0] > p["teardrop_right"][0] and p["ischium_left"][0] > p["teardrop_left"][0]
        between_heads = np.linalg.norm(p["femoral_head_left"] - p["femoral_head_right"]) * film.spacing_mm / film.magnification
        assert between_heads < 185  # an adult's are about 170–200 mm apart


def test_a_knee_prosthesis_is_metal_in_the_dense_layer():
    seed = next(s for s in range(40) if make_negative_radiograph(s, "knee_ap", spacing_mm=2.0).details["knee_prosthesis"] != "none")
    assert draw_negative_case(seed, "knee_ap", spacing_mm=1.0).setup.layers.dense.image.max() > 5.0


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        make_negative_radiograph(0, "hand")
