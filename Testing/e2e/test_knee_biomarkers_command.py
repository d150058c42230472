"""``orthoai knee-biomarkers`` end to end on generated knees written as NIfTI and NRRD: the files,
the table, remapped labels, a reference, a baseline, and the inputs it must refuse."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.io.surface_vtk import read_polydata
from OrthoAILib.io.volume import write_labelmap
from OrthoAILib.phantoms.knee_anatomy import make_knee

from .test_cli import orthoai

GRID = {"shape_kji": (80, 128, 128), "spacing_ijk": (1.0, 1.0, 1.2)}


@pytest.fixture(scope="module")
def knees(tmp_path_factory):
    folder = tmp_path_factory.mktemp("knees")
    knee = make_knee(2, **GRID)
    write_labelmap(folder / "baseline.nii.gz", knee.labelmap, knee.geometry)
    thinner = knee.labelmap.copy()
    femoral = thinner == 1
    thinner[femoral & (np.random.default_rng(0).random(femoral.shape) < 0.25)] = 11
    write_labelmap(folder / "follow_up.nrrd", thinner, knee.geometry)
    return knee, folder


def read_rows(out):
    with open(out / "knee_biomarkers.csv", newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_a_labelmap_gives_json_table_and_thickness_maps(knees, tmp_path):
    knee, folder = knees
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = folder / "results"  # --out inside the input folder: inputs stay as they were
    result = orthoai("knee-biomarkers", folder / "baseline.nii.gz", "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((out / "baseline.biomarkers.json").read_text(encoding="utf-8"))
    assert document["status"] == "ok" and set(document["plates"]) == {"femoral", "tibial_medial", "tibial_lateral", "patellar"}
    femoral = document["plates"]["femoral"]
    assert 1.0 < femoral["thickness_mm"]["mean"] < 4.0 and femoral["volume_mm3"] > 1000
    assert len(femoral["subregions"]) == 6
    rows = read_rows(out)
    assert len(rows) == 10 and {row["status"] for row in rows} == {"ok"}
    vertices, faces, scalars = read_polydata(out / "baseline.femoral.thickness.vtk")
    assert len(vertices) == len(scalars["thickness_mm"]) and faces.max() < len(vertices)
    # The surface lies on the femoral cartilage: its points are within a voxel of labelled voxels.
    ijk = np.round(knee.geometry.world_to_ijk(vertices[::50])).astype(int)
    inside = np.clip(ijk[:, ::-1], 0, np.array(knee.labelmap.shape) - 1)
    from scipy import ndimage

    near = ndimage.binary_dilation(knee.labelmap == 1, iterations=1)
    assert near[tuple(inside.T)].mean() > 0.95
    measured = scalars["thickness_mm"][np.isfinite(scalars["thickness_mm"])]
    assert np.average(measured) == pytest.approx(femoral["thickness_mm"]["mean"], abs=0.3)  # unweighted vs area-weighted
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_follow_up_against_baseline_and_reference(knees, tmp_path):
    _, folder = knees
    first = tmp_path / "first"
    assert orthoai("knee-biomarkers", folder / "baseline.nii.gz", "--out", first, "--no-maps").returncode == 0
    assert not list(first.glob("*.vtk"))
    second = tmp_path / "second"
    result = orthoai("knee-biomarkers", folder / "follow_up.nrrd", "--out", second, "--baseline",
                     first / "baseline.biomarkers.json", "--reference", folder / "baseline.nii.gz")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((second / "follow_up.biomarkers.json").read_text(encoding="utf-8"))
    change = document["change_from_baseline"]
    assert change["femoral"]["volume_change_percent"] == pytest.approx(-25, abs=2)
    assert change["tibial_medial"]["volume_change_mm3"] == 0
    assert document["plates"]["femoral"]["dice"] == pytest.approx(2 * 0.75 / 1.75, abs=0.02)
    assert document["plates"]["tibial_lateral"]["dice"] == 1.0


def test_remapped_and_combined_labels(knees, tmp_path):
    _, folder = knees
    result = orthoai("knee-biomarkers", folder / "baseline.nii.gz", "--out", tmp_path, "--labels",
                     "femoral=1,tibial=2,3,patellar=4")
    assert result.returncode == 0
    document = json.loads((tmp_path / "baseline.biomarkers.json").read_text(encoding="utf-8"))
    assert set(document["plates"]) == {"femoral", "tibial", "patellar"}
    assert document["plates"]["tibial"]["label_values"] == [2, 3]
    assert any("subregions need" in w for w in document["warnings"])


def test_wrong_inputs_are_refused_with_what_to_do(knees, tmp_path):
    knee, folder = knees
    bad = tmp_path / "bad"
    bad.mkdir()
    geometry = knee.geometry
    write_labelmap(bad / "flat.nrrd", knee.labelmap[40:41], geometry)  # one slice: a 2-D image
    coarse = ImageGeometry((0.4, 0.4, 4.0))
    write_labelmap(bad / "thick_slices.nrrd", knee.labelmap[::4], coarse)  # 1:10
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.random.default_rng(0).normal(300, 80, (20, 40, 40)).astype(np.float32))
    sitk.WriteImage(image, str(bad / "an_image.nii.gz"))
    write_labelmap(bad / "no_cartilage.nrrd", np.where(knee.labelmap > 4, knee.labelmap, 0), geometry)
    out = tmp_path / "out"
    result = orthoai("knee-biomarkers", bad, "--out", out)
    assert result.returncode == 1
    rows = {row["input"]: row for row in read_rows(out)}
    assert rows["flat.nrrd"]["status"] == "failed" and "2-D image" in rows["flat.nrrd"]["warnings"]
    assert "1:8" in rows["thick_slices.nrrd"]["warnings"]
    assert "not a labelmap" in rows["an_image.nii.gz"]["warnings"]
    assert rows["no_cartilage.nrrd"]["status"] == "no_cartilage"
    assert "map them with --labels" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_reference_on_another_grid_fails_that_case_with_the_fix(knees, tmp_path):
    knee, folder = knees
    other = tmp_path / "other_grid.nrrd"
    write_labelmap(other, knee.labelmap[:, ::2, ::2], ImageGeometry((2.0, 2.0, 1.2)))
    result = orthoai("knee-biomarkers", folder / "baseline.nii.gz", "--out", tmp_path / "out", "--reference", other)
    assert result.returncode == 1
    assert "resample it onto the image" in result.stdout


@pytest.mark.parametrize("options, words", [
    (["--labels", "femur=1"], "unknown plate"),
    (["--reference", "missing.nrrd"], "no such file"),
    (["--baseline", "missing.json"], "no such file"),
])
def test_bad_options_are_usage_errors(knees, tmp_path, options, words):
    _, folder = knees
    result = orthoai("knee-biomarkers", folder / "baseline.nii.gz", "--out", tmp_path, *options)
    assert result.returncode == 2 and words in result.stderr
