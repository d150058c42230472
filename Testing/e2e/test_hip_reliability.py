"""``orthoai hip`` as a new user meets it, as a real process: wrong options, broken and unusual files,
warnings in the table, private names, a quiet console. Each test names the defect it guards."""

from __future__ import annotations

import csv
import json
import zipfile

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from OrthoAILib.io.radiograph import write_radiograph_dicom
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph
from OrthoAILib.runtime.memory import run_measured

from .test_cli import RUN_OPTIONS, orthoai, orthoai_command

SPACING = 0.3


@pytest.fixture(scope="module")
def film():
    return make_pelvis_radiograph(1_000_401, operated="right", spacing_mm=SPACING)  # one the models measure


def rows_of(out):
    with open(out / "hip_measures.csv", newline="", encoding="utf-8") as stream:
        return {row["input"]: row for row in csv.DictReader(stream)}


def one_line_error(result, status):
    assert result.returncode == status, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("orthoai: error:"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


# --- 3, 4: options and --out, refused before any work (exit 2, one line) ------------------------

@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "5000"])
def test_implausible_cup_diameter_is_refused(film, tmp_path, value):
    """4: 0, negative, NaN or infinite gave exit 0 and "1 radiograph(s) measured"; 5000 was accepted."""
    path = write_radiograph_dicom(tmp_path / "film.dcm", film.image, SPACING, bits_stored=film.bit_depth)
    result = orthoai("hip", path, "--out", tmp_path / "out", "--cup-diameter", value, "--no-scene")
    one_line_error(result, 2)
    assert "--cup-diameter" in result.stderr and "from 20 to 100 mm" in result.stderr
    assert not (tmp_path / "out").exists() and result.stdout == ""


@pytest.mark.parametrize("where", ["not writable", "csv name is a folder"])
def test_unusable_out_is_refused_before_any_work(film, tmp_path, where):
    """3: tracebacks after processing every film (the other kinds of --out: test_hip_batch)."""
    path = write_radiograph_dicom(tmp_path / "film.dcm", film.image, SPACING, bits_stored=film.bit_depth)
    out = tmp_path / "out"
    if where == "csv name is a folder":
        (out / "hip_measures.csv").mkdir(parents=True)
    else:
        out = "/proc/orthoai-hip-test"  # not writable, even by root
    result = orthoai("hip", path, "--out", out, "--no-scene")
    one_line_error(result, 2)
    assert result.stdout == "" and not (tmp_path / "out" / "film.measures.json").exists()


# --- 6, 7, 10 and greyscale stored as colour: per film, the batch goes on ------------------------

