"""What the HipTHA module's Detect button does, on real MRML: volume in (bridge), pipeline (core),
editable results out (bridge), joined by the apps layer."""

import numpy as np
import pytest

from OrthoAILib.apps.hip import detect_on_volume
from OrthoAILib.pipelines.hip.pipeline import HipPipeline
from OrthoAILib.mrml.hip.scene import add_hip_results, radiograph_from_volume, reset_to_model_points
from OrthoAILib.mrml.markups import points_from_fiducials
from OrthoAILib.mrml.volumes import volume_from_array
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

from ..conftest import scene_node_ids


@pytest.fixture(scope="module")
def detector():
    return HipPipeline()


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
    image = radiograph_from_volume(volume)
    assert (image.origin.orientation != "as stored") == mirrored_volume and image.origin.mm_per_unit == pytest.approx(1.0)
    # every pixel of the (possibly mirrored) image keeps the world position the node shows it at
    node_array = slicer_array(volume)
    for k, j, i in ((0, 10, 20), (0, 400, 5)):
        world = image.geometry.ijk_to_world([i, j, k])
        ni, nj, _ = np.round(volume_geometry(volume).world_to_ijk(world)).astype(int)
        assert image.array[k, j, i] == node_array[k, nj, ni]
    case = detector.run(image)
    (side,) = case.sides
    assert side.operated_side == "left"
    truth = film.keypoints_ras_for("left")
    errors = [np.linalg.norm(side.points_ras[name] - truth[name]) for name in truth]
    assert np.mean(errors) < 2.0


def test_results_are_editable_and_reset_returns_the_models_points(scene, detector):
    film = make_pelvis_radiograph(1_000_202, operated="right", spacing_mm=0.2)
    volume = volume_from_array(film.image, film.geometry, "film", scene)
    case = detector.run(radiograph_from_volume(volume))
    result = add_hip_results(volume, case, film.cup_diameter_mm, scene)
    landmarks, link = result.landmarks["right"], result.links["right"]
    assert link.measures is case.sides[0].measures  # the table starts from the pipeline's own measures
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
    for cancel_at in (0.0, 0.69):  # while preprocessing, and just before refinement
        cancel = CancelToken()

        def progress(fraction, message, cancel=cancel, cancel_at=cancel_at):
            if fraction >= cancel_at:
                cancel.cancel()

        with pytest.raises(Cancelled):
            detect_on_volume(volume, detector, cancel=cancel, progress=progress)
        assert scene_node_ids(scene) == before
    case, result = detect_on_volume(volume, detector)  # and without cancelling, the results arrive
    assert scene_node_ids(scene) > before
    result.detach()


@pytest.mark.parametrize("kind", ["generated", "real_world"])
def test_dicom_loaded_by_slicer_goes_through_the_modules_detection(scene, detector, tmp_path, kind):
    """As a user does it: Slicer's volume reader loads the DICOM file, then Detect runs on the node."""
    from OrthoAILib.mrml.app import module_logic
    from OrthoAILib.io.radiograph import write_radiograph_dicom

    film = make_pelvis_radiograph(1_000_204 if kind == "generated" else 1_000_205,
                                  operated="right" if kind == "generated" else "left", spacing_mm=0.2)
    path = tmp_path / f"{kind}.dcm"
    if kind == "generated":
        write_radiograph_dicom(path, film.image, 0.2, bits_stored=film.bit_depth)
    else:  # 16-bit MONOCHROME1 with ImagerPixelSpacing and a magnification factor
        write_radiograph_dicom(path, film.image, 0.2 * 1.15, photometric="MONOCHROME1", bits_stored=16,
                               spacing_tag="ImagerPixelSpacing", magnification=1.15)
    volume = module_logic("Volumes").AddArchetypeVolume(str(path), kind)
    assert volume is not None
    case, result = detect_on_volume(volume, detector)
    (side,) = case.sides
    assert side.operated_side == film.primary_side
    assert case.spacing_mm == pytest.approx((0.2, 0.2)) and case.spacing_source.startswith("DICOM")
    # points sit on the film as Slicer shows it (its reader's spacing), whatever the true spacing
    from OrthoAILib.pipelines.hip.measures import compute_hip_measures
    from OrthoAILib.mrml.volumes import geometry_of

    shown = geometry_of(volume)
    shown_spacing = shown.spacing[0]
    errors = [np.linalg.norm(side.points_ras[name] - shown.ijk_to_world([rc[1], rc[0], 0.0])) * 0.2 / shown_spacing
              for name, rc in film.keypoints_rc[film.primary_side].items()]
    assert np.mean(errors) < 2.0  # mm
    # ...and lengths are in true millimetres
    truth = compute_hip_measures(film.keypoints_ras_for(film.primary_side))
    measured = result.links[film.primary_side].measures
    assert measured.rc_horizontal_offset_mm == pytest.approx(truth.rc_horizontal_offset_mm, abs=1.5)
    assert measured.cup_diameter_measured_mm == pytest.approx(truth.cup_diameter_measured_mm, abs=1.5)
    assert result.landmarks[film.primary_side].GetNumberOfControlPoints() == 9
    result.detach()


