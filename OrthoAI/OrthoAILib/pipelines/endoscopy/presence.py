"""Is this a colour endoscopy frame the networks can read?

Three measures of the field of view, with limits set below the 0th-1st percentile of the training
frames (Kvasir-SEG and CVC-ClinicDB: field 57-95 % of the frame, red share of the mean colour 0.39-0.57,
chroma 0.04-0.21): a frame outside them is refused (``not_endoscopy``) and nothing is measured. A
greyscale frame (a radiograph, an ultrasound still, a frame saved without colour) has no chroma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOT_ENDOSCOPY = "not_endoscopy"
MIN_FIELD = 0.35
MIN_RED_SHARE = 0.37
MIN_CHROMA = 0.03


@dataclass(frozen=True)
class FrameCheck:
    field_fraction: float
    red_share: float
    chroma: float

    @property
    def reason(self) -> str:
        """Why the frame is refused, or "" when it is accepted."""
        if self.chroma < MIN_CHROMA:
            return ("the frame is greyscale (no colour): endoscopy frames are colour; give the frame as the video "
                    "processor recorded it")
        if self.field_fraction < MIN_FIELD:
            return (f"only {100 * self.field_fraction:.0f} % of the frame is lit: no endoscope field of view found "
                    "(a black or nearly black frame?)")
        if self.red_share < MIN_RED_SHARE:
            return (f"the colours are not those of mucosa (red share {self.red_share:.2f} < {MIN_RED_SHARE}): "
                    "this does not look like a colonoscopy frame")
        return ""

    def to_json(self) -> dict:
        return {"field_fraction": round(self.field_fraction, 4), "red_share": round(self.red_share, 4),
                "chroma": round(self.chroma, 4)}


def check_frame(rgb: np.ndarray, field: np.ndarray) -> FrameCheck:
    """``rgb`` H×W×3 in 0-1, ``field`` the field of view."""
    if not field.any():
        return FrameCheck(0.0, 0.0, 0.0)
    pixels = rgb[field][:: max(1, int(field.sum()) // 20000)]  # a subsample is plenty for three means
    mean = pixels.mean(axis=0)
    chroma = float(np.abs(pixels - pixels.mean(axis=1, keepdims=True)).mean())
    return FrameCheck(float(field.mean()), float(mean[0] / max(mean.sum(), 1e-6)), chroma)
