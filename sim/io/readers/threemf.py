"""3MF (3D Manufacturing Format): a zip holding an XML model with units, objects and build items.

Each build item becomes one scene object, with components flattened through
their transforms; the model's ``unit`` attribute is converted to mm.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, triangles_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

MAX_MODEL_BYTES = 1 << 30  # a model part larger than this (uncompressed) is refused: zip bombs
_CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
_MATERIAL = "{http://schemas.microsoft.com/3dmanufacturing/material/2015/02}"
_MAX_DEPTH = 16  # components nested deeper than this are treated as a cycle


def _read_member(path: Path, zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise FileFormatError(path, f"it has no model part '{name}'") from None
    if info.file_size > MAX_MODEL_BYTES:
        raise FileFormatError(path, "its model part is larger than 1 GiB")
    with zf.open(info) as fh:
        data = fh.read(MAX_MODEL_BYTES + 1)  # never trust the size the zip directory claims
    if len(data) > MAX_MODEL_BYTES:
        raise FileFormatError(path, "its model part is larger than 1 GiB")
    return data


def _model_name(zf: zipfile.ZipFile) -> str:
    try:
        rels = ET.fromstring(zf.read("_rels/.rels"))
        for rel in rels:
            if rel.get("Type", "").endswith("/3dmodel"):
                return rel.get("Target", "").lstrip("/")
    except (KeyError, ET.ParseError):
        pass
    return "3D/3dmodel.model"


def _matrix(text: str | None) -> np.ndarray:
    """A 3MF transform (12 numbers, row-vector convention) as a 4x4 column-vector matrix."""
    m = np.eye(4)
    if text:
        values = [float(v) for v in text.split()]
        if len(values) != 12:
            raise ValueError("a transform needs 12 numbers")
        m[:3, :3] = np.asarray(values[:9]).reshape(3, 3).T
        m[:3, 3] = values[9:12]
    return m


def _hex_color(text: str) -> tuple[float, float, float]:
    text = text.lstrip("#")
    return tuple(int(text[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def parse_3mf(path: Path, data: bytes) -> tuple[
        str, dict[str, dict], dict[str, list[tuple[float, float, float]]],
        list[tuple[str | None, np.ndarray]]]:
    """(unit, objects by id, colour groups, build items) from the model XML."""
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:65536]:
        raise FileFormatError(path, "its model declares XML entities (refused as hostile)")
    root = ET.fromstring(data)
    unit = root.get("unit", "millimeter")
    colors: dict[str, list[tuple[float, float, float]]] = {}
    objects: dict[str, dict] = {}
    resources = root.find(f"{_CORE}resources")
    if resources is None:
        raise FileFormatError(path, "its model has no resources")
    for el in resources:
        if el.tag == f"{_CORE}basematerials":
            colors[el.get("id", "")] = [_hex_color(b.get("displaycolor", "#D9BF8C"))
                                        for b in el.findall(f"{_CORE}base")]
        elif el.tag == f"{_MATERIAL}colorgroup":
            colors[el.get("id", "")] = [_hex_color(c.get("color", "#D9BF8C"))
                                        for c in el.findall(f"{_MATERIAL}color")]
        elif el.tag == f"{_CORE}object":
            obj: dict = {"name": el.get("name"), "pid": el.get("pid"), "pindex": el.get("pindex")}
            mesh = el.find(f"{_CORE}mesh")
            if mesh is not None:
                vs = mesh.find(f"{_CORE}vertices")
                ts = mesh.find(f"{_CORE}triangles")
                obj["vertices"] = np.array([[float(v.get("x")), float(v.get("y")), float(v.get("z"))]
                                            for v in (vs if vs is not None else [])]).reshape(-1, 3)
                obj["triangles"] = np.array([[int(t.get("v1")), int(t.get("v2")), int(t.get("v3"))]
                                             for t in (ts if ts is not None else [])]).reshape(-1, 3)
            comps = el.find(f"{_CORE}components")
            obj["components"] = [] if comps is None else [
                (c.get("objectid"), _matrix(c.get("transform"))) for c in comps]
            objects[el.get("id", "")] = obj
    build = root.find(f"{_CORE}build")
    items = [] if build is None else [(i.get("objectid"), _matrix(i.get("transform")))
                                      for i in build.findall(f"{_CORE}item")]
    return unit, objects, colors, items


def _flatten(path: Path, objects: dict, oid: str | None, transform: np.ndarray, depth: int = 0):
    """All (vertices, triangles) of object ``oid`` in build coordinates."""
    if depth > _MAX_DEPTH or oid not in objects:
        raise FileFormatError(path, f"object '{oid}' is missing or its components form a cycle")
    obj = objects[oid]
    out = []
    if len(obj.get("triangles", ())):
        v = obj["vertices"] @ transform[:3, :3].T + transform[:3, 3]
        out.append((v, obj["triangles"]))
    for child, m in obj["components"]:
        out.extend(_flatten(path, objects, child, transform @ m, depth + 1))
    return out


@reader(".3mf", name="3MF")
def read_3mf(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    try:
        with zipfile.ZipFile(path) as zf:
            data = _read_member(path, zf, _model_name(zf))
        unit, objects, colors, items = parse_3mf(path, data)
    except (zipfile.BadZipFile, ET.ParseError, ValueError, TypeError, EOFError) as exc:
        raise FileFormatError(path, f"it is not a valid 3MF file ({exc})") from None
    scale = mm_per(unit if unit != "micron" else "um")
    result = []
    for n, (oid, transform) in enumerate(items):
        progress(n / max(len(items), 1), f"Reading object {oid}")
        pieces = _flatten(path, objects, oid, transform)
        if not pieces:
            continue
        offsets = np.cumsum([0] + [len(v) for v, _ in pieces[:-1]])
        vertices = np.concatenate([v for v, _ in pieces])
        faces = np.concatenate([t + o for (_, t), o in zip(pieces, offsets, strict=True)])
        obj = objects[oid]
        color = DEFAULT_COLOR
        group = colors.get(obj.get("pid") or "")
        if group:
            index = int(obj.get("pindex") or 0)
            color = group[index] if 0 <= index < len(group) else group[0]
        result.append(SceneObject(obj.get("name") or f"{path.stem} {oid}", ObjectKind.PART,
                                  triangles_to_polydata(path, vertices, faces, scale), color=color,
                                  metadata={"source_format": "3MF", "unit": unit}))
    if not result:
        raise FileFormatError(path, "its build contains no objects with triangles")
    notes = [f"3MF {unit} converted to mm"] if scale != 1.0 else []
    return Loaded(result, notes=notes)
