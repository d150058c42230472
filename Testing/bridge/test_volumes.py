import numpy as np
import pytest
import slicer

from OrthoAILib.errors import InputError
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.mrml.volumes import array_from_volume, geometry_of, plane_normal_of, volume_from_array

from ..conftest import random_rotation


def test_3d_round_trip_keeps_voxels_and_oblique_geometry(scene):
    rotation = random_rotation(2)
    geometry = ImageGeometry(spacing=(0.8, 0.6, 2.5), origin=(-12.5, 40.0, 7.0), directions=tuple(map(tuple, rotation)))
    array = np.random.default_rng(0).integers(-1000, 2000, size=(6, 7, 9)).astype(np.int16)  # KJI
    original = array.copy()
    node = volume_from_array(array, geometry, "ct", scene)
    assert slicer.util.arrayFromVolume(node).shape == (6, 7, 9)
    read, read_geometry = array_from_volume(node)
    assert np.array_equal(read, array) and read.dtype == np.int16
    assert np.allclose(read_geometry.ijk_to_ras, geometry.ijk_to_ras)
    assert np.array_equal(array, original)
    # voxel (i=8, j=1, k=5) sits where Slicer's own IJK->RAS matrix puts it
    matrix = np.array(slicer.util.arrayFromVTKMatrix(_ijk_to_ras(node)))
    assert np.allclose(matrix @ [8, 1, 5, 1], np.append(geometry.ijk_to_world([8, 1, 5]), 1))
    read[0, 0, 0] += 1  # a copy: the node is not changed through it
    assert slicer.util.arrayFromVolume(node)[0, 0, 0] == array[0, 0, 0]


def _ijk_to_ras(node):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return matrix


def test_2d_image_becomes_a_single_slice(scene):
    geometry = ImageGeometry(spacing=(0.2, 0.2, 1.0), directions=((-1, 0, 0), (0, 0, -1), (0, -1, 0)))
    node = volume_from_array(np.arange(12, dtype=np.uint16).reshape(3, 4), geometry, "xray", scene)
    read, read_geometry = array_from_volume(node)
    assert read.shape == (1, 3, 4)
    assert np.allclose(plane_normal_of(node), [0, -1, 0])
    assert np.allclose(geometry_of(node).spacing, (0.2, 0.2, 1.0))


def test_volume_without_image_is_refused(scene):
    empty = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(InputError, match="'empty' has no image data"):
        array_from_volume(empty)


def test_bad_array_shape_is_refused(scene):
    with pytest.raises(InputError, match="2-D or 3-D"):
        volume_from_array(np.zeros((2, 2, 2, 2)), ImageGeometry(), "bad", scene)


def test_failure_after_the_node_was_added_rolls_it_back(scene):
    from ..conftest import scene_node_ids

    before = scene_node_ids(scene)
    with pytest.raises(TypeError, match="suitable VTK type"):  # no float16 voxels in VTK: fails once the node exists
        volume_from_array(np.zeros((2, 2, 2), dtype=np.float16), ImageGeometry(), "half floats", scene)
    assert scene_node_ids(scene) == before
