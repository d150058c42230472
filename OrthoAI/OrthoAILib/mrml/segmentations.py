"""Labelmap arrays -> segmentation nodes with named, coloured segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import slicer

from ..errors import InputError
from ..geometry import ImageGeometry
from .app import current_scene
from .scene_edit import SceneTransaction
from .volumes import volume_from_array


@dataclass(frozen=True)
class SegmentSpec:
    value: int  # label value in the labelmap
    name: str
    color: tuple[float, float, float]  # RGB in 0..1
    terminology: str = ""  # Slicer's "TerminologyEntry" tag (see pipelines' terminology codes), or none


def segmentation_from_labelmap(labelmap: np.ndarray, geometry: ImageGeometry, segments: Sequence[SegmentSpec],
                               name: str, scene=None, reference_volume=None):
    """A new segmentation node with one segment per spec (empty when its value is absent).

    ``labelmap`` is KJI (or 2-D). The segmentation's reference geometry is
    ``reference_volume``'s when given, else the labelmap's.
    """
    labelmap = np.asarray(labelmap)
    if labelmap.ndim == 2:
        labelmap = labelmap[np.newaxis]
    if not np.issubdtype(labelmap.dtype, np.integer):
        raise InputError(f"A labelmap must hold integers, got {labelmap.dtype}.")
    values = [spec.value for spec in segments]
    if len(set(values)) != len(values) or 0 in values:
        raise InputError("Segment label values must be distinct and non-zero.")
    scene = current_scene(scene)
    with SceneTransaction(scene):
        carrier = volume_from_array(labelmap.astype(np.uint8 if labelmap.max() < 256 else np.int32), geometry,
                                    f"{name} labelmap", scene, node_class="vtkMRMLLabelMapVolumeNode")
        segmentation_node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        segmentation_node.CreateDefaultDisplayNodes()
        segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume or carrier)
        segmentation = segmentation_node.GetSegmentation()
        for spec in segments:
            segment_id = segmentation.AddEmptySegment(spec.name, spec.name, list(spec.color))
            if spec.terminology:
                segmentation.GetSegment(segment_id).SetTag("TerminologyEntry", spec.terminology)
            mask = (labelmap == spec.value).astype(np.uint8)
            if mask.any():
                slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentation_node, segment_id, carrier)
        scene.RemoveNode(carrier)
    return segmentation_node


def labelmap_from_segmentation(segmentation_node, reference_volume, segment_values: Optional[dict[str, int]] = None) -> np.ndarray:
    """KJI labelmap on ``reference_volume``'s grid; segments in order get 1, 2, … unless values are given."""
    segmentation = segmentation_node.GetSegmentation()
    shape = slicer.util.arrayFromVolume(reference_volume).shape
    labelmap = np.zeros(shape, dtype=np.int32)
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        value = (segment_values or {}).get(segmentation.GetSegment(segment_id).GetName(), index + 1)
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation_node, segment_id, reference_volume)
        labelmap[mask > 0] = value
    return labelmap
