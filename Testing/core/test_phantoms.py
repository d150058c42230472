import math

import numpy as np
import pytest

from OrthoAILib.pipelines.hip import compute_hip_measures
from OrthoAILib.phantoms.bone_ct import make_bone_phantom
from OrthoAILib.phantoms.film_looks import EXPOSURES, VENDOR_LOOKS
from OrthoAILib.phantoms.hip_implants import CUP_DESIGNS
from OrthoAILib.phantoms.pelvis_xray import draw_pelvis_case, make_pelvis_radiograph
from OrthoAILib.phantoms.raster import disk_mask, ellipse_mask, polygon_mask
from OrthoAILib.phantoms.stems import STEM_SHAPES
from OrthoAILib.phantoms.textures import gaussian_blur, upsample

SHARED = {"teardrop_right", "teardrop_left", "ischium_right", "ischium_left", "pubic_symphysis"}
COARSE_MM = 2.0  # films whose draws, not pixels, are under test


@pytest.fixture(scope="module")
def coarse_films():
    return [make_pelvis_radiograph(seed, spacing_mm=COARSE_MM) for seed in range(160)]


def test_raster_shapes_have_their_areas():
    assert disk_mask((200, 200), (100, 100), 50).sum() == pytest.approx(math.pi * 50 ** 2, rel=0.01)
    assert ellipse_mask((200, 300), (100, 150), (40, 90), rotation=0.7).sum() == pytest.approx(math.pi * 40 * 90, rel=0.01)
    square = polygon_mask((100, 100), [(10, 10), (10, 60), (60, 60), (60, 10)])
    assert square.sum() == 50 * 50 and square[10, 10] and not square[60, 60]
    triangle = polygon_mask((100, 100), [(0, 0), (0, 80), (80, 0)])
    assert triangle.sum() == pytest.approx(80 * 80 / 2, rel=0.03)


def test_blur_keeps_the_mean_and_upsampling_keeps_a_ramp():
    image = np.random.default_rng(0).random((60, 80)).astype(np.float32)
    blurred = gaussian_blur(image, 2.0)
    assert blurred.mean() == pytest.approx(image.mean(), abs=0.01) and blurred.std() < image.std() / 2
    ramp = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 12), np.float32)
    fine = upsample(ramp, (40, 48), 4)  # coarse pixel i covers fine pixels 4i..4i+3
    assert np.allclose(fine[2:-2, 5], (np.arange(2, 38) - 1.5) / 4, atol=1e-5)


def test_radiograph_is_deterministic_and_its_keypoints_are_on_the_film():
    first, again, other = (make_pelvis_radiograph(s, spacing_mm=0.5) for s in (5, 5, 6))
    assert np.array_equal(first.image, again.image) and not np.array_equal(first.image, other.image)
    assert first.image.dtype == np.uint16 and first.bit_depth in (12, 14, 16)
    assert first.image.max() <= 2 ** first.bit_depth - 1 and first.image.std() > 0
    rows, columns = first.image.shape
    for name, ras in first.keypoints_ras.items():
        i, j, k = first.geometry.world_to_ijk(ras)
        assert 0 <= i < columns and 0 <= j < rows and abs(k) < 1e-9, name


def test_radiograph_is_in_radiological_orientation():
    radiograph = make_pelvis_radiograph(0, operated="right", spacing_mm=0.5)
    # the operated (right) hip is on the image's left half, the teardrops straddle the middle
    column = lambda name: radiograph.geometry.world_to_ijk(radiograph.keypoints_ras[name])[0]  # noqa: E731
    middle = radiograph.image.shape[1] / 2
    assert column("cup_lateral") < column("teardrop_right") < middle < column("teardrop_left") < column("contralateral_center")
    assert radiograph.keypoints_ras["cup_lateral"][0] > 0  # RAS +x: the patient's right


@pytest.mark.parametrize("seed", range(12))
def test_radiograph_measures_are_plausible_and_calibration_undoes_magnification(seed):
    radiograph = make_pelvis_radiograph(seed, spacing_mm=0.5)
    raw = compute_hip_measures(radiograph.keypoints_ras)
    implant = radiograph.implants[radiograph.primary_side]
    assert 25 <= raw.abduction_deg <= 62 and 55 < raw.coverage_pct < 100 and not raw.warnings
    assert raw.coverage_pct == pytest.approx((180 - implant.uncovered_deg) / 180 * 100, abs=1e-6)
    assert raw.cup_diameter_measured_mm == pytest.approx(radiograph.cup_diameter_mm * radiograph.magnification)
    calibrated = compute_hip_measures(radiograph.keypoints_ras, radiograph.cup_diameter_mm)
    assert calibrated.rc_horizontal_offset_mm == pytest.approx(raw.rc_horizontal_offset_mm / radiograph.magnification)


@pytest.mark.parametrize("seed", range(8))
def test_keypoints_sit_on_their_anatomy(seed):
    """Checked in the drawn layers, before any look or noise: metal under the cup's points, bone under the others."""
    case = draw_pelvis_case(seed, spacing_mm=0.5)
    canvas, layers = case.setup.canvas, case.setup.layers
    at = lambda image, xy: float(image[tuple(np.round(canvas.pixel(xy)).astype(int))])  # noqa: E731
    near = lambda image, xy: float(image[tuple(slice(int(v) - 2, int(v) + 3) for v in np.round(canvas.pixel(xy)))].max())  # noqa: E731
    up = np.array([0.0, 1.0])  # frame mm
    for side, implant in case.implants.items():
        points = case.keypoints_frame[side]
        assert at(layers.dense.image, implant.cup_centre) > 5.0  # the metal or ceramic head
        for name in ("cup_lateral", "cup_medial", "cup_bone_contact"):  # shell, marker wire or cement at the rim
            assert near(layers.dense.image, points[name]) > 0.3, name
        for s in ("right", "left"):
            assert at(layers.bone.image, points[f"teardrop_{s}"] + 0.5 * up) > 0.02
            ischium = points[f"ischium_{s}"]  # the tuberosity's lowest point: bone above, less below
            assert at(layers.bone.image, ischium + 1.0 * up) > at(layers.bone.image, ischium - 1.5 * up) + 0.1


