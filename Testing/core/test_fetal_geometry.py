"""Ellipse fitting, perimeter and the letterbox map of the fetal head pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from OrthoAILib.pipelines.fetal.ellipse import Ellipse, ellipse_perimeter, fit_ellipse, fit_region
from OrthoAILib.pipelines.fetal.preprocess import Letterbox, letterbox_matrix, network_input, resample


@pytest.mark.parametrize("angle", [0.0, 17.0, 45.0, 90.0, 133.0, 179.0])
def test_fit_recovers_an_ellipse_at_any_angle(angle):
    truth = Ellipse((401.3, 255.8), (150.0, 110.0), angle)
    fitted = fit_region(truth.mask((540, 800)))
    assert fitted is not None
    assert np.allclose(fitted.center_px, truth.center_px, atol=0.1)
    assert np.allclose(fitted.semi_axes_px, truth.semi_axes_px, atol=0.15)
    difference = (fitted.angle_deg - angle + 90) % 180 - 90
    assert abs(difference) < 0.2


def test_fit_is_robust_to_noise_and_refuses_degenerate_points():
    truth = Ellipse((0.0, 0.0), (50.0, 30.0), 20.0)
    rng = np.random.default_rng(0)
    fitted = fit_ellipse(truth.outline(200) + rng.normal(0, 0.3, (200, 2)))
    assert abs(fitted.semi_axes_px[0] - 50) < 0.3 and abs(fitted.semi_axes_px[1] - 30) < 0.3
    assert fit_ellipse(np.zeros((3, 2))) is None
    line = np.stack([np.arange(20.0), 2 * np.arange(20.0)], axis=1)
    assert fit_ellipse(line) is None


def test_perimeter_matches_the_circle_and_a_numerical_integral():
    assert ellipse_perimeter(10, 10) == pytest.approx(2 * math.pi * 10, rel=1e-12)
    t = np.linspace(0, 2 * np.pi, 200001)
    a, b = 90.0, 62.0
    numeric = np.sum(np.hypot(np.diff(a * np.cos(t)), np.diff(b * np.sin(t))))
    assert ellipse_perimeter(a, b) == pytest.approx(numeric, rel=1e-7)


def test_shrinking_by_the_outline_width_shortens_both_axes():
    ellipse = Ellipse((10.0, 10.0), (40.0, 30.0), 10.0).shrunk(1.4)
    assert ellipse.semi_axes_px == pytest.approx((38.6, 28.6))


def test_letterbox_maps_network_points_back_to_the_image():
    box = Letterbox.fit((540, 800))
    points = np.array([[0.0, 0.0], [539.0, 799.0], [270.5, 100.25]])
    assert np.allclose(box.to_image(box.to_network(points)), points)
    matrix = letterbox_matrix(box)
    net = box.to_network(points)
    back = (matrix @ np.concatenate([net, np.ones((3, 1))], axis=1).T).T[:, :2]
    assert np.allclose(back, points)


def test_network_input_keeps_a_region_where_it_was():
    truth = Ellipse((520.0, 300.0), (120.0, 90.0), 30.0)
    mask = truth.mask((540, 800)).astype(np.float32)
    x, box = network_input(mask * 200)
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    on_grid = resample(mask, letterbox_matrix(box))
    fitted = fit_region(on_grid)
    centre_rc = box.to_image([[fitted.center_px[1], fitted.center_px[0]]])[0]
    assert np.allclose(centre_rc, [300.0, 520.0], atol=1.0)
    assert fitted.semi_axes_px[0] / box.scale == pytest.approx(120.0, abs=2.0)
