"""Reading radiographs: DICOM variants, other formats, and the errors users meet."""

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from OrthoAILib.errors import InputError
from OrthoAILib.io.radiograph import read_radiograph, write_radiograph_dicom

IDENTIFIERS = {"PatientName": "DOE^JANE", "PatientID": "MRN-0042", "PatientBirthDate": "19500101",
               "InstitutionName": "General Hospital", "AccessionNumber": "ACC123"}


@pytest.fixture
def film():
    rng = np.random.default_rng(0)
    image = (rng.random((120, 160)) * 4000).astype(np.uint16)
    image[10:20, 5:15] = 4095  # something asymmetric
    return image


def test_monochrome2_pixel_spacing(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "a.dcm", film, 0.15, bits_stored=12)
    radiograph = read_radiograph(path)
    assert np.array_equal(radiograph.plane, film.astype(np.float32))
    assert radiograph.pixel_spacing_rc == (0.15, 0.15) and radiograph.origin.spacing_source == "PixelSpacing"
    assert radiograph.origin.spacing_calibrated and radiograph.origin.name == "a.dcm"


def test_real_world_shape_16_bit_monochrome1_imager_spacing(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "b.dcm", film, 0.2, photometric="MONOCHROME1", bits_stored=16,
                                  spacing_tag="ImagerPixelSpacing", magnification=1.15, extra=IDENTIFIERS)
    stored = pydicom.dcmread(path)
    assert stored.PhotometricInterpretation == "MONOCHROME1" and "PixelSpacing" not in stored
    radiograph = read_radiograph(path)
    assert np.allclose(radiograph.plane, film)  # inverted back: dense is bright
    assert radiograph.pixel_spacing_rc == pytest.approx((0.2 / 1.15, 0.2 / 1.15))
    assert "EstimatedRadiographicMagnificationFactor" in radiograph.origin.spacing_source
    assert not any(value in repr(radiograph) for value in IDENTIFIERS.values())


def test_imager_spacing_without_factor_is_flagged_uncorrected(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "c.dcm", film, 0.2, spacing_tag="ImagerPixelSpacing")
    radiograph = read_radiograph(path)
    assert radiograph.pixel_spacing_rc == (0.2, 0.2) and not radiograph.origin.spacing_calibrated


def test_patient_orientation_towards_the_right_is_mirrored(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "d.dcm", film, 0.15, extra={"PatientOrientation": ["R", "F"]})
    radiograph = read_radiograph(path)
    assert radiograph.origin.orientation.startswith("mirrored") and np.array_equal(radiograph.plane, film[:, ::-1].astype(np.float32))


def test_user_spacing_wins_and_is_needed_for_png(tmp_path, film):
    path = tmp_path / "film.png"
    sitk.WriteImage(sitk.GetImageFromArray((film // 16).astype(np.uint8)), str(path))
    with pytest.raises(InputError, match="PNG files carry no pixel spacing; give it in mm"):
        read_radiograph(path)
    radiograph = read_radiograph(path, spacing_mm=0.3)
    assert radiograph.pixel_spacing_rc == (0.3, 0.3) and radiograph.plane.shape == film.shape


def test_nrrd_spacing_from_header(tmp_path, film):
    image = sitk.GetImageFromArray(film)
    image.SetSpacing((0.12, 0.14))
    sitk.WriteImage(image, str(tmp_path / "film.nrrd"))
    radiograph = read_radiograph(tmp_path / "film.nrrd")
    assert radiograph.pixel_spacing_rc == pytest.approx((0.14, 0.12))  # (row, column)


@pytest.mark.parametrize("case, message", [
    ("multiframe", "multi-frame DICOM"),
    ("colour", "colour DICOM"),
    ("no-spacing", "no PixelSpacing or ImagerPixelSpacing; give the pixel spacing"),
    ("not-dicom", "has no image \\(no PixelData\\)"),
    ("colour-png", "colour image"),
    ("unknown", "unsupported file type"),
])
def test_bad_files_say_what_to_do(tmp_path, film, case, message):
    path = tmp_path / "bad.dcm"
    if case == "multiframe":
        write_radiograph_dicom(path, film, 0.1, extra={"NumberOfFrames": 2})
    elif case == "colour":
        write_radiograph_dicom(path, film, 0.1, extra={"SamplesPerPixel": 3})
    elif case == "no-spacing":
        write_radiograph_dicom(path, film, 0.1)
        dataset = pydicom.dcmread(path)
        del dataset.PixelSpacing
        dataset.save_as(path)
    elif case == "not-dicom":
        path.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    elif case == "colour-png":
        path = tmp_path / "colour.png"
        sitk.WriteImage(sitk.Compose([sitk.GetImageFromArray((film // 16).astype(np.uint8))] * 3), str(path))
    elif case == "unknown":
        path = tmp_path / "film.tiff.gz"
        path.write_bytes(b"x")
    with pytest.raises(InputError, match=message):
        read_radiograph(path, spacing_mm=0.2 if case == "colour-png" else None)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="No such image file"):
        read_radiograph(tmp_path / "absent.dcm")


def test_8_bit_cr_film(tmp_path, film):
    eight_bit = (film // 16).astype(np.uint8)
    path = write_radiograph_dicom(tmp_path / "cr.dcm", eight_bit, 0.3, bits_stored=8, extra={"Modality": "CR"})
    assert pydicom.dcmread(path).BitsAllocated == 8
    radiograph = read_radiograph(path)
    assert np.array_equal(radiograph.plane, eight_bit.astype(np.float32)) and radiograph.pixel_spacing_rc == (0.3, 0.3)


def test_itk_image_whose_columns_run_to_the_right_is_mirrored(tmp_path, film):
    image = sitk.GetImageFromArray(film)
    image.SetDirection((-1.0, 0.0, 0.0, 1.0))  # LPS: first axis towards the patient's right
    sitk.WriteImage(image, str(tmp_path / "flipped.nrrd"))
    radiograph = read_radiograph(tmp_path / "flipped.nrrd")
    assert radiograph.origin.orientation.startswith("mirrored") and np.array_equal(radiograph.plane, film[:, ::-1].astype(np.float32))