def test_metal_is_brightest_on_the_film():
    for seed in range(6):
        film = make_pelvis_radiograph(seed, spacing_mm=0.5)
        top, bottom, left, right = (int(np.ceil(m / film.spacing_mm)) for m in film.details["collimation"]["margins_mm"])
        exposed = film.image[top:film.image.shape[0] - bottom, left:film.image.shape[1] - right].astype(float)
        for side in film.operated_sides:
            points = film.keypoints_rc[side]
            r, c = np.round((points["cup_lateral"] + points["cup_medial"]) / 2).astype(int)
            assert film.image[r - 1:r + 2, c - 1:c + 2].max() >= np.percentile(exposed, 97)


def test_pose_reaches_15_degrees_and_20_percent(coarse_films):
    rotations = np.array([f.details["rotation_deg"] for f in coarse_films])
    scales = np.array([f.details["scale"] for f in coarse_films])
    assert np.abs(rotations).max() <= 15 and rotations.min() < -13 and rotations.max() > 13
    assert 0.8 <= scales.min() < 0.83 and 1.17 < scales.max() <= 1.2
    for film, rotation in zip(coarse_films, rotations):  # the teardrop line turns with the film
        points = next(iter(film.keypoints_rc.values()))
        d_row, d_column = points["teardrop_left"] - points["teardrop_right"]
        assert math.degrees(math.atan2(-d_row, d_column)) == pytest.approx(rotation, abs=2.5)


def test_keypoints_lie_inside_the_exposed_field(coarse_films):
    for film in coarse_films:
        rows, columns = film.image.shape
        top, bottom, left, right = (m / film.spacing_mm for m in film.details["collimation"]["margins_mm"])
        for points in film.keypoints_rc.values():
            for name, (row, column) in points.items():
                assert top <= row < rows - bottom and left <= column < columns - right, name


def test_every_design_look_and_exposure_occurs(coarse_films):
    cups = [cup for film in coarse_films for cup in film.details["cups"].values()]
    assert {cup["design"] for cup in cups} == set(CUP_DESIGNS)
    assert {f.details["stem_shape"][side] for f in coarse_films for side in f.operated_sides} == set(STEM_SHAPES)
    assert {f.details["vendor_look"] for f in coarse_films} == set(VENDOR_LOOKS)
    assert {f.details["exposure"] for f in coarse_films} == set(EXPOSURES)
    assert {"polyethylene", "ceramic", "metal", "none"} <= {cup["liner"] for cup in cups}
    assert any(cup["screws"] for cup in cups) and any(cup["holes"] > cup["screws"] for cup in cups)
    assert all(cup["cement_mm"] > 0 for cup in cups if cup["design"] == "cemented")
    assert any(stem["cerclage"] for f in coarse_films for stem in f.details["stems"].values())
    assert any(grade > 0 for f in coarse_films for grade in f.details["osteoarthritis"].values())
    assert {f.details["sex"] for f in coarse_films} == {"female", "male"} and any(f.details["osteoporotic"] for f in coarse_films)


def test_cups_are_44_to_64_mm_and_hold_their_heads(coarse_films):
    for film in coarse_films:
        assert film.operated_sides  # "none" is asked for, never drawn at random
        for side, implant in film.implants.items():
            assert 44 - 1e-9 <= film.cup_diameter_mm_for(side) <= 64 + 1e-9
            assert implant.head_radius < implant.cup_radius


def test_film_without_arthroplasty_has_the_shared_points_and_both_heads():
    film = make_pelvis_radiograph(7, operated="none", spacing_mm=0.5)
    assert film.operated_sides == () and film.implants == {} and set(film.keypoints_rc) == {"none"}
    assert set(film.keypoints_rc["none"]) == SHARED | {"femoral_head_right", "femoral_head_left"}
    points = film.keypoints_rc["none"]
    assert points["femoral_head_right"][1] < points["teardrop_right"][1] < points["teardrop_left"][1] < points["femoral_head_left"][1]
    assert set(film.keypoints_ras_for("none")) == set(points)
    with pytest.raises(ValueError, match="no operated side"):
        film.primary_side
    with pytest.raises(ValueError, match="no operated side"):
        film.keypoints_ras
    case = draw_pelvis_case(7, operated="none", spacing_mm=0.5)
    assert not case.setup.layers.dense.image[tuple(np.round(case.keypoints_rc["none"]["femoral_head_left"]).astype(int))]


def test_unknown_operated_side_is_refused():
    with pytest.raises(ValueError, match="operated must be one of"):
        make_pelvis_radiograph(0, operated="both")


def test_bone_phantom_labels_match_its_bright_shells():
    phantom = make_bone_phantom(3)
    assert phantom.image_hu.shape == phantom.bone_label.shape == (40, 48, 48)
    assert 0.01 < phantom.bone_label.mean() < 0.5
    assert phantom.image_hu[phantom.bone_label == 1].mean() > phantom.image_hu[phantom.bone_label == 0].mean() + 200
    assert np.array_equal(make_bone_phantom(3).image_hu, phantom.image_hu)
