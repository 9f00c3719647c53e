"""Find DICOM images in a folder tree and group them into series.

A series is the files sharing a Series Instance UID *and* an image geometry
(orientation, rows, columns): one UID holding e.g. an axial and a sagittal stack
is split in two, and several series in one folder are told apart. Only headers
are read here; pixels are decoded when a series is loaded.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import FileFormatError
from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from pydicom import Dataset

HEADER_TAGS = [
    "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID", "SeriesNumber", "Modality",
    "PatientName", "PatientID", "StudyDescription", "SeriesDescription", "StudyDate",
    "Rows", "Columns", "ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing",
    "SliceThickness", "SpacingBetweenSlices", "NumberOfFrames", "InstanceNumber",
    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "GridFrameOffsetVector",
    "SamplesPerPixel", "BitsAllocated", "PixelData", "FloatPixelData", "DoubleFloatPixelData",
]
MAX_FILES = 200_000
MAX_RATIO = 2000  # decoded/compressed pixel bytes beyond which a file's frame count is a lie
MAX_DECODED = 1 << 30  # ... unless the decoded frames fit in this anyway


def quiet_pydicom() -> None:
    """Real-world files break the standard in small ways; pydicom copes, so keep it quiet."""
    import logging
    import warnings

    import pydicom

    # pydicom logs every failed decoder plugin with its traceback at ERROR level; the
    # reader turns the failure into one sentence, so keep all of that off stderr.
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module=r"pydicom\..*")
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE


@dataclass
class Frame:
    """One 2D image: a frame of a file (index None for single-frame files)."""

    path: Path
    index: int | None
    position: np.ndarray | None  # Image Position (Patient), mm
    orientation: np.ndarray | None  # row and column direction cosines (6)
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing), mm


@dataclass
class Series:
    uid: str
    number: int
    modality: str
    patient: str
    study: str
    description: str
    rows: int
    columns: int
    frames: list[Frame] = field(default_factory=list)
    sub: int = 0  # >0 when one UID was split by geometry
    id: str = ""  # short handle shown to users: "1", "2", ...

    @property
    def files(self) -> list[Path]:
        return sorted({f.path for f in self.frames})

    def summary(self) -> dict[str, Any]:
        spacing = self.frames[0].pixel_spacing or (None, None)
        slice_gap = None
        positions = [f.position for f in self.frames if f.position is not None]
        ori = self.frames[0].orientation
        if len(positions) > 1 and ori is not None:
            normal = np.cross(ori[:3], ori[3:])
            proj = np.sort([float(p @ normal) for p in positions])
            gaps = np.diff(proj)
            slice_gap = round(float(np.median(gaps)), 4) if len(gaps) else None
        return {
            "id": self.id, "series_uid": self.uid, "series_number": self.number,
            "modality": self.modality, "patient": self.patient, "study": self.study,
            "description": self.description, "files": len(self.files), "frames": len(self.frames),
            "size": [self.columns, self.rows, len(self.frames)],
            "spacing_mm": [spacing[1], spacing[0], slice_gap],
        }


def _floats(value, n: int) -> np.ndarray | None:
    try:
        arr = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (n,) and np.isfinite(arr).all() else None


def _group_value(ds, seq: str, item: str, attr: str, frame: int | None = None):
    """An attribute from a functional group (per-frame first, then shared)."""
    if frame is not None and seq == "per" and "PerFrameFunctionalGroupsSequence" in ds:
        groups = ds.PerFrameFunctionalGroupsSequence
        if frame < len(groups) and item in groups[frame]:
            return getattr(getattr(groups[frame], item)[0], attr, None)
    if "SharedFunctionalGroupsSequence" in ds:
        shared = ds.SharedFunctionalGroupsSequence[0]
        if item in shared:
            return getattr(getattr(shared, item)[0], attr, None)
    return None


def frame_limit(path: Path, ds: Dataset) -> int:
    """The most frames the file can hold: native pixel data holds rows x columns samples per
    frame, and each compressed frame needs at least one 8-byte fragment item."""
    size = path.stat().st_size
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    bits = int(ds.get("BitsAllocated", 0) or 0)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    frame_bytes = rows * cols * max(samples, 1) * bits // 8
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    native = syntax in ("", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")
    if native and frame_bytes > 0:
        return size // frame_bytes
    limit = size // 8
    if frame_bytes > 0:  # decoded frames are allocated up front: bound that by the file too
        limit = min(limit, max(MAX_RATIO * size, MAX_DECODED) // frame_bytes)
    return max(limit, 1)


def frames_of(path: Path, ds: Dataset) -> list[Frame]:
    """The 2D frames a file holds, with their geometry."""
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if n < 1 or n > frame_limit(path, ds):
        raise FileFormatError(path, f"it claims {n} frame(s) of {ds.get('Rows')} x "
                                    f"{ds.get('Columns')} pixels, more than the file can hold")
    if n > 1 or "PerFrameFunctionalGroupsSequence" in ds:
        frames = []
        offsets = ds.get("GridFrameOffsetVector")  # RT dose and some legacy multi-frame files
        base = _floats(ds.get("ImagePositionPatient"), 3)
        base_ori = _floats(ds.get("ImageOrientationPatient"), 6)
        for i in range(n):
            pos = _floats(_group_value(ds, "per", "PlanePositionSequence", "ImagePositionPatient", i) or [], 3)
            ori = _floats(_group_value(ds, "per", "PlaneOrientationSequence",
                                       "ImageOrientationPatient", i) or [], 6)
            spacing = _floats(_group_value(ds, "per", "PixelMeasuresSequence", "PixelSpacing", i) or [], 2)
            ori = ori if ori is not None else base_ori
            if pos is None and base is not None and ori is not None and offsets is not None \
                    and len(offsets) == n:
                pos = base + float(offsets[i]) * np.cross(ori[:3], ori[3:])
            if spacing is None:
                spacing = _floats(ds.get("PixelSpacing"), 2)
            frames.append(Frame(path, i, pos, ori, tuple(spacing) if spacing is not None else None))
        return frames
    spacing = _floats(ds.get("PixelSpacing"), 2)
    return [Frame(path, None, _floats(ds.get("ImagePositionPatient"), 3),
                  _floats(ds.get("ImageOrientationPatient"), 6),
                  tuple(spacing) if spacing is not None else None)]


def read_header(path: Path) -> Dataset | None:
    """The header of a DICOM image file, or None if the file is not a DICOM image."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    quiet_pydicom()
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=False, specific_tags=HEADER_TAGS, defer_size=64)
    except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, EOFError,
            AttributeError, IndexError, OverflowError):
        return None
    if not any(t in ds for t in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        return None  # reports, structure sets, plans: not images
    return ds


def why_not_image(path: Path) -> str:
    """Why :func:`read_header` refused ``path``, in plain words (for a file the user named)."""
    import pydicom

    quiet_pydicom()
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - any failure means the header itself is unreadable
        return "it is not a DICOM image"
    if not int(ds.get("Rows", 0) or 0):
        return "it is a DICOM file without an image (a report, structure set or plan?)"
    try:
        with open(path, "rb") as fh:
            has_pixels = b"\xe0\x7f\x10\x00" in fh.read()
    except OSError:
        has_pixels = False
    if has_pixels:
        return "it is truncated: the file ends before its pixel data does"
    return "it is a DICOM header without pixel data"


def _candidates(folder: Path):
    """Regular files under ``folder`` (links to regular files too): a FIFO, socket or device
    among them would block or never end, so those are skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.upper() == "DICOMDIR":
                continue
            path = Path(root) / name
            try:
                if not stat.S_ISREG(path.stat().st_mode):
                    continue
            except OSError:
                continue
            yield path


def scan_folder(folder: str | Path, progress: Progress = no_progress) -> list[Series]:
    """All image series under ``folder``, largest first; ids "1", "2", ... in that order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileFormatError(folder, "it is not a folder")
    paths = []
    for p in _candidates(folder):
        paths.append(p)
        if len(paths) > MAX_FILES:
            raise FileFormatError(folder, f"it holds more than {MAX_FILES} files")
    groups: dict[tuple, Series] = {}
    for i, path in enumerate(paths):
        if i % 16 == 0:
            progress(i / max(len(paths), 1), f"Scanning {path.name}")
        ds = read_header(path)
        if ds is None:
            continue
        try:
            rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
            frames = frames_of(path, ds)
        except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError,
                OSError):
            continue  # an unparseable header is not an image we can place
        if rows <= 0 or cols <= 0:
            continue
        uid = str(ds.get("SeriesInstanceUID", "") or "")
        ori = frames[0].orientation
        geometry = (rows, cols, None if ori is None else tuple(np.round(ori, 3)))
        key = (uid, str(ds.get("StudyInstanceUID", "") or ""), geometry)
        series = groups.get(key)
        if series is None:
            try:
                number = int(ds.get("SeriesNumber", 0) or 0)
            except (TypeError, ValueError):
                number = 0
            series = groups[key] = Series(
                uid=uid, number=number, modality=str(ds.get("Modality", "") or ""),
                patient=str(ds.get("PatientName", "") or ""),
                study=str(ds.get("StudyDescription", "") or ""),
                description=str(ds.get("SeriesDescription", "") or ""), rows=rows, columns=cols)
        series.frames.extend(frames)
    progress(1.0, "Scan complete")
    result = sorted(groups.values(), key=lambda s: (-len(s.frames), s.number, s.uid))
    per_uid: dict[str, int] = {}
    for s in result:
        per_uid[s.uid] = per_uid.get(s.uid, 0) + 1
        if sum(1 for t in result if t.uid == s.uid) > 1:
            s.sub = per_uid[s.uid]
    for i, s in enumerate(result, 1):
        s.id = str(i)
    return result
