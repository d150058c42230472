"""The detector and refiner as networks: shapes, priors, matching, loss, TorchScript."""

import numpy as np
import pytest
import torch

from OrthoAILib.nets.keypoint_refiner import KeypointRefiner, soft_argmax
from OrthoAILib.nets.ssd512 import SSD512FPN, box_iou, decode_centres, encode_boxes, make_priors, match_priors, multibox_loss


def test_seven_feature_maps_and_their_priors():
    model = SSD512FPN(10).eval()
    maps = model.feature_maps(torch.zeros(1, 1, 512, 512))
    assert [m.shape[-1] for m in maps] == [64, 32, 16, 8, 4, 2, 1]
    assert model.priors.shape == (sum(s * s for s in (64, 32, 16, 8, 4, 2, 1)) * 4, 4)
    logits, offsets = model(torch.zeros(2, 1, 512, 512))
    assert logits.shape == (2, model.priors.shape[0], 10) and offsets.shape == (2, model.priors.shape[0], 4)


def test_box_encoding_round_trip_and_iou():
    priors = make_priors()[:50]
    boxes = priors + torch.tensor([1.5, -2.0, 3.0, 1.0])
    assert torch.allclose(decode_centres(encode_boxes(boxes, priors), priors), boxes[:, :2], atol=1e-4)
    square = torch.tensor([[10.0, 10.0, 4.0, 4.0]])
    assert box_iou(square, square).item() == pytest.approx(1.0)
    assert box_iou(square, torch.tensor([[12.0, 10.0, 4.0, 4.0]])).item() == pytest.approx(8 / 24)


def test_every_box_gets_a_prior_and_overlapping_priors_follow():
    priors = make_priors()
    boxes = torch.tensor([[100.0, 120.0, 24.0, 24.0], [300.0, 200.0, 24.0, 24.0]])
    classes, offsets = match_priors(boxes, torch.tensor([1, 5]), priors)
    assert (classes == 1).sum() >= 1 and (classes == 5).sum() >= 1
    centres = decode_centres(offsets[classes == 1], priors[classes == 1])
    assert torch.allclose(centres, boxes[0, :2].expand_as(centres), atol=1e-3)
    none, _ = match_priors(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), priors)
    assert (none == 0).all()


def test_hard_negative_mining_uses_three_negatives_per_positive():
    logits = torch.zeros(1, 100, 3, requires_grad=True)
    classes = torch.zeros(1, 100, dtype=torch.long)
    classes[0, :2] = 1
    confidence, location = multibox_loss(logits, torch.zeros(1, 100, 4), classes, torch.zeros(1, 100, 4))
    # every prior has loss log(3): 2 positives + 6 hard negatives, divided by 2 positives
    assert confidence.item() == pytest.approx(8 * np.log(3) / 2, rel=1e-5) and location.item() == 0.0


def test_soft_argmax_finds_a_peak_with_sub_pixel_precision():
    heat = torch.full((1, 32, 32), -50.0)
    heat[0, 10, 20] = heat[0, 11, 20] = 50.0
    row, column, peak = soft_argmax(heat)[0].tolist()
    assert row == pytest.approx(10.5, abs=1e-3) and column == pytest.approx(20.0, abs=1e-3) and peak == pytest.approx(0.5)


def test_both_networks_script_and_run(tmp_path):
    detector = torch.jit.script(SSD512FPN(10).eval())
    found = detector.keypoints(torch.rand(2, 1, 512, 512))
    assert found.shape == (2, 9, 3) and ((found[..., 2] >= 0) & (found[..., 2] <= 1)).all()
    refiner = torch.jit.script(KeypointRefiner(9).eval())
    located = refiner.locate(torch.rand(5, 1, 96, 96), torch.tensor([0, 1, 2, 3, 8]))
    assert located.shape == (5, 3) and ((located[:, :2] >= 0) & (located[:, :2] <= 95)).all()
    refiner.save(str(tmp_path / "r.pt"))
    assert torch.jit.load(str(tmp_path / "r.pt")).locate(torch.rand(1, 1, 96, 96), torch.tensor([4])).shape == (1, 3)


def test_refiner_crops_favour_the_emphasised_keypoint_and_keep_the_others():
    from OrthoAILib.pipelines.hip.detector_targets import CANONICAL_CLASSES
    from OrthoAILib.pipelines.hip.training.data import build_samples
    from OrthoAILib.pipelines.hip.training.keypoints import _refiner_batch, class_emphasis

    share = class_emphasis("cup_bone_contact", 0.5)
    assert share.sum() == pytest.approx(1.0) and share[CANONICAL_CLASSES.index("cup_bone_contact")] == 0.5
    assert class_emphasis(None, 0.5) is None
    samples = build_samples(range(2), workers=1)  # post-THA films: every class present
    _, classes, targets = _refiner_batch(samples, np.random.default_rng(0), 400, jitter_px=5.0, class_share=share)
    counts = np.bincount(classes, minlength=len(CANONICAL_CLASSES))
    assert 0.42 < counts[CANONICAL_CLASSES.index("cup_bone_contact")] / 400 < 0.58
    assert (counts > 0).all() and np.isfinite(targets).all()
