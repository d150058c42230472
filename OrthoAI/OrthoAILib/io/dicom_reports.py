"""DICOM objects of the fetal flow: de-identified copies of incoming stills, the heatmap overlay as a
Secondary Capture, and the measures as a Comprehensive Structured Report.

* ``deidentify`` keeps what the analysis needs (pixels, modality, the ultrasound regions that give
  the pixel size, ``PixelSpacing``) and removes or blanks what names a patient, a clinician or a
  site, dates included. UIDs are replaced by hashes of the original salted with a secret, so the
  stills of one study stay together without the original UIDs being recoverable. Burned-in text
  in the pixels is not touched: that is why it keeps ``BurnedInAnnotation`` for the reader.
* ``secondary_capture`` and ``measurement_report`` are filed in the source still's study (same
  patient module and study UID) when a source is given, so a PACS shows them next to the still.
  The Secondary Capture's modality is ``OT``: a listener that analyses ultrasound (``US``) only
  never analyses its own heatmaps when the two are chained.
* The report uses the LOINC codes of DICOM's fetal biometry context groups (CID 12005/12006) for
  HC, BPD, OFD and the cephalic index, UCUM units, and says that it is for research only. It does
  not claim conformance to the OB-GYN template (TID 5000).

Only pydicom is needed; every object is written in the DICOM file format (explicit VR little endian).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import secrets
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
MANUFACTURER = "OrthoAI"
NOT_FOR_CLINICAL_USE = "Research only; not for clinical use. Measures made automatically, not verified by a clinician."
PRIVATE_SCHEME = "99ORTHOAI"  # a private coding scheme (the "99" prefix is reserved for them)

# Attributes that must stay present in the image IODs (type 2) but may be empty.
BLANKED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "ReferringPhysicianName", "StudyID",
           "AccessionNumber", "StudyDate", "StudyTime", "ContentDate", "ContentTime")
# Attributes that identify someone or somewhere, removed wherever they appear (besides every name,
# date and time, which are removed by value representation).
REMOVED = frozenset((
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName",
    "PatientBirthTime", "PatientAge", "PatientSize", "PatientWeight", "PatientAddress", "PatientTelephoneNumbers",
    "PatientComments", "PatientState", "PatientReligiousPreference", "EthnicGroup", "Occupation", "MilitaryRank",
    "BranchOfService", "CountryOfResidence", "RegionOfResidence", "MedicalRecordLocator", "MedicalAlerts", "Allergies",
    "AdditionalPatientHistory", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence", "InsurancePlanIdentification",
    "ResponsiblePerson", "ResponsibleOrganization", "AdmissionID", "CurrentPatientLocation", "PatientInstitutionResidence",
    "VisitComments", "ReasonForStudy", "InstitutionName", "InstitutionAddress", "InstitutionCodeSequence",
    "InstitutionalDepartmentName", "InstitutionalDepartmentTypeCodeSequence", "StationName", "DeviceSerialNumber",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers", "ReferringPhysicianIdentificationSequence",
    "PhysiciansOfRecordIdentificationSequence", "PerformingPhysicianIdentificationSequence",
    "PhysiciansReadingStudyIdentificationSequence", "OperatorIdentificationSequence", "RequestingService",
    "RequestAttributesSequence", "ReferencedPatientSequence", "ReferencedStudySequence",
    "ReferencedPerformedProcedureStepSequence", "PerformedProcedureStepID", "PerformedProcedureStepDescription",
    "PerformedStationName", "PerformedLocation", "RequestedProcedureID", "RequestedProcedureDescription",
    "ScheduledProcedureStepID", "FillerOrderNumberImagingServiceRequest", "PlacerOrderNumberImagingServiceRequest",
    "StudyDescription", "SeriesDescription", "ProtocolName", "ImageComments", "FrameComments", "StudyComments",
    "AcquisitionComments", "TextComments", "DerivationDescription", "ContentSequence",
))
KEPT_UIDS = frozenset(("SOPClassUID", "ReferencedSOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID",
                       "ImplementationClassUID", "CodingSchemeUID", "ContextGroupExtensionCreatorUID"))
DEIDENTIFICATION_METHOD = "OrthoAI: identifiers, dates, private tags removed; UIDs replaced"  # LO: 64 characters

_PROCESS_SALT = secrets.token_hex(16)


# -- de-identification ---------------------------------------------------------------------------------
def deidentify(dataset, *, uid_salt: Optional[str] = None):
    """A de-identified copy of ``dataset`` (pydicom ``Dataset``; the original is untouched).

    ``uid_salt``: the secret that UIDs are hashed with (default: one per process). The same salt
    gives the same new UID for the same original, so a study's stills stay one study.
    """
    from pydicom.dataset import FileMetaDataset

    ds = copy.deepcopy(dataset)
    ds.remove_private_tags()
    salt = uid_salt or _PROCESS_SALT
    _clean(ds, salt, top_level=True)
    for keyword in BLANKED:
        setattr(ds, keyword, "")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = EXPLICIT_VR_LITTLE_ENDIAN
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle", "ReceivingApplicationEntityTitle",
                    "PrivateInformationCreatorUID", "PrivateInformation"):
        if keyword in meta:
            delattr(meta, keyword)
    ds.file_meta = meta
    return ds


def new_uid(original: str, salt: str) -> str:
    """The replacement of ``original``: a UID derived from it and the secret ``salt``."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=[salt, str(original)]))


