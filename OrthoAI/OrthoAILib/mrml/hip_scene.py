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

from ..errors import InputError
from ..geometry import ImageGeometry
from .app import current_scene
from .hierarchy import create_patient_study, move_under, place_with_input
from .hip_link import HipMeasurementLink
from .markups import fiducials_from_points
from .scene_edit import SceneTransaction
from .volumes import volume_from_array

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
                    scene=None, model_points: bool = True) -> HipScene:
    """Landmarks (one node per operated side), live lines and measure tables for ``volume``."""
    scene = current_scene(scene)
    result = HipScene(volume)
    with SceneTransaction(scene):
        for side, points in sides.items():
            name = f"Hip landmarks ({side})" if len(sides) > 1 else "Hip landmarks"
            landmarks = fiducials_from_points(points, name, scene)
            if model_points:
                store_model_points(landmarks, points)
            display = landmarks.GetDisplayNode()
            display.SetGlyphScale(2.0)
            display.SetTextScale(2.5)
            link = HipMeasurementLink(landmarks, volume_node=volume, cup_diameter_mm=cup_diameter_mm, scene=scene)
            for node in [landmarks, link.table_node, *link.line_nodes.values()]:
                place_with_input(node, volume)
            result.landmarks[side] = landmarks
            result.links[side] = link
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


def radiograph_from_volume(volume_node, spacing_mm: Optional[float] = None):
    """The film in a single-slice volume node, as the hip pipeline reads it, and its geometry.

    Returns ``(radiograph, geometry)``; a film whose columns run towards the
    patient's right is flagged ``mirrored`` (the pipeline works in radiological
    orientation and the caller maps points back through ``geometry``).
    """
    from ..radiograph_io import Radiograph
    from .volumes import array_from_volume

    array, geometry = array_from_volume(volume_node)
    if array.shape[0] != 1:
        raise InputError(f"'{volume_node.GetName()}' has {array.shape[0]} slices; choose a single radiograph (one slice).")
    spacing = (geometry.spacing[1], geometry.spacing[0])
    source = "volume spacing"
    if spacing_mm:
        spacing, source = (float(spacing_mm), float(spacing_mm)), "given by the user"
    mirrored = np.asarray(geometry.directions)[0, 0] > 0  # I axis towards the patient's right
    pixels = array[0].astype(np.float32)
    if mirrored:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
    if spacing_mm:
        geometry = ImageGeometry((spacing[1], spacing[0], geometry.spacing[2]), geometry.origin, geometry.directions)
    return Radiograph(pixels, spacing, source, True, volume_node.GetName(), bool(mirrored)), geometry

