"""Write small, valid DICOM CT series with pydicom, with exactly the geometry a test needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

EnhancedCTImageStorage = "1.2.840.10008.5.1.4.1.1.2.1"


def _base(series_uid: str, study_uid: str, rows: int, cols: int, description: str,
          patient: str) -> Dataset:
    ds = Dataset()
    ds.PatientName = patient
    ds.PatientID = "TS-0001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyDescription = "Abdomen"
    ds.SeriesDescription = description
    ds.StudyDate = "20240102"
    ds.InstitutionName = "General Hospital"
    ds.ReferringPhysicianName = "Dr^Who"
    ds.AccessionNumber = "A123"
    ds.Modality = "CT"
    ds.SeriesNumber = 3
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    return ds


def _save(ds: Dataset, sop_class: str, path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.save_as(path, enforce_file_format=True)


def write_series(folder: Path, hu: np.ndarray, *, positions=None, spacing=(0.8, 0.7),
                 orientation=(1, 0, 0, 0, 1, 0), series_uid: str | None = None,
                 study_uid: str | None = None, description: str = "Synthetic CT",
                 patient: str = "Doe^Jane", shuffle: bool = True, prefix: str = "img",
                 private: bool = False) -> list[Path]:
    """One file per slice of ``hu`` [slice, row, col]; instance numbers deliberately scrambled."""
    folder.mkdir(parents=True, exist_ok=True)
    n, rows, cols = hu.shape
    ori = np.asarray(orientation, dtype=float)
    normal = np.cross(ori[:3], ori[3:])
    if positions is None:
        positions = [np.array([-100.0, -120.0, 50.0]) + 2.5 * k * normal for k in range(n)]
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    order = np.random.default_rng(0).permutation(n) if shuffle else np.arange(n)
    paths = []
    for k in range(n):
        ds = _base(series_uid, study_uid, rows, cols, description, patient)
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = int(order[k]) + 1  # unrelated to position, on purpose
        ds.ImagePositionPatient = [float(x) for x in positions[k]]
        ds.ImageOrientationPatient = [float(x) for x in ori]
        ds.PixelSpacing = list(spacing)
        ds.SliceThickness = 2.5
        if private:
            block = ds.private_block(0x0029, "ACME Scanner", create=True)
            block.add_new(0x01, "LO", "secret private value")
        ds.PixelData = (hu[k].astype(np.int32) + 1024).clip(0, 65535).astype("<u2").tobytes()
        path = folder / f"{prefix}{order[k]:04d}.dcm"
        _save(ds, CTImageStorage, path)
        paths.append(path)
    return paths


def write_time_series(folder: Path, frames: list[np.ndarray], uid: str, step_ms: float, *,
                      description: str = "dynamic", prefix: str = "t{}_",
                      count: bool = False) -> list[list[Path]]:
    """A classic time series: the volumes ``frames`` one file per slice, all in Series
    ``uid`` (study ``uid.1``), with TemporalPositionIdentifier 1.. and TriggerTime ``step_ms``
    apart (and, with ``count``, NumberOfTemporalPositions). Each time point's files."""
    out = []
    for t, hu in enumerate(frames):
        paths = write_series(folder, hu, series_uid=uid, study_uid=uid + ".1",
                             prefix=prefix.format(t), description=description)
        for p in paths:
            ds = pydicom.dcmread(p)
            ds.TemporalPositionIdentifier = t + 1
            if count:
                ds.NumberOfTemporalPositions = len(frames)
            ds.TriggerTime = step_ms * t
            ds.save_as(p)
        out.append(paths)
    return out


def write_enhanced(path: Path, hu: np.ndarray, *, spacing=(0.8, 0.7), step=2.0) -> Path:
    """One Enhanced CT multi-frame file; frames stored in reverse order of position."""
    n, rows, cols = hu.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = _base(generate_uid(), generate_uid(), rows, cols, "Enhanced CT", "Doe^Jane")
    ds.SOPInstanceUID = generate_uid()
    ds.NumberOfFrames = n
    del ds.RescaleSlope, ds.RescaleIntercept
    shared = Dataset()
    po, pm, pv = Dataset(), Dataset(), Dataset()
    po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    pm.PixelSpacing = list(spacing)
    pm.SliceThickness = step
    pv.RescaleSlope, pv.RescaleIntercept, pv.RescaleType = 1, -1024, "HU"
    shared.PlaneOrientationSequence = [po]
    shared.PixelMeasuresSequence = [pm]
    shared.PixelValueTransformationSequence = [pv]
    ds.SharedFunctionalGroupsSequence = [shared]
    per = []
    for k in range(n):
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [0.0, 0.0, float((n - 1 - k) * step)]
        item.PlanePositionSequence = [pos]
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = per
    frames = hu[::-1]  # frame k sits at z = (n-1-k)*step
    ds.PixelData = (frames.astype(np.int32) + 1024).astype("<u2").tobytes()
    _save(ds, EnhancedCTImageStorage, path)
    return path
