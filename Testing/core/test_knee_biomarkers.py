"""Knee biomarkers from labelmaps: the label mapping, the knee's axes and subregions, Dice, change
between time points, the procedural knees, and the real pymskt label map."""

from __future__ import annotations

import numpy as np
import pytest

from OrthoAILib.errors import InputError
from OrthoAILib.phantoms.knee_anatomy import CARTILAGE_VALUES, make_knee
from OrthoAILib.pipelines.knee.biomarkers import (FEMORAL_SUBREGIONS, check_same_grid, measure_labelmap,
                                                  thickness_change)
from OrthoAILib.pipelines.knee.plates import DEFAULT_LABELS, parse_label_spec

from ..conftest import SHARED_DATA

SMALL_GRID = {"shape_kji": (80, 128, 128), "spacing_ijk": (1.0, 1.0, 1.2)}
PYMSKT_LABELS = SHARED_DATA / "knee" / "pymskt" / "SAG_3D_DESS_RIGHT_bones_cart_men_fib-label.nrrd"


@pytest.fixture(scope="module")
def right_knee():
    seed = next(s for s in range(20) if make_knee_design_side(s) == "right")
    return make_knee(seed, **SMALL_GRID)


def make_knee_design_side(seed: int) -> str:
    from OrthoAILib.phantoms.knee_anatomy import draw_design

    return draw_design(seed).side


def test_label_spec_maps_plates_to_one_or_more_values():
    assert parse_label_spec("femoral=1,tibial=2,3,patellar=4") == {"femoral": (1,), "tibial": (2, 3), "patellar": (4,)}
    assert parse_label_spec(" femoral = 7 , tibial_medial=8,tibial_lateral=9") == \
        {"femoral": (7,), "tibial_medial": (8,), "tibial_lateral": (9,)}


@pytest.mark.parametrize("text, words", [
    ("femur=1", "unknown plate"),
    ("1,femoral=2", "before any plate"),
    ("femoral=a", "not a label value"),
    ("femoral=1,patellar=1", "both femoral and patellar"),
    ("femoral=1,femoral=2", "given twice"),
    ("tibial=2,tibial_medial=3", "either tibial"),
    ("femoral=0", "outside"),
    ("", "no plates"),
    ("femoral=", "no value"),
])
def test_label_spec_errors_say_what_to_write(text, words):
    with pytest.raises(InputError, match=words):
        parse_label_spec(text)


def test_generated_knees_are_deterministic_and_varied():
    first, again, other = (make_knee(s, **SMALL_GRID) for s in (4, 4, 5))
    np.testing.assert_array_equal(first.labelmap, again.labelmap)
    assert (first.labelmap != other.labelmap).mean() > 0.01
    for knee in (first, other):
        present = set(np.unique(knee.labelmap))
        assert set(CARTILAGE_VALUES) <= present and {5, 6, 7, 8, 9, 10} <= present


def test_cartilage_lies_on_its_bone(right_knee):
    from scipy import ndimage

    labels = right_knee.labelmap
    for plate, bone in ((1, 5), (2, 6), (3, 6), (4, 7)):
        touching = ndimage.binary_dilation(labels == bone, iterations=2) & (labels == plate)
        assert touching.sum() > 0.2 * (labels == plate).sum(), plate


def test_a_right_knees_axes_point_lateral_to_the_right_and_anterior(right_knee):
    result = measure_labelmap(right_knee.labelmap, right_knee.geometry, DEFAULT_LABELS)
    axes = result.axes
    assert axes is not None and not result.warnings
    assert axes.lateral[0] > 0.8  # RAS +x is the patient's right: lateral for a right knee
    assert axes.anterior[1] > 0.7 and axes.superior[2] > 0.7


def test_left_and_right_knees_name_the_same_condyle_medial():
    from OrthoAILib.phantoms.knee_anatomy import draw_design

    seeds = {}
    for seed in range(30):
        seeds.setdefault(draw_design(seed).side, seed)
        if len(seeds) == 2:
            break
    for side, seed in seeds.items():
        knee = make_knee(seed, **SMALL_GRID)
        result = measure_labelmap(knee.labelmap, knee.geometry, DEFAULT_LABELS)
        medial = (knee.labelmap == 2)  # the generator's medial tibial plate
        centroid = knee.geometry.ijk_to_world(np.argwhere(medial).mean(0)[::-1])
        assert (centroid - result.axes.centre) @ result.axes.lateral < 0, side


