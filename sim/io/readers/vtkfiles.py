"""Formats VTK reads natively: legacy VTK, VTP, VTU (meshes) and VTI (images).

VTK's readers report problems on stderr instead of raising, and accept connectivity
that crashes the process later, so each file's signature and announced counts are
checked first, VTK's messages are captured, and what it read is checked with numpy
(:mod:`sim.io.vtk_safe`) before any VTK algorithm touches it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pyvista as pv
from vtkmodules.vtkIOLegacy import vtkDataSetReader
from vtkmodules.vtkIOXML import (
    vtkXMLImageDataReader,
    vtkXMLPolyDataReader,
    vtkXMLUnstructuredGridReader,
)

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.io.vtk_safe import clean_message, dataset_problem, vtk_messages, xml_counts_problem
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress
from sim.render.result_fields import default_field

_SIGNATURES = {".vtk": (b"# vtk DataFile",),
               ".vtp": (b"<?xml", b"<VTKFile"), ".vtu": (b"<?xml", b"<VTKFile"),
               ".vti": (b"<?xml", b"<VTKFile")}


_LEGACY_LINE = re.compile(
    rb"(?m)^[ \t]*(POINTS|VERTICES|LINES|POLYGONS|TRIANGLE_STRIPS|CELLS|CELL_TYPES|POINT_DATA"
    rb"|CELL_DATA|DIMENSIONS|X_COORDINATES|Y_COORDINATES|Z_COORDINATES|LOOKUP_TABLE"
    rb"|COLOR_SCALARS|FIELD|METADATA|INFORMATION|OFFSETS|CONNECTIVITY)[ \t]+([^\r\n]{0,200})")
_FIELD_ARRAY = re.compile(
    rb"(?m)^[ \t]*\S+[ \t]+(\d+)[ \t]+(\d+)[ \t]+(bit|unsigned_char|char|unsigned_short|short"
    rb"|unsigned_int|int|unsigned_long|long|float|double|vtkIdType|vtktypeint64|vtktypeuint64"
    rb"|string|utf8_string)[ \t]*\r?$")
_TYPE_BYTES = {b"double": 8, b"long": 8, b"unsigned_long": 8, b"vtkidtype": 8,
               b"vtktypeint64": 8, b"vtktypeuint64": 8, b"float": 4, b"int": 4,
               b"unsigned_int": 4, b"short": 2, b"unsigned_short": 2}


_READERS = {".vtk": vtkDataSetReader, ".vtp": vtkXMLPolyDataReader,
            ".vtu": vtkXMLUnstructuredGridReader, ".vti": vtkXMLImageDataReader}


def _check_legacy_counts(path: Path) -> None:
    """Every count a legacy file announces must fit in the file: a header asking for a
    billion points (and gigabytes of memory) in a 200-byte file is refused before VTK
    allocates anything."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        data = fh.read()
    lines = data[:1024].split(b"\n", 3)
    binary = len(lines) > 2 and lines[2].strip().upper() == b"BINARY"

    def fits(values: int, kind: bytes | None, what: str) -> None:
        per = _TYPE_BYTES.get((kind or b"").lower(), 1) if binary else 1
        if values * per > size:
            raise FileFormatError(path, f"its header announces {values} {what} but the file is "
                                        f"too short to hold them (truncated or damaged)")

    for m in _LEGACY_LINE.finditer(data):
        word, rest = m[1], m[2].split()
        nums = [int(x) for x in rest if x.isdigit()]
        kind = rest[-1] if rest and not rest[-1].isdigit() else None
        if word == b"POINTS" and nums:
            fits(3 * nums[0], kind, "point coordinates")
        elif word in (b"VERTICES", b"LINES", b"POLYGONS", b"TRIANGLE_STRIPS", b"CELLS"):
            for n in nums[:2]:
                fits(n, b"int", "cell entries")
        elif word in (b"CELL_TYPES", b"POINT_DATA", b"CELL_DATA", b"X_COORDINATES",
                      b"Y_COORDINATES", b"Z_COORDINATES", b"FIELD", b"METADATA",
                      b"INFORMATION") and nums:
            fits(nums[0], kind if word.endswith(b"COORDINATES") else None, "values")
        elif word == b"DIMENSIONS" and len(nums) >= 3:
            fits(int(np.prod(nums[:3], dtype=object)), None, "grid points")
        elif word == b"LOOKUP_TABLE" and nums:
            fits(4 * nums[-1], None, "colour table entries")
        elif word == b"COLOR_SCALARS" and nums and nums[-1] > 4:
            raise FileFormatError(path, f"its colours have {nums[-1]} components (4 at most)")
    for m in _FIELD_ARRAY.finditer(data):
        fits(int(m[1]) * int(m[2]), m[3], "field values")
    cells = [int(m[1]) for m in re.finditer(rb"(?m)^[ \t]*CELLS[ \t]+(\d+)", data)]
    types = [int(m[1]) for m in re.finditer(rb"(?m)^[ \t]*CELL_TYPES[ \t]+(\d+)", data)]
    if cells and types and cells[0] != types[0]:  # VTK would leave the rest uninitialised
        raise FileFormatError(path, f"it lists {types[0]} cell types for {cells[0]} cells")
    version = re.match(rb"\s*# vtk DataFile Version (\d+)\.(\d+)\s*\r?\n", data)
    if version is None or not 1 <= int(version[1]) <= 5:
        raise FileFormatError(path, "its version line is damaged or unknown")
    if int(version[1]) < 5:
        _check_legacy_cells(path, data, binary)


_CELL_LINE = re.compile(rb"(?m)^[ \t]*(VERTICES|LINES|POLYGONS|TRIANGLE_STRIPS|CELLS)[ \t]+"
                        rb"(\d+)[ \t]+(\d+)[ \t]*\r?\n")


