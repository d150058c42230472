"""Cartilage biomarkers from a labelmap: volume, surface area, thickness (map and statistics) per plate
and subregion, Dice against a reference, and change between two time points of one knee.

Subregions follow the weight-bearing convention of Eckstein et al. (Osteoarthritis Cartilage 2006),
simplified so that it needs only the cartilage labels:

* The knee's own axes come from the cartilage: *superior* is the tibial plateau's normal (the tibial
  plates' direction of least spread) turned towards the femoral cartilage, *lateral* runs from the
  medial to the lateral tibial plate's centroid (made perpendicular to superior), *anterior* is
  perpendicular to both and points to the patellar cartilage (or, without one, the image's anterior).
* Femoral cartilage is medial or lateral of the plane halfway between the tibial plates, and central
  (weight-bearing: over the anterior-posterior extent of the tibial plate of its side, 5th to 95th
  percentile), anterior (trochlea) or posterior of it. Tibial subregions are the medial and lateral plates.

Without both tibial plates the axes are unknown: plates are measured whole and a warning says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np

from ...errors import InputError
from ...geometry import ImageGeometry
from .plates import PLATE_TITLES
from .thickness import ThicknessMap, thickness_map

FEMORAL_SUBREGIONS = tuple(f"femoral_{side}_{part}" for side in ("medial", "lateral")
                           for part in ("anterior", "central", "posterior"))
GRID_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class KneeAxes:
    centre: np.ndarray  # RAS mm, halfway between the tibial plates' centroids
    lateral: np.ndarray
    anterior: np.ndarray
    superior: np.ndarray
    central_range: tuple[tuple[float, float], tuple[float, float]]  # medial, lateral: anterior coordinates (mm)

    def to_json(self) -> dict:
        return {"centre_ras_mm": [round(float(v), 2) for v in self.centre],
                "lateral": [round(float(v), 4) for v in self.lateral],
                "anterior": [round(float(v), 4) for v in self.anterior],
                "superior": [round(float(v), 4) for v in self.superior],
                "central_anterior_range_mm": {side: [round(v, 2) for v in extent] for side, extent
                                              in zip(("medial", "lateral"), self.central_range)}}


@dataclass(frozen=True)
class PlateMeasures:
    name: str
    label_values: tuple[int, ...]
    voxels: int
    volume_mm3: float
    surface_area_mm2: float
    thickness_mm: dict
    subregions: dict = field(default_factory=dict)  # name -> {"volume_mm3", "thickness_mm"}
    dice: Optional[float] = None

    def to_json(self) -> dict:
        out = {"title": PLATE_TITLES.get(self.name, self.name), "label_values": list(self.label_values),
               "voxels": self.voxels, "volume_mm3": round(self.volume_mm3, 1),
               "surface_area_mm2": round(self.surface_area_mm2, 1), "thickness_mm": self.thickness_mm}
        if self.subregions:
            out["subregions"] = self.subregions
        if self.dice is not None:
            out["dice"] = round(self.dice, 4)
        return out


@dataclass(frozen=True)
class KneeBiomarkers:
    plates: dict  # name -> PlateMeasures (plates with no voxel are left out)
    maps: dict = field(default_factory=dict, compare=False)  # name -> ThicknessMap
    axes: Optional[KneeAxes] = None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        out = {"plates": {name: plate.to_json() for name, plate in self.plates.items()},
               "thickness_method": "along the inward surface normal, marching-cubes mesh, rim rays excluded",
               "warnings": list(self.warnings)}
        if self.axes is not None:
            out["knee_axes"] = self.axes.to_json()
        return out

    def csv_rows(self) -> list[dict]:
        rows = []
        for name, plate in self.plates.items():
            rows.append(_row(name, "", plate.volume_mm3, plate.thickness_mm, plate.surface_area_mm2, plate.dice))
            for subregion, values in plate.subregions.items():
                rows.append(_row(name, subregion, values["volume_mm3"], values["thickness_mm"]))
        return rows


BIOMARKER_COLUMNS = ("plate", "subregion", "volume_mm3", "surface_area_mm2", "thickness_mean_mm",
                     "thickness_median_mm", "thickness_p95_mm", "thickness_max_mm", "dice")


def _row(plate, subregion, volume, thickness, area=None, dice=None) -> dict:
    def value(v, digits):
        return "" if v is None else round(float(v), digits)

    return {"plate": plate, "subregion": subregion, "volume_mm3": value(volume, 1),
            "surface_area_mm2": value(area, 1), "thickness_mean_mm": value(thickness["mean"], 3),
            "thickness_median_mm": value(thickness["median"], 3), "thickness_p95_mm": value(thickness["p95"], 3),
            "thickness_max_mm": value(thickness["max"], 3), "dice": value(dice, 4)}


def plate_masks(labelmap: np.ndarray, labels: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    return {name: np.isin(labelmap, values) for name, values in labels.items()}


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    total = int(prediction.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(prediction, truth).sum()) / total


def _centroid(mask: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    return geometry.ijk_to_world(np.argwhere(mask).mean(0)[::-1])


def knee_axes(masks: Mapping[str, np.ndarray], geometry: ImageGeometry) -> Optional[KneeAxes]:
    """The knee's axes from its cartilage (see the module's docstring); None without both tibial plates
    and femoral cartilage."""
    if not all(name in masks and masks[name].any() for name in ("femoral", "tibial_medial", "tibial_lateral")):
        return None
    medial, lateral_c = _centroid(masks["tibial_medial"], geometry), _centroid(masks["tibial_lateral"], geometry)
    centre = (medial + lateral_c) / 2
    tibial_points = geometry.ijk_to_world(np.argwhere(masks["tibial_medial"] | masks["tibial_lateral"])[:, ::-1])
    # Superior: the normal of the tibial plateau (the plates' direction of least spread), towards the femur.
    _, _, principal = np.linalg.svd(tibial_points - tibial_points.mean(0), full_matrices=False)
    superior = principal[2]
    if superior.dot(_centroid(masks["femoral"], geometry) - centre) < 0:
        superior = -superior
    lateral = lateral_c - medial
    lateral = lateral - lateral.dot(superior) * superior
    if np.linalg.norm(lateral) < 1e-6:
        return None
    lateral /= np.linalg.norm(lateral)
    anterior = np.cross(superior, lateral)
    if "patellar" in masks and masks["patellar"].any():
        forward = _centroid(masks["patellar"], geometry) - centre
    else:
        forward = np.array([0.0, 1.0, 0.0])  # RAS anterior
    if forward.dot(anterior) < 0:
        anterior = -anterior
    extents = []
    for plate in ("tibial_medial", "tibial_lateral"):
        coordinate = (geometry.ijk_to_world(np.argwhere(masks[plate])[:, ::-1]) - centre) @ anterior
        extents.append(tuple(float(v) for v in np.percentile(coordinate, [5, 95])))
    return KneeAxes(centre, lateral, anterior, superior, tuple(extents))


def femoral_subregion_of(points_ras: np.ndarray, axes: KneeAxes) -> np.ndarray:
    """Index into FEMORAL_SUBREGIONS for each point (N×3 RAS)."""
    relative = points_ras - axes.centre
    side = (relative @ axes.lateral > 0).astype(int)  # 0 medial, 1 lateral
    forward = relative @ axes.anterior
    low = np.where(side == 0, axes.central_range[0][0], axes.central_range[1][0])
    high = np.where(side == 0, axes.central_range[0][1], axes.central_range[1][1])
    part = np.where(forward > high, 0, np.where(forward < low, 2, 1))
    return side * 3 + part


def measure_plate(name: str, values: tuple[int, ...], mask: np.ndarray, geometry: ImageGeometry,
                  axes: Optional[KneeAxes] = None, reference: Optional[np.ndarray] = None) -> tuple[PlateMeasures, ThicknessMap]:
    spacing_kji = tuple(reversed(geometry.spacing))
    voxel_mm3 = float(np.prod(geometry.spacing))
    surface = thickness_map(mask, spacing_kji, geometry.ijk_to_ras)
    subregions = {}
    if axes is not None and name == "femoral":
        voxel_regions = femoral_subregion_of(geometry.ijk_to_world(np.argwhere(mask)[:, ::-1]), axes)
        vertex_regions = femoral_subregion_of(surface.vertices, axes)
        for index, subregion in enumerate(FEMORAL_SUBREGIONS):
            subregions[subregion] = {"volume_mm3": round(float((voxel_regions == index).sum()) * voxel_mm3, 1),
                                     "thickness_mm": surface.statistics(vertex_regions == index)}
    plate = PlateMeasures(name, tuple(values), int(mask.sum()), float(mask.sum()) * voxel_mm3,
                          surface.surface_area_mm2, surface.statistics(), subregions,
                          None if reference is None else dice(mask, reference))
    return plate, surface


def check_same_grid(shape, geometry: ImageGeometry, other_shape, other: ImageGeometry, what: str) -> None:
    same = tuple(shape) == tuple(other_shape) and np.allclose(geometry.ijk_to_ras, other.ijk_to_ras,
                                                             atol=GRID_TOLERANCE_MM)
    if not same:
        raise InputError(f"The {what} is not on the image's grid ({tuple(other_shape)} voxels vs {tuple(shape)}, or "
                         "another spacing/origin/orientation); resample it onto the image first "
                         "(Slicer: Resample Image (BRAINS) with the image as reference, interpolation nearest neighbour).")


def measure_labelmap(labelmap: np.ndarray, geometry: ImageGeometry, labels: Mapping[str, tuple[int, ...]],
                     reference: Optional[np.ndarray] = None, progress=None, cancel=None) -> KneeBiomarkers:
    """Biomarkers of every plate in ``labels`` (plate -> label values) found in ``labelmap`` (KJI).

    ``reference``: a labelmap on the same grid with the same values, for Dice per plate."""
    masks = plate_masks(labelmap, labels)
    reference_masks = plate_masks(reference, labels) if reference is not None else {}
    warnings = [f"no {PLATE_TITLES.get(name, name)} (label {'/'.join(map(str, labels[name]))}) in the labelmap"
                for name, mask in masks.items() if not mask.any()]
    axes = knee_axes(masks, geometry)
    if axes is None and "femoral" in masks and masks["femoral"].any():
        warnings.append("femoral subregions need the femoral and both tibial plates (medial and lateral, as separate "
                        "plates): the femoral plate is measured whole")
    plates, maps = {}, {}
    present = [name for name, mask in masks.items() if mask.any()]
    for done, name in enumerate(present):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if progress is not None:
            progress(done / max(len(present), 1), f"measuring {PLATE_TITLES.get(name, name)}")
        plates[name], maps[name] = measure_plate(name, labels[name], masks[name], geometry, axes,
                                                 reference_masks.get(name))
    return KneeBiomarkers(plates, maps, axes, tuple(warnings))


def thickness_change(baseline, follow_up) -> dict:
    """Follow-up minus baseline per plate and subregion: mean thickness (mm) and volume (mm³ and %).

    Each time point is a :class:`KneeBiomarkers` or its ``to_json()`` (an earlier
    ``<name>.biomarkers.json``), so a baseline measured long ago can be compared with today's."""

    def plates_of(point) -> dict:
        return (point.to_json() if isinstance(point, KneeBiomarkers) else point)["plates"]

    def change(before: dict, after: dict) -> dict:
        mean_before, mean_after = before["thickness_mm"]["mean"], after["thickness_mm"]["mean"]
        volume_before, volume_after = before["volume_mm3"], after["volume_mm3"]
        return {"thickness_mean_change_mm": None if mean_before is None or mean_after is None
                else round(mean_after - mean_before, 3),
                "volume_change_mm3": round(volume_after - volume_before, 1),
                "volume_change_percent": round(100 * (volume_after - volume_before) / volume_before, 2)
                if volume_before else None}

    before_plates, after_plates = plates_of(baseline), plates_of(follow_up)
    out = {}
    for name in sorted(before_plates.keys() & after_plates.keys()):
        a, b = before_plates[name], after_plates[name]
        entry = change(a, b)
        common = a.get("subregions", {}).keys() & b.get("subregions", {}).keys()
        if common:
            entry["subregions"] = {s: change(a["subregions"][s], b["subregions"][s]) for s in sorted(common)}
        out[name] = entry
    return out
