"""Fetal head results on real MRML: the still read from a node, the ellipse as an editable curve whose
measures follow it, the segmentation, the heatmap overlay, the table, and server results. The results
are built from the core's dataclasses, so no model is needed."""

import math

import numpy as np
import pytest
import slicer

from OrthoAILib.errors import InputError
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.mrml.fetal.link import FetalMeasurementLink, ellipse_from_curve
from OrthoAILib.mrml.fetal.scene import SERVER_SUBJECT, add_fetal_results, add_remote_result
from OrthoAILib.mrml.fetal.still import read_still_from_volume, still_from_volume
from OrthoAILib.mrml.tables import records_from_table
from OrthoAILib.mrml.volumes import array_from_volume, geometry_of, volume_from_array
from OrthoAILib.pipelines.fetal.heatmap import fuse
from OrthoAILib.pipelines.fetal.pipeline import FetalResult, measure_ellipse, pixel_size_of

from ..conftest import scene_node_ids
from .fetal_cases import (COLUMNS, HEAD, PIXEL_MM, ROWS, head_result, refused_result, saliency, server_files,
                          still_pixels, tilted_geometry)


def added_classes(scene, before) -> list:
    """Classes of the nodes added since ``before`` (the subject hierarchy, made on first use, left out)."""
    return sorted(c for c in (scene.GetNodeByID(i).GetClassName() for i in scene_node_ids(scene) - before)
                  if c != "vtkMRMLSubjectHierarchyNode")


def table_values(table) -> dict:
    return {row["Key"]: row for row in records_from_table(table)}


@pytest.fixture
def still(scene):
    return volume_from_array(still_pixels(), tilted_geometry(), "still", scene)


# -- the still ----------------------------------------------------------------------------------------

def test_scalar_still_keeps_its_pixels_geometry_and_pixel_size(still):
    image = still_from_volume(still)
    assert np.array_equal(image.plane, still_pixels()) and image.geometry == geometry_of(still)
    assert pixel_size_of(image) == pytest.approx((PIXEL_MM, PIXEL_MM))
    given = still_from_volume(still, pixel_size_mm=0.2)
    assert pixel_size_of(given) == pytest.approx((0.2, 0.2)) and given.origin.spacing_source == "given by the user"
    assert given.origin.mm_per_unit == pytest.approx(0.2 / PIXEL_MM)
    with pytest.raises(InputError, match="implausible"):
        still_from_volume(still, pixel_size_mm=12.0)


def test_a_still_shown_at_slicers_nominal_1_mm_has_no_pixel_size(scene):
    volume = volume_from_array(still_pixels(), ImageGeometry(), "picture", scene)
    image = still_from_volume(volume)
    assert pixel_size_of(image) is None and not image.origin.spacing_calibrated
    assert pixel_size_of(still_from_volume(volume, pixel_size_mm=0.1)) == pytest.approx((0.1, 0.1))


@pytest.mark.parametrize("channels", [3, 4])
def test_rgb_and_rgba_stills_become_grey(scene, channels):
    grey = still_pixels()
    pixels = np.repeat(grey[..., None], channels, axis=-1)
    if channels == 4:
        pixels[..., 3] = 255  # alpha carries no anatomy
    node = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "rgb still")
    slicer.util.updateVolumeFromArray(node, pixels[np.newaxis])
    node.SetSpacing(PIXEL_MM, PIXEL_MM, 1.0)
    still = read_still_from_volume(node)
    assert still.image.plane.shape == (ROWS, COLUMNS) and np.allclose(still.image.plane, grey, atol=0.5)
    assert not still.warnings and pixel_size_of(still.image) == pytest.approx((PIXEL_MM, PIXEL_MM))
    pixels[40:80, 40:80, 0] = 255  # a coloured annotation: read as luminance, with a warning
    slicer.util.updateVolumeFromArray(node, pixels[np.newaxis])
    assert read_still_from_volume(node).warnings[0].startswith("colour_converted")


