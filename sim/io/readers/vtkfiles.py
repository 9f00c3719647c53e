"""Formats VTK reads natively: legacy VTK, VTP, VTU (meshes) and VTI (images).

VTK's readers report problems on stderr instead of raising, and some crash on
garbage, so each file's signature is checked first and VTK errors are caught.
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

_SIGNATURES = {".vtk": (b"# vtk DataFile",),
               ".vtp": (b"<?xml", b"<VTKFile"), ".vtu": (b"<?xml", b"<VTKFile"),
               ".vti": (b"<?xml", b"<VTKFile")}


def _check_legacy_size(path: Path) -> None:
    """A binary legacy file must hold at least the points its header announces."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    lines = head.split(b"\n")
    if len(lines) < 3 or lines[2].strip().upper() != b"BINARY":
        return
    for ln in lines[3:8]:
        parts = ln.split()
        if parts[:1] == [b"POINTS"] and len(parts) >= 3 and parts[1].isdigit():
            size = 8 if parts[2].lower() == b"double" else 4
            if int(parts[1]) * 3 * size > path.stat().st_size:
                raise FileFormatError(path, f"its header announces {int(parts[1])} points but the "
                                            "file is too short to hold them (truncated)")


def read_vtk_dataset(path: Path) -> pv.DataSet:
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    if not head.startswith(_SIGNATURES[suffix]):
        raise FileFormatError(path, f"it does not start like a {suffix[1:].upper()} file")
    if suffix == ".vtk":
        _check_legacy_size(path)
    try:
        with pv.VtkErrorCatcher(raise_errors=True):
            data = pv.read(path)
    except Exception as exc:  # VTK raises RuntimeError or worse; all mean "bad file" here
        reason = str(exc).strip().splitlines()[-1][:160] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(path, f"it is not a valid {suffix[1:].upper()} file ({reason})") from None
    if isinstance(data, pv.MultiBlock):
        data = data.combine()
    if data is None or data.n_points == 0:
        raise FileFormatError(path, "it contains no geometry")
    if not isinstance(data, pv.ImageData) and not np.isfinite(np.asarray(data.points)).all():
        raise FileFormatError(path, "it contains non-finite coordinates")
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
    return Loaded([SceneObject(path.stem, ObjectKind.SURFACE, data, color=_color(data),
                               metadata={"source_format": path.suffix[1:].upper()})])


@reader(".vti", name="VTK image")
def read_vti(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    image = read_vtk_dataset(path)
    if not isinstance(image, pv.ImageData):
        raise FileFormatError(path, "it contains no image data")
    return Loaded([SceneObject(path.stem, ObjectKind.VOLUME, image)], anatomical=True)
