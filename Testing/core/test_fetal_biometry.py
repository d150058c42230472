"""Fetal head biometry, the growth standard and the head-shape classes."""

from __future__ import annotations

import math

import pytest

from OrthoAILib.pipelines.fetal.biometry import (CI_BRACHYCEPHALIC_ABOVE, CI_DOLICHOCEPHALIC_BELOW, biometry,
                                                 growth_assessment, hc_standard, shape_class)
from OrthoAILib.pipelines.fetal.ellipse import Ellipse, ellipse_perimeter
from OrthoAILib.pipelines.fetal.pipeline import measure_ellipse


def test_biometry_of_a_known_ellipse():
    measured = biometry(Ellipse((300.0, 200.0), (100.0, 80.0), 33.0), (0.15, 0.15))
    assert measured.ofd_mm == pytest.approx(30.0)
    assert measured.bpd_mm == pytest.approx(24.0)
    assert measured.cephalic_index == pytest.approx(80.0)
    assert measured.hc_mm == pytest.approx(ellipse_perimeter(15.0, 12.0))


def test_pixels_that_are_not_square_are_handled_exactly():
    # An upright ellipse 100 x 80 px with 0.2 mm wide, 0.1 mm tall pixels is 20 x 8 mm.
    measured = biometry(Ellipse((0.0, 0.0), (100.0, 80.0), 0.0), (0.2, 0.1))
    assert measured.ofd_mm == pytest.approx(40.0, rel=1e-6)
    assert measured.bpd_mm == pytest.approx(16.0, rel=1e-6)


@pytest.mark.parametrize("ga, mean, sd", [(20.0, 172.5, 7.43), (40.0, 334.0, 12.92)])
def test_intergrowth_standard_at_known_ages(ga, mean, sd):
    # Values of the published equations, checked by hand (Papageorghiou et al., Lancet 2014).
    expected_mean, expected_sd = hc_standard(ga)
    assert expected_mean == pytest.approx(mean, abs=0.6)
    assert expected_sd == pytest.approx(sd, abs=0.05)


def test_z_score_centile_and_flags():
    mean, sd = hc_standard(24.0)
    normal, _ = growth_assessment(mean, 24.0)
    assert normal.z_score == pytest.approx(0.0, abs=1e-9) and normal.centile == pytest.approx(50.0)
    assert normal.flags == ()
    small, _ = growth_assessment(mean - 3.2 * sd, 24.0)
    assert {"hc_below_3rd_centile", "microcephaly_suspected"} <= set(small.flags)
    large, _ = growth_assessment(mean + 2.1 * sd, 24.0)
    assert {"hc_above_97th_centile", "macrocephaly_suspected"} <= set(large.flags)
    borderline, _ = growth_assessment(mean - 2.5 * sd, 24.0)
    assert "hc_below_3rd_centile" in borderline.flags and "microcephaly_suspected" not in borderline.flags


def test_age_outside_the_standard_gives_a_warning_and_no_score():
    assessment, warnings = growth_assessment(100.0, 12.0)
    assert assessment is None and warnings and "outside" in warnings[0]
    assert growth_assessment(100.0, None) == (None, ())


def test_shape_classes_follow_the_cited_thresholds():
    assert shape_class(CI_DOLICHOCEPHALIC_BELOW - 0.01) == "dolichocephalic"
    assert shape_class(CI_DOLICHOCEPHALIC_BELOW) == "normal"
    assert shape_class(CI_BRACHYCEPHALIC_ABOVE) == "normal"
    assert shape_class(CI_BRACHYCEPHALIC_ABOVE + 0.01) == "brachycephalic"


def test_measures_without_a_pixel_size_give_only_the_ratio():
    measures = measure_ellipse(Ellipse((0.0, 0.0), (100.0, 70.0), 0.0), None, 22.0)
    assert measures.biometry is None and measures.growth is None
    assert measures.cephalic_index_class == "dolichocephalic" and "dolichocephalic" in measures.flags
    assert any(w.startswith("no_pixel_size") for w in measures.warnings)
    measured = measure_ellipse(Ellipse((0.0, 0.0), (100.0, 80.0), 0.0), (0.5, 0.5), 22.0)
    assert measured.biometry.hc_mm == pytest.approx(ellipse_perimeter(50.0, 40.0))
    assert measured.growth is not None and math.isfinite(measured.growth.z_score)
