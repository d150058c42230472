"""The fetal head pipeline's use cases: a still from a file or from bytes (the inference server),
and ``orthoai fetal`` in batch.

Per still the batch writes ``<name>.fetal.json`` (head found, biometry, ellipse, class,
probabilities, flags), ``<name>.mask.png`` (0/255, the still's size) and ``<name>.heatmap.png``
(Grad-CAM of the class fused onto the still); a still where no head is measured gets its JSON
only. The runner adds one ``fetal.csv``. The pixel size comes from DICOM ultrasound regions,
``--pixel-size``, or ``--pixel-size-csv`` (file name, pixel size in mm, as HC18 ships it).
"""

from __future__ import annotations

import csv
import math
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..io.pictures import png_bytes
from ..pipelines.fetal.pictures import heatmap_picture, mask_picture
from ..pipelines.fetal.pipeline import CSV_COLUMNS, FetalHeadPipeline, FetalOptions, FetalResult
from .instances import one_per_process
from .jobs import BatchJob, CaseInput, CaseOutcome


def shared_pipeline(device=None) -> FetalHeadPipeline:
    """One fetal pipeline per process and device: its two models load once."""
    return one_per_process(FetalHeadPipeline, device=device)


@dataclass(frozen=True)
class FetalAnalysis:
    """One still analysed: the result, the still's grey plane, and the reader's warnings."""

    result: FetalResult
    plane: np.ndarray = field(repr=False)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        document = self.result.to_json()
        document["warnings"] = list(self.warnings) + document["warnings"]
        return document

    def mask_png(self) -> Optional[bytes]:
        mask = mask_picture(self.result)
        return None if mask is None else png_bytes(mask)

    @cached_property
    def heatmap_rgb(self) -> Optional[np.ndarray]:
        """The fused heatmap, made once for its PNG and the DICOM Secondary Capture alike."""
        return heatmap_picture(self.result, self.plane)

    def heatmap_png(self) -> Optional[bytes]:
        return None if self.heatmap_rgb is None else png_bytes(self.heatmap_rgb)


def analyse_file(path: str | Path, *, pixel_size_mm: Optional[float] = None, pixel_size_source: str = "given by the user",
                 ga_weeks: Optional[float] = None, pipeline: Optional[FetalHeadPipeline] = None,
                 progress=None, cancel=None) -> FetalAnalysis:
    from ..io.ultrasound import read_still

    options = FetalOptions(ga_weeks)
    still = read_still(path, pixel_size_mm, pixel_size_source)
    result = (pipeline or shared_pipeline()).run(still.image, options, progress=progress, cancel=cancel)
    return FetalAnalysis(result, still.image.plane, still.warnings)


def analyse_bytes(data: bytes, filename: str = "still.dcm", **options) -> FetalAnalysis:
    """A still received as bytes (the inference server): read from a private temporary file."""
    suffix = Path(filename).suffix.lower() or ".dcm"
    with tempfile.TemporaryDirectory(prefix="orthoai-still-") as folder:
        path = Path(folder) / f"still{suffix}"
        path.write_bytes(data)
        analysis = analyse_file(path, **options)
    return analysis


def read_pixel_size_csv(path: Path) -> dict[str, float]:
    """``file name -> pixel size (mm)`` from a CSV with a file-name column and a pixel-size column."""
    if not path.is_file():
        raise InputError(f"--pixel-size-csv {path}: no such file.")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = {name.lower(): name for name in reader.fieldnames or []}
        name_field = next((fields[k] for k in ("filename", "file", "image", "name") if k in fields), None)
        size_field = next((fields[k] for k in fields if "pixel" in k and ("size" in k or "spacing" in k)), None)
        if not name_field or not size_field:
            raise InputError(f"--pixel-size-csv {path}: expected columns 'filename' and 'pixel_size_mm' "
                             f"(found: {', '.join(reader.fieldnames or []) or 'none'}).")
        sizes = {}
        for line, row in enumerate(reader, start=2):
            try:
                value = float(row[size_field])
            except (TypeError, ValueError):
                raise InputError(f"--pixel-size-csv {path}, line {line}: '{row[size_field]}' is not a number.") from None
            if not (math.isfinite(value) and 0.005 <= value <= 5.0):
                raise InputError(f"--pixel-size-csv {path}, line {line}: {value} mm is not a plausible pixel size.")
            sizes[Path(row[name_field]).name] = value
    return sizes


def check_fetal_options(pixel_size_mm: Optional[float], ga_weeks: Optional[float]) -> None:
    if pixel_size_mm is not None and not (math.isfinite(pixel_size_mm) and 0.005 <= pixel_size_mm <= 5.0):
        raise InputError(f"--pixel-size {pixel_size_mm:g} mm is implausible for ultrasound: give 0.005 to 5 mm per pixel.")
    FetalOptions(ga_weeks)


@dataclass(frozen=True)
class FetalJob(BatchJob):
    """``orthoai fetal``: one ultrasound still per case."""

    pixel_size_mm: Optional[float] = None
    pixel_size_csv: Optional[str] = None
    ga_weeks: Optional[float] = None

    pipeline = "fetal"
    csv_name = "fetal.csv"
    csv_columns = CSV_COLUMNS
    suffixes = (".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".bmp")

    def validate(self) -> None:
        check_fetal_options(self.pixel_size_mm, self.ga_weeks)
        if self.pixel_size_mm is not None and self.pixel_size_csv:
            raise InputError("give --pixel-size or --pixel-size-csv, not both.")
        if self.pixel_size_csv:
            read_pixel_size_csv(Path(self.pixel_size_csv))

    def prepare(self) -> None:
        shared_pipeline()

    def _pixel_size(self, path: Path) -> tuple[Optional[float], str]:
        if self.pixel_size_csv:
            sizes = _csv_cache(self.pixel_size_csv)
            return sizes.get(path.name), "pixel-size CSV"
        return self.pixel_size_mm, "given by the user"

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        from ..io.reports import write_json

        started = time.perf_counter()
        path = Path(case.paths[0])
        pixel_size, source = self._pixel_size(path)
        analysis = analyse_file(path, pixel_size_mm=pixel_size, pixel_size_source=source, ga_weeks=self.ga_weeks)
        result, document = analysis.result, analysis.to_json()
        files = [write_json(staging / f"{case.name}.fetal.json", document)]
        for suffix, content in ((".mask.png", analysis.mask_png()), (".heatmap.png", analysis.heatmap_png())):
            if content is not None:
                target = staging / f"{case.name}{suffix}"
                target.write_bytes(content)
                files.append(target)
        rows = tuple({**row, "input": case.label,
                      "warnings": "; ".join(analysis.warnings + ((row["warnings"],) if row["warnings"] else ()))}
                     for row in result.csv_rows())
        if result.head_found:
            hc = f"HC {document['hc_mm']:.1f} mm" if document["hc_mm"] is not None else "HC needs a pixel size"
            message = f"{hc}, CI {document['cephalic_index']:.1f} %, {result.shape_class}"
        else:
            message = f"{result.status}: {result.message}"
        return CaseOutcome(case.name, case.label, result.status, rows, tuple(Path(f).name for f in files), message,
                           tuple(document["warnings"]), time.perf_counter() - started, result)


_csv_tables: dict[str, dict[str, float]] = {}


def _csv_cache(path: str) -> dict[str, float]:
    if path not in _csv_tables:
        _csv_tables[path] = read_pixel_size_csv(Path(path))
    return _csv_tables[path]
