"""A radiograph with its hip landmarks, lines and measure tables in the scene.

Used for the demo, the batch command's scene bundles and pictures, and the
HipTHA module's results; the pipeline itself runs in the apps layer (``apps.hip``). The model's own positions are kept on each landmarks
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
from ...image import Image
from ...pipelines.hip.pipeline import HipCaseResult
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


def add_hip_results(volume, case: HipCaseResult, cup_diameter_mm: Optional[float] = None, scene=None,
                    model_points: bool = True) -> HipScene:
    """Landmarks (one node per operated side), live lines and measure tables for ``volume``, starting
    from the pipeline's own measures (a side it could not measure starts from its points)."""
    scene = current_scene(scene)
    result = HipScene(volume)
    mm_per_unit = _mm_per_unit_of(case, volume)
    try:
        with SceneTransaction(scene):
            for side in case.sides:
                name = f"Hip landmarks ({side.operated_side})" if len(case.sides) > 1 else "Hip landmarks"
                landmarks = fiducials_from_points(side.points_ras, name, scene)
                if model_points:
                    store_model_points(landmarks, side.points_ras)
                landmarks.SetAttribute(MM_PER_UNIT_ATTRIBUTE, repr(float(mm_per_unit)))
                display = landmarks.GetDisplayNode()
                display.SetGlyphScale(2.0)
                display.SetTextScale(2.5)
                place_with_input(landmarks, volume)
                result.landmarks[side.operated_side] = landmarks
                result.links[side.operated_side] = HipMeasurementLink(
                    landmarks, volume_node=volume, cup_diameter_mm=cup_diameter_mm, scene=scene,
                    mm_per_unit=mm_per_unit, initial_measures=side.measures)
    except Exception:
        result.detach()  # the transaction removed the nodes; the observers go too
        raise
    return result


def _mm_per_unit_of(case: HipCaseResult, volume) -> float:
    """True mm per scene unit: the case's true spacing over the spacing the volume shows."""
    shown = volume.GetSpacing()
    return float(np.mean([case.spacing_mm[1] / shown[0], case.spacing_mm[0] / shown[1]]))


def add_radiograph(pixels: np.ndarray, geometry: ImageGeometry, name: str, scene=None, study: Optional[tuple[str, str]] = None):
    """The film as a single-slice volume with a display window over its 1st–99.5th percentiles."""
    scene = current_scene(scene)
    # the window from a strided sample: the same percentiles within a grey level, 16 times fewer pixels
    low, high = (float(v) for v in np.percentile(pixels[::4, ::4], [1, 99.5]))
    with SceneTransaction(scene):
        volume = volume_from_array(pixels, geometry, name, scene, window=(low, high if high > low else low + 1))
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


def radiograph_from_volume(volume_node, spacing_mm: Optional[float] = None) -> Image:
    """The film in a single-slice volume node as the hip pipeline reads it (the node is not changed).

    The spacing and orientation policy is the readers' (``io.radiograph_policy``): the user's
    spacing, else the DICOM header's (Slicer's DICOM reader takes ImagerPixelSpacing for DX
    films, or none at all), else the volume's. The image keeps the node's geometry, so points
    land where the film is shown; when the true spacing differs from the one shown, the
    image's ``mm_per_unit`` scales lengths. A film whose columns run towards the patient's
    right (by its geometry, or by the DICOM ``PatientOrientation`` that Slicer's reader
    ignores) is mirrored, geometry and all.
    """
    from ...io.radiograph import read_dicom_header
    from ...io.radiograph_policy import choose_spacing, is_mirrored, radiograph_image
    from ..volumes import array_from_volume

    array, geometry = array_from_volume(volume_node)
    name = volume_node.GetName()
    if array.shape[0] != 1:
        raise InputError(f"'{name}' has {array.shape[0]} slices; choose a single radiograph (one slice).")
    dicom_file = _dicom_file_of(volume_node)
    header = read_dicom_header(dicom_file) if dicom_file else None
    shown = (geometry.spacing[1], geometry.spacing[0])
    spacing = choose_spacing(name, user_mm=spacing_mm, dicom=header.spacing if header else None,
                             own=shown, own_source="volume spacing")
    if header is not None and spacing is header.spacing:
        spacing = type(spacing)(spacing.spacing_rc, f"DICOM {spacing.source}", spacing.calibrated)
    ratios = np.asarray(spacing.spacing_rc) / np.asarray(shown)
    if abs(ratios[0] - ratios[1]) > 0.01 * ratios.mean():
        raise InputError(f"'{name}' is shown with pixel spacing {shown} mm but its true spacing is "
                         f"{spacing.spacing_rc} mm, in different proportions per axis; resample it or give the spacing in mm.")
    mirrored = is_mirrored(np.asarray(geometry.directions)[0, 0], header is not None and header.columns_towards_right)
    return radiograph_image(array[0], spacing, name, mirrored=mirrored, geometry=geometry,
                            mm_per_unit=float(ratios.mean()))


def save_hip_scene(app, image: Image, case: HipCaseResult, cup_diameter_mm: Optional[float], bundle_path, picture_path):
    """A film with its results as a scene bundle and a slice-view picture, in a headless
    application's scene (emptied before and after). Returns the two paths."""
    from ..render import render_slice_view
    from ..scene_io import save_scene_bundle
    from ..views import show_image_and_table

    app.clear()
    volume = add_radiograph(image.plane, image.geometry, "AP pelvis radiograph", app.scene, study=("Anonymous", "AP pelvis"))
    results = add_hip_results(volume, case, cup_diameter_mm, app.scene)
    try:
        # a refused film has no table: the picture then shows the film alone
        show_image_and_table(volume, next((link.table_node for link in results.links.values()), None), app.scene)
        return save_scene_bundle(bundle_path, app.scene), render_slice_view(app, volume, picture_path)
    finally:
        results.detach()
        app.clear()