def test_slicer_loaded_dicom_orientation_and_missing_spacing(scene, tmp_path):
    """PatientOrientation R\\F (ignored by Slicer's reader) still mirrors; no spacing in the header: the user's wins."""
    import pydicom

    from OrthoAILib.errors import InputError
    from OrthoAILib.mrml.app import module_logic
    from OrthoAILib.io.radiograph import write_radiograph_dicom

    pixels = (np.random.default_rng(0).random((200, 300)) * 4000).astype(np.uint16)
    flipped = write_radiograph_dicom(tmp_path / "flipped.dcm", pixels, 0.15, extra={"PatientOrientation": ["R", "F"]})
    volume = module_logic("Volumes").AddArchetypeVolume(str(flipped), "flipped")
    image = radiograph_from_volume(volume)
    assert image.origin.orientation.startswith("mirrored") and image.pixel_spacing_rc == pytest.approx((0.15, 0.15))
    bare = write_radiograph_dicom(tmp_path / "bare.dcm", pixels, 0.15)
    dataset = pydicom.dcmread(bare)
    del dataset.PixelSpacing
    dataset.save_as(bare)
    volume = module_logic("Volumes").AddArchetypeVolume(str(bare), "bare")
    image = radiograph_from_volume(volume, spacing_mm=0.25)
    assert image.pixel_spacing_rc == pytest.approx((0.25, 0.25)) and image.origin.spacing_source == "given by the user"
    assert image.origin.mm_per_unit == pytest.approx(0.25 / volume.GetSpacing()[0])
    with pytest.raises(InputError, match="slices"):
        radiograph_from_volume(volume_from_array(np.zeros((3, 8, 8), np.int16), film_geometry(), "ct", scene))


def film_geometry():
    from OrthoAILib.geometry import ImageGeometry

    return ImageGeometry()


def slicer_array(volume):
    from OrthoAILib.mrml.volumes import array_from_volume

    return array_from_volume(volume)[0]


def volume_geometry(volume):
    from OrthoAILib.mrml.volumes import geometry_of

    return geometry_of(volume)


def test_a_refused_film_adds_nothing_to_the_scene(scene, detector):
    from OrthoAILib.geometry import radiograph_geometry

    noise = (np.random.default_rng(5).random((1500, 1800)) * 4000).astype(np.uint16)
    volume = volume_from_array(noise, radiograph_geometry(noise.shape, (0.2, 0.2)), "not a pelvis", scene)
    before = scene_node_ids(scene)
    case, result = detect_on_volume(volume, detector)
    assert case.status == "not_ap_pelvis" and not result.landmarks and not result.links
    assert scene_node_ids(scene) == before
