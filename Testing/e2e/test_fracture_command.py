"""``orthoai fracture`` end to end: a generated CT (never trained on) as NIfTI and as a DICOM series
gives bone labels on its own grid, findings in the documented JSON and one CSV; a CT with gantry
tilt is read with a warning; an MR-like volume, a 2-D image, a truncated file and a folder with two
series behave as the README says, and one bad case never stops the batch. Inputs are never changed."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from OrthoAILib.pipelines.fracture.training.data import export_case

from ..conftest import SHARED_DATA
from .test_cli import orthoai

CASE = {"spacing": (3.0, 3.0, 3.0), "size_mm": (420.0, 380.0, 270.0)}
TEST_SEED = 200_500  # the benchmark's range: never trained or validated on


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct")
    truth = export_case(TEST_SEED, folder, CASE["spacing"], CASE["size_mm"], lesions=(3, 3), tilt_degrees=10.0)
    return folder, truth


@pytest.fixture(scope="module")
def nifti_run(cases):
    folder, truth = cases
    source = folder / "nifti"
    source.mkdir(exist_ok=True)
    shutil.copy2(folder / f"{TEST_SEED}.nii.gz", source / "chest.nii.gz")
    before = _digest(source)
    out = source / "out"  # inside the input folder: must not be read as input nor overwrite it
    result = orthoai("fracture", source, "--out", out)
    return source, out, result, before, truth


def test_a_ct_gives_bone_labels_on_its_grid_and_findings_as_documented(nifti_run, cases):
    source, out, result, before, truth = nifti_run
    assert result.returncode == 0, result.stdout + result.stderr
    labels = sitk.ReadImage(str(out / "chest.bones.nii.gz"))
    ct = sitk.ReadImage(str(source / "chest.nii.gz"))
    assert labels.GetSize() == ct.GetSize()
    np.testing.assert_allclose(labels.GetOrigin(), ct.GetOrigin(), atol=1e-3)
    predicted = sitk.GetArrayFromImage(labels)
    true_labels = sitk.GetArrayFromImage(sitk.ReadImage(str(cases[0] / f"{TEST_SEED}.bones.nii.gz")))
    def dice(a, b):
        return 2 * (a & b).sum() / max(a.sum() + b.sum(), 1)

    assert dice(predicted > 0, true_labels > 0) > 0.6  # bone found where it is (per-bone figures: the registry)
    ribs = [dice(predicted == v, true_labels == v) for v in (1, 2)]
    assert min(ribs) > 0.3, ribs  # ribs on their side
    document = json.loads((out / "chest.fractures.json").read_text(encoding="utf-8"))
    assert document["status"] == "ok" and document["bones"]
    for finding in document["fractures"]:
        assert {"id", "bone", "class", "class_probabilities", "score", "center_ras_mm", "size_mm"} <= finding.keys()
        assert abs(sum(finding["class_probabilities"].values()) - 1) < 1e-3
        assert finding["bone"] in document["bones"].values()  # a finding lies on a bone that was labelled
    with open(out / "fractures.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == max(1, len(document["fractures"])) and rows[0]["input"] == "chest.nii.gz"
    assert (out / "chest.mrb").stat().st_size > 10_000
    after = _digest(source)
    assert all(after.get(name) == digest for name, digest in before.items())  # every input still there, unchanged


def test_a_dicom_series_with_gantry_tilt_is_read_with_a_warning(cases, tmp_path):
    folder, _ = cases
    result = orthoai("fracture", folder / f"{TEST_SEED}_dicom", "--out", tmp_path, "--no-scene")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(next(tmp_path.glob("*.fractures.json")).read_text(encoding="utf-8"))
    assert any("gantry tilt of 10" in w for w in document["warnings"])


def test_not_a_ct_bad_files_and_two_series_each_get_their_answer_and_the_batch_goes_on(cases, tmp_path):
    folder, _ = cases
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy2(folder / f"{TEST_SEED}.nii.gz", source / "good.nii.gz")
    mr = np.random.default_rng(0).uniform(0, 900, (40, 64, 64)).astype(np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(mr), str(source / "mr_like.nii.gz"))
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((64, 64), np.int16)), str(source / "flat.nrrd"))
    data = (folder / f"{TEST_SEED}.nii.gz").read_bytes()
    (source / "cut.nii.gz").write_bytes(data[: len(data) // 3])
    two = source / "two_series"
    shutil.copytree(folder / f"{TEST_SEED}_dicom", two)
    from OrthoAILib.io.ct_dicom import write_ct_series
    from OrthoAILib.phantoms.ct_case import make_ct_case

    other = make_ct_case(TEST_SEED + 1, spacing=(4.0, 4.0, 4.0), size_mm=(420.0, 380.0, 200.0), lesions=(0, 0))
    for path in write_ct_series(tmp_path / "second", other.hu, other.geometry):
        shutil.copy2(path, two / f"B{path.name}")
    before = _digest(source)
    out = tmp_path / "out"
    result = orthoai("fracture", source, "--out", out, "--no-scene")
    assert result.returncode == 1  # some cases refused or failed
    with open(out / "fractures.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    status = {}
    for row in rows:
        status.setdefault(row["input"], row["status"])
    assert status["good.nii.gz"] == "ok" and status["mr_like.nii.gz"] == "not_ct"
    assert status["flat.nrrd"] == "failed" and status["cut.nii.gz"] == "failed"
    assert sum(1 for name in status if name.startswith("two_series")) == 2
    messages = result.stdout + result.stderr
    assert "2-D" in messages and "truncated" in messages
    assert json.loads((out / "mr_like.fractures.json").read_text(encoding="utf-8"))["fractures"] == []
    assert not (out / "mr_like.bones.nii.gz").exists()
    assert _digest(source) == before


@pytest.mark.skipif(not (SHARED_DATA / "ct" / "totalsegmentator").is_dir(),
                    reason="needs ../shared/data/ct/totalsegmentator (a real CT)")
def test_a_real_ct_is_read_and_labelled(tmp_path):
    real = SHARED_DATA / "ct" / "totalsegmentator" / "example_ct.nii.gz"
    result = orthoai("fracture", real, "--out", tmp_path, "--no-scene")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "example_ct.fractures.json").read_text(encoding="utf-8"))
    assert document["status"] == "ok" and len(document["bones"]) >= 3
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "example_ct.bones.nii.gz")))
    vertebrae = sitk.GetArrayFromImage(sitk.ReadImage(str(real.parent / "example_ct_vertebrae_seg.nii.gz"))) > 0
    assert (labels[vertebrae] > 0).mean() > 0.5  # the real spine is found as bone (names per bone: the README)
