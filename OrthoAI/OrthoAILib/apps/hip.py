"""The hip pipeline's use cases: on a volume node (the HipTHA module), and in batch (``orthoai hip``).

Per film the batch writes the landmarks (``<name>.mrk.json``, or
``<name>_<side>.mrk.json`` for each side of a bilateral arthroplasty), the
measures (``<name>.measures.json``) and, unless ``write_scene`` is off, an
annotated picture rendered by Slicer's slice view (``<name>.png``) and a scene
bundle (``<name>.mrb``); the runner adds one ``hip_measures.csv``. Nothing from a
DICOM header other than pixel spacing and orientation is used, so no output
carries patient identifiers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputError
from ..pipelines.hip.pipeline import SIDES, HipCaseResult, HipOptions, HipPipeline
from ..pipelines.hip.report import CSV_COLUMNS
from .instances import one_per_process
from .jobs import BatchJob, CaseInput, CaseOutcome

# Plausible ranges, checked before any film is read (a wrong unit must not allocate gigabytes).
CUP_DIAMETER_RANGE_MM = (20.0, 100.0)
PIXEL_SPACING_RANGE_MM = (0.01, 2.0)


def shared_pipeline(device=None) -> HipPipeline:
    """One hip pipeline per process and device: its models load once, whatever the options."""
    return one_per_process(HipPipeline, device=device)


def check_hip_options(cup_diameter_mm: Optional[float], spacing_mm: Optional[float], side: str) -> None:
    for value, (low, high), what, option in ((cup_diameter_mm, CUP_DIAMETER_RANGE_MM, "cup diameter", "--cup-diameter"),
                                             (spacing_mm, PIXEL_SPACING_RANGE_MM, "pixel spacing", "--spacing")):
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise InputError(f"{option} {value:g} mm is not a plausible {what}: give a value from {low:g} to {high:g} mm.")
    if side not in SIDES:
        raise InputError(f"--side must be one of {', '.join(SIDES)}, got '{side}'.")


def detect_on_volume(volume_node, pipeline: HipPipeline, *, cup_diameter_mm: Optional[float] = None,
                     spacing_mm: Optional[float] = None, side: str = "auto", progress=None, cancel=None):
    """Keypoints, lines and measure tables for the film in ``volume_node`` (the HipTHA module's Detect).

    The scene changes only once the pipeline succeeded: Cancel or an error leaves it as it was.
    Returns ``(HipCaseResult, HipScene)``; the scene's tables start from the pipeline's measures.
    """
    from ..mrml.hip.scene import add_hip_results, radiograph_from_volume

    check_hip_options(cup_diameter_mm, spacing_mm, side)
    image = radiograph_from_volume(volume_node, spacing_mm)
    case = pipeline.run(image, HipOptions(cup_diameter_mm, side), progress=progress, cancel=cancel)
    scene = add_hip_results(volume_node, case, cup_diameter_mm, volume_node.GetScene())
    return case, scene


@dataclass(frozen=True)
class HipJob(BatchJob):
    """``orthoai hip``: one radiograph per case."""

    cup_diameter_mm: Optional[float] = None
    spacing_mm: Optional[float] = None
    side: str = "auto"
    write_scene: bool = True

    pipeline = "hip"
    csv_name = "hip_measures.csv"
    csv_columns = CSV_COLUMNS
    suffixes = (".dcm", ".dicom", ".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd", ".png", ".jpg", ".jpeg")
    overlaps_writing = True  # a film's scene bundle and picture cost almost what its analysis does

    def validate(self) -> None:
        check_hip_options(self.cup_diameter_mm, self.spacing_mm, self.side)
        if self.write_scene and not bridge_available():
            raise InputError("scene bundles and pictures need the MRML bridge: install it (pip install 'orthoai[slicer]') "
                             "or give --no-scene.")

    def prepare(self) -> None:
        shared_pipeline()
        if self.write_scene:
            shared_application()

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        return self.write(case, self.analyse(case), staging)

    def analyse(self, case: CaseInput):
        from ..io.radiograph import read_radiograph

        image = read_radiograph(case.paths[0], self.spacing_mm)
        return image, shared_pipeline().run(image, HipOptions(self.cup_diameter_mm, self.side))

    def write(self, case: CaseInput, analysed, staging: Path) -> CaseOutcome:
        image, result = analysed
        files = write_case_files(case.name, staging, image, result, self.cup_diameter_mm, self.write_scene)
        rows = tuple({**row, "input": case.label} for row in result.csv_rows())
        sides = ", ".join(s.operated_side for s in result.sides)
        message = (f"{sides} side measured in {result.timings_s.get('total', 0):.2f} s" if result.sides else
                   " ".join(r.message for r in result.refused) or "nothing measured")
        return CaseOutcome(case.name, case.label, result.status, rows, files, message,
                           tuple(result.warnings) + tuple(w for s in result.sides for w in s.warnings),
                           result=result)  # the runner times the case

    def close(self) -> None:
        close_application()


def write_case_files(name: str, folder: Path, image, result: HipCaseResult, cup_diameter_mm: Optional[float],
                     write_scene: bool) -> tuple[str, ...]:
    from ..io.markups_json import write_markups_points
    from ..io.reports import write_json

    files = []
    for side in result.sides:
        suffix = "" if len(result.sides) == 1 else f"_{side.operated_side}"
        files.append(write_markups_points(side.points_ras, folder / f"{name}{suffix}.mrk.json",
                                          name=f"Hip landmarks {side.operated_side}"))
    files.append(write_json(folder / f"{name}.measures.json", result.to_json()))
    if write_scene:
        from ..mrml.hip.scene import save_hip_scene

        files.extend(save_hip_scene(shared_application(), image, result, cup_diameter_mm,
                                    folder / f"{name}.mrb", folder / f"{name}.png"))
    return tuple(Path(path).name for path in files)


_application = []


def bridge_available() -> bool:
    """Whether the MRML bridge imports here (it needs slicer-core, or the Slicer application)."""
    try:
        from ..mrml import app  # noqa: F401
    except ImportError:
        return False
    return True


def shared_application():
    """One headless MRML application per process for writing scenes (created on first use)."""
    if not _application:
        from ..mrml.app import HeadlessSlicer

        _application.append(HeadlessSlicer())
    return _application[0]


def close_application() -> None:
    while _application:
        _application.pop().close()