def _check_legacy_cells(path: Path, data: bytes, binary: bool) -> None:
    """Walk the cell lists of a version 1-4 file as VTK will: each cell is a point count
    followed by that many ids. VTK trusts the counts while reading (a damaged count makes
    it read far past its buffer and crash), so they are checked here first."""
    for m in _CELL_LINE.finditer(data):
        n, size = int(m[2]), int(m[3])
        if binary:
            if m.end() + 4 * size > len(data):
                raise FileFormatError(path, f"its {m[1].decode().lower()} are truncated")
            values = np.frombuffer(data, ">i4", count=size, offset=m.end()).astype(np.int64)
        else:
            tokens = data[m.end():].split(None, size)[:size]
            try:
                values = np.array([int(t) for t in tokens], dtype=np.int64)
            except ValueError:
                raise FileFormatError(path, f"its {m[1].decode().lower()} hold a value that "
                                            f"is not an integer") from None
            if len(values) < size:
                raise FileFormatError(path, f"its {m[1].decode().lower()} are truncated")
        if not _cell_walk_ok(values, n):
            raise FileFormatError(path, f"its {m[1].decode().lower()} do not add up: the "
                                        f"point counts of {n} cells do not fill {size} values")


def _cell_walk_ok(values: np.ndarray, n: int) -> bool:
    """True if ``values`` is exactly ``n`` runs of (count, ids...)."""
    size = len(values)
    if n == 0:
        return size == 0
    k = int(values[0])
    if k >= 0 and size == n * (k + 1) and (values[::k + 1] == k).all():
        return True  # every cell the same size: the usual case, checked at numpy speed
    pos = 0
    for _ in range(n):
        if pos >= size or values[pos] < 0:
            return False
        pos += 1 + int(values[pos])
    return pos == size


def _read_checked(path: Path, what: str) -> pv.DataSet:
    """VTK's reader for ``path``, its messages captured, its output checked with numpy."""
    try:
        with vtk_messages() as errors:
            reader = _READERS[path.suffix.lower()]()
            reader.SetFileName(os.fsencode(path))
            if hasattr(reader, "ReadAllScalarsOn"):  # legacy: every attribute, as pv.read does
                for flag in ("Scalars", "Vectors", "Normals", "Tensors", "ColorScalars",
                             "TCoords", "Fields"):
                    getattr(reader, f"ReadAll{flag}On")()
            reader.Update()
            out = reader.GetOutputDataObject(0)
            data = pv.wrap(out) if out is not None else None
    except MemoryError:
        raise FileFormatError(path, "it needs more memory than this machine has") from None
    except Exception as exc:  # VTK raises RuntimeError or worse; all mean "bad file" here
        raise FileFormatError(path, f"it is not a valid {what} file "
                                    f"({clean_message(exc) or type(exc).__name__})") from None
    if errors or data is None:
        reason = f" ({errors[0]})" if errors else ""
        raise FileFormatError(path, f"it is not a valid {what} file{reason}")
    blocks = list(data) if isinstance(data, pv.MultiBlock) else [data]
    for block in blocks:
        if block is None:
            continue
        if isinstance(block, pv.MultiBlock):
            raise FileFormatError(path, "it nests blocks of data, which is not supported")
        reason = dataset_problem(block)
        if reason:
            raise FileFormatError(path, reason)
    return data


def read_vtk_dataset(path: Path) -> pv.DataSet:
    suffix = path.suffix.lower()
    what = suffix[1:].upper()
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    if not head.startswith(_SIGNATURES[suffix]):
        raise FileFormatError(path, f"it does not start like a {what} file")
    if suffix == ".vtk":
        _check_legacy_counts(path)
    else:
        problem = xml_counts_problem(path.read_bytes())
        if problem:
            raise FileFormatError(path, problem)
    data = _read_checked(path, what)
    if isinstance(data, pv.MultiBlock):
        with vtk_messages():
            data = data.combine()
    if data is None or data.n_points == 0:
        raise FileFormatError(path, "it contains no geometry")
    return data


def _color(mesh: pv.DataSet) -> tuple[float, float, float]:
    """The mean vertex colour of a coloured mesh, else the default."""
    for name in ("RGB", "RGBA", "Colors"):
        if name in mesh.point_data:
            rgb = np.asarray(mesh.point_data[name])[:, :3].astype(float)
            scale = 255.0 if rgb.max() > 1.0 else 1.0
            return tuple(float(c) for c in rgb.mean(axis=0) / scale)  # type: ignore[return-value]
    return DEFAULT_COLOR


@reader(".vtk", ".vtp", ".vtu", name="VTK meshes")
def read_vtk_mesh(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    data = read_vtk_dataset(path)
    if isinstance(data, pv.ImageData):
        return Loaded([SceneObject(path.stem, ObjectKind.VOLUME, data)], anatomical=True)
    scale = mm_per(options.units)
    if scale != 1.0:
        data.points = np.asarray(data.points) * scale
    if isinstance(data, pv.UnstructuredGrid) and not data.celltypes.size:
        raise FileFormatError(path, "it contains no cells")
    meta: dict = {"source_format": path.suffix[1:].upper()}
    shown = default_field(data)
    if shown is not None:  # a result file (stress, displacement ...) opens coloured by it
        meta.update(scalars=shown, warp_factor=0.0)
    return Loaded([SceneObject(path.stem, ObjectKind.SURFACE, data, color=_color(data),
                               metadata=meta)])


@reader(".vti", name="VTK image")
def read_vti(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    image = read_vtk_dataset(path)
    if not isinstance(image, pv.ImageData):
        raise FileFormatError(path, "it contains no image data")
    return Loaded([SceneObject(path.stem, ObjectKind.VOLUME, image)], anatomical=True)
