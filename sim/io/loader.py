"""Open any supported file or case folder as a :class:`~sim.model.Case`.

Mesh formats without units are read as millimetres. Every failure becomes a
:class:`~sim.errors.FileFormatError` naming the file and the reason.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyvista as pv

from sim.errors import FileFormatError
from sim.model import Case, ObjectKind, SceneObject
from sim.model.case_io import is_case_folder, load_case_folder
from sim.progress import Progress, no_progress

MESH_SUFFIXES = {".stl", ".obj", ".ply", ".off", ".vtk", ".vtp", ".vtu", ".glb", ".gltf"}
IMAGE_SUFFIXES = {".vti"}
SUPPORTED_SUFFIXES = sorted(MESH_SUFFIXES | IMAGE_SUFFIXES)
DEFAULT_COLOR = (0.85, 0.75, 0.55)


def _check_binary_stl(path: Path) -> None:
    """Refuse a binary STL whose triangle count does not match its size (no huge allocations)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(84)
    if head[:5].lower() == b"solid" and b"facet" in path.read_bytes()[:4096]:
        return  # ASCII STL
    if size < 84:
        raise FileFormatError(path, "it is too short to be an STL file")
    (count,) = struct.unpack("<I", head[80:84])
    if 84 + 50 * count != size:
        raise FileFormatError(path, f"its header announces {count} triangles but the file "
                                    f"holds {max(size - 84, 0) // 50} (truncated or corrupt)")


def _read_mesh(path: Path) -> pv.DataSet:
    suffix = path.suffix.lower()
    if suffix == ".stl":
        _check_binary_stl(path)
    if suffix in {".off", ".glb", ".gltf"}:
        import trimesh

        try:
            loaded = trimesh.load(path, force="mesh", process=False)
        except Exception as exc:  # trimesh raises many kinds; all mean "bad file" here
            raise FileFormatError(path, f"it is not a valid {suffix[1:].upper()} file ({exc})") from None
        mesh = pv.wrap(loaded)
    else:
        try:
            mesh = pv.read(path)
        except Exception as exc:
            raise FileFormatError(path, f"it is not a valid {suffix[1:].upper()} file ({exc})") from None
    if isinstance(mesh, pv.MultiBlock):
        mesh = mesh.combine().extract_surface()
    if mesh is None or mesh.n_points == 0:
        raise FileFormatError(path, "it contains no geometry")
    if not np.isfinite(np.asarray(mesh.points)).all():
        raise FileFormatError(path, "it contains non-finite coordinates")
    return mesh


def load(path: str | Path, progress: Progress = no_progress) -> Case:
    """Read a case folder, a mesh or an image into a new case."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "no such file or folder")
    if path.is_dir():
        if is_case_folder(path):
            return load_case_folder(path, progress)
        raise FileFormatError(path, "the folder is not a Twinsight case")
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES | IMAGE_SUFFIXES:
        raise FileFormatError(path, f"'{suffix or path.name}' is not a supported format "
                                    f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if path.stat().st_size == 0:
        raise FileFormatError(path, "the file is empty")
    progress(0.1, f"Reading {path.name}")
    case = Case(name=path.stem, anatomical=False, source=str(path))
    if suffix in IMAGE_SUFFIXES:
        try:
            image = pv.read(path)
        except Exception as exc:
            raise FileFormatError(path, f"it is not a valid image ({exc})") from None
        if not isinstance(image, pv.ImageData) or image.n_points == 0:
            raise FileFormatError(path, "it contains no image data")
        case.anatomical = True
        case.scene.add(SceneObject(path.stem, ObjectKind.VOLUME, image))
    else:
        mesh = _read_mesh(path)
        case.scene.add(SceneObject(path.stem, ObjectKind.SURFACE, mesh, color=DEFAULT_COLOR))
    progress(1.0, f"Read {path.name}")
    return case
