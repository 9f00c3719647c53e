"""Wavefront OBJ with MTL colours: one scene object per object/material group."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, polygons_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

# Maya and some other exporters state the unit in a leading comment.
_UNIT_COMMENT = re.compile(r"#.*\buses (centimeters|millimeters|meters|inches)\b", re.I)
_COMMENT_UNITS = {"centimeters": "cm", "millimeters": "mm", "meters": "m", "inches": "in"}


def read_mtl(path: Path) -> dict[str, tuple[float, float, float]]:
    """Material name -> diffuse colour (Kd) from an MTL file; unreadable files give {}."""
    colors: dict[str, tuple[float, float, float]] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return colors
    current = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "newmtl":
            current = " ".join(parts[1:])
        elif len(parts) >= 4 and parts[0] == "Kd" and current is not None:
            try:
                rgb = tuple(min(max(float(x), 0.0), 1.0) for x in parts[1:4])
            except ValueError:
                continue
            colors[current] = rgb  # type: ignore[assignment]
    return colors


def _index(token: str, n_vertices: int) -> int:
    i = int(token.split("/", 1)[0])
    return i - 1 if i > 0 else n_vertices + i  # negative indices count back from the end


def parse_obj(path: Path, text: str) -> tuple[
        np.ndarray, dict[tuple[str, str | None], list[list[int]]],
        dict[str, tuple[float, float, float]], str | None]:
    """(vertices, groups, material colours, stated unit): groups map (object, material) -> faces."""
    vertices: list[tuple[float, float, float]] = []
    groups: dict[tuple[str, str | None], list[list[int]]] = {}
    colors: dict[str, tuple[float, float, float]] = {}
    obj_name, material = path.stem, None
    unit = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line[0] == "#":
            m = _UNIT_COMMENT.match(line)
            if m and lineno < 20:
                unit = _COMMENT_UNITS[m[1].lower()]
            continue
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        try:
            if key == "v":
                vertices.append((float(parts[1]), float(parts[2]), float(parts[3])))
            elif key == "f":
                face = [_index(t, len(vertices)) for t in parts[1:]]
                groups.setdefault((obj_name, material), []).append(face)
            elif key in ("o", "g") and len(parts) > 1:
                obj_name = " ".join(parts[1:])
            elif key == "usemtl" and len(parts) > 1:
                material = " ".join(parts[1:])
            elif key == "mtllib" and len(parts) > 1:
                mtl = (path.parent / " ".join(parts[1:])).resolve()
                if mtl.parent == path.parent.resolve():  # never read outside the file's folder
                    colors.update(read_mtl(mtl))
        except (ValueError, IndexError):
            raise FileFormatError(path, f"line {lineno} is not valid OBJ ('{line[:40]}')") from None
    return np.asarray(vertices, dtype=np.float64).reshape(-1, 3), groups, colors, unit


@reader(".obj", name="Wavefront OBJ")
def read_obj(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    try:
        text = path.read_text(errors="strict")
    except UnicodeDecodeError:
        raise FileFormatError(path, "it is not a text OBJ file") from None
    vertices, groups, colors, stated = parse_obj(path, text)
    if not groups:
        raise FileFormatError(path, "it contains no faces")
    unit = options.units or stated
    scale = mm_per(unit)
    notes = [f"coordinates read as {unit}, converted to mm"] if unit not in (None, "mm") else []
    objects = []
    per_name: dict[str, int] = {}
    for name, _ in groups:
        per_name[name] = per_name.get(name, 0) + 1
    for i, ((name, material), faces) in enumerate(groups.items()):
        progress(i / len(groups), f"Building {name}")
        used = np.unique(np.concatenate([np.asarray(f) for f in faces]))
        if used.min() < 0 or used.max() >= len(vertices):
            raise FileFormatError(path, "a face refers to a vertex that does not exist")
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        mesh = polygons_to_polydata(path, vertices[used], [list(remap[f]) for f in faces], scale)
        label = name if per_name[name] == 1 or material is None else f"{name} {material}"
        color = colors.get(material or "", DEFAULT_COLOR)
        objects.append(SceneObject(label, ObjectKind.SURFACE, mesh, color=color,
                                   metadata={"source_format": "OBJ", "material": material}))
    return Loaded(objects, notes=notes)
