"""Reading untrusted data through VTK without crashing, hanging or chattering on stderr.

VTK's readers accept connectivity they never check: a cell naming point 50,000,000 of a
3-point mesh reads "fine" and then crashes the process (signal 11) in the first filter
that walks the cells (areas, normals, rendering). :func:`dataset_problem` checks what a
reader produced with numpy alone - cell offsets and point ids in range, cell sizes that
match their types, attribute arrays as long as the points/cells they describe, finite
coordinates - so nothing unchecked ever reaches a VTK algorithm.

:func:`vtk_messages` captures what VTK reports while a reader runs (VTK prints errors
on stderr and pyvista echoes them to logging and as warnings); the caller turns the
first one into a one-sentence error.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

# VTK cell type -> the number of points its cells must have (types of variable size absent)
_FIXED_SIZE = {1: 1, 3: 2, 5: 3, 8: 4, 9: 4, 10: 4, 11: 8, 12: 8, 13: 6, 14: 5, 15: 12, 16: 10,
               21: 3, 22: 6, 23: 8, 24: 10, 25: 20, 26: 15, 27: 13, 28: 9, 29: 27, 30: 6,
               31: 18, 32: 24, 33: 18, 34: 6}
# variable size: vertex set, polyline, triangle strip, polygon, polyhedron, Lagrange/Bezier
_VARIABLE_SIZE = {0: 0, 2: 1, 4: 2, 6: 3, 7: 3, 42: 1, 51: 1, 60: 1, 61: 1, 62: 1, 63: 1,
                  64: 1, 65: 1, 66: 1, 67: 1, 68: 1, 69: 1, 70: 1, 71: 1, 72: 1, 73: 1,
                  74: 1, 75: 1, 76: 1, 77: 1, 78: 1, 79: 1, 80: 1, 81: 1}
POLYHEDRON = 42


def quiet_native_logs(verbose: bool = False) -> None:
    """Keep VTK's own logger and output window off stderr (the CLI prints one sentence)."""
    if verbose:
        return
    try:
        from vtkmodules.vtkCommonCore import vtkLogger, vtkOutputWindow, vtkStringOutputWindow
    except ImportError:  # pragma: no cover - VTK is a dependency
        return
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    vtkOutputWindow.SetInstance(vtkStringOutputWindow())


@contextlib.contextmanager
def vtk_messages() -> Iterator[list[str]]:
    """Collect VTK's error messages (cleaned, one line each) instead of printing them."""
    import pyvista as pv

    found: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        catcher = pv.VtkErrorCatcher(send_to_logging=False)
        try:
            with catcher:
                yield found
        finally:
            found.extend(clean_message(e.alert) for e in catcher.error_events)


