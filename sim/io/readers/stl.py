"""STL, binary and ASCII, with bounded memory: the header's triangle count must match the file size."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, merge_vertices, triangles_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

_BINARY_RECORD = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
_VERTEX = re.compile(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)")


def read_stl_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of an STL file, duplicate vertices merged."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(84)
    if len(head) < 84 and not head.lstrip().lower().startswith(b"solid"):
        raise FileFormatError(path, "it is too short to be an STL file")
    count = int.from_bytes(head[80:84], "little") if len(head) == 84 else -1
    if count >= 0 and 84 + 50 * count == size:
        if count == 0:
            raise FileFormatError(path, "it contains no triangles")
        soup = np.fromfile(path, dtype=_BINARY_RECORD, count=count, offset=84)["v"].reshape(-1, 3)
    elif head.lstrip().lower().startswith(b"solid"):
        soup = _ascii_soup(path)
    else:
        held = max(size - 84, 0) // 50
        raise FileFormatError(path, f"its header announces {count} triangles but the file "
                                    f"holds {held} (truncated or corrupt)")
    vertices, inverse = merge_vertices(soup)
    return vertices, inverse.reshape(-1, 3)


def _ascii_soup(path: Path) -> np.ndarray:
    data = path.read_bytes()
    found = _VERTEX.findall(data)
    if not found:
        raise FileFormatError(path, "it is an ASCII STL without any vertex")
    if len(found) % 3:
        raise FileFormatError(path, "a facet does not have exactly three vertices")
    if data.count(b"endfacet") * 3 != len(found):
        raise FileFormatError(path, "a facet does not have exactly three vertices")
    try:
        return np.array(found, dtype=np.float64).astype(np.float32)
    except ValueError:
        raise FileFormatError(path, "a vertex coordinate is not a number") from None


@reader(".stl", name="STL")
def read_stl(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    vertices, faces = read_stl_arrays(path)
    progress(0.7, f"Checking {path.name}")
    mesh = triangles_to_polydata(path, vertices, faces, mm_per(options.units))
    notes = [f"read as {options.units}, converted to mm"] if options.units not in (None, "mm") else []
    obj = SceneObject(path.stem, ObjectKind.SURFACE, mesh, color=DEFAULT_COLOR,
                      metadata={"source_format": "STL"})
    return Loaded([obj], notes=notes)
