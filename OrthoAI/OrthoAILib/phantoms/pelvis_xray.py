"""A synthetic AP pelvis radiograph after right total hip arthroplasty, with its keypoints.

Shapes are drawn in a patient frame (X towards the patient's left, Y
superior, mm; origin near the symphysis) and rasterised in radiological
orientation: the patient's right on the image's left, superior at the top.
The nine keypoints are known exactly, so the measures are known too. It is
the demo's image and a test input; it is not meant to look like a real film
in every detail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import ImageGeometry
from .raster import disk_mask, ellipse_mask, polygon_mask

# Coronal image, radiological orientation. Columns of this matrix are the RAS
# directions of I (columns: towards the patient's left, RAS -x), J (rows:
# inferior, RAS -z) and K (posterior, RAS -y).
CORONAL_DIRECTIONS = ((-1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0))


@dataclass(frozen=True)
class PelvisRadiograph:
    image: np.ndarray  # uint16, rows × columns
    geometry: ImageGeometry  # of the single-slice volume (KJI array image[None])
    keypoints_ras: dict[str, np.ndarray]  # RAS mm, in the image plane
    cup_diameter_mm: float  # true diameter of the cup (the film shows it magnified)
    magnification: float  # film size / true size, as a source-to-detector geometry gives


def _keypoints(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict]:
    jitter = lambda scale=2.0: rng.normal(0.0, scale, size=2)  # noqa: E731
    abduction = math.radians(rng.uniform(35, 48))
    cup_radius = 26.0
    centre = np.array([-95.0, 12.0]) + jitter()
    lateral = centre + cup_radius * np.array([-math.cos(abduction), math.sin(abduction)])
    medial = centre - cup_radius * np.array([-math.cos(abduction), math.sin(abduction)])
    uncovered = math.radians(rng.uniform(20, 40))
    lateral_angle = math.atan2(lateral[1] - centre[1], lateral[0] - centre[0])
    contact_angle = lateral_angle - uncovered  # towards the dome (clockwise in this frame)
    points = {
        "cup_lateral": lateral,
        "cup_medial": medial,
        "cup_bone_contact": centre + cup_radius * np.array([math.cos(contact_angle), math.sin(contact_angle)]),
        "contralateral_center": np.array([93.0, 10.0]) + jitter(),
        "teardrop_right": np.array([-55.0, 0.0]) + jitter(1.0),
        "teardrop_left": np.array([55.0, 0.0]) + jitter(1.0),
        "ischium_right": np.array([-50.0, -45.0]) + jitter(1.0),
        "ischium_left": np.array([50.0, -45.0]) + jitter(1.0),
        "pubic_symphysis": np.array([0.0, -22.0]) + jitter(1.0),
    }
    return points, {"centre": centre, "radius": cup_radius, "abduction": abduction}


def make_pelvis_radiograph(seed: int = 0, spacing_mm: float = 0.5,
                           field_mm: tuple[float, float] = (320.0, 240.0),
                           magnification: float = 1.15) -> PelvisRadiograph:
    """Shapes are drawn at film scale (mm on the detector); the true anatomy is
    ``magnification`` times smaller, so calibrating with the true cup diameter
    recovers true lengths."""
    rng = np.random.default_rng(seed)
    points, cup = _keypoints(rng)
    columns_count, rows_count = int(field_mm[0] / spacing_mm), int(field_mm[1] / spacing_mm)
    x0, y0 = -field_mm[0] / 2.0, 110.0  # patient-frame position of pixel (0, 0)

    def px(xy):  # patient frame (mm) -> (row, column)
        return (y0 - xy[1]) / spacing_mm, (xy[0] - x0) / spacing_mm

    def radii(ry_mm, rx_mm):
        return ry_mm / spacing_mm, rx_mm / spacing_mm

    shape = (rows_count, columns_count)
    image = np.full(shape, 0.25, dtype=np.float32)
    image += np.linspace(0.0, 0.08, rows_count, dtype=np.float32)[:, None]  # thicker tissue lower down

    def paint(mask, value, add=True):
        if add:
            image[mask] += value
        else:
            image[mask] = value

    def ellipse(centre_rc, radius_rows, radius_columns, rotation=0.0):
        return ellipse_mask(shape, centre_rc, (radius_rows, radius_columns), rotation)

    def polygon(points_mm):
        return polygon_mask(shape, [px(p) for p in points_mm])

    for side in (-1, 1):
        # iliac wing, pelvic ring half, obturator foramen, ischial tuberosity, femur
        paint(ellipse(px((side * 85, 60)), *radii(55, 45), rotation=side * 0.35), 0.22)
        paint(ellipse(px((side * 45, -15)), *radii(40, 50)), 0.12)
        paint(ellipse(px((side * 32, -32)), *radii(14, 20), rotation=side * 0.4), -0.16)
        paint(ellipse(px(points["ischium_right" if side < 0 else "ischium_left"] + [0, 6]), *radii(8, 12)), 0.18)
        shaft_top = np.array([side * 115.0, -15.0])
        shaft = [shaft_top + [-14, 0], shaft_top + [14, 0], shaft_top + [side * 8 + 12, -110], shaft_top + [side * 8 - 12, -110]]
        paint(polygon(shaft), 0.2)
        # teardrop: a U-shaped dense line
        tip = points["teardrop_right" if side < 0 else "teardrop_left"]
        paint(ellipse(px(tip + [0, 9]), *radii(10, 4)), 0.15)
        paint(ellipse(px(tip + [0, 10]), *radii(8, 2.5)), -0.12)

    # native left femoral head, and the sacrum between the wings
    paint(disk_mask(shape, px(points["contralateral_center"]), 24 / spacing_mm), 0.16)
    paint(ellipse(px((0, 45)), *radii(40, 28)), 0.1)
    paint(ellipse(px(points["pubic_symphysis"] + [0, -6]), *radii(8, 18)), 0.1)

    # right prosthesis: stem, head, and the metal cup (a half disk opening along b–j)
    centre, radius = cup["centre"], cup["radius"]
    stem_top = np.array([-112.0, -20.0])
    stem = [centre, stem_top + [6, 0], stem_top + [-2, -100], stem_top + [-10, -100], stem_top + [-12, 0]]
    paint(polygon(stem), 0.95, add=False)
    paint(disk_mask(shape, px(centre), 14 / spacing_mm), 1.0, add=False)
    # the metal cup: a shell on the dome side of the diameter b–j (along its upward normal)
    rows, columns = np.mgrid[:rows_count, :columns_count]
    normal = np.array([math.sin(cup["abduction"]), math.cos(cup["abduction"])])
    dome = ((columns * spacing_mm + x0) - centre[0]) * normal[0] + ((y0 - rows * spacing_mm) - centre[1]) * normal[1] >= 0
    shell = disk_mask(shape, px(centre), radius / spacing_mm) & ~disk_mask(shape, px(centre), (radius - 4) / spacing_mm)
    image[shell & dome] = 1.0

    image += rng.normal(0.0, 0.02, size=shape).astype(np.float32)
    image = np.clip(image, 0.0, 1.0)
    pixels = np.round(image * 4000.0).astype(np.uint16)  # 12-bit-like detector values

    # Patient frame -> RAS: X (towards the patient's left) is RAS -x; Y (superior) is RAS +z.
    origin = (-x0, 0.0, y0)  # RAS of pixel (0, 0)
    geometry = ImageGeometry(spacing=(spacing_mm, spacing_mm, 1.0), origin=origin, directions=CORONAL_DIRECTIONS)
    keypoints_ras = {name: np.array([-xy[0], 0.0, xy[1]]) for name, xy in points.items()}
    return PelvisRadiograph(pixels, geometry, keypoints_ras, cup_diameter_mm=2 * radius / magnification,
                            magnification=magnification)
