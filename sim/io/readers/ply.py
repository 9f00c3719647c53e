"""PLY (ASCII and binary): header counts are checked against the file size before parsing.

VTK's PLY reader crashes the process on truncated files, so PLY is parsed by
trimesh (numpy) after this check, which also bounds memory for lying headers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, triangles_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

_SIZES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2,
          "uint16": 2, "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4,
          "double": 8, "float64": 8}


def check_ply_header(path: Path, data: bytes) -> None:
    """Refuse a PLY whose header is malformed or announces more than the file can hold."""
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise FileFormatError(path, "it has no complete PLY header")
    lines = data[:end].decode("ascii", "replace").splitlines()
    fmt = next((ln.split()[1] for ln in lines if ln.startswith("format") and len(ln.split()) > 1), None)
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise FileFormatError(path, "its header does not give a known PLY format")
    body = len(data) - end - len(b"end_header") - 1
    min_bytes = 0
    count, elements = 0, 0
    for ln in lines:
        parts = ln.split()
        if parts[:1] == ["element"]:
            try:
                count = int(parts[2])
            except (IndexError, ValueError):
                raise FileFormatError(path, f"header line '{ln}' is not valid") from None
            if count < 0:
                raise FileFormatError(path, "an element count is negative")
            elements += count
        elif parts[:1] == ["property"]:
            size = _SIZES.get(parts[2] if parts[1:2] == ["list"] else (parts[1] if len(parts) > 1 else ""))
            if size is None:
                raise FileFormatError(path, f"header line '{ln}' has an unknown property type")
            min_bytes += count * size  # lists hold at least their length field
    if fmt == "ascii":
        if elements > data.count(b"\n", end):
            raise FileFormatError(path, "its header announces more elements than the file holds lines")
    elif min_bytes > body:
        raise FileFormatError(path, "its header announces more data than the file holds "
                                    "(truncated or corrupt)")


@reader(".ply", name="PLY")
def read_ply(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    import trimesh

    data = path.read_bytes()
    check_ply_header(path, data)
    try:
        mesh = trimesh.load(path, file_type="ply", process=False, force="mesh")
    except Exception as exc:  # trimesh raises ValueError, KeyError, IndexError ... on bad data
        raise FileFormatError(path, f"it is not a valid PLY file ({type(exc).__name__}: {exc})") from None
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))))
    poly = triangles_to_polydata(path, np.asarray(mesh.vertices, dtype=np.float64),
                                 faces.astype(np.int64), mm_per(options.units))
    color = DEFAULT_COLOR
    if getattr(mesh.visual, "kind", None) in ("vertex", "face"):
        colors = (mesh.visual.vertex_colors if mesh.visual.kind == "vertex"
                  else mesh.visual.face_colors)
        color = tuple(float(c) for c in np.asarray(colors)[:, :3].mean(axis=0) / 255.0)
    return Loaded([SceneObject(path.stem, ObjectKind.SURFACE, poly, color=color,
                               metadata={"source_format": "PLY"})])
