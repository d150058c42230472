"""Finding a batch's cases in real files: nested folders, list files, DICOM series, names."""

from __future__ import annotations

from pathlib import Path

import pytest

from OrthoAILib.errors import InputError
from OrthoAILib.io.discovery import find_cases, safe_name
from Testing.batch_jobs import write_ct_series, write_image
from Testing.conftest import SHARED_DATA

IMAGES = (".png", ".nrrd", ".nii", ".nii.gz", ".mha")


def test_nested_folders_are_searched_and_other_files_reported(tmp_path):
    write_image(tmp_path / "patient1" / "series2" / "film.png")
    write_image(tmp_path / "patient1" / "scan.nii.gz")
    write_image(tmp_path / "b.nrrd")
    write_image(tmp_path / ".hidden" / "ignored.png")
    write_image(tmp_path / ".ignored.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "patient1" / "report.pdf").write_bytes(b"%PDF")

    found = find_cases(tmp_path, suffixes=IMAGES, volumetric=False)

    assert [(c.name, c.label) for c in found.cases] == [
        ("b", "b.nrrd"), ("patient1__scan", "patient1/scan.nii.gz"), ("patient1__series2__film", "patient1/series2/film.png")]
    assert all(Path(c.paths[0]).is_absolute() and len(c.paths) == 1 and not c.error for c in found.cases)
    assert sorted(s.label for s in found.skipped) == ["notes.txt", "patient1/report.pdf"]
    assert found.skipped_summary() == "2 files skipped: not an image (notes.txt, patient1/report.pdf)"
    assert find_cases(tmp_path, suffixes=IMAGES, volumetric=False) == found  # deterministic


def test_names_are_unique_safe_and_keep_the_suffix_only_to_tell_apart(tmp_path):
    write_image(tmp_path / "film.png")
    write_image(tmp_path / "film.nrrd")
    write_image(tmp_path / "Film.PNG")
    write_image(tmp_path / "a b;c.v2.png")
    write_image(tmp_path / "x" / "y.png")
    write_image(tmp_path / "x__y.png")

    names = {c.label: c.name for c in find_cases(tmp_path, suffixes=IMAGES, volumetric=False).cases}

    assert names["film.nrrd"] == "film_nrrd"
    assert {names["film.png"].lower(), names["Film.PNG"].lower()} == {"film_png", "film_png_2"}
    assert names["a b;c.v2.png"] == "a_b_c_v2"
    assert {names["x/y.png"], names["x__y.png"]} == {"x__y", "x__y_2"}
    assert len({n.lower() for n in names.values()}) == len(names)
    assert all("." not in n and "/" not in n and not n.startswith("_") for n in names.values())
    assert safe_name(("patient1", "series2", "film.dcm"), ".dcm") == "patient1__series2__film"


def test_a_single_file_and_a_file_that_is_not_an_image(tmp_path):
    image = write_image(tmp_path / "one.mha")
    (tmp_path / "two.xyz").write_text("?")

    one = find_cases(image, suffixes=IMAGES, volumetric=False).cases
    two = find_cases(tmp_path / "two.xyz", suffixes=IMAGES, volumetric=False).cases

    assert [(c.name, c.label, c.error) for c in one] == [("one", "one.mha", "")]
    assert len(two) == 1 and "two.xyz: not a file this pipeline reads" in two[0].error


def test_list_file_with_comments_relative_paths_folders_and_a_missing_entry(tmp_path):
    write_image(tmp_path / "data" / "a.png")
    write_image(tmp_path / "data" / "more" / "b.png")
    write_image(tmp_path / "elsewhere" / "c.png")
    listing = tmp_path / "lists" / "cases.txt"
    listing.parent.mkdir()
    listing.write_text(f"# two films and a folder\n\n../data/a.png\n{tmp_path / 'elsewhere' / 'c.png'}\n"
                       f"  ../data/more  \nmissing.png\n../data/a.png\n", encoding="utf-8")

    found = find_cases(listing, suffixes=IMAGES, volumetric=False)

    assert [c.name for c in found.cases] == ["data__a", "elsewhere__c", "data__more__b", "lists__missing"]
    assert found.cases[2].label == "data/more/b.png"
    assert not any(c.error for c in found.cases[:3])
    assert "No such file or folder" in found.cases[3].error and "line 6 of cases.txt" in found.cases[3].error
    assert [(s.label, s.reason) for s in found.skipped] == [("data/a.png", "listed twice")]


def test_missing_source_and_a_folder_without_images_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="No such file or folder"):
        find_cases(tmp_path / "nothing", suffixes=IMAGES, volumetric=False)
    (tmp_path / "readme.md").write_text("#")
    with pytest.raises(InputError, match="holds no input this pipeline reads.*1 file skipped: not an image"):
        find_cases(tmp_path, suffixes=IMAGES, volumetric=False)


