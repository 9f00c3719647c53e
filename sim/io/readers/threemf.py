"""3MF (3D Manufacturing Format): a zip holding an XML model with units, objects and build items.

Each build item becomes one scene object, with components flattened through
their transforms; the model's ``unit`` attribute is converted to mm.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from array import array
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

import numpy as np

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, triangles_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.io.vtk_safe import clean_message
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

MAX_MODEL_BYTES = 1 << 30  # a model part larger than this (uncompressed) is refused: zip bombs
# Mesh XML deflates 3-10 times; a part inflating 100 times is padding or a bomb.
BOMB_RATIO, BOMB_MIN = 100, 16 << 20
_CHUNK = 1 << 20
_CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
_MATERIAL = "{http://schemas.microsoft.com/3dmanufacturing/material/2015/02}"
_MAX_DEPTH = 16  # components nested deeper than this are treated as a cycle


def _open_member(path: Path, zf: zipfile.ZipFile, name: str) -> zipfile.ZipExtFile:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise FileFormatError(path, f"it has no model part '{name}'") from None
    if info.file_size > MAX_MODEL_BYTES:
        raise FileFormatError(path, f"its model part is larger than {MAX_MODEL_BYTES >> 20} MiB")
    if info.file_size > BOMB_MIN and info.file_size > BOMB_RATIO * max(info.compress_size, 1):
        raise FileFormatError(path, f"its model part inflates {info.file_size // max(info.compress_size, 1)} "
                                    f"times (a decompression bomb, refused)")
    return zf.open(info)


def _model_name(zf: zipfile.ZipFile) -> str:
    try:
        if zf.getinfo("_rels/.rels").file_size > (1 << 20):  # relationships are tiny
            return "3D/3dmodel.model"
        rels = ET.fromstring(zf.read("_rels/.rels"))
        for rel in rels:
            if rel.get("Type", "").endswith("/3dmodel"):
                return rel.get("Target", "").lstrip("/")
    except (KeyError, ET.ParseError, zipfile.BadZipFile, OSError, EOFError, zlib.error,
            ValueError, RuntimeError, NotImplementedError):
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


def _floats(el: ET.Element, *names: str) -> list[float]:
    return [float(el.get(n)) for n in names]  # type: ignore[arg-type]


def parse_3mf(path: Path, source: bytes | BinaryIO) -> tuple[
        str, dict[str, dict], dict[str, list[tuple[float, float, float]]],
        list[tuple[str | None, np.ndarray]]]:
    """(unit, objects by id, colour groups, build items) from the model XML.

    The XML is parsed as a stream, each vertex and triangle stored as numbers and dropped
    from the tree at once, so memory follows the mesh, never the size of the text (which
    may be padded with a gigabyte of whitespace)."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    parser = ET.XMLPullParser(events=("start", "end"))
    unit = "millimeter"
    colors: dict[str, list[tuple[float, float, float]]] = {}
    objects: dict[str, dict] = {}
    items: list[tuple[str | None, np.ndarray]] = []
    stack: list[ET.Element] = []
    current: dict | None = None
    has_resources = False
    read, tail = 0, b""
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        read += len(chunk)
        if read > MAX_MODEL_BYTES:
            raise FileFormatError(path, f"its model part is larger than {MAX_MODEL_BYTES >> 20} MiB")
        window = tail + chunk
        if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
            raise FileFormatError(path, "its model declares XML entities (refused as hostile)")
        tail = window[-16:]
        parser.feed(chunk)
        for event, el in parser.read_events():
            if event == "start":
                if not stack and el.tag != f"{_CORE}model":
                    raise FileFormatError(path, "its model part is not a 3MF model")
                if not stack:
                    unit = el.get("unit", "millimeter")
                stack.append(el)
                if el.tag == f"{_CORE}object":
                    current = {"name": el.get("name"), "pid": el.get("pid"),
                               "pindex": el.get("pindex"), "vertices": array("d"),
                               "triangles": array("q"), "components": []}
                    objects[el.get("id", "")] = current
                elif el.tag == f"{_CORE}resources":
                    has_resources = True
                continue
            stack.pop()
            tag = el.tag
            if tag == f"{_CORE}vertex" and current is not None:
                current["vertices"].extend(_floats(el, "x", "y", "z"))
            elif tag == f"{_CORE}triangle" and current is not None:
                current["triangles"].extend(int(el.get(k)) for k in ("v1", "v2", "v3"))  # type: ignore[arg-type]
            elif tag == f"{_CORE}component" and current is not None:
                current["components"].append((el.get("objectid"), _matrix(el.get("transform"))))
            elif tag == f"{_CORE}base":
                colors.setdefault(stack[-1].get("id", "") if stack else "", []).append(
                    _hex_color(el.get("displaycolor", "#D9BF8C")))
            elif tag == f"{_MATERIAL}color":
                colors.setdefault(stack[-1].get("id", "") if stack else "", []).append(
                    _hex_color(el.get("color", "#D9BF8C")))
            elif tag == f"{_CORE}item" and stack and stack[-1].tag == f"{_CORE}build":
                items.append((el.get("objectid"), _matrix(el.get("transform"))))
            elif tag == f"{_CORE}object":
                current = None
            if stack and len(stack[-1]) and stack[-1][-1] is el:
                del stack[-1][-1]  # done with it: keep the tree as small as the nesting
    parser.close()
    if not has_resources:
        raise FileFormatError(path, "its model has no resources")
    for obj in objects.values():
        obj["vertices"] = np.frombuffer(obj["vertices"], dtype=np.float64).reshape(-1, 3) \
            if len(obj["vertices"]) % 3 == 0 else np.zeros((0, 3))
        obj["triangles"] = np.frombuffer(obj["triangles"], dtype=np.int64).reshape(-1, 3)
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
        with zipfile.ZipFile(path) as zf, _open_member(path, zf, _model_name(zf)) as fh:
            unit, objects, colors, items = parse_3mf(path, fh)
    except (zipfile.BadZipFile, ET.ParseError, ValueError, TypeError, EOFError, OSError,
            zlib.error, RuntimeError, NotImplementedError) as exc:
        raise FileFormatError(path, f"it is not a valid 3MF file ({clean_message(exc)})") from None
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
