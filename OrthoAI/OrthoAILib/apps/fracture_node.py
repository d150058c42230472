"""The OrthoAI module's fracture use cases: detect fractures on a CT volume node and write the bones,
finding boxes and findings table into the scene (``mrml.fracture``); export the report.

The scene changes only when the whole analysis succeeded: Cancel, an error or a refusal (not CT, no
bone) leaves it as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..pipelines.fracture.pipeline import FractureOptions
from ..runtime.progress import report, scaled
from .fracture import CSV_COLUMNS, detect

PIPELINE_SHARE = 0.9  # of the progress bar; the scene's nodes take the rest


def detect_in_volume_node(volume_node, pipeline=None, options: Optional[FractureOptions] = None, progress=None,
                          cancel=None):
    """``(document, FractureNodes or None when refused, FractureResult)`` for a CT volume node."""
    from ..mrml.fracture.scene import add_fracture_results
    from ..mrml.volumes import image_from_volume

    image = image_from_volume(volume_node, "CT")
    result, document = detect(image, pipeline, options, progress=scaled(progress, 0.0, PIPELINE_SHARE), cancel=cancel)
    if result.bone_labels is None:
        report(progress, 1.0, f"refused: {result.status}")
        return document, None, result
    if cancel is not None:
        cancel.raise_if_cancelled()
    report(progress, PIPELINE_SHARE, "bones, boxes and table into the scene")
    nodes = add_fracture_results(volume_node.GetName(), image.geometry, result, volume_node)
    report(progress, 1.0, "done")
    return document, nodes, result


def export_report(source, volume, folder: str | Path, name: str) -> list[Path]:
    """``<name>.fractures.json``, ``<name>.fractures.csv`` (the batch command's columns) and a picture per
    finding into ``folder``. ``source``: the ``FractureNodes`` or their ``FindingsLink`` (the findings as
    edited), or a ``FractureResult``; ``volume``: the CT volume node (or ``Image``) they were found on."""
    from ..mrml.fracture.scene import export_fracture_report

    source = getattr(source, "link", source)  # FractureNodes: their link
    return export_fracture_report(source, volume, folder, name, CSV_COLUMNS)