def _clean(ds, salt: str, top_level: bool) -> None:
    """Remove identifying elements of ``ds`` and its sequence items; replace instance UIDs."""
    from pydicom.uid import UID

    for tag in list(ds.keys()):
        element = ds[tag]
        group = tag >> 16
        if 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:  # curves and overlays (may hold text)
            del ds[tag]
            continue
        keyword, vr = element.keyword, element.VR
        if top_level and keyword in BLANKED:
            continue  # blanked after
        if keyword in REMOVED or vr in ("PN", "DA", "DT", "TM"):
            del ds[tag]
        elif vr == "SQ":
            for item in element.value or []:
                _clean(item, salt, top_level=False)
        elif vr == "UI" and keyword not in KEPT_UIDS and element.value:
            values = element.value if element.VM > 1 else [element.value]
            replaced = [v if UID(str(v)).name != str(v) else new_uid(v, salt) for v in values]  # standard UIDs stay
            element.value = replaced if element.VM > 1 else replaced[0]


# -- shared by the derived objects ---------------------------------------------------------------------
PATIENT_AND_STUDY = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
                     "PatientIdentityRemoved", "DeidentificationMethod", "StudyInstanceUID", "StudyDate", "StudyTime",
                     "ReferringPhysicianName", "StudyID", "AccessionNumber", "StudyDescription")


