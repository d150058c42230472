"""A radiograph with its hip landmarks, lines and measure tables in the scene.

Used for the demo, the batch command's scene bundles and pictures, and the
HipTHA module's results. The model's own positions are kept on each landmarks
node (attribute ``OrthoAI.ModelPoints``), so a user's corrections can be
undone with :func:`reset_to_model_points`, also after saving and reopening.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np
import slicer

from ...errors import InputError
from ...geometry import ImageGeometry
from ..app import current_scene
from ..hierarchy import create_patient_study, move_under, place_with_input
from .link import MM_PER_UNIT_ATTRIBUTE, HipMeasurementLink
from ..markups import fiducials_from_points
from ..scene_edit import SceneTransaction
from ..volumes import volume_from_array

MODEL_POINTS_ATTRIBUTE = "OrthoAI.ModelPoints"


@dataclass
class HipScene:
    volume: object
    landmarks: dict[str, object] = field(default_factory=dict)  # operated side -> fiducial node
    links: dict[str, HipMeasurementLink] = field(default_factory=dict)

    def detach(self) -> None:
        for link in self.links.values():
            link.detach()


def store_model_points(landmarks_node, points: Mapping[str, Sequence[float]]) -> None:
    landmarks_node.SetAttribute(MODEL_POINTS_ATTRIBUTE, json.dumps({k: [float(v) for v in p] for k, p in points.items()}))


def reset_to_model_points(landmarks_node) -> None:
    """Put every landmark back where the model placed it."""
    stored = landmarks_node.GetAttribute(MODEL_POINTS_ATTRIBUTE)
    if not stored:
        raise InputError(f"'{landmarks_node.GetName()}' has no model positions to return to (it was not detected).")
    fiducials_from_points(json.loads(stored), landmarks_node.GetName(), landmarks_node.GetScene(), node=landmarks_node)


def add_hip_results(volume, sides: Mapping[str, Mapping[str, Sequence[float]]], cup_diameter_mm: Optional[float] = None,
                    scene=None, model_points: bool = True, mm_per_unit: float = 1.0) -> HipScene:
    """Landmarks (one node per operated side), live lines and measure tables for ``volume``."""
    scene = current_scene(scene)
    result = HipScene(volume)
    try:
        with SceneTransaction(scene):
            for side, points in sides.items():
                name = f"Hip landmarks ({side})" if len(sides) > 1 else "Hip landmarks"
                landmarks = fiducials_from_points(points, name, scene)
                if model_points:
                    store_model_points(landmarks, points)
                landmarks.SetAttribute(MM_PER_UNIT_ATTRIBUTE, repr(float(mm_per_unit)))
                display = landmarks.GetDisplayNode()
                display.SetGlyphScale(2.0)
                display.SetTextScale(2.5)
                place_with_input(landmarks, volume)
                result.landmarks[side] = landmarks
                result.links[side] = HipMeasurementLink(landmarks, volume_node=volume, cup_diameter_mm=cup_diameter_mm,
                                                        scene=scene)
    except Exception:
        result.detach()  # the transaction removed the nodes; the observers go too
        raise
    return result


def add_radiograph(pixels: np.ndarray, geometry: ImageGeometry, name: str, scene=None, study: Optional[tuple[str, str]] = None):
    """The film as a single-slice volume with a display window over its 1st–99.5th percentiles."""
    scene = current_scene(scene)
    with SceneTransaction(scene):
        volume = volume_from_array(pixels, geometry, name, scene)
        display = volume.GetDisplayNode()
        display.AutoWindowLevelOff()
        display.SetWindowLevelMinMax(float(np.percentile(pixels, 1)), float(np.percentile(pixels, 99.5)))
        if study is not None:
            _, study_item = create_patient_study(study[0], study[1], scene)
            move_under(volume, study_item)
    return volume


def _dicom_file_of(volume_node) -> Optional[str]:
    """The DICOM file a volume was loaded from (storage node, or the application's DICOM database)."""
    storage = volume_node.GetStorageNode()
    if storage is not None and storage.GetFileName():
        return storage.GetFileName()
    uids = volume_node.GetAttribute("DICOM.instanceUIDs")
    database = getattr(slicer, "dicomDatabase", None)
    if uids and database is not None:
        return database.fileForInstance(uids.split()[0]) or None
    return None


def radiograph_from_volume(volume_node, spacing_mm: Optional[float] = None):
    """The film in a single-slice volume node as the hip pipeline reads it, the node's geometry
    (unchanged: points are placed where the film is shown), and true mm per scene unit.

    True spacing: the user's, else the DICOM header's by OrthoAI's rules (Slicer's DICOM
    reader takes ImagerPixelSpacing for DX films, or none at all), else the volume's.
    When it differs from the spacing the node shows, lengths are scaled by their ratio.
    A film whose columns run towards the patient's right (by its geometry, or by the DICOM
    ``PatientOrientation`` that Slicer's reader ignores) is flagged ``mirrored``.
    """
    from ...io.radiograph import Radiograph, read_dicom_header
    from ..volumes import array_from_volume

    array, geometry = array_from_volume(volume_node)
    if array.shape[0] != 1:
        raise InputError(f"'{volume_node.GetName()}' has {array.shape[0]} slices; choose a single radiograph (one slice).")
    dicom_file = _dicom_file_of(volume_node)
    header = read_dicom_header(dicom_file) if dicom_file else None
    shown = (geometry.spacing[1], geometry.spacing[0])
    if spacing_mm:
        spacing, source, corrected = (float(spacing_mm), float(spacing_mm)), "given by the user", True
    elif header is not None and header.spacing is not None:
        (spacing, source, corrected) = header.spacing
        source = f"DICOM {source}"
    else:
        spacing, source, corrected = shown, "volume spacing", True
    ratios = np.asarray(spacing) / np.asarray(shown)
    if abs(ratios[0] - ratios[1]) > 0.01 * ratios.mean():
        raise InputError(f"'{volume_node.GetName()}' is shown with pixel spacing {shown} mm but its true spacing is "
                         f"{spacing} mm, in different proportions per axis; resample it or give the spacing in mm.")
    mirrored = bool(np.asarray(geometry.directions)[0, 0] > 0)  # I axis towards the patient's right
    if header is not None and header.columns_towards_right:
        mirrored = not mirrored
    pixels = array[0].astype(np.float32)
    if mirrored:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
    radiograph = Radiograph(pixels, spacing, source, corrected, volume_node.GetName(), mirrored)
    return radiograph, geometry, float(ratios.mean())


def detect_hip_results(volume_node, detector, *, cup_diameter_mm: Optional[float] = None, spacing_mm: Optional[float] = None,
                       side: str = "auto", progress=None, cancel=None):
    """Keypoints, lines and measure tables for the film in ``volume_node`` (the HipTHA module's
    Detect). The scene changes only once detection succeeded: Cancel or an error leaves it as it was.
    Returns ``(HipCaseResult, HipScene)``."""
    from ...pipelines.hip.analysis import analyse_radiograph

    radiograph, geometry, mm_per_unit = radiograph_from_volume(volume_node, spacing_mm)
    case = analyse_radiograph(radiograph, detector, cup_diameter_mm=cup_diameter_mm, side=side,
                              geometry=geometry, mm_per_unit=mm_per_unit, progress=progress, cancel=cancel)
    scene = add_hip_results(volume_node, {s.operated_side: s.points_ras for s in case.sides}, cup_diameter_mm,
                            volume_node.GetScene(), mm_per_unit=mm_per_unit)
    return case, scene


def save_hip_scene(app, pixels: np.ndarray, geometry: ImageGeometry, sides: Mapping[str, Mapping[str, Sequence[float]]],
                   cup_diameter_mm: Optional[float], bundle_path, picture_path):
    """A film with its results as a scene bundle and a slice-view picture, in a headless
    application's scene (emptied before and after). Returns the two paths."""
    from ..render import render_slice_view
    from ..scene_io import save_scene_bundle
    from ..views import show_image_and_table

    app.clear()
    volume = add_radiograph(pixels, geometry, "AP pelvis radiograph", app.scene, study=("Anonymous", "AP pelvis"))
    results = add_hip_results(volume, sides, cup_diameter_mm, app.scene)
    try:
        show_image_and_table(volume, next(iter(results.links.values())).table_node, app.scene)
        return save_scene_bundle(bundle_path, app.scene), render_slice_view(app, volume, picture_path)
    finally:
        results.detach()
        app.clear()
