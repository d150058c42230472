"""The KneeCartilage module's use cases: segment an MR volume node and measure it, or measure a
labelmap node the user already has; write the results into the scene (``mrml.knee``); export a report.

The scene changes only when the whole analysis succeeded: Cancel or an error leaves it as it was.
A second time point (an earlier ``biomarkers.json``) adds the change per plate and subregion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..image import Image, ImageOrigin
from ..pipelines.knee.plates import DEFAULT_LABELS
from .knee import STATUS_NO_CARTILAGE, biomarker_rows, measure_image, segment_and_measure


def _labelmap_image(node) -> Image:
    from ..mrml.volumes import array_from_volume

    array, geometry = array_from_volume(node)
    return Image(np.array(array, dtype=np.int32), geometry, ImageOrigin(node.GetName()))


def segment_volume_node(volume_node, pipeline=None, reference_node=None, baseline: Optional[dict] = None,
                        progress=None, cancel=None):
    """``(document, KneeNodes or None when refused, biomarkers or None)`` for an MR volume node."""
    from ..mrml.knee.scene import add_knee_results
    from ..mrml.volumes import image_from_volume

    image = image_from_volume(volume_node, "MR")
    reference = _labelmap_image(reference_node) if reference_node is not None else None
    result, biomarkers, document = segment_and_measure(image, pipeline, reference, baseline,
                                                       progress=progress, cancel=cancel)
    if biomarkers is None:
        return document, None, None
    nodes = add_knee_results(volume_node.GetName(), image.geometry, biomarkers, result.labelmap,
                             [(name, values[0]) for name, values in DEFAULT_LABELS.items()], volume_node,
                             table_rows=list(biomarker_rows(biomarkers, document, volume_node.GetName())))
    return document, nodes, biomarkers


def measure_labelmap_node(labelmap_node, labels=None, reference_node=None, baseline: Optional[dict] = None,
                          reference_volume=None, progress=None, cancel=None):
    """``(document, KneeNodes or None when no plate was found, biomarkers)`` for an existing labelmap
    node (no network). ``labels``: plate -> label values (the default is 1-4)."""
    from ..mrml.knee.scene import add_knee_results

    labels = dict(labels or DEFAULT_LABELS)
    image = _labelmap_image(labelmap_node)
    reference = _labelmap_image(reference_node) if reference_node is not None else None
    biomarkers, document = measure_image(image, labels, reference, baseline, progress=progress, cancel=cancel)
    if document["status"] == STATUS_NO_CARTILAGE:
        return document, None, biomarkers
    # One value per plate in the segmentation (a plate made of several values shows as one segment).
    merged = np.zeros(image.array.shape, dtype=np.int32)
    plates = []
    for index, (name, values) in enumerate(labels.items(), start=1):
        merged[np.isin(image.array, values)] = index
        plates.append((name, index))
    nodes = add_knee_results(labelmap_node.GetName(), image.geometry, biomarkers, merged, plates,
                             reference_volume or labelmap_node,
                             table_rows=list(biomarker_rows(biomarkers, document, labelmap_node.GetName())))
    return document, nodes, biomarkers


def export_report(document: dict, biomarkers, folder: str | Path, name: str) -> list[Path]:
    """``<name>.biomarkers.json``, ``<name>.biomarkers.csv`` and ``<name>.thickness.png`` (the
    thickness maps seen from above and the front, with a colour bar) into ``folder``."""
    from ..io.pictures import png_bytes
    from ..io.reports import atomic_write_bytes, write_csv, write_json
    from ..pipelines.knee.pictures import thickness_picture
    from .knee import CSV_COLUMNS

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = [write_json(folder / f"{name}.biomarkers.json", document),
             write_csv(folder / f"{name}.biomarkers.csv", biomarker_rows(biomarkers, document, name), CSV_COLUMNS)]
    if biomarkers is not None and biomarkers.maps:
        files.append(atomic_write_bytes(folder / f"{name}.thickness.png", png_bytes(thickness_picture(biomarkers))))
    return files