def _derived(sop_class: str, source, modality: str, series_number: int, series_description: str):
    """A dataset with the patient and study of ``source`` (or empty ones), a new series and instance."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    from .. import __version__

    now = dt.datetime.now()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = EXPLICIT_VR_LITTLE_ENDIAN
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    ds.InstanceCreationDate, ds.InstanceCreationTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "StudyID", "AccessionNumber"):
        setattr(ds, keyword, "")  # type 2: present, empty when unknown
    ds.StudyInstanceUID = generate_uid()
    if source is not None:
        for keyword in PATIENT_AND_STUDY:
            if keyword in source:
                setattr(ds, keyword, copy.deepcopy(source[keyword].value))
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = modality, generate_uid(), series_number
    ds.SeriesDescription, ds.InstanceNumber = series_description, 1
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.Manufacturer, ds.ManufacturerModelName = MANUFACTURER, "fetal head analysis"
    ds.SoftwareVersions = str(__version__)
    return ds


def _reference(source) -> Optional[Any]:
    """An item of ``ReferencedSOPSequence`` naming ``source``, or None when it has no SOP identity."""
    from pydicom.dataset import Dataset

    if source is None or "SOPClassUID" not in source or "SOPInstanceUID" not in source:
        return None
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = source.SOPClassUID, source.SOPInstanceUID
    return item


# -- secondary capture -------------------------------------------------------------------------------------
def secondary_capture(rgb_uint8: np.ndarray, source=None, *, series_number: int = 9901,
                      description: str = "OrthoAI head-shape heatmap (research only)"):
    """A Secondary Capture Image of ``rgb_uint8`` (rows × columns × 3), e.g. the fused heatmap."""
    rgb = np.ascontiguousarray(rgb_uint8)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"a secondary capture needs rows × columns × 3 uint8 pixels, not {rgb.dtype} {rgb.shape}")
    ds = _derived(SECONDARY_CAPTURE, source, "OT", series_number, description)
    ds.ConversionType = "WSD"  # workstation
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ""
    ds.DerivationDescription = f"Grad-CAM heatmap of the head-shape class fused onto the still. {NOT_FOR_CLINICAL_USE}"
    ds.ImageComments = NOT_FOR_CLINICAL_USE
    burned = str(source.get("BurnedInAnnotation", "")).upper() if source is not None else ""
    ds.BurnedInAnnotation = "YES" if burned == "YES" else "NO"  # the still's own text is in the fused pixels
    reference = _reference(source)
    if reference is not None:
        ds.SourceImageSequence = [reference]
    ds.Rows, ds.Columns = int(rgb.shape[0]), int(rgb.shape[1])
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.LossyImageCompression = "00"
    ds.PixelData = rgb.tobytes()
    return ds


# -- structured report -------------------------------------------------------------------------------------
def _code(value: str, scheme: str, meaning: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


TITLE = ("125000", "DCM", "OB-GYN Ultrasound Procedure Report")
CODES = {
    "hc_mm": ("11984-2", "LN", "Head Circumference"),
    "bpd_mm": ("11820-8", "LN", "Biparietal Diameter"),
    "ofd_mm": ("11851-3", "LN", "Occipital-Frontal Diameter"),
    "cephalic_index": ("11823-2", "LN", "Cephalic Index"),
    "ga_weeks": ("18185-9", "LN", "Gestational Age"),
    "hc_z_score": ("HCZSCORE", PRIVATE_SCHEME, "Head circumference z-score"),
    "hc_centile": ("HCCENTILE", PRIVATE_SCHEME, "Head circumference centile"),
    "class": ("HEADSHAPE", PRIVATE_SCHEME, "Fetal head shape class"),
    "class_probability": ("HEADSHAPEPROB", PRIVATE_SCHEME, "Probability of the head shape class"),
    "status": ("STATUS", PRIVATE_SCHEME, "Analysis status"),
    "pixel_size": ("PIXELSIZE", PRIVATE_SCHEME, "Pixel size used"),
    "flag": ("121071", "DCM", "Finding"),
    "comment": ("121106", "DCM", "Comment"),
    "algorithm": ("111001", "DCM", "Algorithm Name"),
    "algorithm_version": ("111003", "DCM", "Algorithm Version"),
    "source": ("121112", "DCM", "Source of Measurement"),
    "outline": ("121055", "DCM", "Path"),
}
UNITS = {"mm": ("mm", "UCUM", "millimeter"), "%": ("%", "UCUM", "percent"), "wk": ("wk", "UCUM", "week"),
         "1": ("1", "UCUM", "no units")}


def _item(relationship: str, value_type: str, concept: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    item.ConceptNameCodeSequence = [_code(*CODES[concept])]
    return item


def _text(concept: str, text: str, relationship: str = "CONTAINS"):
    item = _item(relationship, "TEXT", concept)
    item.TextValue = str(text)
    return item


def _num(concept: str, value: float, unit: str, relationship: str = "CONTAINS"):
    from pydicom.dataset import Dataset

    item = _item(relationship, "NUM", concept)
    measured = Dataset()
    measured.NumericValue = f"{float(value):.6g}"  # DS: at most 16 characters
    measured.FloatingPointValue = float(value)
    measured.MeasurementUnitsCodeSequence = [_code(*UNITS[unit])]
    item.MeasuredValueSequence = [measured]
    return item


def _image(concept: str, reference, relationship: str):
    item = _item(relationship, "IMAGE", concept)
    item.ReferencedSOPSequence = [copy.deepcopy(reference)]
    return item


def _outline(ellipse: dict, reference):
    """The head ellipse as an SCOORD ELLIPSE on the source still (major-axis ends, then minor-axis ends).

    DICOM image coordinates put the top-left pixel's centre at (0.5, 0.5); the pipeline puts it at (0, 0)."""
    import math

    (cx, cy), (a, b), angle = ellipse["center_px"], ellipse["semi_axes_px"], math.radians(ellipse["angle_deg"])
    ux, uy, vx, vy = math.cos(angle), math.sin(angle), -math.sin(angle), math.cos(angle)
    ends = [(cx - a * ux, cy - a * uy), (cx + a * ux, cy + a * uy), (cx - b * vx, cy - b * vy), (cx + b * vx, cy + b * vy)]
    item = _item("INFERRED FROM", "SCOORD", "outline")
    item.GraphicType = "ELLIPSE"
    item.GraphicData = [float(v) + 0.5 for point in ends for v in point]
    item.ContentSequence = [_image("source", reference, "SELECTED FROM")]
    return item


