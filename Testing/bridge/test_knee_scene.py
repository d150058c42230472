"""Knee results in a real MRML scene: the plates as named segments, thickness models coloured by
thickness with a legend, the biomarker table; all or nothing; an existing labelmap node measured
without the network (the module's "measure a labelmap"), and the report export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from OrthoAILib.phantoms.knee_anatomy import make_knee
from OrthoAILib.pipelines.knee.biomarkers import measure_labelmap
from OrthoAILib.pipelines.knee.plates import DEFAULT_LABELS

from ..conftest import scene_node_ids

GRID = {"shape_kji": (80, 128, 128), "spacing_ijk": (1.0, 1.0, 1.2)}


@pytest.fixture(scope="module")
def knee():
    return make_knee(6, **GRID)


def labelmap_node(scene, knee, name="knee labels"):
    from OrthoAILib.mrml.volumes import volume_from_array

    return volume_from_array(knee.labelmap.astype(np.uint8), knee.geometry, name, scene,
                             node_class="vtkMRMLLabelMapVolumeNode")


def test_results_become_segments_models_and_a_table(scene, knee):
    from vtk.util.numpy_support import vtk_to_numpy

    from OrthoAILib.mrml.knee.scene import THICKNESS_ARRAY, add_knee_results

    biomarkers = measure_labelmap(knee.labelmap, knee.geometry, DEFAULT_LABELS)
    plates = [(name, values[0]) for name, values in DEFAULT_LABELS.items()]
    nodes = add_knee_results("knee", knee.geometry, biomarkers, knee.labelmap, plates, scene=scene)
    segmentation = nodes.segmentation.GetSegmentation()
    assert [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())] == \
        ["femoral cartilage", "medial tibial cartilage", "lateral tibial cartilage", "patellar cartilage"]
    import vtk

    terminology = vtk.reference("")
    assert segmentation.GetNthSegment(0).GetTag("TerminologyEntry", terminology)
    assert "SCT^309312004^Cartilage" in str(terminology) and "SCT^72696002^Knee" in str(terminology)
    assert set(nodes.models) == set(DEFAULT_LABELS)
    model = nodes.models["femoral"]
    values = vtk_to_numpy(model.GetPolyData().GetPointData().GetArray(THICKNESS_ARRAY))
    np.testing.assert_allclose(values, biomarkers.maps["femoral"].thickness, equal_nan=True)
    display = model.GetDisplayNode()
    assert display.GetScalarVisibility() and display.GetActiveScalarName() == THICKNESS_ARRAY
    assert display.GetScalarRange() == (0.0, 4.0)
    assert scene.GetNodesByClass("vtkMRMLColorLegendDisplayNode").GetNumberOfItems() == 1
    assert nodes.table.GetNumberOfRows() == len(biomarkers.csv_rows())


def test_a_failure_midway_leaves_the_scene_as_it_was(scene, knee):
    from OrthoAILib.mrml.knee.scene import add_knee_results

    biomarkers = measure_labelmap(knee.labelmap, knee.geometry, DEFAULT_LABELS)
    before = scene_node_ids(scene)
    with pytest.raises(Exception):
        add_knee_results("knee", knee.geometry, biomarkers, knee.labelmap, [("femoral", 0)], scene=scene)  # 0: not a label
    assert scene_node_ids(scene) == before


def test_an_existing_labelmap_node_is_measured_without_the_network(scene, knee, tmp_path):
    from OrthoAILib.apps.knee_node import export_report, measure_labelmap_node

    node = labelmap_node(scene, knee)
    original = np.array(__import__("slicer").util.arrayFromVolume(node), copy=True)
    document, nodes, _ = measure_labelmap_node(node, {"femoral": (1,), "tibial": (2, 3), "patellar": (4,)})
    assert document["status"] == "ok" and set(nodes.models) == {"femoral", "tibial", "patellar"}
    assert nodes.segmentation.GetSegmentation().GetNumberOfSegments() == 3
    np.testing.assert_array_equal(__import__("slicer").util.arrayFromVolume(node), original)  # input untouched
    files = export_report(document, None, tmp_path, "knee")
    assert [f.name for f in files] == ["knee.biomarkers.json", "knee.biomarkers.csv"]
    assert json.loads(files[0].read_text(encoding="utf-8"))["plates"]["tibial"]["label_values"] == [2, 3]


def test_a_labelmap_without_cartilage_adds_nothing(scene, knee):
    from OrthoAILib.apps.knee_node import measure_labelmap_node

    node = labelmap_node(scene, knee)
    before = scene_node_ids(scene)
    document, nodes, _ = measure_labelmap_node(node, {"femoral": (99,)})
    assert document["status"] == "no_cartilage" and nodes is None
    assert scene_node_ids(scene) == before


def test_the_report_has_a_thickness_picture(knee, tmp_path):
    from PIL import Image as PILImage

    from OrthoAILib.apps.knee import measure_image
    from OrthoAILib.apps.knee_node import export_report
    from OrthoAILib.image import Image, ImageOrigin

    biomarkers, document = measure_image(Image(knee.labelmap.astype(np.int32), knee.geometry, ImageOrigin("knee")))
    files = export_report(document, biomarkers, tmp_path, "knee")
    picture = np.asarray(PILImage.open(files[-1]))
    assert files[-1].name == "knee.thickness.png" and picture.shape[1] > 4 * 180
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 50  # coloured maps, not a blank page
