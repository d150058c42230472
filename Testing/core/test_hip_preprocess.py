import math

import numpy as np
import pytest
import SimpleITK as sitk

from OrthoAILib.errors import InputError
from OrthoAILib.pipelines.hip.crops import crop_to_work, crop_work, work_to_crop
from OrthoAILib.pipelines.hip.detector_targets import CANONICAL_CLASSES, canonical_targets, canonical_to_landmark
from OrthoAILib.pipelines.hip.landmarks import LANDMARK_NAMES
from OrthoAILib.pipelines.hip.preprocess import (DETECTOR_SIZE, discard_lowest_and_normalise, preprocess_both_views,
                                                 preprocess_radiograph, resample_to_work)
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph


def test_resampling_equals_01mm_linear_then_4x4_means():
    image = np.random.default_rng(0).random((300, 420)).astype(np.float32)
    spacing = (0.13, 0.17)
    work = resample_to_work(image, spacing)
    fine_shape = [int(math.floor(n * s / 0.4)) * 4 for n, s in zip(image.shape, spacing)]
    itk = sitk.GetImageFromArray(image)
    itk.SetSpacing(spacing[::-1])
    fine = sitk.Resample(itk, fine_shape[::-1], sitk.Transform(), sitk.sitkLinear,
                         (-spacing[1] / 2 + 0.05, -spacing[0] / 2 + 0.05), (0.1, 0.1), (1, 0, 0, 1), 0.0, sitk.sitkFloat32)
    reference = sitk.GetArrayFromImage(fine).reshape(fine_shape[0] // 4, 4, fine_shape[1] // 4, 4).mean(axis=(1, 3))
    assert work.shape == reference.shape
    assert np.abs(work - reference)[2:-2, 2:-2].max() < 1e-5  # the edges differ only by padding choice


@pytest.mark.parametrize("spacing", [(0.25, 0.25), (0.143, 0.1517)])  # the second: no whole number of work pixels
def test_both_views_at_once_are_exactly_each_view_prepared_alone(spacing):
    film = make_pelvis_radiograph(7, spacing_mm=0.25)
    alone = (preprocess_radiograph(film.image, spacing),
             preprocess_radiograph(np.ascontiguousarray(film.image[:, ::-1]), spacing))
    together = preprocess_both_views(film.image, spacing)

    for one, other in zip(alone, together):
        assert np.array_equal(one.work, other.work) and np.array_equal(one.detector_input, other.detector_input)
        assert (one.pad_rc, one.square_size, one.original_shape) == (other.pad_rc, other.square_size, other.original_shape)
    assert not np.array_equal(together[0].work, together[1].work)
    with pytest.raises(InputError, match="non-finite"):
        preprocess_both_views(np.where(np.eye(film.image.shape[0], film.image.shape[1]) > 0, np.nan, film.image), spacing)


def test_preprocessing_outputs_and_round_trip_of_coordinates():
    film = make_pelvis_radiograph(4, spacing_mm=0.25)
    prepared = preprocess_radiograph(film.image, (0.25, 0.25))
    assert prepared.detector_input.shape == (DETECTOR_SIZE, DETECTOR_SIZE)
    assert 0.0 <= prepared.work.min() and prepared.work.max() <= 1.0
    assert prepared.work.shape == tuple(int(n * 0.25 / 0.4) for n in film.image.shape)
    points = np.array([[10.0, 20.0], [500.5, 700.25]])
    assert np.allclose(prepared.work_to_original(prepared.original_to_work(points)), points)
    assert np.allclose(prepared.detector_to_work(prepared.work_to_detector(points)), points)
    # the metal prosthetic head (at the cup centre) stays where the mapping says it is
    points = film.keypoints_rc[film.primary_side]
    centre = (points["cup_lateral"] + points["cup_medial"]) / 2
    work_rc = np.round(prepared.original_to_work(centre)).astype(int)
    assert prepared.work[tuple(work_rc)] > max(0.8, float(np.median(prepared.work)))


def test_the_lowest_two_percent_are_discarded():
    image = np.linspace(0, 1000, 400 * 500, dtype=np.float32).reshape(400, 500)
    normalised = discard_lowest_and_normalise(image)
    assert (normalised == 0).mean() == pytest.approx(0.02, abs=0.001) and normalised.max() == 1.0


@pytest.mark.parametrize("pixels, spacing, message", [
    (np.zeros((50, 50)), (0.2, 0.2), "covers only"),
    (np.full((400, 400), 7.0), (0.4, 0.4), "blank"),
    (np.full((400, 400), np.nan), (0.4, 0.4), "non-finite"),
])
def test_unusable_images_are_refused(pixels, spacing, message):
    with pytest.raises(InputError, match=message):
        preprocess_radiograph(pixels, spacing)


def test_crops_map_back_exactly():
    work = np.random.default_rng(1).random((300, 400)).astype(np.float32)
    for scale in (1, 2):
        crop, origin = crop_work(work, (150.3, 200.7), scale)
        assert crop.shape == (96, 96)
        inside = work_to_crop((150.3, 200.7), origin, scale)
        assert np.allclose(crop_to_work(inside, origin, scale), (150.3, 200.7))
    edge, _ = crop_work(work, (2.0, 2.0), 1)
    assert edge[:40, :40].sum() == 0  # outside the image is zero


def test_canonical_targets_name_every_landmark_and_mirror():
    film = make_pelvis_radiograph(11, operated="bilateral", spacing_mm=0.5)
    columns = film.image.shape[1]
    drawn = canonical_targets(film.keypoints_rc, columns, mirrored=False)
    mirrored = canonical_targets(film.keypoints_rc, columns, mirrored=True)
    assert set(drawn) == set(mirrored) == set(CANONICAL_CLASSES)
    assert np.allclose(drawn["cup_lateral"], film.keypoints_rc["right"]["cup_lateral"])
    left = film.keypoints_rc["left"]["cup_lateral"]
    assert np.allclose(mirrored["cup_lateral"], [left[0], columns - 1 - left[1]])
    assert {canonical_to_landmark(name, "left") for name in CANONICAL_CLASSES} == set(LANDMARK_NAMES)
    unilateral = make_pelvis_radiograph(3, operated="right", spacing_mm=0.5)
    native_left_view = canonical_targets(unilateral.keypoints_rc, unilateral.image.shape[1], mirrored=True)
    assert "cup_lateral" not in native_left_view  # a native hip on the image's left: no cup to find


THRESHOLDS = dict(cup_accept=0.6, cup_reject=0.3, pelvis_accept=0.2)


@pytest.mark.parametrize("scores, pelvis, side, chosen, statuses", [
    ((0.9, 0.1), 0.8, "auto", [0], []),
    ((0.2, 0.8), 0.8, "auto", [1], []),
    ((0.9, 0.7), 0.8, "auto", [0, 1], []),  # bilateral
    ((0.2, 0.1), 0.8, "auto", [], ["no_prosthesis"]),  # a pelvis without a cup: nothing measured
    ((0.45, 0.1), 0.8, "auto", [], ["low_confidence"]),  # may be a cup: too uncertain to measure
    ((0.9, 0.45), 0.8, "auto", [0], ["low_confidence"]),  # one side measured, the other uncertain
    ((0.9, 0.9), 0.05, "auto", [], ["not_ap_pelvis"]),  # no pelvic landmarks: not an AP pelvis
    ((0.9, 0.1), 0.8, "left", [], ["no_prosthesis"]),  # the user's side has no cup: refused
    ((0.9, 0.45), 0.8, "left", [1], []),  # the user's side, uncertain: measured with a warning
    ((0.1, 0.1), 0.8, "both", [], ["no_prosthesis", "no_prosthesis"]),
])
def test_presence_decides_what_is_measured(scores, pelvis, side, chosen, statuses):
    from OrthoAILib.pipelines.hip.presence import PresenceThresholds, decide

    views, refused, warnings = decide(np.array(scores), pelvis, side, PresenceThresholds(**THRESHOLDS))
    assert views == chosen and [r.status for r in refused] == statuses
    assert all(r.message for r in refused)
    assert bool(warnings) == (side == "left" and chosen == [1])


def test_presence_thresholds_come_from_the_registry_entry():
    from OrthoAILib.pipelines.hip.presence import PresenceThresholds

    assert PresenceThresholds.from_entry({"presence": THRESHOLDS}) == PresenceThresholds(**THRESHOLDS)
    assert PresenceThresholds.from_entry({}) == PresenceThresholds()


def test_a_spacing_changed_in_its_last_digits_changes_nothing():
    """A film whose extent is a whole number of 0.4 mm work pixels: 2400 rows × 0.15 mm = 900 × 0.4 mm."""
    from OrthoAILib.pipelines.hip.preprocess import preprocess_radiograph

    pixels = np.random.default_rng(3).random((2400, 1600)).astype(np.float32)
    reference = preprocess_radiograph(pixels, (0.15, 0.15))
    for spacing in (0.15 * (1 - 1e-15), 0.15 * (1 + 1e-14), 0.1500000000001):
        again = preprocess_radiograph(pixels, (spacing, spacing))
        assert again.work.shape == reference.work.shape
        assert np.array_equal(again.detector_input, reference.detector_input)