"""A CT fracture result's nodes: the bones as a segmentation (one segment per bone found, with its
name, colour and terminology), one box (ROI) per finding, and the findings table that follows the
boxes (``link.FindingsLink``); the report export; the scene bundle of the command line.

Nodes are added all or nothing, placed with the input volume in the subject hierarchy; the input is
never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import slicer

from ...errors import InputError
from ...geometry import ImageGeometry
from ...image import Image
from ...pipelines.fracture.bones import BONE_BY_VALUE, BONE_COUNT, terminology_entry
from ...pipelines.fracture.pipeline import Finding, FractureResult
from ..app import current_scene
from ..hierarchy import create_patient_study, move_under, place_with_input
from ..markups import roi_from_box
from ..scene_edit import SceneTransaction
from ..segmentations import SegmentSpec, segmentation_from_labelmap
from ..tables import table_from_records
from ..volumes import geometry_of, volume_from_array
from .link import TABLE_COLUMNS, FindingsLink, jump_slices_to, style_roi, table_rows
from .terminology import load_bone_terminology

MIN_BOX_MM = 1.0  # a ROI needs a positive size: a flatter box is shown this thick
BONE_WINDOW = (-450.0, 1050.0)  # how a CT written into a scene bundle opens (level 300, width 1500)

__all__ = ["FractureNodes", "FindingsLink", "add_fracture_results", "bone_segments", "centre_views_on",
           "export_fracture_report", "jump_slices_to", "save_fracture_scene"]


@dataclass
class FractureNodes:
    segmentation: object = None
    rois: dict = field(default_factory=dict)  # finding id -> ROI node
    table: object = None
    link: Optional[FindingsLink] = None  # keeps the table and the findings in step with the ROIs

    def detach(self) -> None:
        if self.link is not None:
            self.link.detach()


def bone_segments(labels: np.ndarray) -> list[SegmentSpec]:
    """One segment per bone value present in ``labels``: its title, colour and terminology entry."""
    counts = np.bincount(np.asarray(labels, dtype=np.uint8).ravel(), minlength=BONE_COUNT + 1)
    return [SegmentSpec(value, BONE_BY_VALUE[value].title, BONE_BY_VALUE[value].colour,
                        terminology_entry(BONE_BY_VALUE[value]))
            for value in range(1, len(counts)) if counts[value] and value in BONE_BY_VALUE]


def _finding_roi(finding: Finding, scene):
    low, high = (np.asarray(corner, dtype=float) for corner in finding.box_ras_mm)
    roi = roi_from_box((low + high) / 2, np.maximum(high - low, MIN_BOX_MM), finding.title, scene)
    style_roi(roi, finding)
    return roi


def add_fracture_results(name: str, geometry: ImageGeometry, result: FractureResult, input_node=None,
                         scene=None) -> FractureNodes:
    """``<name> bones`` (segmentation on ``geometry``, the bone labels' grid), a ROI per finding and
    ``<name> fractures`` (table), under ``input_node``'s study; the table follows the ROIs."""
    if result.bone_labels is None:
        raise InputError(f"'{name}' was not analysed ({result.status}): {result.message}")
    scene = current_scene(scene)
    load_bone_terminology()  # before segments name a bone as an anatomic region (Slicer application only)
    nodes = FractureNodes()
    try:
        with SceneTransaction(scene):
            nodes.segmentation = segmentation_from_labelmap(result.bone_labels, geometry, bone_segments(result.bone_labels),
                                                            f"{name} bones", scene, reference_volume=input_node)
            nodes.rois = {finding.id: _finding_roi(finding, scene) for finding in result.findings}
            nodes.table = table_from_records(table_rows(result.findings), f"{name} fractures", scene,
                                             columns=TABLE_COLUMNS)
            nodes.table.SetLocked(True)  # rows follow the boxes: edit the boxes, not the cells
            if input_node is not None:
                for node in [nodes.segmentation, nodes.table, *nodes.rois.values()]:
                    place_with_input(node, input_node)
            nodes.link = FindingsLink(result, nodes.rois, nodes.table, name, scene)
    except Exception:
        nodes.detach()  # the transaction removed the nodes; the observers go too
        raise
    return nodes


def centre_views_on(nodes: FractureNodes, finding_id: int) -> None:
    """Centre the slice views on a finding (what a click on its table row does)."""
    nodes.link.centre_views_on(finding_id)


def _volume_array(volume) -> tuple[np.ndarray, ImageGeometry]:
    """Voxels (KJI, not copied: only read) and geometry of an ``Image`` or a volume node."""
    if isinstance(volume, Image):
        return volume.array, volume.geometry
    if volume is None or volume.GetImageData() is None:
        raise InputError("The report's pictures need the CT volume; choose the volume that was analysed.")
    return slicer.util.arrayFromVolume(volume), geometry_of(volume)


def export_fracture_report(source, volume, folder, name: str, columns: Optional[Sequence[str]] = None) -> list[Path]:
    """``<name>.fractures.json``, ``<name>.fractures.csv`` and ``<name>.finding<id>.png`` per finding
    (the axial slice through its centre, bone window, its box) into ``folder``.

    ``source``: a :class:`FindingsLink` (the findings as the user edited them) or a ``FractureResult``;
    ``volume``: the CT as a volume node or an ``Image``; ``columns``: the CSV's (default: its rows' keys).
    """
    from ...io.pictures import png_bytes
    from ...io.reports import atomic_write_bytes, write_csv, write_json
    from ...pipelines.fracture.pictures import finding_picture

    if isinstance(source, FindingsLink):
        result, document = source.current_result(), source.document()
    else:
        result, document = source, {"input": name, **source.to_json()}
    rows = [{"input": document.get("input", name), **row} for row in result.csv_rows()]
    columns = list(columns) if columns is not None else list(dict.fromkeys(key for row in rows for key in row))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = [write_json(folder / f"{name}.fractures.json", document),
             write_csv(folder / f"{name}.fractures.csv", rows, columns)]
    if result.findings:
        array, geometry = _volume_array(volume)
        for finding in result.findings:
            files.append(atomic_write_bytes(folder / f"{name}.finding{finding.id}.png",
                                            png_bytes(finding_picture(array, geometry, finding))))
    return files


def add_ct(image: Image, name: str, scene=None, study: tuple[str, str] = ("Anonymous", "CT")):
    """The CT as a volume under a new patient and study, opening in a bone window."""
    scene = current_scene(scene)
    with SceneTransaction(scene):
        volume = volume_from_array(image.array, image.geometry, name, scene)
        display = volume.GetDisplayNode()
        display.AutoWindowLevelOff()
        display.SetWindowLevelMinMax(*BONE_WINDOW)
        _, study_item = create_patient_study(study[0], study[1], scene)
        move_under(volume, study_item)
    return volume


def save_fracture_scene(app, image: Image, result: FractureResult, bundle_path) -> Path:
    """The CT with its bones, finding boxes and findings table as a scene bundle, in a headless
    application's scene (emptied before and after). Images are compressed: a CT halves, for a few
    seconds of a case's minutes (``save_scene_bundle`` leaves large images raw by default, for films)."""
    from ..scene_io import save_scene_bundle
    from ..views import show_image_and_table

    app.clear()
    name = Path(image.origin.name).name or "CT"
    volume = add_ct(image, name, app.scene)
    nodes = add_fracture_results(name, image.geometry, result, volume, app.scene)
    try:
        show_image_and_table(volume, nodes.table, app.scene)
        return save_scene_bundle(bundle_path, app.scene, compress_images=True)
    finally:
        nodes.detach()
        app.clear()
