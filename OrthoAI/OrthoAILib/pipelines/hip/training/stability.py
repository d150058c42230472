"""Do results stay put when nothing meaningful changes? A held-out film is measured as drawn,
turned by ±10° in its plane, and with its pixel spacing changed in the 15th digit; the keypoints
of the turned film are turned back and compared with the original's (mm), and the abduction
angle compared directly (it does not depend on the film's rotation).

    orthoai hip-benchmark --stability 20
"""

from __future__ import annotations

import math

import numpy as np

from ..measures import MEASURE_KEYS

STABILITY_SEED_START = 1_000_300  # held out, apart from the accuracy benchmark's films
ANGLES_DEG = (-10.0, 10.0)


def _rotate(pixels: np.ndarray, degrees: float) -> np.ndarray:
    from scipy import ndimage

    return ndimage.rotate(pixels, degrees, reshape=False, order=1, mode="nearest")


def _turn_back(points_rc: dict, degrees: float, shape: tuple[int, int]) -> dict:
    """Points found on a film rotated by ``degrees`` (scipy's sense, about the centre) -> the original film."""
    centre = (np.asarray(shape, float) - 1) / 2
    angle = math.radians(degrees)
    # the inverse of scipy.ndimage.rotate's turn in (row, column) pixels (checked on a single bright pixel)
    back = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    return {name: centre + back @ (np.asarray(rc, float) - centre) for name, rc in points_rc.items()}


def run_stability(pipeline, cases: int = 20) -> dict:
    from ....io.radiograph_policy import SpacingChoice, radiograph_image
    from ....phantoms.pelvis_xray import make_pelvis_radiograph

    moved: dict[str, list[float]] = {}
    measure_change = {key: [] for key in MEASURE_KEYS if key == "abduction_deg"}
    spacing_change, compared = [], 0
    for index in range(cases):
        film = make_pelvis_radiograph(STABILITY_SEED_START + index, spacing_mm=0.2)
        spacing = SpacingChoice((film.spacing_mm, film.spacing_mm), "benchmark", True)
        reference = pipeline.run(radiograph_image(film.image.astype(np.float32), spacing, "film"))
        if not reference.sides:
            continue
        side = reference.sides[0]
        nudged = SpacingChoice(tuple(s * (1 + 1e-15) for s in spacing.spacing_rc), "benchmark", True)
        again = pipeline.run(radiograph_image(film.image.astype(np.float32), nudged, "film"))
        if again.sides:
            spacing_change.append(max(float(np.linalg.norm(again.sides[0].points_ras[n] - side.points_ras[n]))
                                      for n in side.points_ras))
        for degrees in ANGLES_DEG:
            turned = pipeline.run(radiograph_image(_rotate(film.image.astype(np.float32), degrees), spacing, "film"))
            same = [s for s in turned.sides if s.operated_side == side.operated_side]
            if not same:
                continue
            compared += 1
            back = _turn_back(same[0].points_rc, degrees, film.image.shape)
            for name, rc in side.points_rc.items():
                moved.setdefault(name, []).append(float(np.linalg.norm((back[name] - rc) * film.spacing_mm)))
            if side.measures is not None and same[0].measures is not None:
                measure_change["abduction_deg"].append(abs(same[0].measures.abduction_deg - side.measures.abduction_deg))
    everything = sum(moved.values(), [])
    return {
        "benchmark": "hip_stability", "films": cases, "rotated_films_compared": compared,
        "rotation_deg": list(ANGLES_DEG),
        "point_shift_after_rotation_mm": {"mean": round(float(np.mean(everything)), 3) if everything else None,
                                          "p95": round(float(np.percentile(everything, 95)), 3) if everything else None,
                                          **{n: round(float(np.mean(v)), 3) for n, v in moved.items()}},
        "abduction_change_after_rotation_deg": {k: round(float(np.mean(v)), 3) if v else None
                                                for k, v in measure_change.items()},
        "max_point_shift_after_spacing_change_in_15th_digit_mm": round(max(spacing_change), 6) if spacing_change else None,
    }