def test_a_volume_of_several_slices_is_refused_with_what_to_do(scene):
    volume = volume_from_array(np.zeros((5, ROWS, COLUMNS), np.uint8), ImageGeometry(), "cine", scene)
    with pytest.raises(InputError, match="5 slices.*single-frame"):
        still_from_volume(volume)


@pytest.mark.parametrize("delta_cm", [(0.012, 0.012), (0.015, 0.012), None])
def test_a_dicom_still_loaded_by_slicer_takes_its_ultrasound_regions(scene, tmp_path, delta_cm):
    """Slicer's reader shows such stills at 1 mm: the true pixel size is in the header's regions."""
    from OrthoAILib.mrml.app import module_logic

    from ..core.test_ultrasound_io import _us_dicom

    path = _us_dicom(tmp_path / "us.dcm", still_pixels(), delta_cm=delta_cm)  # alone in its folder: one still
    volume = module_logic("Volumes").AddArchetypeVolume(str(path), "us")
    image = still_from_volume(volume)
    assert np.array_equal(image.plane, still_pixels())
    if delta_cm is None:
        assert pixel_size_of(image) is None
    else:
        assert pixel_size_of(image) == pytest.approx((10 * delta_cm[0], 10 * delta_cm[1]))
        assert image.origin.spacing_source == "DICOM SequenceOfUltrasoundRegions"
    assert pixel_size_of(still_from_volume(volume, pixel_size_mm=0.1)) == pytest.approx((0.1, 0.1))


# -- the results ----------------------------------------------------------------------------------------

def test_results_become_curve_segmentation_overlay_and_table(scene, still):
    before = scene_node_ids(scene)
    result = head_result(geometry_of(still))
    fetal = add_fetal_results(still, result)
    try:
        assert fetal.measured and scene_node_ids(scene) > before
        # the curve lies on the ellipse, in the still's pixels
        curve = fetal.curve
        assert curve.IsA("vtkMRMLMarkupsClosedCurveNode") and curve.GetNumberOfControlPoints() == 24
        world = np.array([curve.GetNthControlPointPositionWorld(i) for i in range(24)])
        ijk = geometry_of(still).world_to_ijk(world)
        assert np.abs(ijk[:, 2]).max() < 1e-6  # in the still's plane
        angle = math.radians(HEAD.angle_deg)
        dx, dy = ijk[:, 0] - HEAD.center_px[0], ijk[:, 1] - HEAD.center_px[1]
        u, v = dx * math.cos(angle) + dy * math.sin(angle), -dx * math.sin(angle) + dy * math.cos(angle)
        radial = np.hypot(u, v) * (1 - 1 / np.sqrt((u / HEAD.semi_axes_px[0]) ** 2 + (v / HEAD.semi_axes_px[1]) ** 2))
        assert np.abs(radial).max() < 1e-3  # px off the ellipse
        fitted = ellipse_from_curve(curve, still)
        assert np.allclose(fitted.center_px, HEAD.center_px, atol=1e-6)
        assert np.allclose(fitted.semi_axes_px, HEAD.semi_axes_px, atol=1e-6)
        # one segment, the mask
        segmentation = fetal.segmentation.GetSegmentation()
        assert segmentation.GetNumberOfSegments() == 1 and segmentation.GetNthSegment(0).GetName() == "fetal head"
        segment_id = segmentation.GetNthSegmentID(0)
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(fetal.segmentation, segment_id, still)
        assert np.array_equal(mask[0] > 0, result.mask)
        # the overlay: the fused picture, on the still's grid
        assert fetal.heatmap.IsA("vtkMRMLVectorVolumeNode") and geometry_of(fetal.heatmap) == geometry_of(still)
        overlay = slicer.util.arrayFromVolume(fetal.heatmap)
        assert np.array_equal(overlay[0], fuse(still_pixels().astype(np.float32), saliency()))
        # the table: the pipeline's own measures
        values = table_values(fetal.table)
        m = result.measures
        assert values["hc_mm"]["Value"] == pytest.approx(round(m.biometry.hc_mm, 2))
        assert values["bpd_mm"]["Value"] == pytest.approx(round(m.biometry.bpd_mm, 2))
        assert values["ofd_mm"]["Value"] == pytest.approx(round(m.biometry.ofd_mm, 2))
        assert values["cephalic_index"]["Value"] == pytest.approx(round(m.biometry.cephalic_index, 2))
        assert values["cephalic_index"]["Finding"] == m.cephalic_index_class
        assert values["ga_weeks"]["Value"] == 21.0
        assert values["hc_z_score"]["Value"] == pytest.approx(round(m.growth.z_score, 2))
        assert values["hc_centile"]["Value"] == pytest.approx(round(m.growth.centile, 1))
        assert values["class"]["Finding"].startswith("normal") and values["class_probability"]["Value"] == 0.83
        assert values["flags"]["Finding"] == ("; ".join(m.flags) or "none")
        assert values["status"]["Finding"] == "ok"
        assert fetal.table.GetAttribute("OrthoAI.Status") == "ok"
        # the input node is untouched
        assert np.array_equal(array_from_volume(still)[0][0], still_pixels())
    finally:
        fetal.detach()


