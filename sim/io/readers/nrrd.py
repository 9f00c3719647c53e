"""NRRD images (.nrrd, .nhdr with a detached data file), including 3D Slicer segmentations.

``space directions``/``space origin`` give the geometry; a RAS space is turned
into LPS. Slicer's ``SegmentN_Name``/``_Color``/``_LabelValue`` keys name the labels.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.imaging.volume import MAX_VOXELS, make_image
from sim.io.images import image_loaded
from sim.io.registry import Loaded, ReadOptions, reader
from sim.progress import Progress

TYPES = {
    "signed char": "i1", "int8": "i1", "int8_t": "i1", "uchar": "u1", "unsigned char": "u1",
    "uint8": "u1", "uint8_t": "u1", "short": "i2", "short int": "i2", "signed short": "i2",
    "signed short int": "i2", "int16": "i2", "int16_t": "i2", "ushort": "u2",
    "unsigned short": "u2", "unsigned short int": "u2", "uint16": "u2", "uint16_t": "u2",
    "int": "i4", "signed int": "i4", "int32": "i4", "int32_t": "i4", "uint": "u4",
    "unsigned int": "u4", "uint32": "u4", "uint32_t": "u4", "longlong": "i8", "long long": "i8",
    "int64": "i8", "int64_t": "i8", "ulonglong": "u8", "uint64": "u8", "uint64_t": "u8",
    "float": "f4", "double": "f8",
}
RAS_SPACES = {"right-anterior-superior", "ras", "scanner-xyz"}
LPS_SPACES = {"left-posterior-superior", "lps"}
_VECTOR = re.compile(r"\(([^)]*)\)|\bnone\b")
MAX_HEADER = 1 << 20


def parse_header(path: Path, raw: bytes) -> tuple[dict[str, str], dict[str, str], int]:
    """(fields, key/value pairs, offset of the data) of an NRRD header."""
    if not raw.startswith(b"NRRD000"):
        raise FileFormatError(path, "it does not start with the NRRD magic")
    end = raw.find(b"\n\n")
    if end < 0:
        raise FileFormatError(path, "its header does not end with a blank line")
    fields: dict[str, str] = {}
    pairs: dict[str, str] = {}
    for line in raw[:end].decode("latin-1").splitlines()[1:]:
        if line.startswith("#") or not line.strip():
            continue
        if ":=" in line:
            k, v = line.split(":=", 1)
            pairs[k.strip()] = v.strip()
        elif ": " in line:
            k, v = line.split(": ", 1)
            fields[k.strip().lower()] = v.strip()
        else:
            raise FileFormatError(path, f"header line '{line[:40]}' is not 'field: value'")
    return fields, pairs, end + 2


def _vectors(text: str) -> list[list[float] | None]:
    """``(1,0,0) none (0,1,0)`` -> [[1, 0, 0], None, [0, 1, 0]]."""
    out: list[list[float] | None] = []
    for m in _VECTOR.finditer(text):
        out.append(None if m[1] is None else [float(x) for x in m[1].split(",")])
    if _VECTOR.sub("", text).strip():
        raise ValueError(f"'{text[:40]}' is not a list of vectors")
    return out


def _decode(path: Path, raw: bytes, encoding: str, n_bytes: int, dtype: np.dtype, n: int) -> np.ndarray:
    if encoding in ("raw",):
        data = raw
    elif encoding in ("gzip", "gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                data = fh.read(n_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileFormatError(path, f"its gzip data is corrupt ({exc})") from None
    elif encoding in ("ascii", "text", "txt"):
        try:
            values = np.array(raw.split()[:n], dtype=np.float64)
        except ValueError:
            raise FileFormatError(path, "its text data holds something that is not a number") from None
        if values.size < n:
            raise FileFormatError(path, f"it holds {values.size} values but its header needs {n}")
        return values.astype(dtype.newbyteorder("="))
    else:
        raise FileFormatError(path, f"its encoding '{encoding}' is not supported")
    if len(data) < n_bytes:
        raise FileFormatError(path, f"it holds {len(data)} bytes of data but its header needs "
                                    f"{n_bytes} (truncated)")
    return np.frombuffer(data, dtype=dtype, count=n).astype(dtype.newbyteorder("="))


def _slicer_labels(pairs: dict[str, str]) -> dict[int, tuple[str, tuple[float, float, float]]]:
    table = {}
    for key, name in pairs.items():
        m = re.fullmatch(r"Segment(\d+)_Name", key)
        if not m:
            continue
        i = m[1]
        try:
            value = int(pairs.get(f"Segment{i}_LabelValue", str(int(i) + 1)))
            rgb = tuple(float(c) for c in pairs.get(f"Segment{i}_Color", "0.8 0.8 0.8").split()[:3])
        except ValueError:
            continue
        table[value] = (name, rgb)
    return table  # type: ignore[return-value]


@reader(".nrrd", ".nhdr", ".seg.nrrd", name="NRRD")
def read_nrrd(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    with open(path, "rb") as fh:
        raw = fh.read(MAX_HEADER)
    fields, pairs, offset = parse_header(path, raw)
    try:
        dtype = np.dtype(TYPES[fields["type"].lower()])
        sizes = [int(s) for s in fields["sizes"].split()]
        dimension = int(fields["dimension"])
    except (KeyError, ValueError):
        raise FileFormatError(path, "its header lacks a valid type, dimension or sizes") from None
    if dimension != len(sizes) or not 1 <= dimension <= 4 or min(sizes) < 1:
        raise FileFormatError(path, f"its sizes {sizes} do not match dimension {dimension}")
    if fields.get("endian", "little") == "big":
        dtype = dtype.newbyteorder(">")
    n = int(np.prod(sizes, dtype=np.int64))
    if n > MAX_VOXELS:
        raise FileFormatError(path, f"its header claims {n} voxels, more than we can load")
    try:
        directions = _vectors(fields.get("space directions", ""))
        origin = np.array(_vectors(fields.get("space origin", "(0,0,0)"))[0] or [0, 0, 0], dtype=float)
    except (ValueError, IndexError):
        raise FileFormatError(path, "its space directions or origin are not valid vectors") from None
    spatial = [i for i, d in enumerate(directions) if d is not None] if directions else list(range(dimension))
    if len(spatial) != 3 or dimension - len(spatial) > 1:
        raise FileFormatError(path, "it is not a 3D image (three spatial axes are needed)")
    if spatial != [dimension - 3, dimension - 2, dimension - 1] and dimension == 4:
        raise FileFormatError(path, "its non-spatial axis must come first")
    if "data file" in fields or "datafile" in fields:
        name = fields.get("data file", fields.get("datafile", ""))
        data_path = (path.parent / name).resolve()
        if data_path.parent != path.parent.resolve() or not data_path.is_file():
            raise FileFormatError(path, f"its data file '{name}' is missing")
        raw, offset = data_path.read_bytes(), 0
    else:
        with open(path, "rb") as fh:
            fh.seek(offset)
            raw, offset = fh.read(n * dtype.itemsize + (1 << 16) if fields.get("encoding") == "raw"
                                  else -1), 0
    progress(0.2, f"Decoding {path.name}")
    values = _decode(path, raw[offset:], fields.get("encoding", "raw").lower(), n * dtype.itemsize,
                     dtype, n)
    array = values.reshape(sizes, order="F")
    notes = []
    if dimension == 4:
        notes.append(f"only the first of {sizes[0]} components was loaded")
        array = array[0]
    if directions:
        m = np.array([directions[i] for i in spatial], dtype=float).T  # columns = axis vectors
    else:
        spacings = [float(s) for s in fields.get("spacings", "1 1 1").split()[-3:]]
        m = np.diag(spacings)
    space = fields.get("space", "left-posterior-superior").lower()
    if space in RAS_SPACES:
        flip = np.diag([-1.0, -1.0, 1.0])
        m, origin = flip @ m, flip @ origin
        notes.append(f"NRRD space '{space}' converted to LPS")
    elif space not in LPS_SPACES:
        notes.append(f"NRRD space '{space}' taken as LPS")
    try:
        spacing = np.linalg.norm(m, axis=0)
        image = make_image(array, spacing, origin, m / np.where(spacing > 0, spacing, 1))
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None
    table = _slicer_labels(pairs)
    name = path.name
    stem = name[: -len(".seg.nrrd")] if name.lower().endswith(".seg.nrrd") else path.stem
    return image_loaded(path, stem, image, notes, table=table, force_labels=bool(table))