@pytest.fixture(scope="module")
def odd_files(film, tmp_path_factory):
    folder = tmp_path_factory.mktemp("odd")
    good = write_radiograph_dicom(folder / "good.dcm", film.image, SPACING, bits_stored=film.bit_depth)
    data = good.read_bytes()
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "notes.dcm").write_text("Referral: AP pelvis, follow-up\n", encoding="utf-8")
    (folder / "cut200.dcm").write_bytes(data[:200])
    (folder / "cutmid.dcm").write_bytes(data[: len(data) // 2])
    dataset = pydicom.dcmread(good)
    del dataset.PixelData
    dataset.save_as(folder / "nopixels.dcm")
    dataset = pydicom.dcmread(good)
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.JPEGLosslessSV1
    from pydicom.encaps import encapsulate

    dataset.PixelData = encapsulate([b"\xff\xd8 compressed \xff\xd9 "])
    dataset["PixelData"].VR = "OB"
    dataset.save_as(folder / "compressed.dcm", enforce_file_format=True)
    grey = (film.image / film.image.max() * 255).astype(np.uint8)
    sitk.WriteImage(sitk.Compose([sitk.GetImageFromArray(grey)] * 3), str(folder / "grey_as_rgb.png"))
    sitk.WriteImage(sitk.Compose([sitk.GetImageFromArray(c) for c in (grey, grey // 2, 255 - grey)]),
                    str(folder / "coloured.png"))
    with_nan = film.image.astype(np.float32)
    with_nan[100:110, 100:110] = np.nan
    nifti = sitk.GetImageFromArray(with_nan)
    nifti.SetSpacing((SPACING, SPACING))
    sitk.WriteImage(nifti, str(folder / "with_nan.nii.gz"))
    out = tmp_path_factory.mktemp("odd-out")
    result = orthoai("hip", folder, "--out", out, "--no-scene", "--spacing", SPACING)
    return folder, out, result


def test_odd_files_fail_alone_with_advice_that_fits(odd_files):
    _, out, result = odd_files
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    rows = rows_of(out)
    assert rows["good.dcm"]["status"] == rows["grey_as_rgb.png"]["status"] == "ok"  # 'Also': grey as RGB is grey
    expected = {
        "empty.dcm": "is empty (0 bytes)",
        "notes.dcm": "is a text file, not an image",
        "cut200.dcm": "is cut short (200 bytes, inside its DICOM header)",
        "cutmid.dcm": "before the end of its pixel data",
        "nopixels.dcm": "holds no pixel data",
        "compressed.dcm": "no decoder for it is installed: pip install pylibjpeg",
        "coloured.png": "convert it to greyscale (ImageMagick: magick in.png -colorspace Gray out.png)",
        "with_nan.nii.gz": "the image holds NaN values (100 pixels)",  # 7: was read as 0 and measured
    }
    for name, message in expected.items():
        row = rows[name]
        assert row["status"] == "failed" and message in row["warnings"], (name, row["warnings"])
        assert "force=True" not in row["warnings"]  # 10: never the parser's advice to a programmer
        assert ("decoder" in row["warnings"]) == (name == "compressed.dcm"), name


@pytest.mark.parametrize("given", ["--spacing 1.4", "--spacing 14", "PixelSpacing 14"])
def test_a_tenfold_wrong_spacing_is_refused_before_allocating(tmp_path, given):
    """6: --spacing 1.4 for 0.14 measured a 4 m film (6.9 GB, 90 s); 14 died allocating 41 GiB."""
    big = make_pelvis_radiograph(1_000_802, operated="left", spacing_mm=0.14)  # ~3000 x 2500 pixels
    in_header = given.startswith("PixelSpacing")
    path = write_radiograph_dicom(tmp_path / "film.dcm", big.image, 14 if in_header else 0.14, bits_stored=big.bit_depth)
    options = [] if in_header else given.split()
    # the command's own peak (a child of this big test process would inherit the process's high-water mark)
    result, peak_mb = run_measured(orthoai_command("hip", path, "--out", tmp_path / "out", *options, "--no-scene"),
                                   **RUN_OPTIONS)
    if given == "--spacing 14":  # beyond any pixel: refused with the options, before any film is read
        one_line_error(result, 2)
        assert "--spacing 14 mm is not a plausible pixel spacing" in result.stderr
    else:
        assert result.returncode == 1 and "Traceback" not in result.stderr
        (row,) = rows_of(tmp_path / "out").values()
        assert row["status"] == "failed" and "The spacing is probably wrong" in row["warnings"]
        assert "give it in mm per pixel (--spacing, or the module's Pixel spacing; about 0.1" in row["warnings"]
        assert ("(from PixelSpacing)" in row["warnings"]) == in_header
    assert peak_mb < 3 * 1024  # MB: nothing near the gigabytes a 4 m film would take


# --- 11: the table carries the pipeline's warnings and refusals ---------------------------------------

def test_warnings_and_refusals_reach_the_table(film, tmp_path):
    folder = tmp_path / "films"
    folder.mkdir()
    # detector-plane spacing without a magnification factor: the pipeline warns that lengths are magnified
    write_radiograph_dicom(folder / "detector.dcm", film.image, SPACING, bits_stored=film.bit_depth,
                           spacing_tag="ImagerPixelSpacing")
    result = orthoai("hip", folder, "--out", tmp_path / "out", "--no-scene", "--side", "both")
    assert "Traceback" not in result.stderr
    rows = list(csv.DictReader(open(tmp_path / "out" / "hip_measures.csv", newline="", encoding="utf-8")))
    measured = [row for row in rows if row["operated_side"] == "right"]
    assert measured and "Pixel spacing is at the detector" in measured[0]["warnings"]
    refused = [row for row in rows if row["operated_side"] == "left"]  # no cup there: a row that says so
    assert refused and refused[0]["status"] not in ("ok", "") and refused[0]["warnings"]
    printed = [line for line in result.stdout.splitlines() if "warning:" in line]
    assert printed and all(line.split("warning: ", 1)[1] in measured[0]["warnings"] + refused[0]["warnings"]
                           for line in printed)


# --- 12: --anonymise-names ---------------------------------------------------------------------------

def test_anonymised_names_leave_the_names_only_in_the_private_mapping(film, tmp_path):
    folder = tmp_path / "DOE_JANE_MRN0042"
    (folder / "HIP_FOLLOWUP").mkdir(parents=True)
    write_radiograph_dicom(folder / "HIP_FOLLOWUP" / "DOE_JANE_1950.dcm", film.image, SPACING,
                           bits_stored=film.bit_depth)
    (folder / "SMITH_JOHN.dcm").write_bytes(b"")  # a failure names no one either
    out = tmp_path / "out"
    result = orthoai("hip", folder, "--out", out, "--anonymise-names")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    words = ("DOE", "JANE", "MRN0042", "SMITH", "JOHN", "FOLLOWUP", "1950")
    assert not any(w in result.stdout + result.stderr for w in words), result.stdout
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"case-0001.mrk.json", "case-0001.measures.json", "case-0001.mrb",
                                       "case-0001.png", "hip_measures.csv", "name_mapping.csv"}
    for path in files:
        if path.name == "name_mapping.csv":
            continue
        contents = [path.name.encode(), path.read_bytes()]
        if path.suffix == ".mrb":
            with zipfile.ZipFile(path) as bundle:
                contents += [name.encode() for name in bundle.namelist()]
                contents += [bundle.read(name) for name in bundle.namelist()]
        assert not any(w.encode() in content for w in words for content in contents), path.name
    rows = rows_of(out)
    assert set(rows) == {"case-0001", "case-0002"} and rows["case-0001"]["source"].startswith("case-0001")
    assert json.loads((out / "case-0001.measures.json").read_text(encoding="utf-8"))["source"] == "case-0001.dcm"
    mapping = list(csv.DictReader(open(out / "name_mapping.csv", newline="", encoding="utf-8")))
    assert [(m["case"], m["input"]) for m in mapping] == [("case-0001", "HIP_FOLLOWUP/DOE_JANE_1950.dcm"),
                                                         ("case-0002", "SMITH_JOHN.dcm")]
    assert ((out / "name_mapping.csv").stat().st_mode & 0o777) == 0o600


# --- 13: scene bundles and pictures, quietly -------------------------------------------------------

def test_scenes_for_several_films_leave_the_console_quiet_and_open_at_the_films_geometry(film, tmp_path):
    """13: every film after the first printed VTK warnings (a second Red composite node, observers added
    twice); the bundle held the film as compressed 32-bit floats."""
    folder = tmp_path / "films"
    folder.mkdir()
    for name in ("a", "b", "c"):
        write_radiograph_dicom(folder / f"{name}.dcm", film.image, SPACING, bits_stored=film.bit_depth)
    result = orthoai("hip", folder, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "" and "vtk" not in result.stdout.lower(), result.stderr  # the pipeline's own warnings may print

    from OrthoAILib.mrml.app import HeadlessSlicer
    from OrthoAILib.mrml.scene_io import load_scene_bundle
    from OrthoAILib.mrml.volumes import array_from_volume

    case = json.loads((tmp_path / "out" / "c.measures.json").read_text(encoding="utf-8"))
    with HeadlessSlicer(install_globals=False) as app:
        load_scene_bundle(tmp_path / "out" / "c.mrb", app.scene)
        volume = app.scene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        pixels, geometry = array_from_volume(volume)
        landmarks = app.scene.GetFirstNodeByClass("vtkMRMLMarkupsFiducialNode")
        assert np.array_equal(pixels[0], film.image) and pixels.dtype == np.uint16  # the film itself, losslessly
        expected = case["geometry"]  # where the measures' points are: the film's true geometry
        assert np.allclose(geometry.spacing, expected["spacing_ijk_mm"], atol=1e-6)
        assert np.allclose(geometry.origin, expected["origin_ras_mm"], atol=1e-3)
        assert np.allclose(geometry.directions, expected["directions_ras"], atol=1e-6)
        assert landmarks is not None and landmarks.GetNumberOfControlPoints() == 9


# --- 1, 2: --out the input folder, with scenes; two films of one stem --------------------------------

def test_out_in_the_input_folder_keeps_png_films_and_measures_them(film, tmp_path):
    """1: --out equal to the input folder overwrote the input PNGs with the annotated pictures
    (then: refused every PNG film after analysing it). 2: film.dcm and film.png overwrote each other."""
    folder = tmp_path / "films"
    folder.mkdir()
    grey = (film.image / film.image.max() * 255).astype(np.uint8)
    sitk.WriteImage(sitk.GetImageFromArray(grey), str(folder / "film.png"))
    sitk.WriteImage(sitk.GetImageFromArray(grey), str(folder / "hip.png"))
    write_radiograph_dicom(folder / "film.dcm", film.image, SPACING, bits_stored=film.bit_depth)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = orthoai("hip", folder, "--out", folder, "--spacing", SPACING)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all((folder / name).read_bytes() == data for name, data in before.items())
    rows = rows_of(folder)
    assert sorted(rows) == ["film.dcm", "film.png", "hip.png"] and all(r["status"] != "failed" for r in rows.values())
    pictures = sorted(p.name for p in folder.glob("*.png") if p.name not in before)
    assert pictures == ["film_dcm.png", "film_png.png", "hip_png.png"]  # one per film, none over a film
    again = orthoai("hip", folder, "--out", folder, "--spacing", SPACING, "--no-scene")
    assert again.returncode == 0 and sorted(rows_of(folder)) == ["film.dcm", "film.png", "hip.png"]
