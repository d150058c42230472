import numpy as np
import pytest

from OrthoAILib.geometry import ImageGeometry, lps_to_ras, ras_to_lps

from ..conftest import random_rotation


def test_ijk_to_ras_round_trip_with_oblique_axes():
    rotation = random_rotation(1)
    geometry = ImageGeometry(spacing=(0.5, 0.7, 2.0), origin=(10, -20, 30), directions=tuple(map(tuple, rotation)))
    ijk = np.array([[0, 0, 0], [3, 4, 5], [10.5, 2.25, 1]])
    ras = geometry.ijk_to_world(ijk)
    assert np.allclose(ras[0], [10, -20, 30])
    assert np.allclose(ras[1], np.array([10, -20, 30]) + rotation @ (np.array([3, 4, 5]) * [0.5, 0.7, 2.0]))
    assert np.allclose(geometry.world_to_ijk(ras), ijk)
    rebuilt = ImageGeometry.from_ijk_to_ras(geometry.ijk_to_ras)
    assert np.allclose(rebuilt.spacing, geometry.spacing) and np.allclose(rebuilt.directions, geometry.directions)


@pytest.mark.parametrize("spacing", [(0, 1, 1), (-1, 1, 1), (1, float("nan"), 1), (1, 1)])
def test_invalid_spacing_is_refused(spacing):
    with pytest.raises(ValueError, match="spacing"):
        ImageGeometry(spacing=spacing)


def test_non_orthonormal_directions_are_refused():
    with pytest.raises(ValueError, match="orthonormal"):
        ImageGeometry(directions=((2, 0, 0), (0, 1, 0), (0, 0, 1)))


def test_lps_ras_flip_is_its_own_inverse():
    point = np.array([1.0, -2.0, 3.0])
    assert np.allclose(lps_to_ras(point), [-1, 2, 3])
    assert np.allclose(ras_to_lps(lps_to_ras(point)), point)
    assert point[0] == 1.0  # input not modified
