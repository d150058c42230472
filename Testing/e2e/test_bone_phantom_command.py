"""The worked 3-D example end to end: ``orthoai bone-phantom`` on a DICOM series, a NRRD volume and
an image that is not a CT; and the same pipeline on a volume node (apps layer, real MRML)."""

import csv

import numpy as np
import pytest
import SimpleITK as sitk

from OrthoAILib.pipelines.bone_phantom.pipeline import phantom_image

from .test_cli import orthoai


def to_itk(image) -> sitk.Image:
    """An ``Image`` (RAS geometry) as a SimpleITK image (LPS)."""
    lps = np.diag([-1.0, -1.0, 1.0])
    itk = sitk.GetImageFromArray(image.array.astype(np.int16))
    itk.SetSpacing(image.geometry.spacing)
    itk.SetOrigin(tuple(lps @ np.asarray(image.geometry.origin)))
    itk.SetDirection(tuple((lps @ np.asarray(image.geometry.directions)).ravel()))
    return itk


def write_dicom_series(volume: sitk.Image, folder) -> None:
    folder.mkdir(parents=True)
    series_uid = "1.2.826.0.1.3680043.8.498.4242"
    for k in range(volume.GetDepth()):
        slice_ = volume[:, :, k]
        position = volume.TransformIndexToPhysicalPoint((0, 0, k))
        for tag, value in (("0008|0060", "CT"), ("0020|000e", series_uid), ("0020|000d", series_uid + ".1"),
                           ("0020|0013", str(k + 1)), ("0020|0032", "\\".join(f"{v:.4f}" for v in position)),
                           ("0020|0037", "\\".join(f"{v:.6f}" for v in (*volume.GetDirection()[0:7:3], *volume.GetDirection()[1:8:3]))),
                           ("0018|0050", f"{volume.GetSpacing()[2]:.4f}"), ("0028|1052", "0"), ("0028|1053", "1")):
            slice_.SetMetaData(tag, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(slice_)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    image, truth = phantom_image()
    folder = tmp_path_factory.mktemp("cohort")
    volume = to_itk(image)
    write_dicom_series(volume, folder / "patient1" / "series1")
    sitk.WriteImage(volume, str(folder / "phantom.nrrd"))
    mr_like = sitk.GetImageFromArray((np.random.default_rng(1).random((20, 32, 32)) * 800).astype(np.int16))
    sitk.WriteImage(mr_like, str(folder / "knee_mr.nrrd"))
    out = tmp_path_factory.mktemp("out")
    result = orthoai("bone-phantom", folder, "--out", out)
    with open(out / "bone_phantom.csv", newline="") as stream:
        rows = {row["input"]: row for row in csv.DictReader(stream)}
    return image, truth, folder, out, result, rows


def test_series_volume_and_refusal(cohort):
    _, _, _, out, result, rows = cohort
    assert result.returncode == 1, result.stdout + result.stderr  # the MR was refused: nothing measured there
    assert "1 refused" in result.stdout and "Traceback" not in result.stderr
    assert set(rows) == {"patient1/series1", "phantom.nrrd", "knee_mr.nrrd"}  # 40 slices: one case
    assert rows["patient1/series1"]["status"] == rows["phantom.nrrd"]["status"] == "ok"
    assert rows["knee_mr.nrrd"]["status"] == "not_ct" and "Hounsfield" in rows["knee_mr.nrrd"]["warnings"]
    assert not list(out.glob("knee_mr*.nrrd"))  # a refused image gets no labelmap
    volumes = {float(rows[k]["bone_volume_ml"]) for k in ("patient1/series1", "phantom.nrrd")}
    assert max(volumes) - min(volumes) < 0.01 * max(volumes)  # the series reads as the same volume


def test_labelmap_lies_on_the_input_grid_and_matches_truth(cohort):
    image, truth, _, out, _, _ = cohort
    labels = sitk.ReadImage(str(out / "phantom.labels.nrrd"))
    source = to_itk(image)
    assert labels.GetSize() == source.GetSize()
    assert np.allclose(labels.GetOrigin(), source.GetOrigin()) and np.allclose(labels.GetDirection(), source.GetDirection())
    prediction = sitk.GetArrayFromImage(labels) == 1
    dice = 2 * np.logical_and(prediction, truth).sum() / (prediction.sum() + truth.sum())
    assert dice > 0.9


def test_volume_node_gets_a_bone_segmentation_and_stays_unchanged(scene):
    from OrthoAILib.apps.bone_phantom import segment_volume, shared_pipeline
    from OrthoAILib.mrml.segmentations import labelmap_from_segmentation
    from OrthoAILib.mrml.volumes import array_from_volume, volume_from_array

    image, truth = phantom_image()
    volume = volume_from_array(image.array.astype(np.int16), image.geometry, "phantom CT", scene)
    before = array_from_volume(volume)[0].copy()
    result, segmentation = segment_volume(volume, shared_pipeline())
    assert result.status == "ok" and segmentation.GetSegmentation().GetNthSegment(0).GetName() == "bone"
    labels = labelmap_from_segmentation(segmentation, volume)
    assert np.array_equal(labels > 0, result.labelmap == 1)
    assert np.array_equal(array_from_volume(volume)[0], before)
    mr = volume_from_array(np.full((8, 16, 16), 300, np.int16), image.geometry, "not a CT", scene)
    refused, none = segment_volume(mr, shared_pipeline())
    assert refused.status == "not_ct" and none is None
