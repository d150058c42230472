"""The report's picture of a fracture finding: the axial slice through its centre, radiological (the
patient's right on the left, anterior up) whatever the acquisition's axes, in a bone window, with
the box where the finding is."""

import numpy as np
import pytest

from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.pipelines.fracture.classes import CLASSES
from OrthoAILib.pipelines.fracture.pictures import (
    AIR_HU, HEADER_PX, SLICE_PX, axial_slice, class_colour, finding_picture)
from OrthoAILib.pipelines.fracture.pipeline import Finding

LPS_LIKE = ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))  # columns to the left, rows posterior


def marked_volume(directions):
    """Air; bone in the patient's right half, metal in the front 30 mm. Returns the volume, its
    geometry and its centre (RAS)."""
    geometry = ImageGeometry(spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0), directions=directions)
    shape = (20, 80, 80)
    k, j, i = np.indices(shape)
    ras = geometry.ijk_to_world(np.column_stack([i.ravel(), j.ravel(), k.ravel()])).reshape(*shape, 3)
    centre = ras.reshape(-1, 3).mean(0)
    volume = np.full(shape, -1000, np.int16)
    volume[ras[..., 0] > centre[0]] = 700
    volume[ras[..., 1] > centre[1] + 10] = 3000
    return volume, geometry, centre


@pytest.mark.parametrize("directions", [((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)), LPS_LIKE])
def test_the_slice_is_radiological_whatever_the_axes(directions):
    volume, geometry, centre = marked_volume(directions)
    values = axial_slice(volume, geometry, centre, 40.0, 40)  # 1 mm pixels, 20 mm either side
    left, right = values[:, :5].mean(), values[:, -5:].mean()
    assert left > right  # the patient's right (bone) on the picture's left
    assert values[:3].min() == 3000 and values[-3:].max() < 3000  # anterior (metal) at the top
    assert axial_slice(volume, geometry, centre + [500, 0, 0], 20.0, 8).max() == AIR_HU  # outside: air


def test_picture_draws_the_box_in_the_class_colour_with_a_header():
    volume, geometry, centre = marked_volume(LPS_LIKE)
    low, high = centre + [-5.0, -15.0, -3.0], centre + [5.0, -5.0, 3.0]
    probabilities = {c: 0.1 for c in CLASSES}
    probabilities["post-operative"] = 0.6
    finding = Finding(3, "femur_left", (), "post-operative", probabilities, 0.8, tuple((low + high) / 2),
                      tuple(high - low), (tuple(low), tuple(high)))
    picture = finding_picture(volume, geometry, finding)
    assert picture.dtype == np.uint8 and picture.shape == (HEADER_PX + SLICE_PX, SLICE_PX, 3)
    colour = np.array(class_colour("post-operative"))
    box = np.all(picture[HEADER_PX:] == colour, axis=-1)
    rows, columns = np.nonzero(box)
    side = 10.0 / 80.0 * SLICE_PX  # a 10 mm box in an 80 mm field (the smallest), centred
    assert columns.max() - columns.min() == pytest.approx(side, abs=3)
    assert rows.max() - rows.min() == pytest.approx(side, abs=3)
    assert (columns.min() + columns.max()) / 2 == pytest.approx(SLICE_PX / 2, abs=2)
    # the slice is centred on the box
    assert (rows.min() + rows.max()) / 2 == pytest.approx(SLICE_PX / 2, abs=2)
    assert (picture[:HEADER_PX] == 255).any()  # the header's text
    middle = picture[HEADER_PX + SLICE_PX - 60]  # a row in the posterior half: bone on the right side only
    assert middle[40, 0] == int((700 + 450) / 1500 * 255) and middle[-40, 0] == 0  # bone window: bone grey, air black
    assert (picture[HEADER_PX + 20, 100:200, 0] == 255).all()  # metal saturates
