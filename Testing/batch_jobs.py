"""A small real batch job for the runner's tests: image statistics with SimpleITK.

It reads PNG, NRRD, NIfTI, MHA or DICOM (a DICOM series when volumetric) and
writes ``<name>.stats.json`` (shape, mean, min, max, and the process that did
the work) plus, optionally, a ``<name>.preview.png`` thumbnail; one CSV row per
case. Options make it misbehave on purpose: fail one case, or kill the process
running one case (every time, or only the first time) to exercise worker death.
Worker processes and Dask workers import it as ``Testing.batch_jobs``.
"""

from __future__ import annotations

import csv
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from OrthoAILib.apps.batch import STAGING
from OrthoAILib.apps.jobs import BatchJob, CaseInput, CaseOutcome, pipeline_status
from OrthoAILib.errors import InputError
from OrthoAILib.io.reports import write_json

_PREPARE_CALLS = 0  # prepare() calls in this process: the "models" are loaded once per process


@dataclass(frozen=True)
class ImageStatsJob(BatchJob):
    pipeline: ClassVar[str] = "stats"
    csv_name: ClassVar[str] = "stats.csv"
    csv_columns: ClassVar[tuple[str, ...]] = ("input", "status", "warnings", "shape", "mean", "min", "max")
    suffixes: ClassVar[tuple[str, ...]] = (".png", ".nrrd", ".nii", ".nii.gz", ".mha")
    volumetric: ClassVar[bool] = False

    preview: bool = False  # also write <name>.preview.png
    fail_on: str = ""  # a case name whose processing raises InputError
    crash_on: str = ""  # a case name whose processing kills its process (os._exit)
    crash_once_marker: str = ""  # when set, crash only while this file does not exist (it is created first)
    call_log: str = ""  # when set, one line "<case name> <pid>" is appended per processed case
    fail_writing_on: str = ""  # a case name whose analysis succeeds and whose writing raises RuntimeError

    def prepare(self) -> None:
        global _PREPARE_CALLS
        _PREPARE_CALLS += 1

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        return self.write(case, self.analyse(case), staging)

    def analyse(self, case: CaseInput):
        import numpy as np
        import SimpleITK as sitk

        if _PREPARE_CALLS == 0:
            raise RuntimeError("analyse() before prepare()")
        if case.name == self.fail_on:
            raise InputError(f"{case.label}: refused on purpose (fail_on).")
        if case.name == self.fail_writing_on:
            return None
        try:
            if len(case.paths) > 1:
                reader = sitk.ImageSeriesReader()
                reader.SetFileNames(list(case.paths))
                image = reader.Execute()
            else:
                image = sitk.ReadImage(case.paths[0])
        except RuntimeError as error:
            raise InputError(f"{case.label}: cannot be read as an image ({str(error).strip().splitlines()[-1]}).") from None
        return sitk.GetArrayFromImage(image).astype(np.float64), threading.current_thread().name

    def write(self, case: CaseInput, analysed, staging: Path) -> CaseOutcome:
        import numpy as np
        import SimpleITK as sitk

        if self.call_log:
            with open(self.call_log, "a", encoding="utf-8") as stream:
                stream.write(f"{case.name} {os.getpid()}\n")
        if case.name == self.crash_on:
            marker = Path(self.crash_once_marker) if self.crash_once_marker else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.touch()
                (staging / f"{case.name}.stats.json").write_text("{half")  # a half-written file to be cleaned up
                os._exit(1)
        if analysed is None:
            raise RuntimeError(f"{case.label}: writing failed on purpose (fail_writing_on)")
        pixels, analysis_thread = analysed
        warnings = ("the image is constant",) if pixels.min() == pixels.max() else ()
        row = {"input": case.label, "status": "ok", "warnings": warnings, "shape": "x".join(map(str, pixels.shape)),
               "mean": round(float(pixels.mean()), 6), "min": float(pixels.min()), "max": float(pixels.max())}
        files = [write_json(staging / f"{case.name}.stats.json",
                            {**row, "pid": os.getpid(), "prepare_calls": _PREPARE_CALLS,
                             "analysis_thread": analysis_thread, "writing_thread": threading.current_thread().name}).name]
        if self.preview:
            middle = pixels[pixels.shape[0] // 2] if pixels.ndim == 3 else pixels
            scaled = (middle - middle.min()) / max(float(np.ptp(middle)), 1e-9) * 255
            sitk.WriteImage(sitk.GetImageFromArray(scaled.astype(np.uint8)), str(staging / f"{case.name}.preview.png"))
            files.append(f"{case.name}.preview.png")
        rows = (row,)
        return CaseOutcome(case.name, case.label, pipeline_status(rows), rows, tuple(files), "", warnings)


@dataclass(frozen=True)
class OverlappedStatsJob(ImageStatsJob):
    """The same job with the next case analysed in a second thread while one case is written."""

    overlaps_writing: ClassVar[bool] = True


@dataclass(frozen=True)
class VolumeStatsJob(ImageStatsJob):
    """The same statistics for a 3-D pipeline: one case per DICOM series."""

    volumetric: ClassVar[bool] = True


# --- test data and checks ---------------------------------------------------------------------

def write_films(source: Path) -> Path:
    """Six films in nested folders, two of them sharing a stem, and one file that is not an image."""
    names = ["p1/s1/film.png", "p1/s2/film.png", "p2/film.png", "p2/film.nrrd", "top.mha", "z.nii.gz"]
    for index, name in enumerate(names):
        write_image(source / name, seed=index)
    (source / "p2" / "notes.txt").write_text("not an image")
    return source


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def leftovers(out: Path) -> list[str]:
    """What a finished run must not leave: its staging folder or a temporary file."""
    return [p.name for p in out.rglob("*") if p.name == STAGING or p.name.endswith(".tmp")]


def calls(log: Path) -> list[str]:
    """The cases the job processed, from its ``call_log``, sorted."""
    return sorted(line.split()[0] for line in log.read_text(encoding="utf-8").splitlines()) if log.exists() else []


def write_image(path: Path, seed: int = 0, shape: tuple[int, ...] = (24, 32)) -> Path:
    """A small random 8-bit image in any format SimpleITK writes from its suffix (PNG, NRRD, NIfTI...)."""
    import numpy as np
    import SimpleITK as sitk

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    sitk.WriteImage(sitk.GetImageFromArray(pixels), str(path))
    return path


def write_ct_series(folder: Path, slices: int, *, prefix: str = "IM", seed: int = 0, suffix: str = "") -> list[Path]:
    """One small CT series (``io.ct_dicom``: 20×16 pixels, 0.8 mm, slices 2.5 mm apart), its files
    renamed in an order unrelated to the slices' positions (so discovery must sort by position).
    Returns the files, bottom to top."""
    import numpy as np

    from OrthoAILib.geometry import ImageGeometry
    from OrthoAILib.io.ct_dicom import write_ct_series as write_series

    rng = np.random.default_rng(seed)
    hu = rng.integers(-1000, 1000, (slices, 16, 20)).astype(np.int16)
    geometry = ImageGeometry((0.8, 0.8, 2.5), (0.0, 0.0, 0.0), ((-1, 0, 0), (0, -1, 0), (0, 0, 1)))
    written = write_series(folder / f".{prefix}-staging", hu, geometry)
    order = rng.permutation(slices)
    paths = []
    for index, path in enumerate(written):
        target = folder / f"{prefix}{order[index]:04d}{suffix}"
        path.rename(target)
        paths.append(target)
    (folder / f".{prefix}-staging").rmdir()
    return paths