def test_dicom_series_make_one_case_each_when_volumetric(tmp_path):
    folder = tmp_path / "export" / "patient7" / "study1"
    first = write_ct_series(folder, 5, prefix="A", seed=1)
    second = write_ct_series(folder, 4, prefix="B", seed=2)
    (folder / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM")  # an index, not an image

    volumes = find_cases(tmp_path / "export", suffixes=IMAGES, volumetric=True)
    slices = find_cases(tmp_path / "export", suffixes=IMAGES, volumetric=False)

    assert [(c.name, len(c.paths)) for c in volumes.cases] == [("patient7__study1_1", 5), ("patient7__study1_2", 4)]
    assert [list(c.paths) for c in volumes.cases] == [[str(p) for p in first], [str(p) for p in second]]  # by position
    assert volumes.cases[0].label == "patient7/study1 (series 1 of 2)"
    assert len(slices.cases) == 9 and all(len(c.paths) == 1 for c in slices.cases)
    assert slices.cases[0].name == "patient7__study1__A0000"  # found by content, no suffix
    assert [s.reason for s in volumes.skipped] == ["DICOM directory index"]


def test_one_series_in_its_own_folder_is_named_after_it(tmp_path):
    write_ct_series(tmp_path / "ct" / "chest", 3, suffix=".dcm")
    write_image(tmp_path / "ct" / "knee.nii.gz", shape=(3, 8, 8))

    found = find_cases(tmp_path / "ct", suffixes=IMAGES, volumetric=True)
    single = find_cases(tmp_path / "ct" / "chest", suffixes=IMAGES, volumetric=True)

    assert [(c.name, c.label, len(c.paths)) for c in found.cases] == [("chest", "chest", 3), ("knee", "knee.nii.gz", 1)]
    assert [(c.name, len(c.paths)) for c in single.cases] == [("chest", 3)]


def test_excluded_folders_and_files_are_not_walked(tmp_path):
    write_image(tmp_path / "a.png")
    write_image(tmp_path / "out" / "a.preview.png")
    write_image(tmp_path / "b.preview.png")

    found = find_cases(tmp_path, suffixes=IMAGES, volumetric=False, exclude=[tmp_path / "out", tmp_path / "b.preview.png"])

    assert [c.name for c in found.cases] == ["a"]


REAL_SERIES = SHARED_DATA / "ct" / "totalsegmentator" / "example_ct_dicom"


@pytest.mark.skipif(not REAL_SERIES.is_dir(), reason=f"no real DICOM series at {REAL_SERIES}")
def test_a_real_ct_series_is_one_case():
    found = find_cases(REAL_SERIES.parent, suffixes=(".nii.gz",), volumetric=True)

    series = [c for c in found.cases if len(c.paths) > 1]
    assert [(c.name, c.label) for c in series] == [("example_ct_dicom", "example_ct_dicom")]
    assert len(series[0].paths) == len(list(REAL_SERIES.iterdir())) == 20
    import pydicom

    heights = [float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]) for p in series[0].paths]
    assert heights == sorted(heights) or heights == sorted(heights, reverse=True)
