"""The fetal pipeline's decision whether there is a head to measure."""

from __future__ import annotations

from OrthoAILib.pipelines.fetal.presence import (LOW_CONFIDENCE, NO_HEAD, OK, PresenceScores, PresenceThresholds,
                                                 decide)

THRESHOLDS = PresenceThresholds(min_area_fraction=0.02, reject_confidence=0.6, accept_confidence=0.8,
                                reject_ellipse_fit=0.8, accept_ellipse_fit=0.9)


def test_a_confident_elliptical_whole_head_is_measured():
    assert decide(PresenceScores(0.95, 0.97, 0.2, True), THRESHOLDS) == (OK, "")


def test_nothing_or_a_tiny_region_is_no_head():
    assert decide(None, THRESHOLDS)[0] == NO_HEAD
    assert decide(PresenceScores(0.99, 0.99, 0.01, True), THRESHOLDS)[0] == NO_HEAD


def test_a_region_that_is_not_elliptical_or_unsure_is_refused():
    assert decide(PresenceScores(0.95, 0.5, 0.2, True), THRESHOLDS)[0] == NO_HEAD
    assert decide(PresenceScores(0.4, 0.97, 0.2, True), THRESHOLDS)[0] == NO_HEAD
    status, message = decide(PresenceScores(0.7, 0.97, 0.2, True), THRESHOLDS)
    assert status == LOW_CONFIDENCE and "confidence 0.70" in message


def test_a_head_cut_off_by_the_border_is_not_measured():
    status, message = decide(PresenceScores(0.95, 0.97, 0.2, False), THRESHOLDS)
    assert status == LOW_CONFIDENCE and "border" in message


def test_thresholds_come_from_the_registry_entry():
    thresholds = PresenceThresholds.from_entry({"presence": {"accept_confidence": 0.85, "unknown": 1}})
    assert thresholds.accept_confidence == 0.85 and thresholds.reject_confidence == PresenceThresholds().reject_confidence
