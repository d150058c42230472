"""Is there a cup to measure? Refusing what is not a post-THA AP pelvis.

The detector runs on the film as drawn and mirrored; in each view its three cup classes
score how sure it is that a cup sits on the image's left. The pelvic classes (teardrops,
ischia, symphysis) score how much the film looks like an AP pelvis at all. Thresholds are
calibrated on held-out generated films with and without prostheses and on hard negatives
(children's pelvises, other views and joints, blank and noise images) and stored in the
detector's registry entry (``presence``); see ``training/presence_calibration.py``.

Statuses: ``ok`` (measured), ``no_prosthesis`` (a pelvis, no cup on that side),
``low_confidence`` (a cup may be there: too uncertain to measure), ``not_ap_pelvis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .detector_targets import CANONICAL_CLASSES, CUP_CLASSES

OK, NO_PROSTHESIS, LOW_CONFIDENCE, NOT_AP_PELVIS = "ok", "no_prosthesis", "low_confidence", "not_ap_pelvis"
PELVIC_CLASSES = ("teardrop_near", "teardrop_far", "ischium_near", "ischium_far", "pubic_symphysis")
VIEW_SIDES = ("right", "left")  # view 0 (as drawn) looks at the patient's right hip, view 1 (mirrored) the left


@dataclass(frozen=True)
class PresenceThresholds:
    cup_accept: float = 0.5  # a view's cup score at or above: a cup is there, measure it
    cup_reject: float = 0.5  # below: no cup on that side; between the two: too uncertain to measure
    pelvis_accept: float = 0.2  # pelvic-landmark score below: not an AP pelvis

    @classmethod
    def from_entry(cls, extra: dict) -> "PresenceThresholds":
        stored = (extra or {}).get("presence", {})
        return cls(**{k: float(stored[k]) for k in ("cup_accept", "cup_reject", "pelvis_accept") if k in stored})


def cup_scores(coarse: np.ndarray) -> np.ndarray:
    """Per view (2), the mean probability of the three cup classes."""
    return coarse[:, [CANONICAL_CLASSES.index(n) for n in CUP_CLASSES], 2].mean(axis=1)


def pelvis_score(coarse: np.ndarray) -> float:
    """Mean probability of the pelvic classes, each taken from its more confident view."""
    indices = [CANONICAL_CLASSES.index(n) for n in PELVIC_CLASSES]
    return float(coarse[:, indices, 2].max(axis=0).mean())


@dataclass(frozen=True)
class Refusal:
    side: str  # "right", "left", or "" for the whole film
    status: str
    message: str


def decide(cups: np.ndarray, pelvis: float, side: str, thresholds: PresenceThresholds
           ) -> tuple[list[int], list[Refusal], list[str]]:
    """Which views to measure (0: the patient's right hip, 1: the left), what is refused and why,
    and warnings for what is measured."""
    if pelvis < thresholds.pelvis_accept:
        return [], [Refusal("", NOT_AP_PELVIS,
                            f"This does not look like an AP pelvis radiograph (pelvic landmarks scored {pelvis:.2f}, "
                            f"below {thresholds.pelvis_accept:.2f}); nothing was measured.")], []
    asked = {"auto": [0, 1], "right": [0], "left": [1], "both": [0, 1]}[side]
    chosen, refused, warnings = [], [], []
    for view in asked:
        score, name = float(cups[view]), VIEW_SIDES[view]
        if score >= thresholds.cup_accept:
            chosen.append(view)
        elif score >= thresholds.cup_reject:
            if side != "auto":  # the user named this side: measure, and say how unsure the cup is
                chosen.append(view)
                warnings.append(f"low_confidence: the {name} cup scored {score:.2f} (accepted from "
                                f"{thresholds.cup_accept:.2f}); check every point.")
            else:
                refused.append(Refusal(name, LOW_CONFIDENCE, f"A cup may be present on the {name} side (score {score:.2f}, "
                                       f"accepted from {thresholds.cup_accept:.2f}): too uncertain to measure; check the "
                                       "film, or choose the side."))
        elif side != "auto":
            refused.append(Refusal(name, NO_PROSTHESIS, f"No cup on the {name} side (score {score:.2f}, below "
                                   f"{thresholds.cup_reject:.2f}): nothing was measured there."))
    if side == "auto" and not chosen and not refused:
        refused.append(Refusal("", NO_PROSTHESIS, f"No hip prosthesis found (cup scores {cups[0]:.2f} right, "
                               f"{cups[1]:.2f} left, below {thresholds.cup_reject:.2f}): nothing was measured."))
    return chosen, refused, warnings


def refusal_status(refused, default: Optional[str] = OK) -> str:
    return refused[0].status if refused else default