def test_moving_a_point_updates_the_measures_and_reset_restores_them(scene, still):
    fetal = add_fetal_results(still, head_result(geometry_of(still)))
    updates = []
    fetal.link.on_update = updates.append
    model_hc = table_values(fetal.table)["hc_mm"]["Value"]
    curve = fetal.curve
    geometry = geometry_of(still)
    for index in (0, 12):  # both ends of the long axis pulled outwards by 10 px
        ijk = geometry.world_to_ijk(np.array(curve.GetNthControlPointPositionWorld(index)))
        outwards = ijk[:2] - np.array(HEAD.center_px)
        ijk[:2] += 10.0 * outwards / np.linalg.norm(outwards)
        curve.SetNthControlPointPositionWorld(index, *geometry.ijk_to_world(ijk))
    assert len(updates) == 2 and fetal.link.edited
    values = table_values(fetal.table)
    expected = measure_ellipse(ellipse_from_curve(curve, still), (PIXEL_MM, PIXEL_MM), 21.0)
    assert values["hc_mm"]["Value"] == pytest.approx(round(expected.biometry.hc_mm, 2))
    assert values["hc_mm"]["Value"] > model_hc + 1.0
    assert "edited" in values["status"]["Finding"] and "model's ellipse" in values["class"]["Finding"]
    fetal.link.reset()
    assert not fetal.link.edited and table_values(fetal.table)["hc_mm"]["Value"] == pytest.approx(model_hc)
    fetal.detach()


def test_a_link_made_again_from_the_curve_follows_it(scene, still):
    """The curve carries what its measures need, as after saving and reopening a scene."""
    fetal = add_fetal_results(still, head_result(geometry_of(still)))
    fetal.detach()
    link = FetalMeasurementLink(fetal.curve, still, fetal.table)
    assert link.measures.biometry.hc_mm == pytest.approx(fetal.result.measures.biometry.hc_mm, rel=1e-9)
    while fetal.curve.GetNumberOfControlPoints() > 5:  # too few points left for an ellipse: the table says so
        fetal.curve.RemoveNthControlPoint(0)
    assert link.measures is None and "at least 6" in table_values(fetal.table)["message"]["Finding"]
    link.detach()


def test_without_a_pixel_size_only_the_shape_is_measured(scene):
    volume = volume_from_array(still_pixels(), ImageGeometry(), "picture", scene)
    fetal = add_fetal_results(volume, head_result(geometry_of(volume), pixel_size=None, ga_weeks=None))
    values = table_values(fetal.table)
    assert math.isnan(values["hc_mm"]["Value"]) and values["hc_mm"]["Finding"] == "needs the pixel size"
    assert values["cephalic_index"]["Value"] == pytest.approx(round(100 * 84.0 / 110.0, 2))
    assert values["hc_z_score"]["Finding"] == "needs the gestational age"
    fetal.detach()


