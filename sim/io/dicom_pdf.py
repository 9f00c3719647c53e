"""PDF reports (plan, inspection, rehearsal) as DICOM Encapsulated PDF in the patient's study.

The patient and study attributes are copied from an image of the study, so the PACS files
the report next to the images; the report gets its own series (modality DOC). The PDF's
bytes are stored unchanged and marked as showing identifying text (BurnedInAnnotation YES):
de-identification refuses it unless told otherwise, which is right for a report that may
print the patient's name.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from sim import __version__
from sim.errors import FileFormatError, InputError

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
MAX_PDF = 512 << 20
PATIENT_STUDY = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate",
                 "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
                 "ReferringPhysicianName", "AccessionNumber", "StudyDescription")


def _study_dataset(study_of: Path) -> Any:
    import pydicom

    from sim.io.dicom_scan import quiet_pydicom

    quiet_pydicom()
    files = [study_of] if study_of.is_file() else sorted(
        p for p in study_of.rglob("*") if p.is_file())
    for f in files[:2000]:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:  # not DICOM: look further
            continue
        if ds.get("StudyInstanceUID"):
            return ds
    raise InputError(f"No DICOM file with a Study Instance UID under '{study_of}': give an "
                     "image of the patient's study.")


def encapsulate_pdf(pdf: str | Path, study_of: str | Path, out: str | Path,
                    title: str = "Twinsight report", series_description: str = "Reports"
                    ) -> dict[str, Any]:
    """Write ``pdf`` as an Encapsulated PDF instance in the study of ``study_of`` at ``out``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from sim.model.atomic import write_file_atomic

    pdf = Path(pdf)
    try:
        size = pdf.stat().st_size
        if size > MAX_PDF:
            raise FileFormatError(pdf, f"it is larger than {MAX_PDF >> 20} MB")
        data = pdf.read_bytes()
    except OSError as exc:
        raise FileFormatError(pdf, exc.strerror or str(exc)) from None
    if not data.startswith(b"%PDF-"):
        raise FileFormatError(pdf, "it is not a PDF document")
    src = _study_dataset(Path(study_of))
    now = _dt.datetime.now()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = ENCAPSULATED_PDF, generate_uid()
    for keyword in PATIENT_STUDY:
        if keyword in src:
            setattr(ds, keyword, src.data_element(keyword).value)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                    "StudyTime", "StudyID", "ReferringPhysicianName", "AccessionNumber"):
        if keyword not in ds:
            setattr(ds, keyword, None)  # type 2: present, may be empty
    ds.Modality = "DOC"
    ds.SeriesInstanceUID, ds.SeriesNumber = generate_uid(), 901
    ds.SeriesDescription = series_description[:64]
    ds.Manufacturer = "Twinsight"
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"  # workstation
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = title[:64]
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(data)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ENCAPSULATED_PDF, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    out = Path(out)
    write_file_atomic(out, lambda fh: ds.save_as(fh, enforce_file_format=True))
    return {"output": str(out), "study_uid": str(ds.StudyInstanceUID),
            "series_uid": str(ds.SeriesInstanceUID), "bytes": len(data), "title": ds.DocumentTitle}


def extract_pdf(path: str | Path) -> bytes:
    """The PDF inside an Encapsulated PDF instance (its recorded length, padding removed)."""
    import pydicom

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
        data = bytes(ds.EncapsulatedDocument)
    except Exception as exc:  # any reading failure: one sentence
        raise FileFormatError(path, f"it is not an encapsulated document ({exc})") from None
    length = ds.get("EncapsulatedDocumentLength")
    return data[:int(length)] if length else data.rstrip(b"\0")
