"""What the HipTHA module's Detect button does, on real MRML: volume in, editable results out."""

import numpy as np
import pytest

from OrthoAILib.hip.analysis import analyse_radiograph
from OrthoAILib.mrml.hip_scene import add_hip_results, radiograph_from_volume, reset_to_model_points
from OrthoAILib.mrml.markups import points_from_fiducials
from OrthoAILib.mrml.volumes import volume_from_array
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

from ..conftest import scene_node_ids


@pytest.fixture(scope="module")
def detector():
    from OrthoAILib.hip.keypoint_pipeline import HipKeypointDetector

    return HipKeypointDetector()


@pytest.mark.parametrize("mirrored_volume", [False, True])
def test_detected_points_land_on_the_film_in_either_column_order(scene, detector, mirrored_volume):
    film = make_pelvis_radiograph(1_000_201, operated="left", spacing_mm=0.2)
    geometry = film.geometry
    image = film.image
    if mirrored_volume:  # columns stored towards the patient's right: same anatomy, I axis flipped
        from OrthoAILib.geometry import ImageGeometry

        directions = np.array(geometry.directions)
        directions[:, 0] *= -1
        origin = geometry.ijk_to_world([image.shape[1] - 1, 0, 0])
        geometry = ImageGeometry(geometry.spacing, tuple(origin), tuple(map(tuple, directions)))
        image = image[:, ::-1]
    volume = volume_from_array(image, geometry, "film", scene)
    radiograph, node_geometry = radiograph_from_volume(volume)
    assert radiograph.mirrored == mirrored_volume
    case = analyse_radiograph(radiograph, detector, geometry=node_geometry)
    (side,) = case.sides
    assert side.operated_side == "left"
    truth = film.keypoints_ras_for("left")
    errors = [np.linalg.norm(side.points_ras[name] - truth[name]) for name in truth]
    assert np.mean(errors) < 2.0


def test_results_are_editable_and_reset_returns_the_models_points(scene, detector):
    film = make_pelvis_radiograph(1_000_202, operated="right", spacing_mm=0.2)
    volume = volume_from_array(film.image, film.geometry, "film", scene)
    radiograph, geometry = radiograph_from_volume(volume)
    case = analyse_radiograph(radiograph, detector, geometry=geometry)
    result = add_hip_results(volume, {s.operated_side: s.points_ras for s in case.sides}, film.cup_diameter_mm, scene)
    landmarks, link = result.landmarks["right"], result.links["right"]
    model = points_from_fiducials(landmarks)
    index = landmarks.GetControlPointIndexByLabel("ischium_left")
    landmarks.SetNthControlPointPositionWorld(index, *(model["ischium_left"] + [0.0, 0.0, 9.0]))
    corrected = link.measures.abduction_deg
    reset_to_model_points(landmarks)
    assert np.allclose(points_from_fiducials(landmarks)["ischium_left"], model["ischium_left"])
    assert link.measures.abduction_deg != pytest.approx(corrected)
    result.detach()


def test_cancel_leaves_the_scene_as_it_was(scene, detector):
    from OrthoAILib.errors import Cancelled
    from OrthoAILib.runtime.progress import CancelToken

    film = make_pelvis_radiograph(1_000_203, spacing_mm=0.2)
    volume = volume_from_array(film.image, film.geometry, "film", scene)
    before = scene_node_ids(scene)
    cancel = CancelToken()
    radiograph, geometry = radiograph_from_volume(volume)
    with pytest.raises(Cancelled):
        analyse_radiograph(radiograph, detector, geometry=geometry, cancel=cancel,
                           progress=lambda fraction, message: cancel.cancel())
    assert scene_node_ids(scene) == before
