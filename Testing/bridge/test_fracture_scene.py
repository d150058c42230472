"""CT fracture results in a real MRML scene: bones as named, coloured segments with terminology, one
box per finding, the findings table that follows the boxes (moved, resized, deleted, reclassified),
all or nothing, under the input's study; the module's "detect on this node" with a stand-in pipeline
(the scene changes only on success, the input never); the scene bundle and the report export.

Results are made by hand: the models are not needed here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import slicer
import vtk

from OrthoAILib.errors import Cancelled, InputError
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.image import Image, ImageOrigin
from OrthoAILib.pipelines.fracture.bones import BONE_BY_VALUE, terminology_entry
from OrthoAILib.pipelines.fracture.classes import CLASSES
from OrthoAILib.pipelines.fracture.pipeline import Finding, FractureResult

from ..conftest import scene_node_ids

# The phantoms' CT frame: columns towards the patient's left, rows posterior, slices superior.
GEOMETRY = ImageGeometry(spacing=(2.0, 2.0, 3.0), origin=(40.0, 50.0, -60.0),
                         directions=((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)))
SHAPE_KJI = (40, 48, 48)
BONE_BLOCKS = {1: (slice(8, 20), slice(8, 20), slice(8, 20)),  # rib left
               4: (slice(20, 32), slice(20, 40), slice(20, 30)),  # thoracic vertebrae
               9: (slice(5, 35), slice(30, 44), slice(34, 44))}  # femur left


def box_ras(ijk_low, ijk_high) -> tuple[tuple, tuple]:
    corners = GEOMETRY.ijk_to_world(np.array([ijk_low, ijk_high], dtype=float))
    return tuple(corners.min(0)), tuple(corners.max(0))


def finding(finding_id: int, bone: str, cls: str, ijk_low, ijk_high, touches=()) -> Finding:
    low, high = box_ras(ijk_low, ijk_high)
    probabilities = {c: 0.05 for c in CLASSES}
    probabilities[cls] = 0.8
    return Finding(finding_id, bone, tuple(touches), cls, probabilities, 0.9 - 0.1 * finding_id,
                   tuple((np.array(low) + high) / 2), tuple(np.array(high) - low), (low, high))


@pytest.fixture(scope="module")
def case() -> tuple[Image, FractureResult]:
    hu = np.full(SHAPE_KJI, -1000.0, np.float32)
    labels = np.zeros(SHAPE_KJI, np.uint8)
    for value, block in BONE_BLOCKS.items():
        labels[block] = value
        hu[block] = 700.0
    findings = (finding(1, "rib_left", "fresh", (10, 10, 10), (16, 14, 18), touches=("vertebrae_thoracic",)),
                finding(2, "femur_left", "old", (36, 32, 10), (42, 40, 20)))
    result = FractureResult("ok", GEOMETRY, labels, findings, "2 finding(s) on bone",
                            bones_found={1: "rib_left", 4: "vertebrae_thoracic", 9: "femur_left"})
    return Image(hu, GEOMETRY, ImageOrigin("chest CT", "CT")), result


def ct_node(scene, image: Image, name="chest CT"):
    from OrthoAILib.mrml.volumes import volume_from_array

    return volume_from_array(image.array, image.geometry, name, scene)


def table_records(table_node) -> list[dict]:
    from OrthoAILib.mrml.tables import records_from_table

    return records_from_table(table_node)


def roi_centre_size(roi):
    centre, size = [0.0] * 3, [0.0] * 3
    roi.GetCenterWorld(centre)
    roi.GetSizeWorld(size)
    return np.array(centre), np.array(size)


@pytest.fixture
def added(scene, case):
    from OrthoAILib.mrml.fracture.scene import add_fracture_results

    image, result = case
    volume = ct_node(scene, image)
    nodes = add_fracture_results("chest CT", image.geometry, result, volume, scene)
    yield volume, nodes
    nodes.detach()


def test_bones_become_named_coloured_segments_with_their_terminology(added):
    _, nodes = added
    segmentation = nodes.segmentation.GetSegmentation()
    assert nodes.segmentation.GetName() == "chest CT bones"
    segments = [segmentation.GetNthSegment(i) for i in range(segmentation.GetNumberOfSegments())]
    assert [s.GetName() for s in segments] == ["rib left", "thoracic vertebrae", "femur left"]
    for segment, value in zip(segments, BONE_BLOCKS):
        bone = BONE_BY_VALUE[value]
        assert segment.GetColor() == pytest.approx(bone.colour)
        tag = vtk.reference("")
        assert segment.GetTag("TerminologyEntry", tag) and str(tag) == terminology_entry(bone)
    tag = vtk.reference("")
    segments[0].GetTag("TerminologyEntry", tag)
    assert str(tag).endswith("~OrthoAI bones~SCT^113197003^Rib~SCT^7771000^Left")
    rib = slicer.util.arrayFromSegmentBinaryLabelmap(nodes.segmentation, segmentation.GetSegmentIdBySegmentName("rib left"),
                                                     added[0])
    assert rib.sum() == 12 ** 3 and rib[BONE_BLOCKS[1]].all()


def test_one_box_per_finding_and_a_row_each(added, case):
    _, result = case
    _, nodes = added
    assert sorted(nodes.rois) == [1, 2]
    for f in result.findings:
        roi = nodes.rois[f.id]
        assert roi.IsA("vtkMRMLMarkupsROINode") and roi.GetName() == f.title == roi.GetName()
        centre, size = roi_centre_size(roi)
        np.testing.assert_allclose(centre, f.center_ras_mm, atol=1e-6)
        np.testing.assert_allclose(size, f.size_mm, atol=1e-6)
    assert nodes.rois[1].GetName() == "Fracture 1 · rib left · fresh 0.80"
    rows = table_records(nodes.table)
    assert [row["ID"] for row in rows] == [1.0, 2.0]
    first = rows[0]
    assert (first["Bone"], first["Class"], first["Probability"], first["Touches"]) == \
        ("rib left", "fresh", 0.8, "thoracic vertebrae")
    assert (first["R (mm)"], first["A (mm)"], first["S (mm)"]) == pytest.approx(
        tuple(round(v, 1) for v in result.findings[0].center_ras_mm))
    assert first["Size x (mm)"] == pytest.approx(round(result.findings[0].size_mm[0], 1))
    assert nodes.table.GetLocked()


def test_the_table_and_document_follow_moved_resized_deleted_and_reclassified_boxes(added):
    _, nodes = added
    link = nodes.link
    roi = nodes.rois[1]
    centre, _ = roi_centre_size(roi)
    roi.SetCenterWorld(centre[0] + 10.0, centre[1], centre[2] - 6.0)
    row = table_records(nodes.table)[0]
    assert (row["R (mm)"], row["S (mm)"]) == pytest.approx((round(centre[0] + 10.0, 1), round(centre[2] - 6.0, 1)))
    roi.SetSize(8.0, 9.0, 10.0)
    row = table_records(nodes.table)[0]
    assert (row["Size x (mm)"], row["Size y (mm)"], row["Size z (mm)"]) == (8.0, 9.0, 10.0)
    low, high = link.findings[1].box_ras_mm
    np.testing.assert_allclose(np.subtract(high, low), (8.0, 9.0, 10.0))

    updated = link.set_class(2, "suspected")
    assert nodes.rois[2].GetName() == "Fracture 2 · femur left · suspected 0.05" == updated.title
    row = table_records(nodes.table)[1]
    assert (row["Class"], row["Probability"]) == ("suspected", 0.05)
    with pytest.raises(InputError, match="not a fracture class"):
        link.set_class(2, "broken")

    link.remove_finding(1)  # as deleting the ROI node in Slicer does
    assert not nodes.segmentation.GetScene().IsNodePresent(roi)
    rows = table_records(nodes.table)
    assert [r["ID"] for r in rows] == [2.0]
    document = link.document()
    assert [f["id"] for f in document["fractures"]] == [2] and document["fractures"][0]["class"] == "suspected"
    assert document["user_edits"] == {"moved_or_resized": [], "reclassified": [2], "deleted": [1]}
    assert document["input"] == "chest CT" and document["status"] == "ok"
    assert document["message"] == "1 finding(s) after review (1 reclassified, 1 deleted); detected: 2 finding(s) on bone"
    with pytest.raises(InputError, match="no finding 1"):
        link.set_class(1, "old")


def test_a_row_click_centres_the_slice_views_on_its_box(scene, added):
    from OrthoAILib.mrml.fracture.scene import centre_views_on

    _, nodes = added
    red = scene.AddNewNodeByClass("vtkMRMLSliceNode")
    red.SetLayoutName("Red")
    red.SetOrientation("Axial")
    centre_views_on(nodes, 2)
    translation = [red.GetSliceToRAS().GetElement(row, 3) for row in range(3)]
    np.testing.assert_allclose(translation, roi_centre_size(nodes.rois[2])[0])


def test_results_go_under_the_inputs_study_and_the_input_is_untouched(scene, case):
    from OrthoAILib.mrml.fracture.scene import add_fracture_results
    from OrthoAILib.mrml.hierarchy import create_patient_study, move_under

    image, result = case
    volume = ct_node(scene, image)
    before = np.array(slicer.util.arrayFromVolume(volume), copy=True)
    modified = volume.GetMTime()
    _, study = create_patient_study("Patient", "CT study", scene)
    move_under(volume, study)
    nodes = add_fracture_results("chest CT", image.geometry, result, volume, scene)
    nodes.detach()
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    for node in [nodes.segmentation, nodes.table, *nodes.rois.values()]:
        assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node)) == study, node.GetName()
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), before)
    assert volume.GetMTime() == modified


def test_a_failure_midway_leaves_the_scene_as_it_was(scene, case, monkeypatch):
    import OrthoAILib.mrml.fracture.scene as fracture_scene

    image, result = case
    volume = ct_node(scene, image)
    before = scene_node_ids(scene)
    made = []
    original = fracture_scene._finding_roi

    def second_box_fails(f, scene_):
        if made:
            raise RuntimeError("no second box")
        made.append(original(f, scene_))
        return made[-1]

    monkeypatch.setattr(fracture_scene, "_finding_roi", second_box_fails)
    with pytest.raises(RuntimeError, match="no second box"):
        fracture_scene.add_fracture_results("chest CT", image.geometry, result, volume, scene)
    assert len(made) == 1 and scene_node_ids(scene) == before
    with pytest.raises(InputError, match="not analysed"):  # a refusal has nothing to show
        fracture_scene.add_fracture_results("chest CT", image.geometry, FractureResult("not_ct", GEOMETRY, None, (),
                                                                                       "not a CT"), volume, scene)
    assert scene_node_ids(scene) == before


class StandInPipeline:
    """Returns a result made by hand, as the pipeline would for this image (the models are not needed)."""

    def __init__(self, result: FractureResult, cancel_at: float = -1.0) -> None:
        self.result, self.cancel_at, self.images = result, cancel_at, []

    def run(self, image, options=None, *, progress=None, cancel=None):
        self.images.append(image)
        for fraction in (0.1, 0.5, 1.0):
            if progress is not None:
                progress(fraction, "working")
            if fraction >= self.cancel_at >= 0:
                cancel.cancel()
            if cancel is not None:
                cancel.raise_if_cancelled()
        return self.result


def test_detect_on_a_volume_node_changes_the_scene_only_on_success(scene, case):
    from OrthoAILib.apps.fracture_node import detect_in_volume_node
    from OrthoAILib.runtime.progress import CancelToken

    image, result = case
    volume = ct_node(scene, image)
    before_array = np.array(slicer.util.arrayFromVolume(volume), copy=True)
    before = scene_node_ids(scene)

    with pytest.raises(Cancelled):
        detect_in_volume_node(volume, StandInPipeline(result, cancel_at=0.5), cancel=CancelToken())
    refused = FractureResult("not_ct", GEOMETRY, None, (), "this does not look like a CT")
    document, nodes, returned = detect_in_volume_node(volume, StandInPipeline(refused))
    assert nodes is None and document["status"] == "not_ct" and returned is refused
    assert scene_node_ids(scene) == before

    pipeline = StandInPipeline(result)
    fractions = []
    document, nodes, _ = detect_in_volume_node(volume, pipeline, progress=lambda f, m: fractions.append(f))
    try:
        assert pipeline.images[0].origin.modality == "CT" and pipeline.images[0].array.dtype == np.float32
        assert document["input"] == "chest CT" and len(document["fractures"]) == 2
        assert nodes.segmentation.GetSegmentation().GetNumberOfSegments() == 3
        assert nodes.table.GetNumberOfRows() == 2 and len(nodes.rois) == 2
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), before_array)
    finally:
        nodes.detach()


def test_report_holds_the_edited_findings_and_a_picture_each(added, case, tmp_path):
    from PIL import Image as PILImage

    from OrthoAILib.apps.fracture_node import export_report

    volume, nodes = added
    centre, _ = roi_centre_size(nodes.rois[2])
    nodes.rois[2].SetCenterWorld(centre[0], centre[1] + 4.0, centre[2])
    nodes.link.set_class(1, "old")
    files = export_report(nodes, volume, tmp_path / "report", "chest")
    assert [f.name for f in files] == ["chest.fractures.json", "chest.fractures.csv", "chest.finding1.png",
                                       "chest.finding2.png"]
    document = json.loads(files[0].read_text())
    assert document["fractures"][0]["class"] == "old"
    assert document["fractures"][1]["center_ras_mm"][1] == pytest.approx(centre[1] + 4.0, abs=0.01)
    assert document["user_edits"]["moved_or_resized"] == [2]
    lines = files[1].read_text().splitlines()
    assert lines[0].startswith("input,status,fractures,id,bone,class,probability") and len(lines) == 3
    assert lines[1].split(",")[:6] == ["chest CT", "ok", "2", "1", "rib_left", "old"]
    picture = PILImage.open(files[2])
    assert picture.mode == "RGB" and picture.size[0] > 100

    # a result straight from the pipeline, with the CT as an Image
    image, result = case
    files = export_report(result, image, tmp_path / "plain", "chest")
    assert json.loads(files[0].read_text())["fractures"][1]["class"] == "old"
    assert "user_edits" not in json.loads(files[0].read_text())


def test_scene_bundle_opens_with_the_ct_bones_boxes_and_table(slicer_app, case, tmp_path):
    from OrthoAILib.mrml.app import HeadlessSlicer
    from OrthoAILib.mrml.fracture.scene import save_fracture_scene
    from OrthoAILib.mrml.scene_io import load_scene_bundle

    image, result = case
    path = save_fracture_scene(slicer_app, image, result, tmp_path / "chest.mrb")
    assert path.is_file() and slicer_app.scene.GetNumberOfNodesByClass("vtkMRMLMarkupsROINode") == 0  # emptied after
    with HeadlessSlicer(cache_dir=tmp_path / "reader") as reader:
        load_scene_bundle(path, reader.scene)
        volume = reader.scene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), image.array)
        segmentation = reader.scene.GetFirstNodeByClass("vtkMRMLSegmentationNode").GetSegmentation()
        assert segmentation.GetNumberOfSegments() == 3
        tag = vtk.reference("")
        assert segmentation.GetNthSegment(0).GetTag("TerminologyEntry", tag) and "OrthoAI bones" in str(tag)
        rois = [reader.scene.GetNthNodeByClass(i, "vtkMRMLMarkupsROINode") for i in range(2)]
        assert sorted(r.GetName() for r in rois) == sorted(f.title for f in result.findings)
        assert json.loads(rois[0].GetAttribute("OrthoAI.FractureFinding"))["id"] in (1, 2)
        table = reader.scene.GetFirstNodeByClass("vtkMRMLTableNode")
        assert table.GetName() == "chest CT fractures" and table.GetNumberOfRows() == 2
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(reader.scene)
        study = hierarchy.GetItemParent(hierarchy.GetItemByDataNode(volume))
        assert hierarchy.GetItemLevel(study) == "Study"
        assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(table)) == study
    slicer_app.install_globals()


def test_the_bones_context_loads_into_slicers_terminologies_logic(scene, monkeypatch):
    """Slicer's own terminologies logic reads the shipped context: every bone's region, and its laterality."""
    import types

    from OrthoAILib.mrml.fracture import terminology
    from OrthoAILib.pipelines.fracture.bones import BONES, TERMINOLOGY_CONTEXT

    monkeypatch.setattr(terminology, "_loaded", [])
    assert terminology.load_bone_terminology() == ""  # no terminologies module here: nothing to load into
    logic = slicer.vtkSlicerTerminologiesModuleLogic()
    monkeypatch.setattr(slicer.modules, "terminologies", types.SimpleNamespace(logic=lambda: logic), raising=False)
    assert terminology.load_bone_terminology() == TERMINOLOGY_CONTEXT
    found = {}
    for index in range(logic.GetNumberOfRegionsInRegionContext(TERMINOLOGY_CONTEXT)):
        region = slicer.vtkSlicerTerminologyType()
        assert logic.GetNthRegionInRegionContext(TERMINOLOGY_CONTEXT, index, region)
        modifiers = set()
        for m in range(logic.GetNumberOfRegionModifierInRegion(TERMINOLOGY_CONTEXT, region)):
            modifier = slicer.vtkSlicerTerminologyType()
            assert logic.GetNthRegionModifierInRegion(TERMINOLOGY_CONTEXT, region, m, modifier)
            modifiers.add(modifier.GetCodeMeaning().lower())
        found[region.GetCodeValue()] = (region.GetCodeMeaning(), modifiers)
    for bone in BONES:
        meaning, modifiers = found[bone.code]
        assert meaning == bone.meaning and (not bone.laterality or bone.laterality in modifiers)
