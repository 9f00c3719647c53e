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
    "ImageType", "AcquisitionMatrix", "AcquisitionNumber", "EchoNumbers",
    "TemporalPositionIdentifier", "PhotometricInterpretation", "TriggerTime",
    "FrameReferenceTime", "AcquisitionTime", "AcquisitionDateTime",
    0x0019100A, 0x00191015, 0x00290010, 0x00291010,  # Siemens: mosaic count, CSA image header
]
MOSAIC_CSA_LIMIT = 1 << 20  # bytes of CSA header parsed at most
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
    tile: int | None = None  # Siemens mosaic: which tile of the image (rows x columns below)
    tile_shape: tuple[int, int] | None = None
    volume: tuple = ()  # what tells volumes of one series apart (acquisition, echo, ...)
    times: tuple = ()  # candidate times, s: (trigger, frame reference, acquisition clock)


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
    sub: int = 0  # >0 when one UID was split by geometry or into volumes
    volume: str = ""  # what sets this volume apart in a multi-volume series ("acquisition 2")
    id: str = ""  # short handle shown to users: "1", "2", ... ("3.2": time point 2 of 3)
    time_group: tuple | None = None  # volumes of one time series share this
    time_index: int = 0  # 0-based place in its time series
    group_id: str = ""  # the time series' own handle ("3")

    def time(self, source: int) -> float | None:
        """When this volume was taken by time ``source`` (an index into ``Frame.times``):
        the earliest of its frames, s; None if a frame lacks it."""
        times = [f.times[source] if len(f.times) > source else None for f in self.frames]
        return None if not times or any(t is None for t in times) else min(times)

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
            "description": self.description, "volume": self.volume,
            "files": len(self.files), "frames": len(self.frames),
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
    if samples == 3 and str(ds.get("PhotometricInterpretation", "")).upper() == "YBR_FULL_422":
        samples = 2  # chroma at half the columns: two samples per pixel on average
    frame_bytes = rows * cols * max(samples, 1) * bits // 8
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    native = syntax in ("", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")
    if native and frame_bytes > 0:
        return size // frame_bytes
    limit = size // 8
    if frame_bytes > 0:  # decoded frames are allocated up front: bound that by the file too
        limit = min(limit, max(MAX_RATIO * size, MAX_DECODED) // frame_bytes)
    return max(limit, 1)


def csa_values(raw: bytes) -> dict[str, list[str]]:
    """Tags of a Siemens CSA header ("SV10" format, as nibabel's csareader reads it)."""
    out: dict[str, list[str]] = {}
    if not raw.startswith(b"SV10") or len(raw) < 16:
        return out
    raw = raw[:MOSAIC_CSA_LIMIT]
    n_tags = int.from_bytes(raw[8:12], "little")
    pos = 16
    for _ in range(min(n_tags, 512)):
        if pos + 84 > len(raw):
            break
        name = raw[pos:pos + 64].split(b"\0", 1)[0].decode("latin-1")
        n_items = int.from_bytes(raw[pos + 76:pos + 80], "little")
        pos += 84
        values = []
        for _ in range(min(n_items, 1024)):
            if pos + 16 > len(raw):
                return out
            length = int.from_bytes(raw[pos + 4:pos + 8], "little")
            pos += 16
            values.append(raw[pos:pos + length].split(b"\0", 1)[0].decode("latin-1").strip())
            pos += (length + 3) // 4 * 4
        out[name] = [v for v in values if v]
    return out


def _mosaic(path: Path, ds: Dataset) -> tuple[int, int, int, np.ndarray | None] | None:
    """(images, tile rows, tile columns, slice normal or None) of a Siemens mosaic, or None."""
    if "MOSAIC" not in [str(v).upper() for v in (ds.get("ImageType") or [])]:
        return None
    csa = {}
    elem = ds.get(0x00291010)
    if elem is not None and isinstance(elem.value, bytes):
        csa = csa_values(elem.value)
    count = None
    if ds.get(0x0019100A) is not None:
        try:
            count = int(ds[0x0019100A].value)
        except (TypeError, ValueError):
            count = None
    if not count and csa.get("NumberOfImagesInMosaic"):
        count = int(float(csa["NumberOfImagesInMosaic"][0]))
    matrix = [int(v) for v in (ds.get("AcquisitionMatrix") or [0, 0, 0, 0])]
    rows, cols = int(ds.Rows), int(ds.Columns)
    tile_rows, tile_cols = max(matrix[0], matrix[2]), max(matrix[1], matrix[3])
    if not count or count < 1 or not tile_rows or not tile_cols:
        raise FileFormatError(path, "it is a Siemens mosaic without the image count or the "
                                    "acquisition matrix needed to cut it into slices")
    across = int(np.ceil(np.sqrt(count)))
    if rows % across or cols % across:
        raise FileFormatError(path, f"it is a Siemens mosaic of {count} images whose {rows} x "
                                    f"{cols} pixels do not divide into {across} x {across} tiles")
    tile_rows, tile_cols = rows // across, cols // across  # the grid, not the phase matrix
    normal = _floats(csa.get("SliceNormalVector", []), 3)
    return count, tile_rows, tile_cols, normal


def _mosaic_frames(path: Path, ds: Dataset, mosaic) -> list[Frame]:
    """The slices of a Siemens mosaic: positions from the mosaic geometry (the stored Image
    Position is the corner of the whole mosaic), stepping along the slice normal."""
    count, tile_rows, tile_cols, normal = mosaic
    ipp, ori = _floats(ds.get("ImagePositionPatient"), 3), _floats(ds.get("ImageOrientationPatient"), 6)
    spacing = _floats(ds.get("PixelSpacing"), 2)
    if ipp is None or ori is None or spacing is None:
        raise FileFormatError(path, "it is a Siemens mosaic without its position, orientation "
                                    "or pixel spacing")
    row, col = ori[:3], ori[3:]
    first = ipp + col * spacing[0] * (int(ds.Rows) - tile_rows) / 2 \
        + row * spacing[1] * (int(ds.Columns) - tile_cols) / 2
    cross = np.cross(row, col)
    if normal is None or abs(float(np.dot(normal, cross))) < 0.9:
        normal = cross
    step = _floats([ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or 0], 1)
    if step is None or step[0] <= 0:
        raise FileFormatError(path, "it is a Siemens mosaic without a slice spacing")
    normal = normal / np.linalg.norm(normal)
    return [Frame(path, None, first + k * step[0] * normal, ori, tuple(spacing), tile=k,
                  tile_shape=(tile_rows, tile_cols)) for k in range(count)]


def _clock_seconds(value, with_date: bool) -> float | None:
    """Seconds of a DICOM DT ('YYYYMMDDHHMMSS.f') or TM ('HHMMSS.f') value."""
    text = str(value or "").strip().split("+")[0].split("-")[0]
    date_days = 0.0
    if with_date:
        if len(text) < 8 or not text[:8].isdigit():
            return None
        from datetime import date

        try:
            date_days = float(date(int(text[:4]), int(text[4:6]), int(text[6:8])).toordinal())
        except ValueError:
            return None
        text = text[8:]
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or len(whole) < 2:
        return None
    h, m, sec = int(whole[:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
    try:
        return date_days * 86400 + h * 3600 + m * 60 + sec + (float("0." + frac) if frac else 0.0)
    except ValueError:
        return None


def _number(value, scale: float = 1.0) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v * scale if np.isfinite(v) else None


def _times(ds: Dataset) -> tuple:
    """(trigger time, frame reference time, acquisition clock) of a single-frame file, s."""
    clock = _clock_seconds(ds.get("AcquisitionDateTime"), True)
    if clock is None:
        clock = _clock_seconds(ds.get("AcquisitionTime"), False)
    return (_number(ds.get("TriggerTime"), 1e-3), _number(ds.get("FrameReferenceTime"), 1e-3), clock)


def _frame_times(ds: Dataset, i: int) -> tuple:
    """(cardiac trigger delay, temporal position time offset, frame acquisition clock) of
    frame ``i`` of an enhanced multi-frame file, s."""
    return (_number(_group_value(ds, "per", "CardiacSynchronizationSequence",
                                 "NominalCardiacTriggerDelayTime", i), 1e-3),
            _number(_group_value(ds, "per", "TemporalPositionSequence",
                                 "TemporalPositionTimeOffset", i)),
            _clock_seconds(_group_value(ds, "per", "FrameContentSequence",
                                        "FrameAcquisitionDateTime", i), True))


def _volume_key(ds: Dataset) -> tuple:
    """Attributes that tell the volumes of one series apart."""
    def get(name):
        v = ds.get(name)
        return "" if v is None else str(v)
    image_type = "\\".join(str(v) for v in (ds.get("ImageType") or []))
    return (get("TemporalPositionIdentifier"), get("EchoNumbers"), get("AcquisitionNumber"),
            image_type, get("SeriesNumber"))


def _frame_volume_key(ds: Dataset, i: int) -> tuple:
    """Per-frame volume attributes of an enhanced multi-frame file (empty where absent)."""
    def get(item: str, attr: str) -> str:
        v = _group_value(ds, "per", item, attr, i)
        return "" if v is None else str(v)
    frame_type = _group_value(ds, "per", "MRImageFrameTypeSequence", "FrameType", i) or []
    if isinstance(frame_type, str):
        frame_type = [frame_type]
    return (get("FrameContentSequence", "TemporalPositionIndex"),
            get("MREchoSequence", "EffectiveEchoTime"),
            get("FrameContentSequence", "FrameAcquisitionNumber"),
            "\\".join(str(v) for v in frame_type), "")


def frames_of(path: Path, ds: Dataset) -> list[Frame]:
    """The 2D frames a file holds, with their geometry."""
    frames = _frames_of(path, ds)
    key, times = _volume_key(ds), _times(ds)
    for f in frames:  # per-frame values (enhanced files) win over the file's own
        f.volume = tuple(a or b for a, b in zip(f.volume, key, strict=True)) if f.volume else key
        f.times = tuple(b if a is None else a for a, b in zip(f.times, times, strict=True)) \
            if f.times else times
    return frames


def _frames_of(path: Path, ds: Dataset) -> list[Frame]:
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
            frames.append(Frame(path, i, pos, ori, tuple(spacing) if spacing is not None else None,
                                volume=_frame_volume_key(ds, i), times=_frame_times(ds, i)))
        return frames
    mosaic = _mosaic(path, ds)
    if mosaic is not None:
        return _mosaic_frames(path, ds, mosaic)
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


def _candidates(folder: Path, recursive: bool = True):
    """Regular files under ``folder`` (links to regular files too): a FIFO, socket or device
    among them would block or never end, so those are skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
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


VOLUME_FIELDS = ("temporal position", "echo", "acquisition", "image type", "series number")


def _positions_repeat(frames: list[Frame]) -> bool:
    pos = [tuple(np.round(f.position, 3)) for f in frames if f.position is not None]
    return len(pos) != len(set(pos))


def _natural(values: tuple) -> tuple:
    """Sort key putting "2" before "10" (volume numbers are strings in the header)."""
    out = []
    for v in values:
        try:
            out.append((0, float(v), ""))
        except ValueError:
            out.append((1, 0.0, v))
    return tuple(out)


TIME_FIELDS = (0, 2)  # temporal position and acquisition number step through time


def split_volumes(series: Series) -> list[Series]:
    """One series per volume when a series holds several images at the same place (a time
    series, echoes, magnitude and phase, repeated acquisitions): split by the first of
    temporal position, echo, acquisition number, image type and series number that varies,
    adding the next while positions still repeat. Volumes told apart only by temporal
    position or acquisition number, on the same slice positions, form a time series
    (``time_group``, ``time_index``)."""
    if len(series.frames) < 2 or not _positions_repeat(series.frames):
        return [series]
    used: list[int] = []
    for i in range(len(VOLUME_FIELDS)):
        if len({f.volume[i] for f in series.frames if f.volume}) < 2:
            continue
        used.append(i)
        groups: dict[tuple, list[Frame]] = {}
        for f in series.frames:
            groups.setdefault(tuple(f.volume[j] if f.volume else "" for j in used), []).append(f)
        if not any(_positions_repeat(g) for g in groups.values()):
            break
    else:
        return [series]  # nothing tells them apart: the loader says so
    out = []
    for key, frames in sorted(groups.items(), key=lambda kv: _natural(kv[0])):
        label = ", ".join(f"{VOLUME_FIELDS[j]} {v or '?'}" for j, v in zip(used, key, strict=True))
        out.append(Series(uid=series.uid, number=series.number, modality=series.modality,
                          patient=series.patient, study=series.study,
                          description=series.description, rows=series.rows,
                          columns=series.columns, frames=frames, volume=label))
    _time_groups(out, used, list(groups))
    return out


def _places(s: Series) -> tuple:
    return tuple(sorted(tuple(np.round(f.position, 2)) for f in s.frames if f.position is not None))


def _time_groups(volumes: list[Series], used: list[int], keys: list[tuple]) -> None:
    """Mark the volumes that step through time on the same slices as one time series."""
    if not any(j in TIME_FIELDS for j in used):
        return
    other = [n for n, j in enumerate(used) if j not in TIME_FIELDS]
    by_key = dict(zip(sorted(keys, key=_natural), volumes, strict=True))
    families: dict[tuple, list[Series]] = {}
    for key, vol in by_key.items():
        families.setdefault(tuple(key[n] for n in other), []).append(vol)
    for rest, family in families.items():
        if len(family) < 2 or len({_places(v) for v in family}) != 1 or not _places(family[0]):
            continue
        for t, vol in enumerate(family):
            vol.time_group = (vol.uid, rest)
            vol.time_index = t


def time_source(volumes: list[Series]) -> int | None:
    """Which of ``Frame.times`` dates these volumes: the first that every volume has and
    that differs between them."""
    for source in range(3):
        times = [v.time(source) for v in volumes]
        if all(t is not None for t in times) and len({round(t, 6) for t in times}) == len(times):
            return source
    return None


def assign_ids(found: list[Series]) -> list[Series]:
    """Handles "1", "2", ... in list order; the volumes of a time series share one ("3")
    and are told apart after a dot ("3.1", "3.2", ...). Returns ``found`` in that order
    (time points together, in time order)."""
    order: list[Series] = []
    seen: set = set()
    for s in found:
        if s.time_group is None:
            order.append(s)
        elif s.time_group not in seen:
            seen.add(s.time_group)
            order.extend(sorted((v for v in found if v.time_group == s.time_group),
                                key=lambda v: v.time_index))
    top = 0
    groups: dict = {}
    for s in order:
        if s.time_group is None:
            top += 1
            s.id, s.group_id = str(top), ""
        else:
            if s.time_group not in groups:
                top += 1
                groups[s.time_group] = str(top)
            s.group_id = groups[s.time_group]
            s.id = f"{s.group_id}.{s.time_index + 1}"
    return order


def scan_folder(folder: str | Path, progress: Progress = no_progress,
                recursive: bool = True) -> list[Series]:
    """All image series under ``folder`` (or only in it: ``recursive=False``), largest
    first; ids "1", "2", ... in that order. A file whose header lies (more frames than it
    can hold) refuses its own series, and is skipped when it belongs to none found."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileFormatError(folder, "it is not a folder")
    paths = []
    for p in _candidates(folder, recursive):
        paths.append(p)
        if len(paths) > MAX_FILES:
            raise FileFormatError(folder, f"it holds more than {MAX_FILES} files")
    groups: dict[tuple, Series] = {}
    lies: dict[str, FileFormatError] = {}  # series uid -> the first damaged file's error
    for i, path in enumerate(paths):
        if i % 16 == 0:
            progress(i / max(len(paths), 1), f"Scanning {path.name}")
        ds = read_header(path)
        if ds is None:
            continue
        try:
            rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
            frames = frames_of(path, ds)
        except FileFormatError as exc:  # a lying header: fatal only for its own series
            lies.setdefault(str(ds.get("SeriesInstanceUID", "") or ""), exc)
            continue
        except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError,
                OSError):
            continue  # an unparseable header is not an image we can place
        if rows <= 0 or cols <= 0:
            continue
        if frames[0].tile_shape is not None:
            rows, cols = frames[0].tile_shape
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
    # A series with a damaged file is refused whole (a slice would silently be missing);
    # a damaged file of some other series does not stop this one.
    for uid, exc in lies.items():
        if not groups or any(key[0] == uid for key in groups):
            raise exc
    progress(1.0, "Scan complete")
    result = sorted((v for g in groups.values() for v in split_volumes(g)),
                    key=lambda s: (-len(s.frames), s.number, s.uid, s.volume))
    per_uid: dict[str, int] = {}
    for s in result:
        per_uid[s.uid] = per_uid.get(s.uid, 0) + 1
        if sum(1 for t in result if t.uid == s.uid) > 1:
            s.sub = per_uid[s.uid]
    return assign_ids(result)
