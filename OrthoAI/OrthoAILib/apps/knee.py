"""The knee cartilage use cases: segment an MR and measure it (``orthoai knee``), measure a labelmap
(``orthoai knee-biomarkers``, and the module's "measure an existing labelmap").

``orthoai knee`` writes per case ``<name>.cartilage.nii.gz`` (1 femoral, 2 medial tibial, 3 lateral
tibial, 4 patellar cartilage, on the input's grid) and the same biomarker files as below; a volume
that is not a knee MR is refused (``no_cartilage``, ``not_mr``) with its JSON only.

``orthoai knee-biomarkers`` writes per case ``<name>.biomarkers.json`` (per plate: volume, surface area, thickness
mean/median/p95/max, femoral subregions, Dice against ``--reference``, change from ``--baseline``) and
``<name>.<plate>.thickness.vtk`` (the plate's surface with its thickness per point, LPS, for Slicer or
ParaView). The runner adds one ``knee_biomarkers.csv``: a row per plate and subregion. A labelmap with
none of the plates' values is refused (``no_cartilage``) and gets its JSON only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from ..errors import InputError
from ..image import Image, ImageOrigin
from ..io.reports import write_json
from ..io.volume import VOLUME_SUFFIXES
from ..pipelines.base import STATUS_OK, geometry_json, joined
from ..pipelines.knee.biomarkers import (BIOMARKER_COLUMNS, KneeBiomarkers, check_same_grid, measure_labelmap,
                                         thickness_change)
from ..pipelines.knee.grid import check_knee_grid
from ..pipelines.knee.pipeline import STATUS_NO_CARTILAGE, KneeCartilagePipeline, KneeOptions, KneeResult
from ..pipelines.knee.plates import DEFAULT_LABELS
from .instances import one_per_process
from .jobs import BatchJob, CaseInput, CaseOutcome, pipeline_status

CSV_COLUMNS = ("input", "status") + BIOMARKER_COLUMNS + ("warnings",)


def shared_pipeline(force_cpu: bool = False) -> KneeCartilagePipeline:
    """One pipeline per process: its two models load once."""
    return one_per_process(KneeCartilagePipeline, force_cpu=force_cpu)


def segment_and_measure(image: Image, pipeline: Optional[KneeCartilagePipeline] = None,
                        reference: Optional[Image] = None, baseline: Optional[dict] = None, notes=(),
                        progress=None, cancel=None) -> tuple[KneeResult, Optional[KneeBiomarkers], dict]:
    """Segment an MR volume and measure the plates: (segmentation result, biomarkers or None when
    refused, the JSON document)."""
    from ..runtime.progress import scaled

    pipeline = pipeline or shared_pipeline()
    result = pipeline.run(image, KneeOptions(measure=False), progress=scaled(progress, 0.0, 0.7), cancel=cancel)
    if result.labelmap is None:
        document = {"input": image.origin.name, **result.to_json(), "reading": list(notes)}
        return result, None, document
    labels = Image(result.labelmap, image.geometry, ImageOrigin(image.origin.name))
    biomarkers, document = measure_image(labels, DEFAULT_LABELS, reference, baseline,
                                         progress=scaled(progress, 0.7, 1.0), cancel=cancel, what="volume")
    segmentation = result.to_json()
    document.update({"status": result.status, "message": result.message, "reading": list(notes),
                     "timings_s": result.timings_s,
                     **{key: segmentation.get(key) for key in ("cartilage_region_ras_mm", "tibial_sides")},
                     "warnings": list(dict.fromkeys(list(result.warnings) + document["warnings"]))})
    return result, biomarkers, document


def read_baseline(path: str | Path) -> dict:
    """An earlier ``<name>.biomarkers.json`` (the baseline of a change measure)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--baseline {path}: no such file.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"--baseline {path}: not a biomarkers JSON ({error}).") from None
    if not isinstance(document, dict) or not isinstance(document.get("plates"), dict):
        raise InputError(f"--baseline {path}: not a biomarkers JSON (no 'plates'); give the <name>.biomarkers.json "
                         "written for the earlier time point.")
    return document


def check_reference_and_baseline(reference: Optional[str], baseline: Optional[str]) -> None:
    """Before any case: the reference labelmap exists and the baseline is a biomarkers JSON."""
    if reference is not None and not Path(reference).is_file():
        raise InputError(f"--reference {reference}: no such file.")
    if baseline is not None:
        read_baseline(baseline)


def measure_image(image: Image, labels=None, reference: Optional[Image] = None, baseline: Optional[dict] = None,
                  progress=None, cancel=None, what: str = "labelmap") -> tuple[KneeBiomarkers, dict]:
    """Biomarkers of a labelmap image and their JSON document (status, geometry, change, warnings)."""
    labels = dict(labels or DEFAULT_LABELS)
    grid_warnings = check_knee_grid(image, what)
    if reference is not None:
        check_same_grid(image.array.shape, image.geometry, reference.array.shape, reference.geometry, "reference labelmap")
    result = measure_labelmap(image.array, image.geometry, labels, None if reference is None else reference.array,
                              progress=progress, cancel=cancel)
    result = KneeBiomarkers(result.plates, result.maps, result.axes, grid_warnings + result.warnings)
    document = {"input": image.origin.name, "status": STATUS_OK if result.plates else STATUS_NO_CARTILAGE,
                "labels": {name: list(values) for name, values in labels.items()},
                "geometry": geometry_json(image.geometry), **result.to_json()}
    if reference is not None:
        document["reference"] = reference.origin.name
    if baseline is not None and result.plates:
        document["change_from_baseline"] = thickness_change(baseline, result)
        document["baseline"] = baseline.get("input", "")
    return result, document


