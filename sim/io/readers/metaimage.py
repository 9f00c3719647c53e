"""MetaImage (.mha with inline data, .mhd with a data file): ITK's format, already in LPS."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.imaging.volume import MAX_VOXELS, make_image
from sim.io.images import image_loaded
from sim.io.registry import Loaded, ReadOptions, reader
from sim.progress import Progress

TYPES = {"MET_CHAR": "i1", "MET_UCHAR": "u1", "MET_SHORT": "i2", "MET_USHORT": "u2",
         "MET_INT": "i4", "MET_UINT": "u4", "MET_LONG": "i4", "MET_ULONG": "u4",
         "MET_LONG_LONG": "i8", "MET_ULONG_LONG": "u8", "MET_FLOAT": "f4", "MET_DOUBLE": "f8"}
MAX_HEADER = 1 << 16


def parse_header(path: Path, raw: bytes) -> tuple[dict[str, str], int]:
    """(fields, offset of inline data); the header ends with the ElementDataFile line."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        line = raw[pos:] if nl < 0 else raw[pos:nl]
        pos = len(raw) if nl < 0 else nl + 1
        text = line.decode("latin-1").strip()
        if not text:
            continue
        if "=" not in text:
            raise FileFormatError(path, f"header line '{text[:40]}' is not 'Key = Value'")
        key, value = (s.strip() for s in text.split("=", 1))
        fields[key] = value
        if key == "ElementDataFile":
            return fields, pos
    raise FileFormatError(path, "its header has no ElementDataFile line")


def _numbers(fields: dict[str, str], *keys: str, count: int, default=None) -> list[float]:
    for key in keys:
        if key in fields:
            values = [float(v) for v in fields[key].split()]
            if len(values) != count:
                raise ValueError(f"{key} needs {count} numbers")
            return values
    if default is None:
        raise ValueError(f"{keys[0]} is missing")
    return default


@reader(".mha", ".mhd", name="MetaImage")
def read_metaimage(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    with open(path, "rb") as fh:
        head = fh.read(MAX_HEADER)
    fields, offset = parse_header(path, head)
    try:
        ndims = int(fields.get("NDims", "0"))
        if ndims != 3:
            raise ValueError(f"NDims is {ndims}; only 3D images are supported")
        sizes = [int(v) for v in _numbers(fields, "DimSize", count=3)]
        spacing = _numbers(fields, "ElementSpacing", "ElementSize", count=3, default=[1.0] * 3)
        origin = _numbers(fields, "Offset", "Origin", "Position", count=3, default=[0.0] * 3)
        matrix = _numbers(fields, "TransformMatrix", "Rotation", "Orientation", count=9,
                          default=[1, 0, 0, 0, 1, 0, 0, 0, 1])
        dtype = np.dtype(TYPES[fields.get("ElementType", "")])
        channels = int(fields.get("ElementNumberOfChannels", "1"))
    except (ValueError, KeyError) as exc:
        raise FileFormatError(path, f"its header is not valid ({exc})") from None
    if channels != 1:
        raise FileFormatError(path, f"it has {channels} channels; only scalar images are supported")
    if min(sizes) < 1:
        raise FileFormatError(path, f"its DimSize {sizes} is not positive")
    if fields.get("ElementByteOrderMSB", fields.get("BinaryDataByteOrderMSB", "False")).lower() == "true":
        dtype = dtype.newbyteorder(">")
    n = int(np.prod(sizes, dtype=np.int64))
    if n > MAX_VOXELS:
        raise FileFormatError(path, f"its header claims {n} voxels, more than we can load")
    n_bytes = n * dtype.itemsize
    source = fields["ElementDataFile"]
    if source == "LOCAL":
        with open(path, "rb") as fh:
            fh.seek(offset)
            raw = fh.read()
    else:
        data_path = (path.parent / source).resolve()
        if data_path.parent != path.parent.resolve() or not data_path.is_file():
            raise FileFormatError(path, f"its data file '{source}' is missing")
        raw = data_path.read_bytes()
    if fields.get("CompressedData", "False").lower() == "true":
        try:
            d = zlib.decompressobj()
            raw = d.decompress(raw, n_bytes)
        except zlib.error as exc:
            raise FileFormatError(path, f"its compressed data is corrupt ({exc})") from None
    if len(raw) < n_bytes:
        raise FileFormatError(path, f"it holds {len(raw)} bytes of data but its header needs "
                                    f"{n_bytes} (truncated)")
    array = np.frombuffer(raw, dtype=dtype, count=n).astype(dtype.newbyteorder("="))
    # TransformMatrix lists the direction of each index axis in turn (ITK's convention).
    direction = np.asarray(matrix, dtype=float).reshape(3, 3).T
    try:
        image = make_image(array.reshape(sizes, order="F"), spacing, origin, direction)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None
    return image_loaded(path, path.stem, image, [])
