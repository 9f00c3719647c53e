"""Point clouds (3D scans): PCD, point-only PLY, and XYZ/PTS/CSV/TXT point lists.

Each becomes one ``POINTS`` object: a PolyData of vertices in millimetres, with
the scan's extra columns (intensity, RGB, normals) as point arrays. Text lists
are parsed by numpy's C tokenizer in one pass, so millions of rows read in
seconds; headers that lie about sizes are refused before any large allocation.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyvista as pv

from sim.errors import FileFormatError
from sim.io.registry import Loaded, Reader, ReadOptions, reader, readers, register_reader
from sim.io.units import mm_per
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

TEXT_SUFFIXES = (".xyz", ".pts", ".csv", ".txt", ".asc")
SCAN_COLOR = (0.35, 0.75, 0.95)
_NUMBER = re.compile(rb"^[\s,;]*[-+]?(\d|\.\d)")


def points_object(name: str, points: np.ndarray, arrays: dict[str, np.ndarray] | None = None,
                  source_format: str = "") -> SceneObject:
    """A POINTS scene object from (n, 3) points (mm) and optional per-point arrays."""
    cloud = pv.PolyData(np.ascontiguousarray(points, dtype=np.float64))
    for key, value in (arrays or {}).items():
        cloud.point_data[key] = value
    return SceneObject(name, ObjectKind.POINTS, cloud, color=SCAN_COLOR,
                       metadata={"source_format": source_format} if source_format else {})


def _check_points(path: Path, pts: np.ndarray) -> np.ndarray:
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise FileFormatError(path, "it contains no points")
    finite = np.isfinite(pts).all(axis=1)
    if not finite.any():
        raise FileFormatError(path, "it contains no finite points")
    return finite


# -- text point lists ----------------------------------------------------------------------
def read_point_list(path: Path, scale: float = 1.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """x y z [more columns] a row, separated by spaces, tabs, commas or semicolons.

    Header lines (column names, a PTS point count) are skipped; every data row must
    have the same number of columns.
    """
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        raise FileFormatError(path, "it is binary, not a text point list")
    lines = data.splitlines()
    start = 0
    while start < len(lines) and (not lines[start].strip() or not _NUMBER.match(lines[start])
                                  or _is_count_line(lines, start)):
        start += 1
    if start == len(lines):
        raise FileFormatError(path, "it holds no rows of numbers")
    first = lines[start].replace(b",", b" ").replace(b";", b" ").split()
    ncol = len(first)
    if ncol < 3:
        raise FileFormatError(path, f"line {start + 1} has {ncol} numbers; x, y and z are needed")
    body = b"\n".join(lines[start:]).replace(b",", b" ").replace(b";", b" ")
    try:
        values = np.array(body.split(), dtype=np.float64)
    except ValueError as exc:
        raise FileFormatError(path, f"it holds a value that is not a number ({exc})") from None
    if values.size % ncol:
        raise FileFormatError(path, f"its rows do not all have {ncol} columns like the first one")
    table = values.reshape(-1, ncol)
    pts = table[:, :3] * scale
    finite = _check_points(path, pts)
    arrays: dict[str, np.ndarray] = {}
    extra = table[finite, 3:]
    if extra.shape[1] in (1, 4):  # PTS: intensity [r g b]
        arrays["intensity"] = extra[:, 0]
        extra = extra[:, 1:]
    if extra.shape[1] == 3:
        if extra.min() >= 0 and extra.max() <= 255 and extra.max() > 1.0:
            arrays["RGB"] = extra.astype(np.uint8)
        elif extra.size and np.allclose(np.linalg.norm(extra, axis=1), 1.0, atol=1e-2):
            arrays["Normals"] = extra
    return pts[finite], arrays


def _is_count_line(lines: list[bytes], i: int) -> bool:
    """A PTS file starts with one integer, the number of points, before the x y z rows."""
    parts = lines[i].split()
    return len(parts) == 1 and parts[0].isdigit()


# -- PCD -----------------------------------------------------------------------------------
def _pcd_header(path: Path, data: bytes) -> dict[str, list[str]]:
    header: dict[str, list[str]] = {}
    pos = 0
    for _ in range(64):
        end = data.find(b"\n", pos)
        if end < 0:
            break
        line = data[pos:end].decode("ascii", "replace").strip()
        pos = end + 1
        if not line or line.startswith("#"):
            continue
        key, *vals = line.split()
        header[key.upper()] = vals
        if key.upper() == "DATA":
            header["_offset"] = [str(pos)]
            return header
    raise FileFormatError(path, "it has no complete PCD header (no DATA line)")


def read_pcd(path: Path, scale: float = 1.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PCD v0.7 (ascii, binary, binary_compressed), header checked before Open3D parses it."""
    data = path.read_bytes()
    h = _pcd_header(path, data)
    try:
        fields = h["FIELDS"]
        sizes = [int(s) for s in h["SIZE"]]
        counts = [int(c) for c in h.get("COUNT", ["1"] * len(fields))]
        npts = int(h["POINTS"][0]) if "POINTS" in h else int(h["WIDTH"][0]) * int(h["HEIGHT"][0])
        mode = h["DATA"][0].lower()
    except (KeyError, IndexError, ValueError):
        raise FileFormatError(path, "its PCD header lacks FIELDS, SIZE, POINTS or DATA") from None
    if not {"x", "y", "z"} <= set(fields) or len(sizes) != len(fields):
        raise FileFormatError(path, "its PCD fields do not include x, y and z")
    if npts < 0 or mode not in ("ascii", "binary", "binary_compressed"):
        raise FileFormatError(path, "its PCD header has a bad point count or DATA type")
    body = len(data) - int(h["_offset"][0])
    if mode == "binary" and npts * sum(s * c for s, c in zip(sizes, counts, strict=True)) > body:
        raise FileFormatError(path, "its header announces more points than the file holds "
                                    "(truncated or corrupt)")
    if mode == "binary_compressed" and body < 8:
        raise FileFormatError(path, "its compressed data is missing")
    if mode == "ascii" and npts > data.count(b"\n", int(h["_offset"][0])) + 1:
        raise FileFormatError(path, "its header announces more points than the file holds lines")
    import open3d as o3d

    cloud = o3d.io.read_point_cloud(str(path), format="pcd", remove_nan_points=False)
    pts = np.asarray(cloud.points, dtype=np.float64) * scale
    if len(pts) != npts:
        raise FileFormatError(path, f"it holds {len(pts)} readable points where its header "
                                    f"announces {npts} (corrupt)")
    finite = _check_points(path, pts)
    arrays: dict[str, np.ndarray] = {}
    if cloud.has_colors():
        arrays["RGB"] = (np.asarray(cloud.colors)[finite] * 255).round().astype(np.uint8)
    if cloud.has_normals():
        arrays["Normals"] = np.asarray(cloud.normals)[finite]
    return pts[finite], arrays


