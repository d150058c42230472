"""A fetal head analysis in the scene: ellipse curve, head segmentation, heatmap overlay, measures.

Used by the FetalUltrasound module for its own analyses (``apps.fetal_node``) and for results
that arrive from the inference server (:func:`add_remote_result`); the pipeline itself runs in
the apps layer. The heatmap is shown as Slicer shows a colour picture: an RGB volume of the
still with the class's saliency blended in (``pipelines.fetal.heatmap.fuse``, the picture the
batch and the server write), on the still's grid, so it can lie over the still as the slice
views' foreground and be faded with their opacity. A still where no head was measured gets only
a table with the status and the reason.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import slicer
import vtk

from ...errors import InputError
from ...geometry import ImageGeometry
from ...io.ultrasound import grey_from_channels
from ...pipelines.fetal.ellipse import Ellipse
from ...pipelines.fetal.heatmap import fuse
from ...pipelines.fetal.pipeline import FetalResult, measure_ellipse
from ...pipelines.fetal.presence import OK, PresenceScores
from ..app import current_scene
from ..hierarchy import move_under, place_with_input
from ..scene_edit import SceneTransaction
from ..segmentations import SegmentSpec, segmentation_from_labelmap
from ..volumes import geometry_of, volume_from_array
from .link import FETAL_ATTRIBUTE, FetalMeasurementLink, HeadContext, curve_from_ellipse, ellipse_from_curve
from .measures_table import update_measures_table
from .still import grey_plane_of, still_from_volume

# The bridge's fetal entry points in one place (the curve, table and still helpers live beside).
__all__ = ["FetalScene", "add_fetal_results", "add_remote_result", "ellipse_from_curve", "still_from_volume",
           "update_measures_table", "rgb_overlay", "result_from_document", "picture_geometry"]

HEAD_SEGMENT = SegmentSpec(1, "fetal head", (0.35, 0.75, 0.95))
SEGMENT_FILL_OPACITY = 0.25
SERVER_SUBJECT = "Fetal ultrasound server"
# A picture file as Slicer shows it: LPS-aligned pixels, rows running down the axial view.
PICTURE_DIRECTIONS = ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass
class FetalScene:
    """The nodes of one analysed still (``curve`` and the rest are None when no head was measured)."""

    volume: object
    result: FetalResult
    table: object
    curve: object = None
    segmentation: object = None
    heatmap: object = None
    link: Optional[FetalMeasurementLink] = None

    @property
    def measured(self) -> bool:
        return self.curve is not None

    def detach(self) -> None:
        if self.link is not None:
            self.link.detach()


def add_fetal_results(volume_node, result: FetalResult, name: Optional[str] = None, scene=None, *,
                      ga_weeks: Optional[float] = None, fused_heatmap: Optional[np.ndarray] = None) -> FetalScene:
    """The result's nodes for the still in ``volume_node`` (never modified), all or nothing.

    ``ga_weeks``: the gestational age the result was measured with (kept for the edited ellipse's
    measures when the result has no growth assessment: an age outside the standard).
    ``fused_heatmap``: the heatmap picture when it is already made (rows × columns × 3, ``uint8``;
    a server result); otherwise it is fused from the still and ``result.heatmap``.
    """
    scene = current_scene(scene or volume_node.GetScene())
    base = name or volume_node.GetName()
    with SceneTransaction(scene):
        table = scene.AddNewNodeByClass("vtkMRMLTableNode", f"{base} fetal head measures")
        place_with_input(table, volume_node)
        if result.status != OK or result.measures is None:
            update_measures_table(table, None, status=result.status, message=result.message or "nothing was measured")
            return FetalScene(volume_node, result, table)
        fetal = FetalScene(volume_node, result, table)
        try:
            _add_measured(fetal, base, scene, ga_weeks, fused_heatmap)
        except Exception:
            fetal.detach()
            raise
    return fetal


def _add_measured(fetal: FetalScene, base: str, scene, ga_weeks: Optional[float],
                  fused_heatmap: Optional[np.ndarray]) -> None:
    volume, result = fetal.volume, fetal.result
    measures = result.measures
    growth = measures.growth
    context = HeadContext(result.pixel_size_mm, growth.ga_weeks if growth else ga_weeks,
                          result.shape_class, result.class_probabilities.get(result.shape_class) if result.shape_class
                          else None, measures.ellipse)
    fetal.curve = curve_from_ellipse(measures.ellipse, volume, f"{base} head ellipse", scene)
    fetal.curve.SetAttribute(FETAL_ATTRIBUTE, context.to_json())
    place_with_input(fetal.curve, volume)
    if result.mask is not None:
        mask = _on_still_grid(np.asarray(result.mask), volume, "head mask").astype(np.uint8)
        fetal.segmentation = segmentation_from_labelmap(mask, geometry_of(volume), [HEAD_SEGMENT],
                                                        f"{base} head segmentation", scene, reference_volume=volume)
        fetal.segmentation.GetDisplayNode().SetOpacity2DFill(SEGMENT_FILL_OPACITY)  # the still shows through
        place_with_input(fetal.segmentation, volume)
    picture = fused_heatmap
    if picture is None and result.heatmap is not None:
        plane = grey_plane_of(volume)[0].astype(np.float32)
        picture = fuse(plane, _on_still_grid(np.asarray(result.heatmap), volume, "heatmap"))
    if picture is not None:
        fetal.heatmap = rgb_overlay(picture, volume, f"{base} heatmap", scene)
        place_with_input(fetal.heatmap, volume)
    fetal.link = FetalMeasurementLink(fetal.curve, volume, fetal.table, context=context, initial_measures=measures)


def _on_still_grid(array: np.ndarray, volume_node, what: str) -> np.ndarray:
    """``array`` (rows × columns[ × channels]) checked against the still's grid."""
    dimensions = volume_node.GetImageData().GetDimensions()
    if array.shape[:2] != (dimensions[1], dimensions[0]):
        raise InputError(f"The {what} is {array.shape[1]}×{array.shape[0]} pixels but the still "
                         f"'{volume_node.GetName()}' is {dimensions[0]}×{dimensions[1]}; they must match.")
    return array


