"""Reading ultrasound stills: pixel size from DICOM ultrasound regions, colour, sizes, wrong files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from OrthoAILib.errors import InputError
from OrthoAILib.io.ultrasound import read_still


def _us_dicom(path, pixels, *, modality="US", delta_cm=(0.012, 0.012), units=3, rows=None, columns=None):
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName = modality, "Doe^Jane"
    ds.Rows, ds.Columns = rows or pixels.shape[0], columns or pixels.shape[1]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    if delta_cm:
        region = Dataset()
        region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0
        region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = pixels.shape[1] - 1, pixels.shape[0] - 1
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = units
        region.PhysicalDeltaX, region.PhysicalDeltaY = delta_cm
        ds.SequenceOfUltrasoundRegions = [region]
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def test_png_has_no_pixel_size_unless_given(tmp_path):
    pixels = (np.arange(200 * 300) % 251).reshape(200, 300).astype(np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "still.png")
    still = read_still(tmp_path / "still.png")
    assert not still.image.origin.spacing_calibrated and still.image.origin.spacing_source == "none"
    assert np.array_equal(still.image.plane, pixels)
    given = read_still(tmp_path / "still.png", 0.1)
    assert given.image.origin.spacing_calibrated and given.image.pixel_spacing_rc == (0.1, 0.1)


def test_dicom_pixel_size_comes_from_the_ultrasound_region(tmp_path):
    pixels = np.full((120, 160), 40, np.uint8)
    still = read_still(_us_dicom(tmp_path / "us.dcm", pixels, delta_cm=(0.015, 0.012)))
    assert still.image.origin.spacing_source == "SequenceOfUltrasoundRegions"
    assert still.image.pixel_spacing_rc == pytest.approx((0.12, 0.15))
    assert "Doe" not in repr(still)
    no_region = read_still(_us_dicom(tmp_path / "plain.dcm", pixels, delta_cm=None))
    assert not no_region.image.origin.spacing_calibrated


def test_regions_in_other_units_are_not_taken_for_centimetres(tmp_path):
    still = read_still(_us_dicom(tmp_path / "us.dcm", np.zeros((100, 100), np.uint8), units=4))  # 4: seconds
    assert not still.image.origin.spacing_calibrated


def test_grey_stored_as_rgb_is_grey_and_annotations_are_warned(tmp_path):
    grey = np.tile(np.arange(256, dtype=np.uint8), (100, 1))
    PILImage.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "rgb.png")
    still = read_still(tmp_path / "rgb.png")
    assert still.warnings == () and np.allclose(still.image.plane, grey, atol=0.5)
    coloured = np.stack([grey] * 3, axis=-1)
    coloured[10:20, 10:60] = (255, 255, 0)  # a yellow caliper label
    PILImage.fromarray(coloured).save(tmp_path / "annotated.png")
    assert read_still(tmp_path / "annotated.png").warnings[0].startswith("colour_converted")


def test_wrong_files_get_one_clear_error(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match="cannot be read as an image"):
        read_still(tmp_path / "notes.png")
    PILImage.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "tiny.png")
    with pytest.raises(InputError, match="not an ultrasound still"):
        read_still(tmp_path / "tiny.png")
    with pytest.raises(InputError, match="not ultrasound"):
        read_still(_us_dicom(tmp_path / "ct.dcm", np.zeros((100, 100), np.uint8), modality="CT"))
    with pytest.raises(InputError, match="implausible"):
        read_still(tmp_path / "tiny.png", pixel_size_mm=40.0)
    with pytest.raises(InputError, match="No such"):
        read_still(tmp_path / "missing.png")


def test_an_implausible_size_is_refused_from_the_header(tmp_path):
    # The header claims 20000 x 20000 pixels; the pixel data is tiny: refused before decoding.
    path = _us_dicom(tmp_path / "huge.dcm", np.zeros((10, 10), np.uint8), rows=20000, columns=20000)
    with pytest.raises(InputError, match="not an ultrasound still"):
        read_still(path)