def _measure_items(result: dict, reference) -> list:
    items = []
    outline = _outline(result["ellipse"], reference) if reference is not None and result.get("ellipse") else None
    for key, unit in (("hc_mm", "mm"), ("bpd_mm", "mm"), ("ofd_mm", "mm"), ("cephalic_index", "%")):
        if result.get(key) is not None:
            item = _num(key, result[key], unit)
            if outline is not None:
                item.ContentSequence = [copy.deepcopy(outline)]
            items.append(item)
    growth = result.get("growth") or {}
    for key, unit in (("ga_weeks", "wk"), ("hc_z_score", "1"), ("hc_centile", "%")):
        if growth.get(key) is not None:
            items.append(_num(key, growth[key], unit))
    if result.get("class"):
        items.append(_text("class", result["class"]))
        probability = (result.get("class_probabilities") or {}).get(result["class"])
        if probability is not None:
            items.append(_num("class_probability", 100.0 * float(probability), "%"))
    return items


def measurement_report(result_json: dict, source=None, *, series_number: int = 9902):
    """A Comprehensive SR of one analysed still (``FetalAnalysis.to_json()``), in ``source``'s study."""
    from pydicom.dataset import Dataset

    from .. import __version__

    ds = _derived(COMPREHENSIVE_SR, source, "SR", series_number, "OrthoAI fetal head measures (research only)")
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.PerformedProcedureCodeSequence = []
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = [_code(*TITLE)]
    reference = _reference(source)
    content = [_text("algorithm", "OrthoAI fetal head segmentation and head-shape classification"),
               _text("algorithm_version", str(__version__)),
               _text("status", result_json.get("status", "unknown"))]
    if reference is not None:
        content.append(_image("source", reference, "CONTAINS"))
        evidence_series = Dataset()
        evidence_series.SeriesInstanceUID = source.SeriesInstanceUID
        evidence_series.ReferencedSOPSequence = [copy.deepcopy(reference)]
        evidence = Dataset()
        evidence.StudyInstanceUID = source.StudyInstanceUID
        evidence.ReferencedSeriesSequence = [evidence_series]
        ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    pixel_size = result_json.get("pixel_size_mm")
    if pixel_size:
        content.append(_num("pixel_size", float(pixel_size[0]), "mm"))
    content += _measure_items(result_json, reference)
    content += [_text("flag", flag) for flag in result_json.get("flags") or []]
    if result_json.get("message"):
        content.append(_text("comment", result_json["message"]))
    content.append(_text("comment", NOT_FOR_CLINICAL_USE))
    ds.ContentSequence = content
    return ds


# -- writing -----------------------------------------------------------------------------------------------
def dataset_bytes(ds) -> bytes:
    """``ds`` encoded in the DICOM file format (preamble, file meta, data set)."""
    import pydicom

    buffer = io.BytesIO()
    if int(pydicom.__version__.split(".")[0]) >= 3:
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    else:  # pydicom 2 (older Slicer installs)
        ds.is_little_endian, ds.is_implicit_VR = True, False
        pydicom.dcmwrite(buffer, ds, write_like_original=False)
    return buffer.getvalue()


def write_dataset(ds, path: str | Path) -> Path:
    """``ds`` written to ``path`` in the DICOM file format."""
    path = Path(path)
    path.write_bytes(dataset_bytes(ds))
    return path


def content_items(ds) -> Iterable:
    """Every content item of a structured report, depth first (for readers and checks)."""
    for item in ds.get("ContentSequence", []) or []:
        yield item
        yield from content_items(item)