def biomarker_rows(result: Optional[KneeBiomarkers], document: dict, label: str) -> tuple[dict, ...]:
    status, warnings = document["status"], joined(document.get("warnings", ()))
    rows = [{"input": label, "status": status, **row, "warnings": warnings} for row in (result.csv_rows() if result else ())]
    return tuple(rows) or ({"input": label, "status": status, "warnings": warnings or "no cartilage label found"},)


def write_thickness_maps(result: KneeBiomarkers, folder: Path, name: str) -> list[Path]:
    from ..io.surface_vtk import write_polydata

    return [write_polydata(folder / f"{name}.{plate}.thickness.vtk", surface.vertices, surface.faces,
                           {"thickness_mm": surface.thickness}, f"OrthoAI {plate} cartilage thickness (mm)")
            for plate, surface in result.maps.items() if len(surface.vertices)]


def plates_message(biomarkers: KneeBiomarkers) -> str:
    return ", ".join(f"{name} {plate.volume_mm3 / 1000:.2f} ml, {plate.thickness_mm['mean'] or 0:.2f} mm"
                     for name, plate in biomarkers.plates.items())


@dataclass(frozen=True)
class _KneeMeasuringJob(BatchJob):
    """What both knee jobs share: a reference for Dice, a baseline for change, the thickness maps."""

    reference: Optional[str] = None
    baseline: Optional[str] = None
    write_maps: bool = True

    csv_columns = CSV_COLUMNS
    suffixes = VOLUME_SUFFIXES
    volumetric = True

    def validate(self) -> None:
        check_reference_and_baseline(self.reference, self.baseline)

    def time_points(self) -> tuple[Optional[Image], Optional[dict]]:
        from ..io.volume import read_labelmap

        return (read_labelmap([self.reference]) if self.reference else None,
                read_baseline(self.baseline) if self.baseline else None)

    def outcome(self, case: CaseInput, biomarkers: KneeBiomarkers, document: dict, files: list, started: float,
                result) -> CaseOutcome:
        rows = biomarker_rows(biomarkers, document, case.label)
        return CaseOutcome(case.name, case.label, pipeline_status(rows), rows, tuple(Path(f).name for f in files),
                           plates_message(biomarkers), tuple(document["warnings"]), time.perf_counter() - started, result)


@dataclass(frozen=True)
class KneeBiomarkersJob(_KneeMeasuringJob):
    """``orthoai knee-biomarkers``: a labelmap per case, measured (no network)."""

    labels: tuple = tuple(DEFAULT_LABELS.items())  # (plate, (values...)) pairs

    pipeline = "knee-biomarkers"
    csv_name = "knee_biomarkers.csv"

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        from ..io.volume import read_labelmap

        started = time.perf_counter()
        image = read_labelmap(case.paths, case.label)
        result, document = measure_image(image, dict(self.labels), *self.time_points())
        files = [write_json(staging / f"{case.name}.biomarkers.json", document)]
        if self.write_maps:
            files += write_thickness_maps(result, staging, case.name)
        outcome = self.outcome(case, result, document, files, started, result)
        if result.plates:
            return outcome
        import numpy as np

        values = [int(v) for v in np.unique(image.array) if v][:20]
        message = (f"refused (no cartilage label found: the labelmap holds {values or 'only background'}; "
                   "map them with --labels)")
        return replace(outcome, message=message)


@dataclass(frozen=True)
class KneeJob(_KneeMeasuringJob):
    """``orthoai knee``: an MR volume (a file, or a DICOM series, multi-echo included) per case."""

    force_cpu: bool = False

    pipeline = "knee"
    csv_name = "knee.csv"

    def prepare(self) -> None:
        shared_pipeline(self.force_cpu)

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        from ..io.mr_series import read_mr
        from ..io.volume import write_labelmap

        started = time.perf_counter()
        image, notes = read_mr(case.paths, case.label)
        result, biomarkers, document = segment_and_measure(image, shared_pipeline(self.force_cpu), *self.time_points(),
                                                           notes)
        files = [write_json(staging / f"{case.name}.biomarkers.json", document)]
        if biomarkers is None:
            rows = ({"input": case.label, "status": result.status, "warnings": result.message},)
            return CaseOutcome(case.name, case.label, result.status, rows, tuple(Path(f).name for f in files),
                               f"refused ({result.status}): {result.message}", result.warnings,
                               time.perf_counter() - started, result)
        files.append(write_labelmap(staging / f"{case.name}.cartilage.nii.gz", result.labelmap, image.geometry))
        if self.write_maps:
            files += write_thickness_maps(biomarkers, staging, case.name)
        return self.outcome(case, biomarkers, document, files, started, result)