def rgb_overlay(picture: np.ndarray, volume_node, name: str, scene=None):
    """An RGB vector volume holding ``picture`` (rows × columns × 3) on the still's grid."""
    picture = np.ascontiguousarray(_on_still_grid(np.asarray(picture), volume_node, "heatmap picture"), np.uint8)
    if picture.ndim != 3 or picture.shape[2] != 3:
        raise InputError(f"The heatmap picture must be RGB (rows × columns × 3), got shape {picture.shape}.")
    scene = current_scene(scene)
    with SceneTransaction(scene):
        node = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", name)
        matrix = vtk.vtkMatrix4x4()
        volume_node.GetIJKToRASMatrix(matrix)
        node.SetIJKToRASMatrix(matrix)
        slicer.util.updateVolumeFromArray(node, picture[np.newaxis])
        node.CreateDefaultDisplayNodes()
    return node


# -- results received from the inference server ------------------------------------------------------

def picture_geometry(shape_rc: tuple[int, int], pixel_size_xy: Optional[tuple[float, float]]) -> ImageGeometry:
    """Where Slicer would show the still had it loaded the picture file (at its true pixel size if known)."""
    sx, sy = pixel_size_xy or (1.0, 1.0)
    return ImageGeometry(spacing=(sx, sy, 1.0), origin=(0.0, 0.0, 0.0), directions=PICTURE_DIRECTIONS)


def decode_png(data: bytes, what: str) -> np.ndarray:
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            picture.load()
            return np.asarray(picture.convert("RGB") if picture.mode in ("P", "CMYK", "YCbCr") else picture)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise InputError(f"The {what} received from the server is not a picture ({error}); "
                         "check the server's version.") from None


def result_from_document(document: dict, geometry: ImageGeometry, mask: Optional[np.ndarray] = None) -> FetalResult:
    """A server's result JSON (``FetalResult.to_json``) as a result; the measures are recomputed from its
    ellipse with the same core function, so an edited curve and the server's figures agree."""
    status = document.get("status", "")
    size = document.get("pixel_size_mm")
    pixel_size = (float(size[0]), float(size[1])) if size else None
    presence = document.get("presence")
    measures = None
    if status == OK and document.get("ellipse"):
        growth = document.get("growth") or {}
        measures = measure_ellipse(Ellipse.from_json(document["ellipse"]), pixel_size, growth.get("ga_weeks"))
    return FetalResult(
        source=str(document.get("source", "")), geometry=geometry, status=status or "unknown",
        message=str(document.get("message", "")), presence=PresenceScores(**presence) if presence else None,
        pixel_size_mm=pixel_size, pixel_size_source=str(document.get("pixel_size_source", "none")),
        measures=measures, shape_class=document.get("class"),
        class_probabilities={k: float(v) for k, v in (document.get("class_probabilities") or {}).items()},
        mask=mask, seconds=float(document.get("seconds") or 0.0), warnings=tuple(document.get("warnings") or ()))


def add_remote_result(scene, still_png_bytes: bytes, result_json: Union[dict, str, bytes],
                      heatmap_png_bytes: Optional[bytes] = None, mask_png_bytes: Optional[bytes] = None,
                      name: Optional[str] = None) -> FetalScene:
    """A still analysed by the inference server: a volume of the still (at the result's pixel size) under
    the subject "Fetal ultrasound server", with the same nodes as a local analysis."""
    scene = current_scene(scene)
    document = json.loads(result_json) if isinstance(result_json, (str, bytes)) else dict(result_json)
    pixels, _ = grey_from_channels(decode_png(still_png_bytes, "still"), "the received still")
    size = document.get("pixel_size_mm")
    geometry = picture_geometry(pixels.shape, (float(size[0]), float(size[1])) if size else None)
    name = name or str(document.get("source") or "Received still")
    measured = document.get("status") == OK
    mask = decode_png(mask_png_bytes, "mask") > 127 if measured and mask_png_bytes else None
    if mask is not None and mask.ndim == 3:
        mask = mask.any(axis=-1)
    heatmap = decode_png(heatmap_png_bytes, "heatmap")[..., :3] if measured and heatmap_png_bytes else None
    result = result_from_document(document, geometry, mask)
    with SceneTransaction(scene):
        volume = volume_from_array(np.asarray(pixels, np.float32), geometry, name, scene)
        fetal = add_fetal_results(volume, result, name, scene, fused_heatmap=heatmap)
    _file_under_server(fetal, name, scene)
    return fetal


def _file_under_server(fetal: FetalScene, name: str, scene) -> None:
    """The still and its results in a study of their own under the server's subject."""
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    subject = hierarchy.GetItemChildWithName(hierarchy.GetSceneItemID(), SERVER_SUBJECT)
    if not subject:
        subject = hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), SERVER_SUBJECT)
    study = hierarchy.CreateStudyItem(subject, name)
    for node in (fetal.volume, fetal.curve, fetal.segmentation, fetal.heatmap, fetal.table):
        if node is not None:
            move_under(node, study)
