"""Head biometry from the fitted ellipse, growth-standard z-scores and head-shape classes.

* HC is the ellipse's perimeter, OFD its long axis and BPD its short axis (both outer to outer,
  as the HC18 annotations trace the skull's outer edge); the cephalic index is
  CI = BPD / OFD × 100 (per cent).
* HC for gestational age: the INTERGROWTH-21st fetal growth standard (Papageorghiou AT et al.,
  "International standards for fetal growth based on serial ultrasound measurements: the Fetal
  Growth Longitudinal Study of the INTERGROWTH-21st Project", Lancet 2014;384:869-79), defined from
  14 to 40 weeks: mean and SD of HC in mm as functions of gestational age in exact weeks.
* Flags: below the 3rd / above the 97th centile; microcephaly suspected at 3 SD or more below the
  mean, macrocephaly at 2 SD or more above it (the definitions of the ISUOG and SMFM guidance).
* Head shape by cephalic index (Hadlock FP et al., "Estimating fetal age: effect of head shape on
  BPD", AJR 1981;137:83-85: CI 78.3 % ± 4.4 % SD): dolichocephalic below 74 %, brachycephalic
  above 83 % (Hadlock's range of one SD). A shape class, not a diagnosis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .ellipse import Ellipse, ellipse_perimeter, fit_ellipse

GROWTH_STANDARD = "INTERGROWTH-21st fetal HC standard (Papageorghiou et al., Lancet 2014)"
GA_RANGE_WEEKS = (14.0, 40.0)
SHAPE_CLASSES = ("normal", "dolichocephalic", "brachycephalic")
CI_DOLICHOCEPHALIC_BELOW = 74.0
CI_BRACHYCEPHALIC_ABOVE = 83.0
MICROCEPHALY_Z = -3.0
MACROCEPHALY_Z = 2.0
CENTILE_LOW, CENTILE_HIGH = 3.0, 97.0


@dataclass(frozen=True)
class Biometry:
    hc_mm: float
    bpd_mm: float
    ofd_mm: float
    cephalic_index: float  # per cent

    def to_json(self) -> dict:
        return {"hc_mm": round(self.hc_mm, 2), "bpd_mm": round(self.bpd_mm, 2), "ofd_mm": round(self.ofd_mm, 2),
                "cephalic_index": round(self.cephalic_index, 2)}


@dataclass(frozen=True)
class GrowthAssessment:
    ga_weeks: float
    expected_hc_mm: float
    sd_mm: float
    z_score: float
    centile: float
    flags: tuple[str, ...]

    def to_json(self) -> dict:
        return {"ga_weeks": self.ga_weeks, "standard": GROWTH_STANDARD, "expected_hc_mm": round(self.expected_hc_mm, 2),
                "sd_mm": round(self.sd_mm, 2), "hc_z_score": round(self.z_score, 3), "hc_centile": round(self.centile, 2)}


def ellipse_in_mm(ellipse: Ellipse, pixel_size_xy: tuple[float, float]) -> Ellipse:
    """The ellipse in millimetres (an affine image of an ellipse is an ellipse, so pixels that are not
    square are handled exactly by refitting the scaled outline)."""
    sx, sy = pixel_size_xy
    if math.isclose(sx, sy, rel_tol=1e-9):
        return ellipse.scaled(sx)
    outline = ellipse.outline(360) * np.array([sx, sy])
    return fit_ellipse(outline) or ellipse.scaled(math.sqrt(sx * sy))


def biometry(ellipse: Ellipse, pixel_size_xy: tuple[float, float]) -> Biometry:
    mm = ellipse_in_mm(ellipse, pixel_size_xy)
    a, b = mm.semi_axes_px
    return Biometry(ellipse_perimeter(a, b), 2 * b, 2 * a, 100.0 * b / a if a > 0 else float("nan"))


def shape_class(cephalic_index: float) -> str:
    if cephalic_index < CI_DOLICHOCEPHALIC_BELOW:
        return "dolichocephalic"
    if cephalic_index > CI_BRACHYCEPHALIC_ABOVE:
        return "brachycephalic"
    return "normal"


def hc_standard(ga_weeks: float) -> tuple[float, float]:
    """Mean and SD of HC (mm) at ``ga_weeks`` exact weeks, INTERGROWTH-21st."""
    ga, log = ga_weeks, math.log(ga_weeks)
    mean = -28.2849 + 1.69267 * ga ** 2 - 0.397485 * ga ** 2 * log
    sd = 1.98735 + 0.0136772 * ga ** 3 - 0.00726264 * ga ** 3 * log + 0.000976253 * ga ** 3 * log ** 2
    return mean, sd


def growth_assessment(hc_mm: float, ga_weeks: Optional[float]) -> tuple[Optional[GrowthAssessment], tuple[str, ...]]:
    """HC against the standard, with flags; ``(None, warnings)`` when no usable age was given."""
    if ga_weeks is None:
        return None, ()
    if not (GA_RANGE_WEEKS[0] <= ga_weeks <= GA_RANGE_WEEKS[1]):
        return None, (f"ga_outside_standard: {ga_weeks:g} weeks is outside the standard's "
                      f"{GA_RANGE_WEEKS[0]:g}-{GA_RANGE_WEEKS[1]:g} weeks; no z-score",)
    mean, sd = hc_standard(ga_weeks)
    z = (hc_mm - mean) / sd
    centile = 50.0 * (1.0 + math.erf(z / math.sqrt(2.0)))
    flags = []
    if centile < CENTILE_LOW:
        flags.append("hc_below_3rd_centile")
    if centile > CENTILE_HIGH:
        flags.append("hc_above_97th_centile")
    if z <= MICROCEPHALY_Z:
        flags.append("microcephaly_suspected")
    if z >= MACROCEPHALY_Z:
        flags.append("macrocephaly_suspected")
    return GrowthAssessment(float(ga_weeks), mean, sd, z, centile, tuple(flags)), ()
