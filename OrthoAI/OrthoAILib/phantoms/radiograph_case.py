"""What a generated film is: its pixels, geometry, implants and exact keypoints; and how the patient lies on it.

Anatomy is drawn in a patient frame (X towards the patient's left, Y
superior, film millimetres). :func:`film_canvas` places that frame on the
film: radiological orientation (the patient's right on the image's left),
turned in-plane by the film's rotation and shifted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import ImageGeometry, pixel_points_to_ras
from .raster import Canvas

SIDES = ("right", "left")
NO_OPERATED_SIDE = "none"  # keypoints_rc key of the shared points of a film without an arthroplasty


@dataclass(frozen=True)
class HipImplant:
    side: str
    cup_centre: tuple[float, float]  # patient frame, film mm
    cup_radius: float  # film mm
    abduction_deg: float
    uncovered_deg: float  # arc of the cup rim not covered by bone, from the lateral end
    head_radius: float  # film mm; the metal or ceramic head (the small one of a dual-mobility cup)


@dataclass(frozen=True)
class PelvisRadiograph:
    image: np.ndarray  # uint16 rows × columns, MONOCHROME2
    spacing_mm: float  # at the detector, square pixels
    geometry: ImageGeometry  # of the single-slice volume (KJI array image[None])
    bit_depth: int
    magnification: float  # film size / true size
    operated_sides: tuple[str, ...]
    implants: dict[str, HipImplant]
    # operated side -> role name -> (row, column) pixels; a film with no arthroplasty has one entry,
    # "none", with the shared points and the femoral head centres; a film that is not a pelvis, none
    keypoints_rc: dict[str, dict[str, np.ndarray]]
    native_spacing_mm: float = 0.0  # the spacing the case was drawn for (differs when rendered coarser)
    # what was drawn: pose ("rotation_deg", "scale", "tilt_deg"), film ("vendor_look", "exposure",
    # "collimation"), implants per side ("cup_design", "cups", "stem_shape", "stems"), native hips
    # ("osteoarthritis"), and for a negative its "kind" and what it holds
    details: dict = field(default_factory=dict, repr=False)

    @property
    def primary_side(self) -> str:
        """The first operated side; a film without an arthroplasty has none and says so (ValueError)."""
        if not self.operated_sides:
            raise ValueError("This film has no operated side (no arthroplasty); its shared points, if any, are "
                             f"keypoints_ras_for('{NO_OPERATED_SIDE}').")
        return self.operated_sides[0]

    def keypoints_ras_for(self, side: str) -> dict[str, np.ndarray]:
        return pixel_points_to_ras(self.keypoints_rc[side], self.geometry)

    @property
    def keypoints_ras(self) -> dict[str, np.ndarray]:
        return self.keypoints_ras_for(self.primary_side)

    def cup_diameter_mm_for(self, side: str) -> float:
        """True cup diameter (what the operative record says), not the magnified film size."""
        return 2.0 * self.implants[side].cup_radius / self.magnification

    @property
    def cup_diameter_mm(self) -> float:
        return self.cup_diameter_mm_for(self.primary_side)


def mirror(side: str) -> float:
    """Patient-frame X sign of a hip: the right hip is at negative X."""
    return -1.0 if side == "right" else 1.0


def film_canvas(shape: tuple[int, int], spacing: float, rotation_rad: float, shift_mm, frame_centre) -> Canvas:
    """A canvas whose frame point ``frame_centre`` lands ``shift_mm`` (X right, Y up) from the film's centre."""
    rows, columns = shape
    centre_rc = np.array([rows / 2.0, columns / 2.0]) + np.array([-shift_mm[1], shift_mm[0]]) / spacing
    canvas = Canvas(shape, 1.0 / spacing, rotation_rad)
    canvas.to_pixel[:, 2] = 0.0
    canvas.to_pixel[:, 2] = centre_rc - canvas.to_pixel[:, :2] @ np.asarray(frame_centre, dtype=float)
    canvas.to_frame = np.linalg.inv(np.vstack([canvas.to_pixel, [0, 0, 1]]))[:2]
    return canvas


def draw_pose(rng: np.random.Generator) -> tuple[float, float]:
    """In-plane rotation (degrees) and patient-size scale: mostly near straight and average, tails to ±15° and ±20 %."""
    rotation = rng.uniform(-15, 15) if rng.random() < 0.3 else float(np.clip(rng.normal(0, 4), -15, 15))
    size = rng.uniform(0.8, 1.2)
    return float(rotation), float(size)
