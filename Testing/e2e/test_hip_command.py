"""``orthoai hip`` on real files: generated DICOM, a real-world-shaped DICOM, bad files."""

import csv
import json
import zipfile

import numpy as np
import pytest
import SimpleITK as sitk

from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph
from OrthoAILib.io.radiograph import write_radiograph_dicom

from .test_cli import orthoai

IDENTIFIERS = {"PatientName": "DOE^JANE", "PatientID": "MRN-0042", "PatientBirthDate": "19500101",
               "InstitutionName": "General Hospital"}
SEEDS = {"generated": 1_000_101, "real_world": 1_000_102, "bilateral": 1_000_103}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("films")
    films = {
        "generated": make_pelvis_radiograph(SEEDS["generated"], operated="right", spacing_mm=0.2),
        "real_world": make_pelvis_radiograph(SEEDS["real_world"], operated="left", spacing_mm=0.175),
        "bilateral": make_pelvis_radiograph(SEEDS["bilateral"], operated="bilateral", spacing_mm=0.2),
    }
    write_radiograph_dicom(folder / "generated.dcm", films["generated"].image, 0.2, bits_stored=films["generated"].bit_depth)
    # 16-bit MONOCHROME1, ImagerPixelSpacing with a magnification factor, and identifiers in the header
    write_radiograph_dicom(folder / "real_world.dcm", films["real_world"].image, 0.175 * 1.15, photometric="MONOCHROME1",
                           bits_stored=16, spacing_tag="ImagerPixelSpacing", magnification=1.15, extra=IDENTIFIERS)
    write_radiograph_dicom(folder / "bilateral.dcm", films["bilateral"].image, 0.2, bits_stored=16)
    (folder / "broken.dcm").write_bytes(b"not a dicom file at all")
    sitk.WriteImage(sitk.GetImageFromArray((films["generated"].image // 256).astype(np.uint8)), str(folder / "nospacing.png"))
    out = tmp_path_factory.mktemp("out")
    result = orthoai("hip", folder, "--out", out)
    return films, folder, out, result


def _error_mm(found_ras, film, side):
    truth = film.keypoints_ras_for(side)  # a film read back from DICOM gets this same geometry
    return np.array([np.linalg.norm(np.array(found_ras[name]) - truth[name]) for name in truth])


def test_bad_files_are_reported_and_the_rest_measured(batch):
    _, _, out, result = batch
    assert result.returncode == 1  # some files failed
    assert "broken.dcm: failed" in result.stdout and "nospacing.png: failed" in result.stdout
    assert "give it in mm" in result.stdout and "Traceback" not in result.stderr
    with open(out / "hip_measures.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sum(row["status"] == "ok" for row in rows) == 4  # generated, real_world, bilateral x2
    failed = {row["input"]: row["warnings"] for row in rows if row["status"] == "failed"}
    assert set(failed) == {"broken.dcm", "nospacing.png"} and "give it in mm" in failed["nospacing.png"]


@pytest.mark.parametrize("name", ["generated", "real_world"])
def test_films_are_measured_accurately(batch, name):
    films, _, out, _ = batch
    film = films[name]
    case = json.loads((out / f"{name}.measures.json").read_text(encoding="utf-8"))
    (side,) = case["sides"]
    assert side["operated_side"] == film.primary_side
    assert _error_mm(side["landmarks_ras_mm"], film, film.primary_side).mean() < 2.0
    for suffix in (".mrk.json", ".png", ".mrb", ".measures.json"):
        assert (out / f"{name}{suffix}").stat().st_size > 0


def test_real_world_dicom_spacing_is_corrected_for_magnification(batch):
    _, _, out, _ = batch
    case = json.loads((out / "real_world.measures.json").read_text(encoding="utf-8"))
    assert case["pixel_spacing_mm"] == pytest.approx([0.175, 0.175], rel=1e-4)
    assert "EstimatedRadiographicMagnificationFactor" in case["spacing_source"]


def test_bilateral_film_gives_both_sides(batch):
    films, _, out, _ = batch
    case = json.loads((out / "bilateral.measures.json").read_text(encoding="utf-8"))
    assert sorted(s["operated_side"] for s in case["sides"]) == ["left", "right"]
    for side in case["sides"]:
        assert _error_mm(side["landmarks_ras_mm"], films["bilateral"], side["operated_side"]).mean() < 2.5
    assert (out / "bilateral_right.mrk.json").exists() and (out / "bilateral_left.mrk.json").exists()


def test_no_output_carries_patient_identifiers(batch):
    _, _, out, _ = batch
    for path in (p for p in out.rglob("*") if p.is_file()):  # completion records included
        contents = [path.read_bytes()]
        if path.suffix == ".mrb":
            with zipfile.ZipFile(path) as bundle:
                contents += [bundle.read(member) for member in bundle.namelist()]
        for content in contents:
            for value in IDENTIFIERS.values():
                assert value.encode() not in content, (path.name, value)


def test_single_file_with_calibration(batch, tmp_path):
    films, folder, _, _ = batch
    result = orthoai("hip", folder / "generated.dcm", "--out", tmp_path, "--cup-diameter",
                     films["generated"].cup_diameter_mm, "--no-scene", check=True)
    assert "hip: 1 case(s) done, 0 refused (nothing measured), 0 failed" in result.stdout
    case = json.loads((tmp_path / "generated.measures.json").read_text(encoding="utf-8"))
    assert case["sides"][0]["calibrated"] is True and not (tmp_path / "generated.mrb").exists()


def test_benchmark_command_prints_its_figures():
    result = orthoai("hip-benchmark", "--cases", 2, check=True)
    figures = json.loads(result.stdout)
    assert figures["cases"] == 2 and figures["seeds"].startswith("1000000")
    assert set(figures["measure_abs_error"]) == {"abduction_deg", "coverage_pct", "rc_vertical_offset_mm",
                                                 "rc_horizontal_offset_mm"}
    stages = figures["seconds_per_radiograph"]
    assert {"read", "preprocess", "detect", "refine", "measure", "end_to_end"} <= set(stages)
    assert figures["keypoint_error_mm"]["all"]["mean"] < 3.0