# -- PLY without faces ----------------------------------------------------------------------
def ply_has_faces(data: bytes) -> bool:
    """Whether a PLY header declares a non-empty face element."""
    head = data[: data.find(b"end_header")].decode("ascii", "replace")
    m = re.search(r"^element\s+face\s+(\d+)", head, re.MULTILINE)
    return bool(m and int(m.group(1)) > 0)


def read_ply_points(path: Path, scale: float = 1.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    import trimesh

    from sim.io.readers.ply import check_ply_header

    check_ply_header(path, path.read_bytes())
    try:
        cloud = trimesh.load(path, file_type="ply", process=False)
    except Exception as exc:  # trimesh raises many kinds on bad data; all mean "bad file"
        raise FileFormatError(path, f"it is not a valid PLY file ({type(exc).__name__}: {exc})") from None
    pts = np.asarray(getattr(cloud, "vertices", np.zeros((0, 3))), dtype=np.float64) * scale
    finite = _check_points(path, pts)
    arrays: dict[str, np.ndarray] = {}
    colors = getattr(cloud, "colors", None)
    if colors is not None and len(colors) == len(pts):
        arrays["RGB"] = np.asarray(colors)[finite, :3].astype(np.uint8)
    return pts[finite], arrays


# -- registry hooks -------------------------------------------------------------------------
@reader(".pcd", *TEXT_SUFFIXES, name="point cloud")
def read_point_cloud(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    scale = mm_per(options.units)
    progress(0.1, f"Reading points from {path.name}")
    if path.suffix.lower() == ".pcd":
        pts, arrays, fmt = *read_pcd(path, scale), "PCD"
    else:
        pts, arrays, fmt = *read_point_list(path, scale), path.suffix[1:].upper()
    return Loaded([points_object(path.stem, pts, arrays, fmt)],
                  notes=[f"{len(pts):,} points read as {'mm' if scale == 1 else 'scaled to mm'}"])


def _install_ply_dispatch() -> None:
    """Let '.ply' open point-only files as scans; meshes still go to the PLY mesh reader."""
    mesh_reader = next((r for r in readers() if ".ply" in r.suffixes), None)
    if mesh_reader is None or getattr(mesh_reader.read, "_points_aware", False):
        return

    def read_ply_any(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        if head.startswith(b"ply") and b"end_header" in head and not ply_has_faces(head):
            pts, arrays = read_ply_points(path, mm_per(options.units))
            return Loaded([points_object(path.stem, pts, arrays, "PLY")])
        return mesh_reader.read(path, options, progress)

    read_ply_any._points_aware = True  # type: ignore[attr-defined]
    register_reader(Reader(mesh_reader.name, mesh_reader.suffixes, read_ply_any,
                           mesh_reader.folders))


_install_ply_dispatch()
