"""The worked 3-D example's use cases: segment a CT volume node (the OrthoAI module's runtime
check), and ``orthoai bone-phantom`` in batch (a DICOM series or a volume file per case).

Per case the batch writes ``<name>.labels.nrrd`` (the bone labelmap on the CT's grid) and
``<name>.json``; an image that is not a CT is refused with status ``not_ct`` and gets no
labelmap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..pipelines.bone_phantom.pipeline import CSV_COLUMNS, LABELS, BonePhantomPipeline, BoneSegmentationResult
from .instances import one_per_process
from .jobs import BatchJob, CaseInput, CaseOutcome, pipeline_status

BONE_COLOUR = (0.95, 0.84, 0.57)


def shared_pipeline(force_cpu: bool = False) -> BonePhantomPipeline:
    """One pipeline per process: the model loads once."""
    return one_per_process(BonePhantomPipeline, force_cpu=force_cpu)


def segmentation_for(result: BoneSegmentationResult, name: str, scene=None, reference_volume=None):
    """The result as a segmentation node (one segment per label), under the input's study."""
    from ..mrml.hierarchy import place_with_input
    from ..mrml.segmentations import SegmentSpec, segmentation_from_labelmap

    specs = [SegmentSpec(value, label, BONE_COLOUR) for value, label in LABELS.items()]
    node = segmentation_from_labelmap(result.labelmap, result.geometry, specs, name, scene, reference_volume=reference_volume)
    if reference_volume is not None:
        place_with_input(node, reference_volume)
    return node


def segment_volume(volume_node, pipeline: BonePhantomPipeline, progress=None, cancel=None):
    """Bone segmentation of a CT volume node: ``(result, segmentation node or None when refused)``."""
    from ..mrml.volumes import image_from_volume

    result = pipeline.run(image_from_volume(volume_node, "CT"), progress=progress, cancel=cancel)
    if result.labelmap is None:
        return result, None
    return result, segmentation_for(result, f"{volume_node.GetName()} bone", volume_node.GetScene(), volume_node)


@dataclass(frozen=True)
class BonePhantomJob(BatchJob):
    force_cpu: bool = False

    pipeline = "bone-phantom"
    csv_name = "bone_phantom.csv"
    csv_columns = CSV_COLUMNS
    suffixes = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd", ".dcm")
    volumetric = True

    def prepare(self) -> None:
        shared_pipeline(self.force_cpu)

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        from ..io.reports import write_json
        from ..io.volume import read_volume, write_labelmap

        started = time.perf_counter()
        image = read_volume(case.paths, case.label)
        result = shared_pipeline(self.force_cpu).run(image)
        files = [write_json(staging / f"{case.name}.json", result.to_json())]
        if result.labelmap is not None:
            files.append(write_labelmap(staging / f"{case.name}.labels.nrrd", result.labelmap, result.geometry))
        rows = tuple({**row, "input": case.label} for row in result.csv_rows())
        message = (f"bone {result.bone_volume_ml:.1f} ml" if result.labelmap is not None
                   else f"refused ({result.status})")
        return CaseOutcome(case.name, case.label, pipeline_status(rows), rows, tuple(Path(f).name for f in files),
                           message, result.warnings, time.perf_counter() - started, result)