def test_plates_subregions_add_up_and_dice_is_one_against_itself(right_knee):
    labels, geometry = right_knee.labelmap, right_knee.geometry
    result = measure_labelmap(labels, geometry, DEFAULT_LABELS, reference=labels)
    assert set(result.plates) == set(DEFAULT_LABELS)
    voxel = float(np.prod(geometry.spacing))
    for name, values in DEFAULT_LABELS.items():
        plate = result.plates[name]
        assert plate.dice == 1.0
        assert plate.volume_mm3 == pytest.approx(np.isin(labels, values).sum() * voxel)
        assert 1.0 < plate.thickness_mm["mean"] < 5.0
    femoral = result.plates["femoral"]
    assert list(femoral.subregions) == list(FEMORAL_SUBREGIONS)
    assert sum(s["volume_mm3"] for s in femoral.subregions.values()) == pytest.approx(femoral.volume_mm3, abs=1)
    assert all(s["volume_mm3"] > 0 for s in femoral.subregions.values())
    rows = result.csv_rows()
    assert len(rows) == 4 + 6 and rows[0]["plate"] == "femoral" and rows[0]["dice"] == 1.0


def test_dice_falls_when_the_reference_differs(right_knee):
    labels = right_knee.labelmap
    thinned = labels.copy()
    femoral = labels == 1
    thinned[femoral & (np.random.default_rng(0).random(labels.shape) < 1 / 3)] = 0  # a third of it lost
    result = measure_labelmap(thinned, right_knee.geometry, {"femoral": (1,)}, reference=labels)
    assert result.plates["femoral"].dice == pytest.approx(0.8, abs=0.02)  # 2 * 2/3 / (1 + 2/3)


def test_thinning_shows_as_negative_change_in_the_thinned_subregion(right_knee):
    labels, geometry = right_knee.labelmap, right_knee.geometry
    baseline = measure_labelmap(labels, geometry, DEFAULT_LABELS)
    follow_up = labels.copy()
    # Lose the articular voxel layer of the lateral tibial plate: ~1 mm thinner.
    lateral = labels == 3
    exposed = lateral & ~np.roll(np.isin(labels, (3, 6)), 1, axis=1)  # the voxel above is not plate or tibia
    follow_up[exposed] = 11
    change = thickness_change(baseline, measure_labelmap(follow_up, geometry, DEFAULT_LABELS))
    assert change["tibial_lateral"]["thickness_mean_change_mm"] < -0.2
    assert change["tibial_lateral"]["volume_change_mm3"] < 0
    assert abs(change["tibial_medial"]["thickness_mean_change_mm"]) < 1e-6
    assert set(change["femoral"]["subregions"]) == set(FEMORAL_SUBREGIONS)


def test_missing_plates_are_warned_and_combined_tibia_has_no_subregions(right_knee):
    labels = right_knee.labelmap
    result = measure_labelmap(labels, right_knee.geometry, {"femoral": (1,), "tibial": (2, 3), "patellar": (99,)})
    assert "patellar" not in result.plates and "tibial" in result.plates
    assert any("no patellar cartilage" in w for w in result.warnings)
    assert any("subregions need" in w for w in result.warnings) and result.axes is None
    assert not result.plates["femoral"].subregions


def test_a_reference_on_another_grid_is_refused_with_what_to_do(right_knee):
    geometry = right_knee.geometry
    with pytest.raises(InputError, match="resample"):
        check_same_grid((10, 10, 10), geometry, (10, 10, 11), geometry, "reference labelmap")


@pytest.mark.skipif(not PYMSKT_LABELS.is_file(), reason="needs ../shared/data/knee/pymskt (the real DESS label map)")
def test_the_real_dess_label_map_gives_plausible_biomarkers():
    from OrthoAILib.io.volume import read_volume

    image = read_volume([PYMSKT_LABELS])
    result = measure_labelmap(image.array.astype(np.int16), image.geometry, DEFAULT_LABELS)
    plates = result.plates
    # Published DESS values for healthy adults: femoral 1.8-2.6 mm, tibial 1.6-3 mm, volumes of ml.
    assert 1.8 < plates["femoral"].thickness_mm["mean"] < 2.6
    assert 8000 < plates["femoral"].volume_mm3 < 16000
    for name in ("tibial_medial", "tibial_lateral"):
        assert 1.5 < plates[name].thickness_mm["mean"] < 3.0
    # The file's grid is a right knee (its name says so): lateral runs to the patient's right.
    assert result.axes.lateral[0] > 0.9 and result.axes.anterior[1] > 0.9
