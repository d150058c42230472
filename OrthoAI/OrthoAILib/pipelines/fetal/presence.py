"""Is there a fetal head to measure? Refusing what the head models were not trained for.

Three scores come from the segmentation, before anything is measured:

* ``confidence``: the mean head probability inside the segmented region;
* ``ellipse_fit``: the intersection over union of the region and its fitted ellipse (a skull
  section is an ellipse; a thorax, a femur or speckle segmented by mistake rarely is);
* ``area_fraction``: the region's share of the image (a head fills a visible part of a head still).

A head also has to lie inside the image (a cut-off skull gives no circumference). Thresholds are
calibrated on the validation subjects of HC18 and on generated negatives, and stored in the
segmenter's registry entry (``presence``); see ``training/presence_calibration.py``.

Statuses: ``ok`` (measured), ``no_head`` (nothing head-like), ``low_confidence`` (a head may be
there but too uncertain or cut off to measure).
"""

from __future__ import annotations

from dataclasses import dataclass

OK, NO_HEAD, LOW_CONFIDENCE = "ok", "no_head", "low_confidence"


@dataclass(frozen=True)
class PresenceScores:
    confidence: float
    ellipse_fit: float
    area_fraction: float
    inside_image: bool

    def to_json(self) -> dict:
        return {"confidence": round(self.confidence, 4), "ellipse_fit": round(self.ellipse_fit, 4),
                "area_fraction": round(self.area_fraction, 4), "inside_image": self.inside_image}


@dataclass(frozen=True)
class PresenceThresholds:
    min_area_fraction: float = 0.01  # below: nothing head-sized was found
    reject_confidence: float = 0.6  # below: no head
    accept_confidence: float = 0.8  # at or above (with a good fit): measure
    reject_ellipse_fit: float = 0.8  # below: not an elliptical skull section
    accept_ellipse_fit: float = 0.9

    @classmethod
    def from_entry(cls, extra: dict) -> "PresenceThresholds":
        stored = (extra or {}).get("presence", {})
        return cls(**{k: float(v) for k, v in stored.items() if k in cls.__dataclass_fields__})

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def decide(scores: PresenceScores | None, thresholds: PresenceThresholds) -> tuple[str, str]:
    """``(status, message)``: what was found, in words a sonographer can act on."""
    if scores is None or scores.area_fraction < thresholds.min_area_fraction:
        return NO_HEAD, "no fetal head found in this image; nothing was measured"
    described = (f"confidence {scores.confidence:.2f}, ellipse fit {scores.ellipse_fit:.2f}, "
                 f"{100 * scores.area_fraction:.1f} % of the image")
    if scores.confidence < thresholds.reject_confidence or scores.ellipse_fit < thresholds.reject_ellipse_fit:
        return NO_HEAD, f"no fetal head found ({described}); nothing was measured"
    if scores.confidence < thresholds.accept_confidence or scores.ellipse_fit < thresholds.accept_ellipse_fit:
        return LOW_CONFIDENCE, (f"a head-like region was found but too uncertain to measure ({described}); "
                                "nothing was measured")
    if not scores.inside_image:
        return LOW_CONFIDENCE, ("the head is cut off by the image border; its circumference cannot be measured. "
                                "Acquire a plane with the whole skull in view")
    return OK, ""
