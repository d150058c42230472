import math

import numpy as np
import pytest

from OrthoAILib.pipelines.hip import compute_hip_measures
from OrthoAILib.phantoms.bone_ct import make_bone_phantom
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph
from OrthoAILib.phantoms.raster import disk_mask, ellipse_mask, polygon_mask


def test_raster_shapes_have_their_areas():
    assert disk_mask((200, 200), (100, 100), 50).sum() == pytest.approx(math.pi * 50 ** 2, rel=0.01)
    assert ellipse_mask((200, 300), (100, 150), (40, 90), rotation=0.7).sum() == pytest.approx(math.pi * 40 * 90, rel=0.01)
    square = polygon_mask((100, 100), [(10, 10), (10, 60), (60, 60), (60, 10)])
    assert square.sum() == 50 * 50 and square[10, 10] and not square[60, 60]
    triangle = polygon_mask((100, 100), [(0, 0), (0, 80), (80, 0)])
    assert triangle.sum() == pytest.approx(80 * 80 / 2, rel=0.03)


def test_radiograph_is_deterministic_and_its_keypoints_are_on_the_film():
    first, again, other = (make_pelvis_radiograph(s, spacing_mm=0.5) for s in (5, 5, 6))
    assert np.array_equal(first.image, again.image) and not np.array_equal(first.image, other.image)
    assert first.image.dtype == np.uint16
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


def test_bone_phantom_labels_match_its_bright_shells():
    phantom = make_bone_phantom(3)
    assert phantom.image_hu.shape == phantom.bone_label.shape == (40, 48, 48)
    assert 0.01 < phantom.bone_label.mean() < 0.5
    assert phantom.image_hu[phantom.bone_label == 1].mean() > phantom.image_hu[phantom.bone_label == 0].mean() + 200
    assert np.array_equal(make_bone_phantom(3).image_hu, phantom.image_hu)
