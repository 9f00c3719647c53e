"""Object File Format (OFF): a header, vertex lines, then polygon lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, polygons_to_polydata, triangles_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress


def parse_off(path: Path, text: str) -> tuple[np.ndarray, list[list[int]]]:
    """(vertices, triangles or polygons) from OFF text, with counts checked against the header."""
    lines = [ln.split("#", 1)[0].split() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not lines[0][0].upper().endswith("OFF"):
        raise FileFormatError(path, "it does not start with an OFF header")
    head = lines[0][1:] if len(lines[0]) > 1 else (lines[1] if len(lines) > 1 else [])
    body = lines[1:] if len(lines[0]) > 1 else lines[2:]
    try:
        nv, nf = int(head[0]), int(head[1])
    except (ValueError, IndexError):
        raise FileFormatError(path, "its header does not give vertex and face counts") from None
    if nv <= 0 or nf <= 0 or nv + nf > len(body):
        raise FileFormatError(path, f"its header announces {nv} vertices and {nf} faces "
                                    f"but the file holds {len(body)} lines")
    try:
        vertices = np.array([[float(x) for x in ln[:3]] for ln in body[:nv]], dtype=np.float64)
        faces = [[int(x) for x in ln[1:1 + int(ln[0])]] for ln in body[nv:nv + nf]]
    except (ValueError, IndexError):
        raise FileFormatError(path, "a vertex or face line is not valid OFF") from None
    if any(len(f) != int(ln[0]) for f, ln in zip(faces, body[nv:nv + nf], strict=True)):
        raise FileFormatError(path, "a face line has fewer vertex indices than it announces")
    if vertices.shape != (nv, 3):
        raise FileFormatError(path, "a vertex line has fewer than three coordinates")
    return vertices, faces


@reader(".off", name="OFF")
def read_off(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise FileFormatError(path, "it is not a text OFF file") from None
    vertices, faces = parse_off(path, text)
    scale = mm_per(options.units)
    if all(len(f) == 3 for f in faces):
        mesh = triangles_to_polydata(path, vertices, np.asarray(faces, dtype=np.int64), scale)
    else:
        mesh = polygons_to_polydata(path, vertices, faces, scale)
    return Loaded([SceneObject(path.stem, ObjectKind.SURFACE, mesh, color=DEFAULT_COLOR,
                               metadata={"source_format": "OFF"})])
