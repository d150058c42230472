"""``orthoai hip``: keypoints and measures for one radiograph or a folder of them.

Per film it writes the landmarks (``<stem>.mrk.json``, or ``<stem>_<side>.mrk.json``
for each side of a bilateral arthroplasty), the measures (``<stem>.measures.json``),
an annotated picture rendered by Slicer's slice view (``<stem>.png``) and a
scene bundle (``<stem>.mrb``); for the whole run one ``hip_measures.csv``.
A film that fails is reported (in the CSV and on stderr) and skipped; the
others go on. Nothing from a DICOM header other than pixel spacing is used,
so no output carries patient identifiers.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import OrthoAIError
from ..pipelines.hip.report import csv_rows, failure_row, write_csv, write_json
from ..io.radiograph import BITMAP_SUFFIXES, ITK_SUFFIXES, looks_like_dicom, file_suffix

CSV_NAME = "hip_measures.csv"


@dataclass
class HipBatchSummary:
    processed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    csv_path: Optional[Path] = None
    seconds: float = 0.0


def collect_inputs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise OrthoAIError(f"No such file or folder: {path}")
    known = set(ITK_SUFFIXES) | set(BITMAP_SUFFIXES) | {".dcm", ".dicom"}
    files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")
             and (file_suffix(p) in known or looks_like_dicom(p))]
    if not files:
        raise OrthoAIError(f"{path} holds no radiographs (DICOM, NRRD, NIfTI, MHA, PNG, JPEG).")
    return files


def write_case_outputs(app, stem: str, out_dir: Path, pixels, geometry, case, cup_diameter_mm, write_scene: bool) -> dict:
    from ..io.markups_json import write_markups_points

    files = {}
    for side in case.sides:
        suffix = "" if len(case.sides) == 1 else f"_{side.operated_side}"
        files[f"landmarks{suffix}"] = write_markups_points(side.points_ras, out_dir / f"{stem}{suffix}.mrk.json",
                                                           name=f"Hip landmarks {side.operated_side}")
    files["measures"] = write_json(out_dir / f"{stem}.measures.json", case.to_json_dict())
    if write_scene:
        from ..mrml.hip.scene import save_hip_scene

        files["scene"], files["picture"] = save_hip_scene(
            app, pixels, geometry, {s.operated_side: s.points_ras for s in case.sides}, cup_diameter_mm,
            out_dir / f"{stem}.mrb", out_dir / f"{stem}.png")
    return {key: str(path) for key, path in files.items()}


def run_hip_batch(source: Path, out_dir: Path, *, cup_diameter_mm: Optional[float] = None, spacing_mm: Optional[float] = None,
                  side: str = "auto", write_scene: bool = True, detector=None, log=print) -> HipBatchSummary:
    from ..geometry import radiograph_geometry
    from ..pipelines.hip.analysis import analyse_radiograph
    from ..pipelines.hip.keypoint_pipeline import HipKeypointDetector
    from ..io.radiograph import read_radiograph

    started = time.perf_counter()
    inputs = collect_inputs(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    detector = detector or HipKeypointDetector()
    summary, rows = HipBatchSummary(), []
    app = None
    if write_scene:
        from ..mrml.app import HeadlessSlicer

        app = HeadlessSlicer()
    try:
        for path in inputs:
            stem = path.name[: -len(file_suffix(path))] if file_suffix(path) else path.name
            try:
                radiograph = read_radiograph(path, spacing_mm)
                case = analyse_radiograph(radiograph, detector, cup_diameter_mm=cup_diameter_mm, side=side)
                geometry = radiograph_geometry(radiograph.pixels.shape, radiograph.spacing_mm)
                files = write_case_outputs(app, stem, out_dir, radiograph.pixels, geometry, case, cup_diameter_mm, write_scene)
                rows.extend(csv_rows(case.to_json_dict()))
                summary.processed.append(path.name)
                sides = ", ".join(s.operated_side for s in case.sides)
                log(f"{path.name}: {sides} side measured in {case.timings_s.get('total', 0):.2f} s -> {files['measures']}")
                for warning in case.warnings:
                    log(f"{path.name}: warning: {warning}")
            except OrthoAIError as error:
                summary.failed[path.name] = str(error)
                rows.append(failure_row(path.name, str(error)))
                print(f"{path.name}: skipped: {error}", file=sys.stderr)
            except Exception as error:  # one broken file must not stop a batch
                message = f"unexpected {type(error).__name__}: {error}"
                summary.failed[path.name] = message
                rows.append(failure_row(path.name, message))
                print(f"{path.name}: skipped: {message}", file=sys.stderr)
    finally:
        if app is not None:
            app.close()
    summary.csv_path = write_csv(out_dir / CSV_NAME, rows)
    summary.seconds = time.perf_counter() - started
    return summary
