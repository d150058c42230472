"""The CT fracture use case: ``orthoai fracture INPUT --out DIR`` and the module's Apply.

Per case (a NIfTI/NRRD/MHA file or a DICOM series): ``<name>.fractures.json`` (the findings: bone,
class with a probability per class, detector score, centre and size in RAS mm; the bones found;
warnings), ``<name>.bones.nii.gz`` (bone labels on the input's grid, values of
``pipelines.fracture.bones``) and, with the MRML bridge, ``<name>.mrb`` (a scene bundle: the CT, the
bone segments with terminology, one ROI per finding and the findings table). The runner adds one
``fractures.csv`` (a row per finding). A volume that is not CT (``not_ct``) or holds no bone
(``no_bone``) gets its JSON only, and the command exits 1 for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..image import Image
from ..io.reports import write_json
from ..io.volume import VOLUME_SUFFIXES
from ..pipelines.fracture.pipeline import FractureOptions, FracturePipeline, FractureResult
from .instances import one_per_process
from .jobs import BatchJob, CaseInput, CaseOutcome

CSV_COLUMNS = ("input", "status", "fractures", "id", "bone", "class", "probability", "score", "center_r_mm",
               "center_a_mm", "center_s_mm", "size_x_mm", "size_y_mm", "size_z_mm", "warnings")


def shared_pipeline(force_cpu: bool = False) -> FracturePipeline:
    """One pipeline per process: its three models load once."""
    return one_per_process(FracturePipeline, force_cpu=force_cpu)


def detect(image: Image, pipeline: Optional[FracturePipeline] = None, options: Optional[FractureOptions] = None,
           notes=(), progress=None, cancel=None) -> tuple[FractureResult, dict]:
    """Run the pipeline on a CT image: (result, the JSON document written as ``fractures.json``)."""
    pipeline = pipeline or shared_pipeline()
    result = pipeline.run(image, options, progress=progress, cancel=cancel)
    if notes:
        result = _with_warnings(result, notes)
    document = {"input": image.origin.name, **result.to_json()}
    return result, document


def _with_warnings(result: FractureResult, notes) -> FractureResult:
    from dataclasses import replace

    return replace(result, warnings=tuple(notes) + tuple(result.warnings))


def findings_message(result: FractureResult) -> str:
    if result.bone_labels is None:
        return f"refused ({result.status}): {result.message}"
    found = ", ".join(f"{f.bone} {f.cls} {f.score:.2f}" for f in result.findings)
    return f"{len(result.findings)} finding(s){': ' + found if found else ''}; {len(result.bones_found)} bones labelled " \
           f"in {result.timings_s.get('total', 0):.1f} s"


@dataclass(frozen=True)
class FractureJob(BatchJob):
    """``orthoai fracture``: one CT per case."""

    force_cpu: bool = False
    score_threshold: Optional[float] = None
    write_scene: bool = True

    pipeline = "fracture"
    csv_name = "fractures.csv"
    csv_columns = CSV_COLUMNS
    suffixes = VOLUME_SUFFIXES
    volumetric = True

    def validate(self) -> None:
        from ..errors import InputError
        from .hip import bridge_available

        if self.score_threshold is not None and not 0.0 < self.score_threshold < 1.0:
            raise InputError(f"--score-threshold {self.score_threshold:g}: give a detector score between 0 and 1.")
        if self.write_scene and not bridge_available():
            raise InputError("scene bundles need the MRML bridge: install it (pip install 'orthoai[slicer]') "
                             "or give --no-scene.")

    def options(self) -> FractureOptions:
        if self.score_threshold is None:
            return FractureOptions()
        return FractureOptions(score_threshold=self.score_threshold)

    def prepare(self) -> None:
        shared_pipeline(self.force_cpu)

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        from ..io.ct_series import read_ct
        from ..io.volume import write_labelmap

        started = time.perf_counter()
        image, notes = read_ct(case.paths, case.label)
        result, document = detect(image, shared_pipeline(self.force_cpu), self.options(), notes)
        files = [write_json(staging / f"{case.name}.fractures.json", document)]
        if result.bone_labels is not None:
            files.append(write_labelmap(staging / f"{case.name}.bones.nii.gz", result.bone_labels, image.geometry))
            if self.write_scene:
                from ..mrml.fracture.scene import save_fracture_scene
                from .hip import shared_application

                files.append(save_fracture_scene(shared_application(), image, result, staging / f"{case.name}.mrb"))
        rows = tuple({**row, "input": case.label} for row in result.csv_rows())
        return CaseOutcome(case.name, case.label, result.status, rows, tuple(Path(f).name for f in files),
                           findings_message(result), result.warnings, time.perf_counter() - started, result)

    def close(self) -> None:
        if self.write_scene:
            from .hip import close_application

            close_application()