def clean_message(text: str, limit: int = 160) -> str:
    """A VTK/library message as a short plain phrase: no source locations, no object
    addresses, one line, printable only."""
    text = re.sub(r"\([0-9a-fx]{6,}\)", "", str(text))
    text = re.sub(r"\b0x[0-9a-fA-F]+\b", "", text)
    text = " ".join(text.split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    text = text.strip().rstrip(".")
    return text[:limit] + ("..." if len(text) > limit else "")


_XML_COUNT = re.compile(rb'NumberOf(Points|Cells|Verts|Lines|Strips|Polys|Tuples)\s*=\s*"\s*(\d+)')
_XML_EXTENT = re.compile(rb'Extent\s*=\s*"([-+\d\s]+)"')
XML_MAX_RATIO = 1000  # zlib shrinks real data a few times; 1000x more values is a lie


def xml_counts_problem(data: bytes) -> str | None:
    """Why the counts a VTK XML file announces cannot be true, or None: VTK allocates what
    ``NumberOfPoints``/``Extent`` say before reading, and aborts the process when that
    fails, so a 1 KB file claiming two billion points is refused before VTK sees it."""
    end = data.find(b"<AppendedData")
    head = data if end < 0 else data[:end]
    limit = len(data) * (XML_MAX_RATIO if b"compressor" in head[:4096] else 1) + 4096
    for m in _XML_COUNT.finditer(head):
        values = int(m[2]) * (3 if m[1] == b"Points" else 1)
        if values > limit:
            return (f"it announces {int(m[2])} {m[1].decode().lower()}, more than its "
                    f"{len(data)} bytes can hold")
    for m in _XML_EXTENT.finditer(head):
        try:
            e = [int(v) for v in m[1].split()]
        except ValueError:
            return "its extent is not six integers"
        if len(e) != 6 or any(e[2 * i + 1] < e[2 * i] - 1 for i in range(3)):
            return "its extent is not six increasing integers"
        points = 1
        for i in range(3):
            points *= e[2 * i + 1] - e[2 * i] + 1
        if points > limit:
            return f"its extent holds {points} points, more than its {len(data)} bytes can hold"
    return None


def _numpy(array) -> np.ndarray:
    from vtkmodules.util.numpy_support import vtk_to_numpy

    if array is None or array.GetNumberOfTuples() == 0:
        return np.zeros(0, dtype=np.int64)
    return vtk_to_numpy(array)


def _cell_array_problem(cells, n_points: int, what: str) -> tuple[str | None, np.ndarray]:
    """(reason or None, cell sizes) for one vtkCellArray of ``n_points`` points."""
    if cells is None:
        return None, np.zeros(0, dtype=np.int64)
    offsets = _numpy(cells.GetOffsetsArray()).astype(np.int64, copy=False)
    conn = _numpy(cells.GetConnectivityArray())
    if offsets.size == 0:
        return (None if conn.size == 0 else f"its {what} have ids but no cells"), offsets
    if offsets[0] != 0 or offsets[-1] != conn.size or (np.diff(offsets) < 0).any():
        return f"its {what} are not stored consistently (cell offsets out of order)", offsets
    if conn.size and (int(conn.min()) < 0 or int(conn.max()) >= n_points):
        bad = int(conn.max()) if int(conn.max()) >= n_points else int(conn.min())
        return (f"its {what} refer to point {bad}, but it has only {n_points} points"), offsets
    return None, np.diff(offsets)


def dataset_problem(data: Any) -> str | None:
    """Why ``data`` (a VTK dataset fresh from a reader) is unsafe to use, or None."""
    from vtkmodules.vtkCommonDataModel import (
        vtkImageData,
        vtkPolyData,
        vtkRectilinearGrid,
        vtkStructuredGrid,
        vtkUnstructuredGrid,
    )

    n_points = int(data.GetNumberOfPoints())
    n_cells = int(data.GetNumberOfCells())
    if isinstance(data, vtkPolyData):
        for what, cells in (("vertices", data.GetVerts()), ("lines", data.GetLines()),
                            ("polygons", data.GetPolys()), ("triangle strips", data.GetStrips())):
            reason, _ = _cell_array_problem(cells, n_points, what)
            if reason:
                return reason
    elif isinstance(data, vtkUnstructuredGrid):
        reason, sizes = _cell_array_problem(data.GetCells(), n_points, "cells")
        if reason:
            return reason
        get_types = getattr(data, "GetCellTypes", None) or data.GetCellTypesArray
        types = _numpy(get_types()).astype(np.int64, copy=False)
        if types.size != sizes.size:
            return f"it lists {types.size} cell types for {sizes.size} cells"
        known = np.isin(types, list(_FIXED_SIZE) + list(_VARIABLE_SIZE))
        if not known.all():
            return f"it uses cell type {int(types[~known][0])}, which is not a VTK cell type"
        for t, k in _FIXED_SIZE.items():
            if (sizes[types == t] != k).any():
                return f"a cell of type {t} has the wrong number of points (needs {k})"
        for t, k in _VARIABLE_SIZE.items():
            if (sizes[types == t] < k).any():
                return f"a cell of type {t} has too few points"
        if (types == POLYHEDRON).any():
            reason = _polyhedron_problem(data, n_points)
            if reason:
                return reason
    elif isinstance(data, vtkImageData):
        dims = [int(d) for d in data.GetDimensions()]
        if min(dims) < 0:
            return "its image dimensions are negative"
    elif isinstance(data, vtkStructuredGrid):
        dims = [int(d) for d in data.GetDimensions()]
        if min(dims) < 0 or int(np.prod(dims, dtype=np.int64)) != n_points:
            return f"its grid dimensions {dims} do not match its {n_points} points"
    elif isinstance(data, vtkRectilinearGrid):
        dims = [int(d) for d in data.GetDimensions()]
        coords = (data.GetXCoordinates(), data.GetYCoordinates(), data.GetZCoordinates())
        if any(c is None or c.GetNumberOfTuples() != d for c, d in zip(coords, dims, strict=True)):
            return "its grid coordinates do not match its dimensions"
    for what, attrs, count in (("point", data.GetPointData(), n_points),
                               ("cell", data.GetCellData(), n_cells)):
        for i in range(attrs.GetNumberOfArrays()):
            array = attrs.GetAbstractArray(i)
            if array is not None and array.GetNumberOfTuples() != count:
                name = clean_message(array.GetName() or f"#{i}", 40)
                return (f"its {what} array '{name}' holds {array.GetNumberOfTuples()} values "
                        f"for {count} {what}s")
    if not isinstance(data, vtkImageData) and n_points:
        points = _numpy(data.GetPoints().GetData()) if data.GetPoints() is not None else None
        if points is not None and points.size and not np.isfinite(points).all():
            return "it contains non-finite coordinates"
    elif isinstance(data, vtkImageData) and not (np.isfinite(data.GetOrigin()).all()
                                                  and np.isfinite(data.GetSpacing()).all()):
        return "its image origin or spacing is not finite"
    return None


def _polyhedron_problem(data, n_points: int) -> str | None:
    faces = data.GetPolyhedronFaces() if hasattr(data, "GetPolyhedronFaces") else None
    locations = (data.GetPolyhedronFaceLocations()
                 if hasattr(data, "GetPolyhedronFaceLocations") else None)
    if faces is None or locations is None:
        return "its polyhedron cells have no faces"
    reason, _ = _cell_array_problem(faces, n_points, "polyhedron faces")
    if reason:
        return reason
    reason, _ = _cell_array_problem(locations, int(faces.GetNumberOfCells()),
                                    "polyhedron face lists")
    return reason
