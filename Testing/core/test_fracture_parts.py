"""The CT fracture pipeline's parts without its networks: phantoms with true boxes, the canonical
grid (left stays left), FCOS targets and decoding, 3-D NMS, clean-up, bones under a box, FROC
matching, and what is accepted as CT."""

from __future__ import annotations

import numpy as np
import pytest

from OrthoAILib.errors import InputError
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.image import Image, ImageOrigin
from OrthoAILib.phantoms.ct_case import make_ct_case
from OrthoAILib.pipelines.fracture.bones import BONES, terminology_entry
from OrthoAILib.pipelines.fracture.cleanup import bones_under_box, clean_labels, labels_to_input_grid
from OrthoAILib.pipelines.fracture.detection import STRIDES, decode, fcos_targets, nms_3d
from OrthoAILib.pipelines.fracture.evaluation import bone_dice, match_findings
from OrthoAILib.pipelines.fracture.grid import check_ct_grid, looks_like_ct
from OrthoAILib.pipelines.fracture.preprocess import to_grid


@pytest.fixture(scope="module")
def small_case():
    return make_ct_case(11, spacing=(3.0, 3.0, 3.0), size_mm=(420.0, 380.0, 300.0), z_centre=330.0, lesions=(3, 3))


def test_phantom_is_deterministic_and_has_the_trunk_bones(small_case):
    again = make_ct_case(11, spacing=(3.0, 3.0, 3.0), size_mm=(420.0, 380.0, 300.0), z_centre=330.0, lesions=(3, 3))
    assert np.array_equal(small_case.hu, again.hu) and small_case.lesions == again.lesions
    present = set(np.unique(small_case.labels)) - {0}
    assert {1, 2, 4, 11} <= present  # ribs both sides, thoracic spine, sternum at chest level
    assert small_case.hu.min() >= -1024 and small_case.hu.max() > 800  # air and cortical bone


def test_left_ribs_lie_on_the_patients_left(small_case):
    """Labels and geometry agree: rib_left voxels have larger L (negative R in RAS)."""
    geometry = small_case.geometry
    for value, sign in ((1, -1), (2, 1)):
        k, j, i = np.nonzero(small_case.labels == value)
        ras = geometry.ijk_to_world(np.stack([i, j, k], 1).astype(float))
        assert np.sign(np.median(ras[:, 0])) == sign


def test_true_boxes_hold_what_changed_and_lie_on_their_bone(small_case):
    assert len(small_case.lesions) >= 2
    for box in small_case.boxes_ras():
        low, high = np.array(box["low_ras_mm"]), np.array(box["high_ras_mm"])
        assert np.all(high - low >= 3.9) and np.all(high - low < 80)
        under = bones_under_box(small_case.labels, small_case.geometry, low, high, margin_mm=3.0)
        assert box["bone"] in under


def test_the_canonical_grid_is_the_same_whatever_the_stored_orientation(small_case):
    image = Image(small_case.hu.astype(np.float32), small_case.geometry)
    flipped_geometry = ImageGeometry(small_case.geometry.spacing,
                                     tuple(small_case.geometry.ijk_to_world(np.array([[small_case.hu.shape[2] - 1, 0, 0]]))[0]),
                                     ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)))
    flipped = Image(small_case.hu[:, :, ::-1].astype(np.float32).copy(), flipped_geometry)
    a, ga = to_grid(image, 3.0, 8)
    b, gb = to_grid(flipped, 3.0, 8)
    assert a.shape == b.shape and np.allclose(ga.origin, gb.origin)
    assert np.abs(a - b).max() < 1.0


def test_fcos_targets_decode_back_to_the_box():
    shape = (64, 64, 64)
    box = np.array([[20.0, 24.0, 30.0, 32.0, 34.0, 44.0]])
    targets = fcos_targets(box, shape)
    assert sum(t["positive"].sum() for t in targets) >= 1
    outputs = []
    for stride, target in zip(STRIDES, targets):
        out = np.full((8,) + target["positive"].shape, -20.0, np.float32)
        out[0][target["positive"]] = 10.0
        out[1][target["positive"]] = 10.0
        out[2:8] = np.where(target["positive"], target["distances"], 1.0)
        outputs.append(out)
    boxes, scores = decode(outputs, 0.5)
    assert len(boxes) >= 1 and np.allclose(boxes[0], box[0], atol=1e-3)


