"""Writing a CT volume as a DICOM series (one CT Image Storage file per slice), as a scanner
exports it: stored values with a rescale intercept of -1024 (unsigned 16 bit), patient position and
orientation from the volume's geometry, optionally a gantry tilt (the slices' positions sheared
along the rows, as a tilted acquisition stores them, and the tilt in Gantry/Detector Tilt)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..geometry import ImageGeometry

_LPS = np.diag([-1.0, -1.0, 1.0])


def write_ct_series(folder: str | Path, hu: np.ndarray, geometry: ImageGeometry, *, modality: str = "CT",
                    tilt_degrees: float = 0.0, patient_id: str = "PHANTOM-CT", description: str = "OrthoAI phantom CT",
                    study_uid: Optional[str] = None) -> list[Path]:
    """``hu`` (KJI, Hounsfield units) as ``folder/CT0001.dcm``…; returns the files, first slice first."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    directions = _LPS @ np.asarray(geometry.directions)  # columns: I, J, K in LPS
    origin = _LPS @ np.asarray(geometry.origin)
    spacing = np.asarray(geometry.spacing)
    row_direction, column_direction = directions[:, 0], directions[:, 1]
    shear = np.tan(np.deg2rad(tilt_degrees)) * spacing[2]  # mm along the columns per slice
    study, series, frame = study_uid or generate_uid(), generate_uid(), generate_uid()
    stored = np.clip(np.round(hu) + 1024, 0, 65535).astype(np.uint16)
    paths = []
    for k in range(hu.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"CT{k + 1:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Phantom^CT", patient_id, "", "O"
        ds.StudyDate = ds.SeriesDate = "20260101"
        ds.StudyTime = ds.SeriesTime = "120000"
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, k + 1
        ds.SeriesDescription, ds.Manufacturer = description, "OrthoAI phantom"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [float(v) for v in np.concatenate([row_direction, column_direction])]
        position = origin + directions[:, 2] * spacing[2] * k + column_direction * shear * k
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.SliceLocation = float(position[2])
        ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]
        ds.SliceThickness = float(spacing[2])
        ds.GantryDetectorTilt = float(tilt_degrees)
        ds.KVP, ds.PatientPosition = 120, "HFS"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = int(hu.shape[1]), int(hu.shape[2])
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 400, 1800
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        ds.save_as(str(path), enforce_file_format=True)
        paths.append(path)
    return paths
