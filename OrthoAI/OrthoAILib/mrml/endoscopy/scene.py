"""Endoscopy frames from volume nodes, and a result's nodes: lesion segmentation, depth, fused picture.

A frame is an RGB vector volume of one slice (Slicer loads a PNG or JPEG frame so); a video loaded
as a multi-slice volume gives a frame per slice. The depth is a scalar volume on the frame's grid
with a colour table, the fused picture an RGB vector volume on that grid, so both lie over the
frame in the slice views. A video's results become sequences (fused picture, depth) browsed frame by
frame with a sequence browser. Nodes are added all or nothing; the input node is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
import slicer
import vtk

from ...errors import InputError
from ...image import Image, ImageOrigin
from ...io.endoscopy_frames import MAX_SIDE, MIN_SIDE
from ...pipelines.base import STATUS_OK
from ...pipelines.endoscopy.fusion import fuse, video_picture
from ...pipelines.endoscopy.pipeline import EndoscopyResult
from ..app import current_scene
from ..colours import scale_colour_id
from ..hierarchy import place_with_input
from ..scene_edit import SceneTransaction
from ..segmentations import SegmentSpec, segmentation_from_labelmap
from ..tables import table_from_records
from ..volumes import geometry_of, volume_from_array

LESION_SEGMENT = SegmentSpec(1, "lesion", (0.16, 1.0, 0.35))


def frame_count(volume_node) -> int:
    image = volume_node.GetImageData() if volume_node is not None else None
    return 0 if image is None else image.GetDimensions()[2]


def frame_from_volume(volume_node, frame: int = 0) -> Image:
    """Slice ``frame`` of a vector (RGB/RGBA) or scalar volume as a one-slice colour ``Image`` (a copy)."""
    if volume_node is None or volume_node.GetImageData() is None:
        name = volume_node.GetName() if volume_node is not None else "None"
        raise InputError(f"Volume '{name}' has no image data; load an endoscopy frame or video first.")
    name = volume_node.GetName()
    columns, rows, slices = volume_node.GetImageData().GetDimensions()
    if not 0 <= frame < slices:
        raise InputError(f"'{name}' has {slices} frame(s); frame {frame} does not exist.")
    if min(rows, columns) < MIN_SIDE or max(rows, columns) > MAX_SIDE:
        raise InputError(f"'{name}' is {columns}×{rows} pixels; an endoscopy frame has {MIN_SIDE} to {MAX_SIDE} pixels "
                         "per side.")
    pixels = np.array(slicer.util.arrayFromVolume(volume_node)[frame], copy=True)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    pixels = pixels[..., :3]
    if pixels.dtype != np.uint8:  # 0-1 floats, or a wider range scaled into 8 bits
        top = float(pixels.max()) or 1.0
        scale = 255.0 if top <= 1.0 else (1.0 if top <= 255 else 255.0 / top)
        pixels = np.clip(pixels.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    geometry = geometry_of(volume_node)
    if slices > 1:  # the chosen slice's own origin
        origin = geometry.ijk_to_ras @ np.array([0.0, 0.0, float(frame), 1.0])
        geometry = type(geometry)(geometry.spacing, tuple(origin[:3]), geometry.directions)
    return Image(pixels[np.newaxis], geometry, ImageOrigin(name, "ES", "none", False))


def _vector_volume(picture: np.ndarray, like, name: str, scene):
    node = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", name)
    node.SetIJKToRASMatrix(_matrix(like))
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(picture[np.newaxis], np.uint8))
    node.CreateDefaultDisplayNodes()
    return node


def _matrix(geometry) -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    for row in range(4):
        for column in range(4):
            matrix.SetElement(row, column, float(geometry.ijk_to_ras[row, column]))
    return matrix


def _colour_depth(node, scene) -> None:
    table = scale_colour_id(scene)
    if table is not None:
        node.GetDisplayNode().SetAndObserveColorNodeID(table)


def depth_volume(result: EndoscopyResult, name: str, scene):
    node = volume_from_array(result.depth_cm.astype(np.float32), result.geometry, name, scene)
    _colour_depth(node, scene)
    return node


def _check_sizes(result: EndoscopyResult, rgb: np.ndarray) -> None:
    for what, array in (("lesion mask", result.mask), ("depth", result.depth_cm)):
        if array is not None and array.shape != rgb.shape[:2]:
            raise InputError(f"The result's {what} is {array.shape[1]}×{array.shape[0]} pixels but the frame is "
                             f"{rgb.shape[1]}×{rgb.shape[0]}: this result belongs to another frame.")


@dataclass
class EndoscopyScene:
    """The nodes of one analysed frame (None where a refused frame has nothing to show)."""

    result: EndoscopyResult
    table: object
    segmentation: object = None
    depth: object = None
    fused: object = None


def lesion_records(result: EndoscopyResult) -> list[dict]:
    return [{k: row[k] for k in ("frame_index", "status", "lesion_count", "lesion", "area_px", "area_percent_of_field",
                                 "confidence", "peak_probability", "box_top_left_bottom_right", "median_depth_cm",
                                 "message")} for row in result.csv_rows()]


def add_endoscopy_results(volume_node, result: EndoscopyResult, rgb: np.ndarray, name: Optional[str] = None,
                          scene=None) -> EndoscopyScene:
    """The nodes of ``result`` (for the frame ``rgb``, H×W×3 uint8, shown by ``volume_node``), all or nothing."""
    scene = current_scene(scene or volume_node.GetScene())
    name = name or volume_node.GetName()
    _check_sizes(result, rgb)
    with SceneTransaction(scene):
        table = table_from_records(lesion_records(result), f"{name} lesions", scene)
        place_with_input(table, volume_node)
        out = EndoscopyScene(result, table)
        if result.status != STATUS_OK:
            return out
        out.segmentation = segmentation_from_labelmap(result.mask.astype(np.uint8), result.geometry, [LESION_SEGMENT],
                                                      f"{name} lesions", scene)
        out.depth = depth_volume(result, f"{name} depth", scene)
        out.fused = _vector_volume(fuse(rgb, result.mask), result.geometry, f"{name} fused", scene)
        for node in (out.segmentation, out.depth, out.fused):
            place_with_input(node, volume_node)
    return out


@dataclass
class EndoscopyVideoScene:
    browser: object
    fused: object      # sequence node of fused pictures
    depth: object      # sequence node of depth volumes
    table: object      # every frame's lesions


def _sequences_logic(scene):
    try:
        return slicer.modules.sequences.logic()  # in the application
    except AttributeError:
        logic = slicer.vtkSlicerSequencesLogic()
        logic.SetMRMLScene(scene)
        return logic


def add_video_results(volume_node, frames: Iterable[tuple[EndoscopyResult, np.ndarray]], name: Optional[str] = None,
                      scene=None) -> EndoscopyVideoScene:
    """Sequences of fused pictures and depth volumes, one item per analysed frame, with a browser node.
    ``volume_node`` is the video as a multi-slice volume, or None for a video read from its file."""
    scene = current_scene(scene or (volume_node.GetScene() if volume_node is not None else None))
    name = name or (volume_node.GetName() if volume_node is not None else "video")
    if not scene.IsNodeClassRegistered("vtkMRMLSequenceBrowserNode"):
        scene.RegisterNodeClass(slicer.vtkMRMLSequenceBrowserNode())
    with SceneTransaction(scene):
        fused_sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", f"{name} fused sequence")
        depth_sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", f"{name} depth sequence")
        for sequence in (fused_sequence, depth_sequence):
            sequence.SetIndexName("frame")
            sequence.SetIndexUnit("")
        records: list[dict] = []
        for result, rgb in frames:
            _check_sizes(result, rgb)
            value = str(result.frame_index if result.frame_index is not None else len(records))
            picture = video_picture(rgb, result.mask if result.status == STATUS_OK else None)
            fused = _vector_volume(picture, result.geometry, "frame", scene)
            fused_sequence.SetDataNodeAtValue(fused, value)
            scene.RemoveNode(fused)
            depth = result.depth_cm if result.depth_cm is not None else np.zeros(rgb.shape[:2], np.float32)
            depth_node = volume_from_array(depth.astype(np.float32), result.geometry, "depth", scene)
            depth_sequence.SetDataNodeAtValue(depth_node, value)
            scene.RemoveNode(depth_node)
            records += lesion_records(result)
        if fused_sequence.GetNumberOfDataNodes() == 0:
            raise InputError(f"'{name}': no frame was analysed.")
        browser = scene.AddNewNodeByClass("vtkMRMLSequenceBrowserNode", f"{name} browser")
        browser.SetAndObserveMasterSequenceNodeID(fused_sequence.GetID())
        browser.AddSynchronizedSequenceNodeID(depth_sequence.GetID())
        browser.SetSelectedItemNumber(0)
        _sequences_logic(scene).UpdateProxyNodesFromSequences(browser)
        depth_proxy = browser.GetProxyNode(depth_sequence)  # a sequence keeps data, not display: colour it here
        if depth_proxy is not None:
            depth_proxy.CreateDefaultDisplayNodes()
            _colour_depth(depth_proxy, scene)
        table = table_from_records(records, f"{name} lesions", scene)
        if volume_node is not None:
            place_with_input(table, volume_node)
    return EndoscopyVideoScene(browser, fused_sequence, depth_sequence, table)
