"""``orthoai hip`` as a batch, as the house promises for every pipeline: a nested PACS-like folder
with duplicate stems, ``--out`` inside the input folder, an unusable ``--out``, ``--workers 2``,
``--resume`` and a real Dask ``LocalCluster`` on 127.0.0.1 — with the real models and real files."""

from __future__ import annotations

import csv
import hashlib
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from OrthoAILib.io.radiograph import write_radiograph_dicom
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

from ..conftest import REPO_ROOT
from .test_cli import orthoai

SPACING = 0.3


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """p1/film.dcm, p1/film.png (same stem), p2/study/film (DICOM without a suffix), a note that is not an image."""
    root = tmp_path_factory.mktemp("cohort")
    films = [make_pelvis_radiograph(1_000_400 + i, operated="right" if i % 2 else "left", spacing_mm=SPACING)
             for i in range(3)]
    (root / "p1").mkdir()
    (root / "p2" / "study").mkdir(parents=True)
    write_radiograph_dicom(root / "p1" / "film.dcm", films[0].image, SPACING, bits_stored=films[0].bit_depth)
    sitk.WriteImage(sitk.GetImageFromArray((films[1].image / films[1].image.max() * 255).astype(np.uint8)),
                    str(root / "p1" / "film.png"))
    write_radiograph_dicom(root / "p2" / "study" / "film", films[2].image, SPACING, bits_stored=films[2].bit_depth)
    (root / "p2" / "notes.txt.bak").write_text("not an image", encoding="utf-8")
    return root, films


def rows_of(folder):
    with open(folder / "hip_measures.csv", newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def digest(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def one_worker(cohort, tmp_path_factory):
    root, _ = cohort
    out = tmp_path_factory.mktemp("one")
    result = orthoai("hip", root, "--out", out, "--spacing", SPACING, "--no-scene")
    return out, result


def test_nested_folder_with_duplicate_stems(cohort, one_worker):
    out, result = one_worker
    assert result.returncode == 0, result.stdout + result.stderr
    rows = rows_of(out)
    assert sorted(row["input"] for row in rows) == ["p1/film.dcm", "p1/film.png", "p2/study/film"]
    assert all(row["status"] == "ok" for row in rows)
    measures = sorted(p.name for p in out.glob("*.measures.json"))
    assert len(measures) == 3 and len(set(measures)) == 3  # one output per input, none overwritten
    assert "1 file skipped" in result.stdout  # the note is counted, not silently dropped


def test_out_inside_the_input_folder_leaves_every_input_intact(cohort, tmp_path):
    root, _ = cohort
    copy = tmp_path / "cohort"
    shutil.copytree(root, copy)
    before = digest(copy)
    result = orthoai("hip", copy, "--out", copy, "--spacing", SPACING, "--no-scene")
    assert result.returncode == 0, result.stdout + result.stderr
    after = digest(copy)
    assert all(after[path] == value for path, value in before.items())
    assert len(rows_of(copy)) == 3
    again = orthoai("hip", copy, "--out", copy, "--spacing", SPACING, "--no-scene")  # outputs are not taken as inputs
    assert again.returncode == 0 and len(rows_of(copy)) == 3


@pytest.mark.parametrize("where", ["under a file", "an existing file"])
def test_unusable_out_is_one_line_before_any_work(cohort, tmp_path, where):
    root, _ = cohort
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")
    out = blocker / "out" if where == "under a file" else blocker
    result = orthoai("hip", root, "--out", out, "--spacing", SPACING, "--no-scene")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""  # no case ran


def test_two_workers_give_the_same_table(cohort, one_worker, tmp_path):
    root, _ = cohort
    result = orthoai("hip", root, "--out", tmp_path, "--spacing", SPACING, "--no-scene", "--workers", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "hip_measures.csv").read_bytes() == (one_worker[0] / "hip_measures.csv").read_bytes()


def test_resume_skips_complete_films(cohort, one_worker, tmp_path):
    root, _ = cohort
    shutil.copytree(one_worker[0], tmp_path / "out")
    result = orthoai("hip", root, "--out", tmp_path / "out", "--spacing", SPACING, "--no-scene", "--resume")
    assert result.returncode == 0 and "3 already complete" in result.stdout
    assert (tmp_path / "out" / "hip_measures.csv").read_bytes() == (one_worker[0] / "hip_measures.csv").read_bytes()


def test_a_dask_cluster_gives_the_same_table(cohort, one_worker, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    root, _ = cohort
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, env={"PYTHONPATH": str(REPO_ROOT)}) as cluster:
        result = orthoai("hip", root, "--out", tmp_path, "--spacing", SPACING, "--no-scene",
                         "--scheduler", cluster.scheduler_address)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "hip_measures.csv").read_bytes() == (one_worker[0] / "hip_measures.csv").read_bytes()
    assert not (tmp_path / ".orthoai-staging").exists()
