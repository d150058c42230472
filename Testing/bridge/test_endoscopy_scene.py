"""Endoscopy frames from volume nodes and results into the scene, on real MRML."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import slicer

from OrthoAILib.errors import InputError
from OrthoAILib.mrml.colours import scale_colour_id
from OrthoAILib.mrml.endoscopy.scene import add_endoscopy_results, add_video_results, frame_count, frame_from_volume
from OrthoAILib.pipelines.endoscopy.pipeline import EndoscopyResult, LesionReport
from OrthoAILib.pipelines.endoscopy.presence import FrameCheck

from ..conftest import REPO_ROOT, scene_node_ids

SHAPE = (120, 160)


def frame_volume(scene, slices=1, name="frame"):
    rgb = np.zeros((slices, *SHAPE, 3), np.uint8)
    rgb[..., 0] = 180
    rgb[:, 40:80, 60:100, 1] = 90
    node = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", name)
    slicer.util.updateVolumeFromArray(node, rgb)
    node.SetSpacing(1.0, 1.0, 1.0)
    return node


def a_result(geometry, status="ok", frame_index=None) -> EndoscopyResult:
    mask = np.zeros(SHAPE, bool)
    mask[40:80, 60:100] = True
    lesion = LesionReport(1, 1600, 0.083, 0.91, 0.99, (40, 60, 80, 100), (59.5, 79.5), 2.5)
    check = FrameCheck(0.9, 0.5, 0.1)
    if status != "ok":
        return EndoscopyResult("frame", geometry, status, "the frame is greyscale", check, frame_index=frame_index)
    depth = np.linspace(1, 5, mask.size, dtype=np.float32).reshape(SHAPE)
    return EndoscopyResult("frame", geometry, "ok", "1 lesion(s) found", check, (lesion,), mask, depth,
                           np.ones(SHAPE, bool), frame_index=frame_index)


def test_a_vector_volume_gives_a_colour_frame_and_stays_untouched(scene):
    node = frame_volume(scene)
    before = slicer.util.arrayFromVolume(node).copy()
    image = frame_from_volume(node)
    assert image.is_colour and image.array.shape == (1, *SHAPE, 3) and image.array[0, 50, 70, 1] == 90
    image.array[...] = 0
    assert np.array_equal(slicer.util.arrayFromVolume(node), before)
    with pytest.raises(InputError, match="frame 3 does not exist"):
        frame_from_volume(node, 3)


def test_a_result_becomes_segmentation_depth_fused_picture_and_table(scene):
    node = frame_volume(scene)
    image = frame_from_volume(node)
    nodes = add_endoscopy_results(node, a_result(image.geometry), image.array[0])
    segment = nodes.segmentation.GetSegmentation().GetNthSegment(0)
    assert segment.GetName() == "lesion"
    labelmap = slicer.util.arrayFromSegmentBinaryLabelmap(nodes.segmentation, nodes.segmentation.GetSegmentation().GetNthSegmentID(0), node)
    assert labelmap.sum() == 1600
    depth = slicer.util.arrayFromVolume(nodes.depth)
    assert depth.shape == (1, *SHAPE) and depth.max() == pytest.approx(5.0)
    assert nodes.depth.GetDisplayNode().GetColorNodeID() is not None
    fused = slicer.util.arrayFromVolume(nodes.fused)
    assert fused.shape == (1, *SHAPE, 3) and tuple(fused[0, 40, 80]) == (40, 255, 90)
    assert nodes.table.GetTable().GetNumberOfRows() == 1


def test_a_refused_frame_gets_a_table_only(scene):
    node = frame_volume(scene)
    image = frame_from_volume(node)
    nodes = add_endoscopy_results(node, a_result(image.geometry, "not_endoscopy"), image.array[0])
    assert nodes.segmentation is None and nodes.depth is None and nodes.fused is None
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0
    assert nodes.table.GetTable().GetValueByName(0, "status").ToString() == "not_endoscopy"


def test_a_result_of_another_frame_is_refused(scene):
    node = frame_volume(scene)
    image = frame_from_volume(node)
    before = scene_node_ids(scene)
    broken = dataclasses.replace(a_result(image.geometry), depth_cm=np.zeros((3, 3), np.float32))
    with pytest.raises(InputError, match="belongs to another frame"):
        add_endoscopy_results(node, broken, image.array[0])
    assert scene_node_ids(scene) == before


def test_a_failure_midway_leaves_the_scene_as_it_was(scene, monkeypatch):
    from OrthoAILib.mrml.endoscopy import scene as endoscopy_scene

    node = frame_volume(scene)
    image = frame_from_volume(node)
    before = scene_node_ids(scene)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(endoscopy_scene, "_vector_volume", fail)  # after the table, segmentation and depth
    with pytest.raises(RuntimeError):
        add_endoscopy_results(node, a_result(image.geometry), image.array[0])
    assert scene_node_ids(scene) == before


def test_a_multi_frame_volume_gives_browsable_sequences(scene):
    node = frame_volume(scene, slices=3, name="video")
    assert frame_count(node) == 3
    analysed = []
    for index in range(3):
        image = frame_from_volume(node, index)
        status = "not_endoscopy" if index == 1 else "ok"
        analysed.append((a_result(image.geometry, status, index), image.array[0]))
    video = add_video_results(node, analysed)
    assert video.fused.GetNumberOfDataNodes() == 3 and video.depth.GetNumberOfDataNodes() == 3
    assert video.browser.GetNumberOfItems() == 3
    assert video.table.GetTable().GetNumberOfRows() == 3
    proxy = video.browser.GetProxyNode(video.fused)
    assert proxy is not None and slicer.util.arrayFromVolume(proxy).shape == (1, *SHAPE, 3)
    video.browser.SetSelectedItemNumber(1)
    assert slicer.util.arrayFromVolume(video.fused.GetNthDataNode(1)).max() < 180  # the refused frame, darkened
    depth = video.browser.GetProxyNode(video.depth)  # the depth in colour, as for a single frame
    assert scale_colour_id(scene) is not None and depth.GetDisplayNode().GetColorNodeID() == scale_colour_id(scene)


@pytest.mark.skipif(not (REPO_ROOT / "Resources" / "Models" / "endoscopy_polyp_seg.pt").is_file(),
                    reason="the endoscopy models are not shipped yet")
def test_the_module_use_case_runs_the_pipeline_on_a_node(scene):
    from OrthoAILib.apps.endoscopy import shared_pipeline
    from OrthoAILib.apps.endoscopy_node import analyse_volume

    node = frame_volume(scene, name="grey-ish")
    slicer.util.updateVolumeFromArray(node, np.full((1, *SHAPE, 3), 128, np.uint8))
    result, nodes = analyse_volume(node, shared_pipeline())
    assert result.status == "not_endoscopy" and nodes.segmentation is None