def test_nms_keeps_one_of_two_overlapping_boxes_and_both_far_ones():
    boxes = np.array([[0, 0, 0, 10, 10, 10], [1, 1, 1, 11, 11, 11], [40, 40, 40, 50, 50, 50], [2, 2, 2, 6, 6, 6]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert list(nms_3d(boxes, scores, 0.2)) == [0, 2]  # the small one's centre lies in box 0


def test_cleanup_removes_specks_and_far_islands_but_keeps_near_bones():
    labels = np.zeros((40, 40, 60), np.uint8)
    labels[10:30, 10:30, 5:20] = 4  # the skeleton
    labels[10:30, 10:30, 24:30] = 1  # 12 mm away: kept
    labels[15:18, 15:18, 55:58] = 2  # big enough, but ~75 mm away: an island
    labels[2, 2, 8] = 5  # a speck
    cleaned, removed = clean_labels(labels, 3.0, min_component_mm3=100, max_gap_mm=45)
    assert (cleaned == 4).sum() == (labels == 4).sum() and (cleaned == 1).sum() == (labels == 1).sum()
    assert not (cleaned == 2).any() and not (cleaned == 5).any()
    assert removed["far_islands_mm3"] == 27 * 27 and removed["small_components_mm3"] == 27


def test_labels_reach_the_input_grid_smoothly(small_case):
    image = Image(small_case.hu.astype(np.float32), small_case.geometry)
    coarse, geometry = to_grid(image, 6.0, 1)
    from OrthoAILib.pipelines.volume_grids import resample
    labels6 = resample(small_case.labels, small_case.geometry, coarse.shape, geometry, "nearest")
    back = labels_to_input_grid(labels6, geometry, image)
    dice = bone_dice(back, small_case.labels, [4])
    assert back.shape == small_case.labels.shape and dice[4] > 0.6


def test_a_finding_counts_once_per_true_box():
    truth = np.array([[0, 0, 0, 10, 10, 10], [50, 50, 50, 60, 60, 60]], float)
    found = np.array([[2, 2, 2, 8, 8, 8], [1, 1, 1, 9, 9, 9], [30, 30, 30, 35, 35, 35]], float)
    kinds = [kind for _, kind in match_findings(found, np.array([0.9, 0.8, 0.7]), truth)]
    assert kinds == ["hit", "repeat", "false"]


def _image(array, spacing=(1.0, 1.0, 2.0), modality="CT"):
    return Image(array, ImageGeometry(spacing, (0.0, 0.0, 0.0), ((1, 0, 0), (0, 1, 0), (0, 0, 1))), ImageOrigin("t", modality))


def test_what_is_not_a_ct_volume_is_refused_or_reported():
    with pytest.raises(InputError, match="2-D"):
        check_ct_grid(_image(np.zeros((1, 64, 64), np.float32)))
    with pytest.raises(InputError, match="colour"):
        check_ct_grid(_image(np.zeros((10, 64, 64, 3), np.uint8)))
    with pytest.raises(InputError, match="spacing"):
        check_ct_grid(_image(np.zeros((10, 64, 64), np.float32), spacing=(0.01, 0.01, 1.0)))
    mr = np.random.default_rng(0).uniform(0, 1200, (20, 64, 64)).astype(np.float32)
    assert looks_like_ct(mr)[0] is False and "MR" in looks_like_ct(mr)[1]
    ct = np.full((20, 64, 64), -1000.0, np.float32)
    ct[:, 20:40, 20:40] = 40
    ct[:, 28:32, 28:32] = 900
    assert looks_like_ct(ct)[0] is True


def test_each_bone_has_a_terminology_entry_with_its_laterality():
    for bone in BONES:
        entry = terminology_entry(bone)
        assert len(entry.split("~")) == 7 and f"SCT^{bone.code}^" in entry
        assert ("SCT^7771000^Left" in entry) == (bone.laterality == "left")
        assert ("SCT^24028007^Right" in entry) == (bone.laterality == "right")


def test_a_sided_bone_on_the_wrong_side_of_the_midline_takes_its_twin_label():
    from OrthoAILib.pipelines.fracture.cleanup import sides_by_position

    labels = np.zeros((20, 30, 60), np.uint8)
    labels[:, 10:20, 28:32] = 4  # thoracic spine: the midline at column ~30
    labels[5:10, 5:10, 5:10] = 1  # "rib left" on the patient's right (small columns): wrong side
    labels[5:10, 5:10, 45:50] = 1  # rib left on the left: stays
    labels[12:16, 5:10, 50:55] = 10  # "femur right" on the left: wrong side
    out, changed = sides_by_position(labels)
    assert changed == 2
    assert (out[5:10, 5:10, 5:10] == 2).all() and (out[5:10, 5:10, 45:50] == 1).all()
    assert (out[12:16, 5:10, 50:55] == 9).all() and (out[labels == 4] == 4).all()


@pytest.mark.parametrize("z_centre", [330.0, 560.0])  # lower chest and lumbar spine; upper chest and neck
def test_vertebrae_are_named_by_the_ribs_beside_them(z_centre):
    """Every vertebra called lumbar (the network's usual error): the ribs put the levels back."""
    from OrthoAILib.pipelines.fracture.cleanup import spine_levels_by_ribs

    case = make_ct_case(11, spacing=(3.0, 3.0, 3.0), size_mm=(420.0, 380.0, 300.0), z_centre=z_centre, lesions=(0, 0))
    truth = case.labels
    present = [v for v in (3, 4, 5) if (truth == v).sum() > 200]
    assert len(present) == 2
    all_lumbar = np.where(np.isin(truth, (3, 4, 5)), 5, truth).astype(truth.dtype)
    named, renamed = spine_levels_by_ribs(all_lumbar, 3.0)
    assert renamed > 0 and np.array_equal(named == 0, truth == 0)  # names change, the bone does not
    dice = bone_dice(named, truth)
    assert all(dice[v] > 0.9 for v in present), dice
    assert spine_levels_by_ribs(truth, 3.0)[1] < 0.05 * np.isin(truth, (3, 4, 5)).sum()  # right names stay


def test_without_ribs_beside_the_spine_the_vertebrae_keep_their_names():
    from OrthoAILib.pipelines.fracture.cleanup import spine_levels_by_ribs

    labels = np.zeros((60, 40, 60), np.uint8)
    labels[:, 15:25, 25:35] = 5  # a lumbar spine
    labels[:, 20:30, 5:15] = 7  # hip bones beside it
    labels[:, 20:30, 45:55] = 8
    assert spine_levels_by_ribs(labels, 3.0)[1] == 0
    labels[10:14, 20:24, 10:14] = 1  # a few voxels called rib beside the pelvis: no chest
    assert spine_levels_by_ribs(labels, 3.0)[1] == 0
    labels[:, 20:30, 5:15] = 0  # ribs only 12 mm high: too little to place the levels
    labels[:, 20:30, 45:55] = 0
    assert spine_levels_by_ribs(labels, 3.0)[1] == 0


def test_a_retrained_network_gets_a_new_version(tmp_path):
    import json

    from OrthoAILib.runtime.registry import next_version

    registry = tmp_path / "Models.json"
    assert next_version(registry, "ct-bone-labels", "aa") == "1.0.0"
    registry.write_text(json.dumps({"models": [{"id": "ct-bone-labels", "version": "1.2.0", "sha256": "aa"}]}))
    assert next_version(registry, "ct-bone-labels", "aa") == "1.2.0"  # the same weights registered again
    assert next_version(registry, "ct-bone-labels", "bb") == "1.3.0"


def test_the_mirrored_reading_finds_the_same_boxes_in_a_mirrored_ct(small_case):
    """Read with its mirror image, a CT and its mirror give mirrored boxes with the same scores."""
    from OrthoAILib.pipelines.fracture.pipeline import DETECTOR_MODEL_ID, run_detector
    from OrthoAILib.runtime.torchscript import load_model

    net = load_model(DETECTOR_MODEL_ID, download=False).module
    ct2, _ = to_grid(Image(small_case.hu.astype(np.float32), small_case.geometry), 2.0, 32)
    boxes, scores = run_detector(net, ct2, 0.05, mirrored=True)
    flipped_boxes, flipped_scores = run_detector(net, np.ascontiguousarray(ct2[:, :, ::-1]), 0.05, mirrored=True)
    assert len(scores) > 0
    top = min(5, len(scores))
    assert np.allclose(scores[:top], flipped_scores[:top], atol=1e-4)
    flipped_boxes[:, [2, 5]] = ct2.shape[2] - 1 - flipped_boxes[:, [5, 2]]
    assert np.allclose(boxes[:top], flipped_boxes[:top], atol=0.05)
