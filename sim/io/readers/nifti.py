"""NIfTI-1 images (.nii, .nii.gz), parsed here and converted from RAS+ to our LPS world frame.

The voxel-to-world matrix is the sform when its code is set, else the qform
(quaternion), else plain pixdim scaling: the same precedence as nibabel.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.imaging.lut import LabelTable, parse_caret_xml
from sim.imaging.volume import MAX_VOXELS, make_image, split_affine
from sim.io.images import image_loaded
from sim.io.registry import Loaded, ReadOptions, reader
from sim.progress import Progress

DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4",
          1024: "i8", 1280: "u8"}
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
INTENT_LABEL = 1002


def _read_bytes(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the (possibly gzipped) file: a gzip bomb cannot exhaust memory."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    try:
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                return fh.read(limit)
        with open(path, "rb") as fh:
            return fh.read(limit)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileFormatError(path, f"its compressed data is corrupt ({exc})") from None


def parse_header(path: Path, raw: bytes) -> dict:
    if len(raw) < 348:
        raise FileFormatError(path, "it is too short to hold a NIfTI header")
    for endian in "<>":
        if struct.unpack(f"{endian}i", raw[:4])[0] == 348:
            break
    else:
        if struct.unpack("<i", raw[:4])[0] == 540 or struct.unpack(">i", raw[:4])[0] == 540:
            raise FileFormatError(path, "it is a NIfTI-2 file, which is not supported yet")
        raise FileFormatError(path, "it does not have a NIfTI-1 header")
    if raw[344:347] not in (b"n+1", b"ni1"):
        raise FileFormatError(path, "its header lacks the NIfTI-1 magic string")
    if raw[344:347] == b"ni1":
        raise FileFormatError(path, "it is a two-file (.hdr/.img) NIfTI, which is not supported")
    e = endian
    dim = struct.unpack(f"{e}8h", raw[40:56])
    h = {
        "endian": e, "dim": dim, "intent": struct.unpack(f"{e}h", raw[68:70])[0],
        "datatype": struct.unpack(f"{e}h", raw[70:72])[0],
        "pixdim": struct.unpack(f"{e}8f", raw[76:108]),
        "vox_offset": struct.unpack(f"{e}f", raw[108:112])[0],
        "scl": struct.unpack(f"{e}2f", raw[112:120]),
        "qform_code": struct.unpack(f"{e}h", raw[252:254])[0],
        "sform_code": struct.unpack(f"{e}h", raw[254:256])[0],
        "quatern": struct.unpack(f"{e}6f", raw[256:280]),
        "srow": np.array(struct.unpack(f"{e}12f", raw[280:328]), dtype=float).reshape(3, 4),
    }
    return h


def extension_labels(raw: bytes, endian: str, offset: int) -> LabelTable:
    """A label table from the header extensions (bytes 352..vox_offset), if one holds it."""
    if len(raw) < 352 or raw[348] == 0:
        return {}
    pos, end = 352, min(offset, len(raw))
    while pos + 8 <= end:
        size, _code = struct.unpack(f"{endian}2i", raw[pos:pos + 8])
        if size < 8 or pos + size > end:
            break
        table = parse_caret_xml(raw[pos + 8:pos + size].decode("utf-8", errors="replace"))
        if table:
            return table
        pos += size
    return {}


def header_affine(h: dict) -> tuple[np.ndarray, str]:
    """The RAS voxel->world matrix and which form it came from."""
    pix = h["pixdim"]
    if h["sform_code"] > 0:
        aff = np.eye(4)
        aff[:3] = h["srow"]
        return aff, "sform"
    if h["qform_code"] > 0:
        b, c, d, qx, qy, qz = h["quatern"]
        a = np.sqrt(max(0.0, 1.0 - (b * b + c * c + d * d)))
        r = np.array([[a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                      [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
                      [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b]])
        qfac = -1.0 if pix[0] < 0 else 1.0
        aff = np.eye(4)
        aff[:3, :3] = r * np.array([pix[1], pix[2], qfac * pix[3]])
        aff[:3, 3] = (qx, qy, qz)
        return aff, "qform"
    return np.diag([pix[1] or 1.0, pix[2] or 1.0, pix[3] or 1.0, 1.0]), "pixdim"


@reader(".nii", ".nii.gz", name="NIfTI")
def read_nifti(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    h = parse_header(path, _read_bytes(path, 352))
    ndim, shape = h["dim"][0], [max(int(n), 1) for n in h["dim"][1:4]]
    if not 1 <= ndim <= 7 or any(n < 0 for n in h["dim"][1:ndim + 1]):
        raise FileFormatError(path, f"its header gives an invalid dimension count ({ndim})")
    dtype = DTYPES.get(h["datatype"])
    if dtype is None:
        raise FileFormatError(path, f"its data type code {h['datatype']} is not supported")
    n_vox = int(np.prod(shape, dtype=np.int64))
    if n_vox > MAX_VOXELS:
        raise FileFormatError(path, f"its header claims {n_vox} voxels, more than we can load")
    dtype = np.dtype(dtype).newbyteorder(h["endian"])
    offset = int(h["vox_offset"]) if h["vox_offset"] >= 352 else 352
    need = offset + n_vox * dtype.itemsize
    progress(0.1, f"Decompressing {path.name}")
    raw = _read_bytes(path, need)
    if len(raw) < need:
        raise FileFormatError(path, f"it holds {max(len(raw) - offset, 0)} bytes of voxel data but "
                                    f"its header needs {n_vox * dtype.itemsize} (truncated)")
    notes = []
    if ndim > 3 and any(n > 1 for n in h["dim"][4:ndim + 1]):
        notes.append("only the first volume of a 4D series was loaded")
    data = np.frombuffer(raw, dtype=dtype, count=n_vox, offset=offset).reshape(shape, order="F")
    data = data.astype(dtype.newbyteorder("="), copy=True)
    slope, inter = h["scl"]
    if np.isfinite(slope) and slope != 0 and (slope, inter) != (1.0, 0.0):
        data = (data * np.float32(slope) + np.float32(inter)).astype(np.float32)
    affine, form = header_affine(h)
    if not np.isfinite(affine).all():
        raise FileFormatError(path, f"its {form} holds non-finite numbers")
    try:
        spacing, origin, direction = split_affine(RAS_TO_LPS @ affine)
        image = make_image(data, spacing, origin, direction)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None
    notes.append(f"NIfTI {form} (RAS) converted to LPS")
    stem = path.name[: -len(".nii.gz")] if path.name.lower().endswith(".nii.gz") else path.stem
    table = extension_labels(raw, h["endian"], offset)
    if table:
        notes.append(f"label names from the file's header extension ({len(table)} labels)")
    return image_loaded(path, stem, image, notes, table=table or None,
                        force_labels=h["intent"] == INTENT_LABEL or bool(table))
