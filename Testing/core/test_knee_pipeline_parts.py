"""The knee MR pipeline's parts without its trained models: the grid checks, canonical resampling,
the multi-echo reader, MR synthesis and training samples, and the two networks' shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from OrthoAILib.errors import InputError
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.image import Image, ImageOrigin
from OrthoAILib.nets.knee_cartilage import STAGE2_CLASSES, ResidualUNet3D, ResNetASPP3D
from OrthoAILib.phantoms.knee_anatomy import make_knee
from OrthoAILib.phantoms.knee_mr import synthesise_mr
from OrthoAILib.pipelines.knee.grid import check_knee_grid
from OrthoAILib.pipelines.knee.pipeline import looks_like_ct
from OrthoAILib.pipelines.knee.preprocess import CANONICAL_DIRECTIONS, corners_ras, resample, resample_to_canonical

from ..conftest import SHARED_DATA

T2_SERIES = SHARED_DATA / "knee" / "pymskt" / "MESE_T2_dicom_data_anon"


def volume(shape=(20, 30, 30), spacing=(0.5, 0.5, 1.0), array=None, directions=None, name="knee.nrrd"):
    geometry = ImageGeometry(spacing, (0.0, 0.0, 0.0), directions or ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0)))
    data = np.random.default_rng(0).random(shape).astype(np.float32) * 100 if array is None else array
    return Image(data, geometry, ImageOrigin(name, "MR"))


def test_the_grid_check_refuses_what_cannot_show_cartilage_and_says_why():
    with pytest.raises(InputError, match="2-D image"):
        check_knee_grid(volume((1, 64, 64)))
    with pytest.raises(InputError, match="colour"):
        check_knee_grid(Image(np.zeros((20, 30, 30, 3), np.float32), ImageGeometry(), ImageOrigin("rgb.nrrd")))
    with pytest.raises(InputError, match="too coarse"):
        check_knee_grid(volume(spacing=(2.5, 2.5, 3.0)))
    with pytest.raises(InputError, match="1:8"):
        check_knee_grid(volume(spacing=(0.4, 0.4, 3.6)))
    assert any("coarse" in w for w in check_knee_grid(volume(spacing=(0.4, 0.4, 3.2))))  # 1:8 accepted, with a warning
    assert any("header has none" in w for w in check_knee_grid(volume(spacing=(1.0, 1.0, 1.0))))
    assert check_knee_grid(volume(spacing=(0.36, 0.36, 0.7))) == ()


def test_hounsfield_units_are_recognised():
    ct = np.full((20, 30, 30), -1000.0, np.float32)
    ct[5:15, 5:25, 5:25] = 40
    assert looks_like_ct(ct)
    assert not looks_like_ct(np.abs(np.random.default_rng(0).normal(300, 100, (20, 30, 30))))


def test_canonical_resampling_goes_there_and_back_through_patient_space():
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in (24, 40, 40)), indexing="ij")
    smooth = np.sin(i / 7) + np.cos(j / 9) + k / 10
    axial = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))  # another acquisition plane than the canonical
    image = volume((24, 40, 40), (0.8, 0.8, 1.5), smooth, axial)
    canonical, geometry = resample_to_canonical(image, 0.7)
    assert geometry.directions == tuple(tuple(r) for r in CANONICAL_DIRECTIONS)
    low, high = corners_ras(canonical.shape, geometry).min(0), corners_ras(canonical.shape, geometry).max(0)
    inner = corners_ras(image.array.shape, image.geometry)
    assert np.all(low <= inner.min(0) + 1e-6) and np.all(high >= inner.max(0) - 1e-6)  # the whole input is inside
    back = resample(canonical, geometry, image.array.shape, image.geometry)
    core = (slice(3, -3),) * 3
    assert np.abs(back[core] - smooth[core]).max() < 0.05


def test_synthesis_gives_contrast_varies_with_the_seed_and_is_normalised():
    knee = make_knee(1, shape_kji=(40, 64, 64), spacing_ijk=(1.5, 1.5, 1.5))
    first = synthesise_mr(knee.labelmap, np.random.default_rng(3))
    again = synthesise_mr(knee.labelmap, np.random.default_rng(3))
    other = synthesise_mr(knee.labelmap, np.random.default_rng(4))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.dtype == np.float32 and -0.5 < np.percentile(first, 1) and np.percentile(first, 99) < 1.5
    means = [first[knee.labelmap == v].mean() for v in (1, 5, 13)]
    assert np.ptp(means) > 0.05  # cartilage, bone and muscle are told apart by something


def test_training_samples_have_the_networks_shapes():
    from OrthoAILib.pipelines.knee.training.data import stage1_sample, stage2_sample

    knee = make_knee(2, shape_kji=(80, 100, 100), spacing_ijk=(1.4, 1.4, 1.4))
    rng = np.random.default_rng(0)
    image, target = stage2_sample(knee.labelmap, rng, size=32)
    assert image.shape == (1, 32, 32, 32) and target.shape == (32, 32, 32)
    assert target.max() < len(STAGE2_CLASSES) and (target >= 1).any()
    fibula_seen = sum(bool((stage2_sample(knee.labelmap, rng, size=32)[1] == 8).any()) for _ in range(30))
    assert STAGE2_CLASSES[8] == "fibula" and fibula_seen >= 3  # the bone that tells the sides apart is learnt
    image, target = stage1_sample(knee.labelmap, rng)
    assert image.shape[1:] == target.shape and all(n % 8 == 0 for n in target.shape)
    assert set(np.unique(target)) <= {0, 1} and target.any()


def test_the_networks_keep_the_input_grid_and_script():
    with torch.no_grad():
        assert ResidualUNet3D(widths=(4, 8, 16, 16))(torch.zeros(1, 1, 16, 24, 32)).shape == (1, 2, 16, 24, 32)
        plates = ResNetASPP3D(widths=(4, 8, 8, 8), aspp_channels=8)
        assert plates(torch.zeros(1, 1, 20, 24, 28)).shape == (1, len(STAGE2_CLASSES), 20, 24, 28)
        scripted = torch.jit.script(plates.eval())
        x = torch.randn(1, 1, 16, 16, 16)
        torch.testing.assert_close(scripted(x), plates(x))


@pytest.mark.skipif(not T2_SERIES.is_dir(), reason="needs ../shared/data/knee/pymskt (the real multi-echo T2 series)")
def test_the_real_multi_echo_series_is_combined_and_a_missing_slice_refused():
    from OrthoAILib.io.mr_series import read_mr

    files = sorted(str(p) for p in T2_SERIES.glob("*.dcm"))
    image, notes = read_mr(files, "MESE_T2")
    assert image.array.shape == (24, 256, 256) and "8 echoes" in notes[0]
    assert image.geometry.spacing[:2] == pytest.approx((0.625, 0.625)) and image.geometry.spacing[2] == pytest.approx(4.0, abs=0.01)
    assert image.origin.modality == "MR" and float(image.array.max()) > 0
    with pytest.raises(InputError, match="slice is missing"):
        read_mr(files[:40] + files[48:], "gap")
    with pytest.raises(InputError, match="different numbers of slices"):
        read_mr(files[:-1], "short")


def test_the_tibial_plates_get_one_side_each():
    from OrthoAILib.pipelines.knee.sides import tibial_sides

    probabilities = np.zeros((8, 80, 20, 20), np.float32)
    probabilities[0] = 1.0
    for k0, medial_bias in ((10, 0.1), (55, -0.1)):  # two plates across the knee, both called lateral
        block = (slice(k0, k0 + 15), slice(5, 8), slice(5, 15))
        probabilities[0][block] = 0.0
        probabilities[3][block] = 0.55 - medial_bias / 2
        probabilities[2][block] = 0.45 + medial_bias / 2
    sorted_out, rule = tibial_sides(probabilities)
    labels = sorted_out.argmax(0)
    assert rule == "stage 2"
    assert (labels[10:25, 5:8, 5:15] == 2).all()  # the more medial-looking group becomes medial
    assert (labels[55:70, 5:8, 5:15] == 3).all()
    assert (labels == 0).sum() == labels.size - 2 * 15 * 3 * 10
    # Where the coarse bone network found the fibula (clearly to one side) outvotes stage 2's leaning;
    # a fibula near the middle between the plates says nothing.
    sorted_out, rule = tibial_sides(probabilities, fibula_k=12.0)
    assert rule == "fibula"
    assert (sorted_out.argmax(0)[10:25, 5:8, 5:15] == 3).all() and (sorted_out.argmax(0)[55:70, 5:8, 5:15] == 2).all()
    assert tibial_sides(probabilities, fibula_k=75.0)[0].argmax(0)[55, 6, 6] == 3
    assert tibial_sides(probabilities, fibula_k=45.0)[1] == "stage 2"
    one_plate = np.zeros_like(probabilities)
    one_plate[0] = 1.0
    one_plate[0, 10:25, 5:8, 5:15], one_plate[3, 10:25, 5:8, 5:15] = 0.0, 1.0
    unsorted, rule = tibial_sides(one_plate, fibula_k=70.0)
    np.testing.assert_array_equal(unsorted, one_plate)
    assert rule is None


def test_the_fibula_is_the_largest_piece_the_coarse_bone_network_finds():
    from OrthoAILib.pipelines.knee.sides import MIN_COARSE_FIBULA_MM3, fibula_position

    bones = np.zeros((3, 30, 20, 20), np.float32)
    bones[0] = 1.0
    bones[2][20:26, 10:16, 5:11], bones[0][20:26, 10:16, 5:11] = 1.0, 0.0  # 216 voxels
    bones[2][2:4, 2:4, 2:4], bones[0][2:4, 2:4, 2:4] = 1.0, 0.0  # a speck elsewhere
    voxel = 2.8 ** 3
    assert 216 * voxel >= MIN_COARSE_FIBULA_MM3 > 8 * voxel
    np.testing.assert_allclose(fibula_position(bones, voxel), (22.5, 12.5, 7.5))
    assert fibula_position(bones, voxel_mm3=1.0) is None  # too small a bone to be the fibula


def test_coarse_bone_samples_have_the_tibia_and_fibula_where_the_labels_do():
    from OrthoAILib.pipelines.knee.training.data import coarse_bones_sample

    labels = np.zeros((40, 32, 32), np.uint8)
    labels[4:36, 4:28, 4:20] = 6  # tibia
    labels[28:36, 20:28, 22:30] = 8  # fibula, at high K
    sides = set()
    for seed in range(6):
        image, target = coarse_bones_sample(labels, np.random.default_rng(seed))
        assert image.shape == (1, 16, 8, 8) and target.shape == (16, 8, 8) and image.dtype == np.float32
        assert set(np.unique(target)) == {0, 1, 2}
        sides.add(bool(np.argwhere(target == 2)[:, 0].mean() > 5))  # mirrored across K or not
    assert sides == {True, False}


def test_the_tibial_plate_nearer_the_fibula_is_lateral_whatever_else_says():
    from OrthoAILib.pipelines.knee.sides import MIN_FIBULA_VOXELS, tibial_sides

    probabilities = np.zeros((9, 80, 30, 20), np.float32)
    probabilities[0] = 1.0
    # The thicker plate and the network's (confident) leaning both say the plate at k 55 is lateral...
    for k0, rows, lateral in ((10, slice(5, 8), 0.1), (55, slice(5, 11), 0.9)):
        block = (slice(k0, k0 + 15), rows, slice(5, 15))
        probabilities[0][block], probabilities[2][block], probabilities[3][block] = 0.0, 1 - lateral, lateral
    # ...but the fibula stands below the one at k 10, with a stray speck of "fibula" beside the other.
    head = (slice(5, 17), slice(15, 25), slice(5, 15))
    probabilities[0][head], probabilities[8][head] = 0.0, 1.0
    probabilities[0][60:62, 20:22, 5:7], probabilities[8][60:62, 20:22, 5:7] = 0.0, 1.0
    assert 12 * 10 * 10 >= MIN_FIBULA_VOXELS
    sorted_out, rule = tibial_sides(probabilities, fibula_k=65.0)  # ...and so does a coarse "fibula" there
    labels = sorted_out.argmax(0)
    assert rule == "fibula"
    assert (labels[10:25, 5:8, 5:15] == 3).all() and (labels[55:70, 5:11, 5:15] == 2).all()
    # Too little of a fibula found: the next rule (here stage 2's confidence) decides.
    probabilities[8][head], probabilities[0][head] = 0.0, 1.0
    labels = tibial_sides(probabilities)[0].argmax(0)
    assert (labels[10:25, 5:8, 5:15] == 2).all() and (labels[55:70, 5:11, 5:15] == 3).all()


def test_a_class_added_to_a_network_starts_fresh_and_the_rest_is_kept(tmp_path):
    from OrthoAILib.pipelines.knee.training.networks import warm_start

    earlier = ResNetASPP3D(widths=(4, 8, 8, 8), classes=8, aspp_channels=8)
    torch.save(earlier.state_dict(), tmp_path / "best.pt")
    later = ResNetASPP3D(widths=(4, 8, 8, 8), classes=9, aspp_channels=8)
    fresh_row = later.head.weight[8].detach().clone()
    assert warm_start(later, tmp_path / "best.pt") == ["head.weight", "head.bias"]
    torch.testing.assert_close(later.head.weight[:8], earlier.head.weight)
    torch.testing.assert_close(later.head.weight[8], fresh_row)
    torch.testing.assert_close(later.stem[0].weight, earlier.stem[0].weight)
    kin = ResNetASPP3D(widths=(4, 8, 8, 8), classes=9, aspp_channels=8)
    warm_start(kin, tmp_path / "best.pt", kindred={8: 6})  # the fibula starts from the tibia
    torch.testing.assert_close(kin.head.weight[8], earlier.head.weight[6])
    torch.testing.assert_close(kin.head.bias[8], earlier.head.bias[6] - 1.0)
    with pytest.raises(ValueError, match="cannot seed"):
        warm_start(ResNetASPP3D(widths=(4, 8, 8, 16), classes=9, aspp_channels=8), tmp_path / "best.pt")


def test_cartilage_far_from_its_bone_is_dropped():
    from OrthoAILib.pipelines.knee.pipeline import cartilage_on_bone

    probabilities = np.zeros((8, 40, 40, 40), np.float32)
    probabilities[0] = 0.6
    probabilities[5, :, 20:, :] = 0.9  # the femur fills the lower half
    probabilities[1, :, 17:20, :] = 0.95  # cartilage on it
    probabilities[1, :, 2:5, :] = 0.95  # a bright layer 15 voxels (10 mm) away: not cartilage
    labels = cartilage_on_bone(probabilities).argmax(0)
    assert (labels[:, 17:20] == 1).all() and (labels[:, 2:5] == 0).all()


def test_when_the_network_cannot_tell_the_thicker_tibial_plate_is_lateral():
    from OrthoAILib.pipelines.knee.sides import WEAK_RULES, tibial_sides

    probabilities = np.zeros((8, 80, 30, 20), np.float32)
    probabilities[0] = 1.0
    for k0, rows in ((10, slice(5, 8)), (55, slice(5, 11))):  # 3 voxels thick, then 6 voxels thick
        block = (slice(k0, k0 + 15), rows, slice(5, 15))
        probabilities[0][block], probabilities[2][block], probabilities[3][block] = 0.0, 0.49, 0.51
    sorted_out, rule = tibial_sides(probabilities)  # no fibula found
    labels = sorted_out.argmax(0)
    assert rule == "thicker plate" and rule in WEAK_RULES  # the pipeline warns
    assert (labels[10:25, 5:8, 5:15] == 2).all() and (labels[55:70, 5:11, 5:15] == 3).all()


def test_the_benchmark_tells_swapped_tibial_plates():
    from OrthoAILib.pipelines.knee.training.benchmark import tibial_sides_right

    truth = np.zeros((40, 10, 10), np.uint8)
    truth[2:12], truth[25:35] = 2, 3
    assert tibial_sides_right(truth, truth) is True
    swapped = np.where(truth == 2, 3, np.where(truth == 3, 2, truth)).astype(np.uint8)
    assert tibial_sides_right(swapped, truth) is False
    one_side = np.where(truth == 3, 0, truth).astype(np.uint8)
    assert tibial_sides_right(one_side, truth) is None


def test_a_class_not_learnt_is_cut_from_the_output_layer_and_the_rest_answer_as_before():
    from OrthoAILib.pipelines.knee.training.networks import keep_first_classes

    net = ResNetASPP3D(widths=(4, 8, 8, 8), classes=9, aspp_channels=8).eval()
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        before = net(x)
        net.head = keep_first_classes(net.head, 8)
        after = net(x)
    assert after.shape[1] == 8
    torch.testing.assert_close(after, before[:, :8])
