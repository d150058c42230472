import numpy as np
import pytest
import slicer

from OrthoAILib.errors import InputError
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.mrml.segmentations import SegmentSpec, labelmap_from_segmentation, segmentation_from_labelmap
from OrthoAILib.mrml.volumes import volume_from_array

from ..conftest import scene_node_ids

SPECS = [SegmentSpec(1, "femur", (0.9, 0.8, 0.5)), SegmentSpec(2, "tibia", (0.3, 0.6, 0.9)),
         SegmentSpec(5, "patella", (0.4, 0.8, 0.3))]


def _labelmap(shape=(8, 12, 10)):
    labelmap = np.zeros(shape, dtype=np.uint8)
    labelmap[1:4, 2:6, 2:6] = 1
    labelmap[5:7, 6:10, 3:9] = 2
    return labelmap


def test_labelmap_becomes_named_coloured_segments(scene):
    geometry = ImageGeometry(spacing=(0.5, 0.5, 1.5), origin=(3, 4, 5))
    reference = volume_from_array(np.zeros((8, 12, 10), np.int16), geometry, "ref", scene)
    node = segmentation_from_labelmap(_labelmap(), geometry, SPECS, "bones", scene, reference_volume=reference)
    segmentation = node.GetSegmentation()
    assert [segmentation.GetNthSegment(i).GetName() for i in range(3)] == ["femur", "tibia", "patella"]
    assert np.allclose(segmentation.GetSegment("tibia").GetColor(), (0.3, 0.6, 0.9))
    assert np.array_equal(labelmap_from_segmentation(node, reference, {"femur": 1, "tibia": 2, "patella": 5}), _labelmap())
    assert int(slicer.util.arrayFromSegmentBinaryLabelmap(node, "patella", reference).sum()) == 0  # absent label
    assert scene.GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems() == 0  # carrier removed


def test_2d_labelmap(scene):
    geometry = ImageGeometry(spacing=(0.3, 0.3, 1.0))
    labelmap = np.zeros((20, 30), np.uint8)
    labelmap[5:10, 5:25] = 1
    reference = volume_from_array(np.zeros((20, 30), np.uint16), geometry, "xray", scene)
    node = segmentation_from_labelmap(labelmap, geometry, SPECS[:1], "lesion", scene, reference_volume=reference)
    mask = slicer.util.arrayFromSegmentBinaryLabelmap(node, "femur", reference)
    assert mask.shape == (1, 20, 30) and int(mask.sum()) == 100


@pytest.mark.parametrize("labelmap, specs, message", [
    (np.zeros((2, 2, 2), np.float32), SPECS, "integers"),
    (np.zeros((2, 2, 2), np.uint8), [SegmentSpec(1, "a", (1, 0, 0)), SegmentSpec(1, "b", (0, 1, 0))], "distinct"),
])
def test_invalid_labelmaps_are_refused(scene, labelmap, specs, message):
    with pytest.raises(InputError, match=message):
        segmentation_from_labelmap(labelmap, ImageGeometry(), specs, "x", scene)


def test_failure_midway_leaves_the_scene_as_it_was(scene):
    before = scene_node_ids(scene)
    broken = [SegmentSpec(1, "femur", (0.9, 0.8, 0.5)), SegmentSpec(2, "tibia", ("not", "a", "colour"))]
    with pytest.raises(Exception):
        segmentation_from_labelmap(_labelmap(), ImageGeometry(), broken, "bones", scene)
    assert scene_node_ids(scene) == before
