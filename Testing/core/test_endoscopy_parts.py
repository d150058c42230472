"""The endoscopy pipeline's parts without its trained models: preprocessing, frame check, lesions,
fusion, the colon renderer and the two networks' shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from OrthoAILib.errors import InputError
from OrthoAILib.image import Image
from OrthoAILib.nets.depth_guided_seg import DepthGuidedSegNet
from OrthoAILib.nets.endoscopy_depth import GlobalLocalDepthNet
from OrthoAILib.phantoms.colon_render import render_colon
from OrthoAILib.pipelines.endoscopy.fusion import depth_colour, depth_png_values, fuse
from OrthoAILib.pipelines.endoscopy.lesions import find_lesions
from OrthoAILib.pipelines.endoscopy.preprocess import DEPTH_SIZE, SEG_SIZE, prepare
from OrthoAILib.pipelines.endoscopy.presence import check_frame


def octagon_frame(rows=300, columns=360, with_text=True) -> np.ndarray:
    """A reddish field of view inside a black border, with white 'text' in a border corner."""
    rgb = np.zeros((rows, columns, 3), np.float32)
    r, c = np.mgrid[0:rows, 0:columns]
    inside = (r >= 20) & (r < rows - 10) & (c >= 60) & (c < columns - 30)
    rgb[inside] = (0.8, 0.45, 0.35)
    if with_text:
        rgb[5:15, 5:40] = 1.0
    return rgb


def test_prepare_crops_the_black_border_and_leaves_text_out():
    prepared = prepare(octagon_frame())
    assert prepared.frame_map.box == (20, 60, 290, 330)
    assert prepared.seg_input.shape == (3, SEG_SIZE, SEG_SIZE) and prepared.depth_input.shape == (3, DEPTH_SIZE, DEPTH_SIZE)
    assert not prepared.field[5:15, 5:40].any()  # the text is not field of view


def test_frame_map_puts_the_grid_back_into_the_crop_box():
    prepared = prepare(octagon_frame())
    back = prepared.frame_map.to_frame(np.ones((SEG_SIZE, SEG_SIZE)))
    assert back.shape == (300, 360)
    assert back[20:290, 60:330].min() == 1.0 and back.sum() == 270 * 270


def test_frame_check_refuses_grey_green_and_black_frames():
    reddish = octagon_frame()
    assert check_frame(reddish, prepare(reddish).field).reason == ""
    grey = np.repeat(reddish.mean(axis=2, keepdims=True), 3, axis=2)
    assert "greyscale" in check_frame(grey, prepare(grey).field).reason
    green = reddish[..., [1, 0, 2]]
    assert "mucosa" in check_frame(green, prepare(green).field).reason
    black = np.zeros_like(reddish)
    assert check_frame(black, prepare(black).field).reason


def test_lesions_drop_specks_and_unconvincing_regions():
    probability = np.zeros((200, 200), np.float32)
    probability[50:90, 50:90] = 0.95     # a lesion
    probability[150:152, 150:152] = 0.99  # a speck: below the minimum area
    probability[10:40, 150:190] = 0.6     # above one half but never convincing
    lesions = find_lesions(probability)
    assert len(lesions) == 1
    assert lesions[0].area_px == 1600 and lesions[0].box == (50, 50, 90, 90)
    assert lesions[0].confidence == pytest.approx(0.95)
    assert find_lesions(np.full((100, 100), 0.2, np.float32)) == []


def test_a_small_second_region_beside_a_large_lesion_is_not_a_lesion_but_a_fair_sized_one_is():
    probability = np.zeros((200, 200), np.float32)
    probability[20:100, 20:100] = 0.95    # the polyp: 6 400 pixels
    probability[150:170, 150:170] = 0.95  # 400 pixels: under a fifth of it, a likely false positive
    assert [lesion.area_px for lesion in find_lesions(probability)] == [6400]
    probability[120:160, 20:60] = 0.9     # 1 600 pixels: a quarter of it, a second polyp
    assert [lesion.area_px for lesion in find_lesions(probability)] == [6400, 1600]


def test_fusion_outlines_the_lesion_and_depth_pngs_are_16_bit():
    rgb = np.full((100, 100, 3), 120, np.uint8)
    mask = np.zeros((100, 100), bool)
    mask[30:60, 30:60] = True
    fused = fuse(rgb, mask)
    assert (fused[~mask] == 120).all() and (fused[45, 45] != 120).any()
    assert tuple(fused[30, 45]) == (40, 255, 90)  # the outline
    values = depth_png_values(np.array([[0.0, 1.234, 700.0]]))
    assert values.dtype == np.uint16 and list(values[0]) == [0, 1234, 65535]
    coloured = depth_colour(np.linspace(1, 10, 100).reshape(10, 10), np.ones((10, 10), bool))
    assert coloured.shape == (10, 10, 3) and not np.array_equal(coloured[0, 0], coloured[-1, -1])


def test_colon_renderer_is_deterministic_with_sane_depth():
    a, b = render_colon(3, size=48), render_colon(3, size=48)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth_cm, b.depth_cm)
    assert a.rgb.shape == (48, 48, 3) and 0 <= a.rgb.min() and a.rgb.max() <= 1
    assert 0.2 < a.depth_cm.min() and a.depth_cm.max() <= 26
    assert not (a.polyp & ~a.valid).any()
    polyps = [render_colon(seed, size=48).polyp.any() for seed in range(8)]
    assert any(polyps) and not all(polyps)


def test_depth_net_superposes_global_and_local_and_refines():
    net = GlobalLocalDepthNet().eval()
    x = torch.randn(2, 3, DEPTH_SIZE, DEPTH_SIZE)
    with torch.no_grad():
        global_depth, local_depth, superposition, refined = net.stages(x)
        depth = net(x)
    assert all(t.shape == (2, 1, DEPTH_SIZE, DEPTH_SIZE) for t in (global_depth, local_depth, superposition, refined))
    assert torch.allclose(superposition, global_depth + local_depth)
    assert torch.allclose(depth, torch.exp(refined)) and (depth > 0).all()


def test_segmenter_uses_depth_only_when_built_with_it():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 64)
    flat, bumpy = torch.full((1, 1, 64, 64), 3.0), 3.0 + torch.rand(1, 1, 64, 64) * 4
    guided, plain = DepthGuidedSegNet().eval(), DepthGuidedSegNet(use_depth=False).eval()
    with torch.no_grad():
        assert guided(x, flat).shape == (1, 1, 64, 64)
        assert not torch.allclose(guided(x, flat), guided(x, bumpy))
        assert torch.equal(plain(x, flat), plain(x, bumpy))
        assert len(guided.attention_maps(bumpy)) == 4 and plain.attention_maps(bumpy) == []


def test_colour_images_carry_a_component_axis():
    from OrthoAILib.geometry import radiograph_geometry

    image = Image(np.zeros((1, 80, 90, 3), np.uint8), radiograph_geometry((80, 90), (1.0, 1.0)))
    assert image.is_colour and image.plane.shape == (80, 90, 3)
    with pytest.raises(InputError):
        Image(np.zeros((1, 80, 90, 7), np.uint8), radiograph_geometry((80, 90), (1.0, 1.0)))
