"""Gmsh MSH meshes: versions 1 and 2 (ASCII) parsed here, version 4 and binary files via meshio.

Tetrahedra, hexahedra, wedges and pyramids are kept as volume cells, triangles
and quads as surface cells; lines and points are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR
from sim.io.registry import Loaded, ReadOptions, reader
from sim.io.units import mm_per
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

# Gmsh element type -> (VTK cell type, node count)
GMSH_CELLS: dict[int, tuple[int, int]] = {
    2: (pv.CellType.TRIANGLE, 3), 3: (pv.CellType.QUAD, 4), 4: (pv.CellType.TETRA, 4),
    5: (pv.CellType.HEXAHEDRON, 8), 6: (pv.CellType.WEDGE, 6), 7: (pv.CellType.PYRAMID, 5),
    9: (pv.CellType.QUADRATIC_TRIANGLE, 6), 11: (pv.CellType.QUADRATIC_TETRA, 10),
}
_SKIPPED = {1: 2, 8: 3, 15: 1}  # lines, quadratic lines and points: node counts, not kept
_MESHIO_CELLS = {"triangle": pv.CellType.TRIANGLE, "quad": pv.CellType.QUAD,
                 "tetra": pv.CellType.TETRA, "hexahedron": pv.CellType.HEXAHEDRON,
                 "wedge": pv.CellType.WEDGE, "pyramid": pv.CellType.PYRAMID,
                 "triangle6": pv.CellType.QUADRATIC_TRIANGLE, "tetra10": pv.CellType.QUADRATIC_TETRA}


def _section(path: Path, lines: list[str], start: str, end: str) -> list[str]:
    try:
        i = lines.index(start)
        j = lines.index(end, i)
    except ValueError:
        raise FileFormatError(path, f"it has no {start} ... {end} section") from None
    body = lines[i + 1:j]
    try:
        count = int(body[0])
    except (ValueError, IndexError):
        raise FileFormatError(path, f"its {start} section does not start with a count") from None
    if count != len(body) - 1:
        raise FileFormatError(path, f"its {start} section announces {count} entries "
                                    f"but holds {len(body) - 1}")
    return body[1:]


def parse_msh_ascii(path: Path, text: str) -> pv.UnstructuredGrid:
    """Parse an MSH 1 (``$NOD``/``$ELM``) or MSH 2 ASCII file."""
    lines = [ln.strip() for ln in text.splitlines()]
    v1 = "$NOD" in lines
    nodes = _section(path, lines, "$NOD" if v1 else "$Nodes", "$ENDNOD" if v1 else "$EndNodes")
    elems = _section(path, lines, "$ELM" if v1 else "$Elements", "$ENDELM" if v1 else "$EndElements")
    try:
        node_rows = np.array([ln.split()[:4] for ln in nodes], dtype=np.float64)
    except ValueError:
        raise FileFormatError(path, "a node line is not 'id x y z'") from None
    if node_rows.ndim != 2 or node_rows.shape[1] != 4 or not len(node_rows):
        raise FileFormatError(path, "it contains no nodes")
    ids = node_rows[:, 0].astype(np.int64)
    index = {int(n): i for i, n in enumerate(ids)}
    cells: list[int] = []
    types: list[int] = []
    for ln in elems:
        try:
            f = [int(x) for x in ln.split()]
            etype = f[1]
            if v1:  # number type phys elem n-nodes nodes...
                conn = f[5:5 + f[4]]
            else:  # number type n-tags tags... nodes...
                conn = f[3 + f[2]:]
        except (ValueError, IndexError):
            raise FileFormatError(path, f"element line '{ln[:40]}' is not valid") from None
        if etype in _SKIPPED:
            continue
        if etype not in GMSH_CELLS:
            raise FileFormatError(path, f"it uses element type {etype}, which is not supported")
        vtk_type, n = GMSH_CELLS[etype]
        if len(conn) != n:
            raise FileFormatError(path, f"an element of type {etype} has {len(conn)} nodes, not {n}")
        try:
            cells.extend([n, *(index[c] for c in conn)])
        except KeyError:
            raise FileFormatError(path, "an element refers to a node that does not exist") from None
        types.append(vtk_type)
    if not types:
        raise FileFormatError(path, "it contains no surface or volume elements")
    return pv.UnstructuredGrid(np.asarray(cells), np.asarray(types, dtype=np.uint8), node_rows[:, 1:])


def _read_with_meshio(path: Path) -> pv.UnstructuredGrid:
    """meshio's Gmsh reader, kept quiet: it prints warnings (rich, on stderr), errors on
    stdout, and ends the process with ``sys.exit(1)`` on a file it cannot read."""
    import contextlib
    import io
    import warnings

    import meshio

    from sim.io.vtk_safe import clean_message

    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = meshio.read(path, file_format="gmsh")
    except SystemExit:  # meshio's own "Couldn't read file": the reason went to stdout
        lines = [ln for ln in chatter.getvalue().splitlines() if ln.strip()]
        reason = clean_message(lines[0], 120) if lines else "meshio could not read it"
        raise FileFormatError(path, f"it is not a valid Gmsh file ({reason})") from None
    except MemoryError:
        raise FileFormatError(path, "it needs more memory than this machine has") from None
    except Exception as exc:  # meshio raises ReadError, ValueError, struct errors ...
        raise FileFormatError(path, f"it is not a valid Gmsh file "
                                    f"({type(exc).__name__}: {clean_message(exc, 120)})") from None
    cells, types = [], []
    for block in m.cells:
        vtk_type = _MESHIO_CELLS.get(block.type)
        if vtk_type is None:
            continue
        data = np.asarray(block.data, dtype=np.int64)
        if data.ndim != 2 or (data.size and (data.min() < 0 or data.max() >= len(m.points))):
            raise FileFormatError(path, "an element refers to a node that does not exist")
        cells.append(np.hstack([np.full((len(data), 1), data.shape[1]), data]).ravel())
        types.append(np.full(len(data), vtk_type, dtype=np.uint8))
    if not cells:
        raise FileFormatError(path, "it contains no surface or volume elements")
    points = np.asarray(m.points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 3:
        raise FileFormatError(path, "its nodes do not have three coordinates")
    return pv.UnstructuredGrid(np.concatenate(cells), np.concatenate(types), points[:, :3])


@reader(".msh", name="Gmsh MSH")
def read_msh(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    with open(path, "rb") as fh:
        head = fh.read(64)
    fmt = head.split(b"\n")[1].split() if head.startswith(b"$MeshFormat") and head.count(b"\n") > 1 else []
    ascii_v2 = len(fmt) >= 2 and fmt[0].startswith(b"2") and fmt[1] == b"0"
    if head.startswith(b"$NOD") or ascii_v2:
        try:
            grid = parse_msh_ascii(path, path.read_text())
        except UnicodeDecodeError:
            raise FileFormatError(path, "it is not a text MSH file") from None
    elif head.startswith(b"$MeshFormat"):
        grid = _read_with_meshio(path)
    else:
        raise FileFormatError(path, "it does not start with $MeshFormat or $NOD")
    if not np.isfinite(np.asarray(grid.points)).all():
        raise FileFormatError(path, "it contains non-finite coordinates")
    scale = mm_per(options.units)
    if scale != 1.0:
        grid.points = np.asarray(grid.points) * scale
    return Loaded([SceneObject(path.stem, ObjectKind.SURFACE, grid, color=DEFAULT_COLOR,
                               metadata={"source_format": "MSH"})])
