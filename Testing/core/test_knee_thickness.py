"""Cartilage thickness on plates of known thickness, at the OAI DESS resolution (0.365 × 0.365 × 0.7 mm).

A plate whose faces are not aligned with the voxel axes is measured within 0.1 mm of its thickness;
rotating it does not change the answer; curved plates (a condyle's shell) too. An axis-aligned plate
can only be as thick as a whole number of slices, so it is checked at such a thickness.
"""

from __future__ import annotations

import numpy as np
import pytest

from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.pipelines.knee.thickness import thickness_map

SPACING_KJI = np.array([0.7, 0.3646, 0.3646])
SHAPE = (56, 150, 150)


def _grid():
    k, j, i = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(SHAPE, SPACING_KJI)], indexing="ij")
    return k, j, i


def flat_plate(thickness, degrees, offset=0.0, half_width=17.0):
    """A square plate tilted by ``degrees`` about the column axis (so across slices and rows)."""
    k, j, i = _grid()
    a = np.radians(degrees)
    normal = k * np.cos(a) + j * np.sin(a) + offset
    along = -k * np.sin(a) + j * np.cos(a)
    return (np.abs(normal) < thickness / 2) & (np.abs(along) < half_width) & (np.abs(i) < half_width)


def curved_plate(thickness, radius=25.0, offset=0.0):
    """A cylindrical shell segment (a condyle's cartilage), axis along the columns."""
    k, j, i = _grid()
    r = np.sqrt((k + radius) ** 2 + j ** 2) - radius - offset
    return (np.abs(r) < thickness / 2) & (np.abs(i) < 17) & (np.abs(j) < 14)


@pytest.mark.parametrize("thickness", [1.5, 2.5, 3.5])
@pytest.mark.parametrize("degrees", [30, 45])
def test_an_oblique_plate_is_measured_within_a_tenth_of_a_millimetre(thickness, degrees):
    for offset in (0.0, 0.23):  # where the plate falls between voxel centres does not matter
        stats = thickness_map(flat_plate(thickness, degrees, offset), SPACING_KJI).statistics()
        assert abs(stats["mean"] - thickness) < 0.1, (offset, stats)
        assert abs(stats["median"] - thickness) < 0.2, (offset, stats)  # the staircase ripples point values


def test_rotating_the_plate_by_30_degrees_does_not_change_its_thickness():
    aligned = thickness_map(flat_plate(2.1, 0, offset=0.35), SPACING_KJI).statistics()  # three slices exactly
    rotated = thickness_map(flat_plate(2.1, 30), SPACING_KJI).statistics()
    assert abs(aligned["mean"] - 2.1) < 0.1
    assert abs(rotated["mean"] - aligned["mean"]) < 0.1


@pytest.mark.parametrize("thickness", [2.0, 3.0])
def test_a_curved_plate_is_measured_within_a_tenth_of_a_millimetre(thickness):
    for offset in (0.0, 0.35):
        stats = thickness_map(curved_plate(thickness, offset=offset), SPACING_KJI).statistics()
        assert abs(stats["mean"] - thickness) < 0.1, stats


def test_the_map_covers_both_faces_and_leaves_the_rim_out():
    plate = flat_plate(2.5, 30)
    surface = thickness_map(plate, SPACING_KJI)
    assert len(surface.vertices) == len(surface.thickness) == len(surface.vertex_area)
    measured = surface.thickness[surface.measured]
    assert 0.8 < surface.measured.mean() < 0.97  # the rim (about a tenth of the surface) gets no value
    assert measured.max() < 2 * 2.5  # no ray along the plate's length (34 mm) was kept
    # Both faces: the measured points lie on either side of the plate's mid-plane.
    a = np.radians(30)
    centre = (np.array(SHAPE)[::-1] - 1) / 2 * SPACING_KJI[::-1]
    relative = surface.vertices[surface.measured] - centre  # mesh in grid mm, IJK order
    side = relative[:, 2] * np.cos(a) + relative[:, 1] * np.sin(a)
    assert (side > 0).mean() == pytest.approx(0.5, abs=0.1)


def test_the_mesh_is_placed_in_world_space_by_the_grid_matrix():
    plate = flat_plate(2.5, 30)
    geometry = ImageGeometry(tuple(SPACING_KJI[::-1]), (10.0, -20.0, 5.0),
                             ((0.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)))
    plain = thickness_map(plate, SPACING_KJI)
    placed = thickness_map(plate, SPACING_KJI, geometry.ijk_to_ras)
    np.testing.assert_allclose(placed.thickness, plain.thickness)
    expected = geometry.ijk_to_world(plain.vertices / SPACING_KJI[::-1])
    np.testing.assert_allclose(placed.vertices, expected, atol=1e-6)


def test_an_empty_mask_and_a_speck_give_no_points():
    assert thickness_map(np.zeros((10, 10, 10), bool), SPACING_KJI).statistics()["points"] == 0
    speck = np.zeros((10, 10, 10), bool)
    speck[5, 5, 5] = True
    assert thickness_map(speck, SPACING_KJI).statistics()["mean"] is None


def test_the_thickness_file_round_trips(tmp_path):
    from OrthoAILib.io.surface_vtk import read_polydata, write_polydata

    surface = thickness_map(flat_plate(2.5, 30), SPACING_KJI)
    path = write_polydata(tmp_path / "plate.vtk", surface.vertices, surface.faces, {"thickness_mm": surface.thickness})
    assert b"SPACE=LPS" in path.read_bytes()[:200]
    vertices, faces, scalars = read_polydata(path)
    np.testing.assert_allclose(vertices, surface.vertices, atol=1e-3)  # float32 in the file
    np.testing.assert_array_equal(faces, surface.faces)
    np.testing.assert_allclose(scalars["thickness_mm"], surface.thickness, atol=1e-5, equal_nan=True)
