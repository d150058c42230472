"""DICOM objects of the fetal flow: de-identified stills, the heatmap Secondary Capture, the measures SR.

Every object is written in the DICOM file format and read back with pydicom, and its content is
checked against what the IODs and the SR content rules ask for.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from OrthoAILib.io.dicom_reports import (COMPREHENSIVE_SR, SECONDARY_CAPTURE, content_items, dataset_bytes, deidentify,
                                         measurement_report, secondary_capture, write_dataset)
from OrthoAILib.io.ultrasound import read_still
from OrthoAILib.phantoms.fetal_us import make_fetal_still, write_us_dicom

IDENTIFIERS = {"PatientName": "DOE^JANE^Q", "PatientID": "MRN-778899", "PatientBirthDate": "19870412",
               "OtherPatientIDs": "OTHER-445566", "InstitutionName": "Saint Elsewhere Hospital",
               "InstitutionAddress": "12 Harbour Road, Springfield", "ReferringPhysicianName": "KILDARE^JAMES",
               "AccessionNumber": "ACC-2024-0042", "OperatorsName": "SONO^GRAPHER", "StationName": "US-ROOM-3",
               "StudyDescription": "Fetal anatomy scan of Jane Doe", "DeviceSerialNumber": "SN-99887766",
               "PatientAddress": "7 Elm Street", "StudyDate": "20240301", "AcquisitionDateTime": "20240301101112"}
RESULT = {"status": "ok", "head_found": True, "message": "", "hc_mm": 172.31, "bpd_mm": 48.2, "ofd_mm": 61.9,
          "cephalic_index": 77.87, "ellipse": {"center_px": [400.0, 280.0], "semi_axes_px": [160.0, 124.6], "angle_deg": 30.0},
          "class": "normal", "class_probabilities": {"normal": 0.91, "dolichocephalic": 0.06, "brachycephalic": 0.03},
          "flags": ["hc_below_10th_centile"], "pixel_size_mm": [0.17, 0.17],
          "growth": {"ga_weeks": 22.0, "hc_z_score": -1.41, "hc_centile": 7.9}, "warnings": []}


@pytest.fixture
def source(tmp_path):
    pixels, _, pixel_size = make_fetal_still(21)
    path = write_us_dicom(tmp_path / "still.dcm", pixels, pixel_size, patient_name=IDENTIFIERS["PatientName"],
                          patient_id=IDENTIFIERS["PatientID"],
                          **{k: v for k, v in IDENTIFIERS.items() if k not in ("PatientName", "PatientID")})
    dataset = pydicom.dcmread(path)
    dataset.add_new(0x00091010, "LO", "private vendor note: Jane Doe")  # private elements go too
    return dataset, pixels, pixel_size


def reread(dataset):
    return pydicom.dcmread(io.BytesIO(dataset_bytes(dataset)))


def test_deidentify_removes_identifiers_and_keeps_what_the_analysis_needs(source, tmp_path):
    original, pixels, pixel_size = source
    clean = deidentify(original, uid_salt="site-secret")
    encoded = dataset_bytes(clean)
    for keyword, value in IDENTIFIERS.items():
        assert value.encode() not in encoded, keyword
    assert b"Jane Doe" not in encoded and b"DOE" not in encoded
    back = pydicom.dcmread(io.BytesIO(encoded))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "ReferringPhysicianName", "StudyDate"):
        assert keyword in back and str(back[keyword].value) == "", keyword  # type 2: present and empty
    for keyword in ("OtherPatientIDs", "InstitutionName", "OperatorsName", "StationName", "AcquisitionDateTime"):
        assert keyword not in back, keyword
    assert not any(element.tag.is_private for element in back)
    assert back.PatientIdentityRemoved == "YES"
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        assert back[keyword].value != original[keyword].value, keyword
    assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID
    assert back.SOPClassUID == original.SOPClassUID and back.Modality == "US"
    assert np.array_equal(back.pixel_array, pixels)
    region = back.SequenceOfUltrasoundRegions[0]
    assert region.PhysicalDeltaX == pytest.approx(pixel_size / 10) and region.PhysicalUnitsXDirection == 3
    path = tmp_path / "clean.dcm"
    path.write_bytes(encoded)
    still = read_still(path)  # the reader still finds the pixel size
    assert still.image.origin.spacing_calibrated and still.image.pixel_spacing_rc == pytest.approx((pixel_size,) * 2)
    assert original.PatientName == IDENTIFIERS["PatientName"]  # the input is untouched


def test_deidentified_uids_are_stable_for_one_salt_and_differ_between_salts(source):
    original, _, _ = source
    first, again = deidentify(original, uid_salt="a"), deidentify(original, uid_salt="a")
    other = deidentify(original, uid_salt="b")
    assert first.StudyInstanceUID == again.StudyInstanceUID and first.SOPInstanceUID == again.SOPInstanceUID
    assert first.StudyInstanceUID != other.StudyInstanceUID
    assert pydicom.uid.UID(first.SOPInstanceUID).is_valid


def test_secondary_capture_is_valid_rgb_in_the_source_study(source, tmp_path):
    original, pixels, _ = source
    rgb = np.stack([pixels, np.flipud(pixels), np.zeros_like(pixels)], axis=-1)
    capture = secondary_capture(rgb, original)
    path = write_dataset(capture, tmp_path / "sc.dcm")
    back = pydicom.dcmread(path)
    assert back.file_meta.MediaStorageSOPClassUID == SECONDARY_CAPTURE == back.SOPClassUID
    assert back.PhotometricInterpretation == "RGB" and back.SamplesPerPixel == 3 and back.ConversionType == "WSD"
    assert np.array_equal(back.pixel_array, rgb)
    assert back.StudyInstanceUID == original.StudyInstanceUID and back.PatientID == original.PatientID
    assert back.SeriesInstanceUID != original.SeriesInstanceUID and back.Modality == "OT"
    assert back.SourceImageSequence[0].ReferencedSOPInstanceUID == original.SOPInstanceUID
    assert "not for clinical use" in back.ImageComments.lower()
    with pytest.raises(ValueError):
        secondary_capture(pixels, original)  # grey is not RGB


def _code(item):
    code = item.ConceptNameCodeSequence[0]
    return code.CodeValue, code.CodingSchemeDesignator


def _numbers(report) -> dict:
    found = {}
    for item in content_items(report):
        if item.ValueType == "NUM":
            measured = item.MeasuredValueSequence[0]
            unit = measured.MeasurementUnitsCodeSequence[0]
            found[_code(item)] = (float(measured.NumericValue), unit.CodeValue, unit.CodingSchemeDesignator)
    return found


def test_report_carries_the_measures_with_ucum_units(source, tmp_path):
    original, _, _ = source
    report = measurement_report(RESULT, original)
    back = pydicom.dcmread(write_dataset(report, tmp_path / "sr.dcm"))
    assert back.SOPClassUID == COMPREHENSIVE_SR and back.Modality == "SR"
    assert back.ValueType == "CONTAINER" and back.CompletionFlag == "COMPLETE" and back.VerificationFlag == "UNVERIFIED"
    numbers = _numbers(back)
    assert numbers[("11984-2", "LN")] == (pytest.approx(172.31), "mm", "UCUM")
    assert numbers[("11820-8", "LN")] == (pytest.approx(48.2), "mm", "UCUM")
    assert numbers[("11851-3", "LN")] == (pytest.approx(61.9), "mm", "UCUM")
    assert numbers[("11823-2", "LN")] == (pytest.approx(77.87), "%", "UCUM")
    assert numbers[("HEADSHAPEPROB", "99ORTHOAI")][0] == pytest.approx(91.0)
    assert numbers[("18185-9", "LN")] == (pytest.approx(22.0), "wk", "UCUM")
    texts = {(_code(i), i.TextValue) for i in content_items(back) if i.ValueType == "TEXT"}
    assert (("HEADSHAPE", "99ORTHOAI"), "normal") in texts
    assert (("121071", "DCM"), "hc_below_10th_centile") in texts
    assert any(code == ("121106", "DCM") and "not for clinical use" in text.lower() for code, text in texts)
    assert back.StudyInstanceUID == original.StudyInstanceUID
    evidence = back.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == original.SOPInstanceUID


def test_report_content_tree_is_well_formed(source):
    original, _, _ = source
    report = reread(measurement_report(RESULT, original))
    allowed = {"CONTAINER": {"CONTAINS"}, "NUM": {"INFERRED FROM"}, "SCOORD": {"SELECTED FROM"}}

    def walk(node, value_type):
        for item in node.get("ContentSequence", []):
            assert item.RelationshipType in allowed.get(value_type, set()), (value_type, item.RelationshipType)
            code = item.ConceptNameCodeSequence[0]
            assert code.CodeValue and code.CodingSchemeDesignator and code.CodeMeaning and len(code.CodeValue) <= 16
            if item.ValueType == "TEXT":
                assert item.TextValue
            elif item.ValueType == "IMAGE":
                assert item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == original.SOPInstanceUID
            elif item.ValueType == "SCOORD":
                assert item.GraphicType == "ELLIPSE" and len(item.GraphicData) == 8
                assert [i.ValueType for i in item.ContentSequence] == ["IMAGE"]
            else:
                assert item.ValueType in ("NUM", "TEXT", "IMAGE", "SCOORD"), item.ValueType
            walk(item, item.ValueType)

    walk(report, "CONTAINER")
    hc = next(i for i in content_items(report) if i.ValueType == "NUM" and _code(i) == ("11984-2", "LN"))
    outline = hc.ContentSequence[0]
    points = np.array(outline.GraphicData, float).reshape(4, 2) - 0.5  # DICOM puts pixel centres at +0.5
    assert np.linalg.norm(points[1] - points[0]) == pytest.approx(2 * 160.0, abs=1e-3)  # major axis
    assert np.linalg.norm(points[3] - points[2]) == pytest.approx(2 * 124.6, abs=1e-3)
    assert points.mean(axis=0) == pytest.approx([400.0, 280.0], abs=1e-3)  # FL: single precision


def test_report_without_a_source_or_a_head(tmp_path):
    refused = {"status": "no_head", "head_found": False, "message": "no fetal head found; nothing was measured",
               "hc_mm": None, "bpd_mm": None, "ofd_mm": None, "cephalic_index": None, "ellipse": None, "class": None,
               "class_probabilities": {}, "flags": [], "pixel_size_mm": None, "growth": None}
    back = pydicom.dcmread(write_dataset(measurement_report(refused), tmp_path / "sr.dcm"))
    assert not _numbers(back)
    texts = [i.TextValue for i in content_items(back) if i.ValueType == "TEXT"]
    assert "no_head" in texts and refused["message"] in texts
    assert "CurrentRequestedProcedureEvidenceSequence" not in back
    assert back.StudyInstanceUID and back.PatientName == ""


def test_phantom_still_has_a_fan_a_skull_ring_and_a_calibrated_dicom(tmp_path):
    pixels, ellipse, pixel_size = make_fetal_still(5)
    assert pixels.shape == (540, 800) and pixels.dtype == np.uint8 and 0.1 <= pixel_size <= 0.25
    assert pixels[0, 0] == 0 and pixels[0, -1] == 0 and pixels[300, 400] > 0  # black outside the fan
    assert ellipse.inside_image(pixels.shape) and ellipse.semi_axes_px[0] >= ellipse.semi_axes_px[1]
    ring = ellipse.outline(360).round().astype(int)
    inside = type(ellipse)(ellipse.center_px, tuple(0.6 * v for v in ellipse.semi_axes_px), ellipse.angle_deg)
    brain = inside.outline(360).round().astype(int)
    assert pixels[ring[:, 1], ring[:, 0]].mean() > 2 * pixels[brain[:, 1], brain[:, 0]].mean()  # bright skull
    empty, no_head, _ = make_fetal_still(5, head=False)
    assert no_head is None and empty.shape == pixels.shape
    assert np.array_equal(make_fetal_still(5)[0], pixels)  # a seed draws the same still
    rgb = np.repeat(pixels[..., None], 3, axis=-1)
    path = write_us_dicom(tmp_path / "rgb.dcm", rgb, pixel_size)
    dataset = pydicom.dcmread(path)
    assert dataset.SOPClassUID.name == "Ultrasound Image Storage" and dataset.PhotometricInterpretation == "RGB"
    still = read_still(path)
    assert still.image.origin.spacing_source == "SequenceOfUltrasoundRegions" and not still.warnings
    assert np.allclose(still.image.plane, pixels, atol=1)