def test_a_refused_result_adds_only_a_status_table(scene, still):
    before = scene_node_ids(scene)
    fetal = add_fetal_results(still, refused_result(geometry_of(still)))
    assert not fetal.measured and fetal.link is None
    assert added_classes(scene, before) == ["vtkMRMLTableNode"]
    values = table_values(fetal.table)
    assert set(values) == {"status", "message"} and values["status"]["Finding"] == "no_head"
    assert "no fetal head" in values["message"]["Finding"]


def test_a_failure_midway_leaves_the_scene_as_it_was(scene, still):
    before = scene_node_ids(scene)
    result = head_result(geometry_of(still))
    wrong = FetalResult(**{**result.__dict__, "heatmap": np.zeros((10, 10), np.float32)})
    with pytest.raises(InputError, match="heatmap"):
        add_fetal_results(still, wrong)
    assert scene_node_ids(scene) == before


# -- results from the inference server ----------------------------------------------------------------

def test_a_server_result_becomes_a_still_with_the_same_nodes(scene):
    from OrthoAILib.geometry import radiograph_geometry

    result = head_result(radiograph_geometry((ROWS, COLUMNS), (PIXEL_MM, PIXEL_MM)))
    still_png, document, heatmap_png, mask_png, plane, heatmap = server_files(result)
    fetal = add_remote_result(scene, still_png, document, heatmap_png, mask_png)
    try:
        volume = fetal.volume
        assert volume.GetName() == "still.png" and np.allclose(volume.GetSpacing(), (PIXEL_MM, PIXEL_MM, 1.0))
        assert np.array_equal(array_from_volume(volume)[0][0], plane)
        values = table_values(fetal.table)
        assert values["hc_mm"]["Value"] == pytest.approx(document["hc_mm"], abs=0.011)
        assert values["class"]["Finding"].startswith("normal") and values["class_probability"]["Value"] == 0.83
        assert values["hc_z_score"]["Value"] == pytest.approx(document["growth"]["hc_z_score"], abs=0.006)
        assert np.array_equal(slicer.util.arrayFromVolume(fetal.heatmap)[0], heatmap)
        segment_id = fetal.segmentation.GetSegmentation().GetNthSegmentID(0)
        assert np.array_equal(slicer.util.arrayFromSegmentBinaryLabelmap(fetal.segmentation, segment_id, volume)[0] > 0,
                              result.mask)
        fitted = ellipse_from_curve(fetal.curve, volume)
        assert np.allclose(fitted.center_px, HEAD.center_px, atol=2e-3)  # the JSON rounds to 1/1000 px
        # filed under the server's subject, one study per still
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
        study = hierarchy.GetItemParent(hierarchy.GetItemByDataNode(volume))
        assert hierarchy.GetItemName(hierarchy.GetItemParent(study)) == SERVER_SUBJECT
        assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(fetal.table)) == study
    finally:
        fetal.detach()


def test_a_refused_server_result_shows_the_still_and_the_status(scene):
    from OrthoAILib.geometry import radiograph_geometry

    result = refused_result(radiograph_geometry((ROWS, COLUMNS), (PIXEL_MM, PIXEL_MM)))
    still_png, document, _, _, _, _ = server_files(result)
    before = scene_node_ids(scene)
    fetal = add_remote_result(scene, still_png, document)
    assert added_classes(scene, before) == ["vtkMRMLScalarVolumeDisplayNode", "vtkMRMLScalarVolumeNode", "vtkMRMLTableNode"]
    assert table_values(fetal.table)["status"]["Finding"] == "no_head"


def test_a_broken_server_picture_adds_nothing(scene):
    from OrthoAILib.geometry import radiograph_geometry

    result = head_result(radiograph_geometry((ROWS, COLUMNS), (PIXEL_MM, PIXEL_MM)))
    still_png, document, _, mask_png, _, _ = server_files(result)
    before = scene_node_ids(scene)
    with pytest.raises(InputError, match="heatmap"):
        add_remote_result(scene, still_png, document, b"not a png", mask_png)
    assert scene_node_ids(scene) == before
