"""Writing meshes: STL, OBJ (+MTL colours), PLY, VTP, VTU and GLB.

Unit-less formats are written in ``units`` (mm by default); GLB is always metres
with +Y up, as glTF requires. Files are written to a temporary name and renamed,
so a failed write never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyvista as pv

from sim.errors import InputError, TwinsightError
from sim.io.units import mm_per
from sim.model import SceneObject

WRITE_SUFFIXES = (".stl", ".obj", ".ply", ".vtp", ".vtu", ".glb")
_Z_UP_TO_Y_UP = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=float)


def _surface(data: pv.DataSet) -> pv.PolyData:
    surf = data if isinstance(data, pv.PolyData) else data.extract_surface()
    return surf.triangulate()


def _as_objects(items) -> list[SceneObject]:
    if isinstance(items, pv.DataSet):
        return [SceneObject("mesh", "surface", items)]
    if isinstance(items, SceneObject):
        return [items]
    return list(items)


def _scaled(data: pv.DataSet, factor: float) -> pv.DataSet:
    out = data.copy()
    if factor != 1.0:
        out.points = np.asarray(out.points, dtype=float) * factor
    return out


def _write_obj(objects: list[SceneObject], tmp: Path, final: Path, factor: float) -> None:
    mtl_name = final.with_suffix(".mtl").name
    with open(tmp, "w") as fh, open(tmp.with_suffix(".mtl.tmp"), "w") as mtl:
        fh.write(f"# Twinsight export\nmtllib {mtl_name}\n")
        offset = 1
        for i, obj in enumerate(objects):
            surf = _scaled(_surface(obj.data), factor)
            faces = surf.faces.reshape(-1, 4)[:, 1:] + offset
            mat = f"m{i}"
            mtl.write(f"newmtl {mat}\nKd {obj.color[0]:.4f} {obj.color[1]:.4f} {obj.color[2]:.4f}\n")
            fh.write(f"o {obj.name}\nusemtl {mat}\n")
            np.savetxt(fh, np.asarray(surf.points), fmt="v %.6g %.6g %.6g")
            np.savetxt(fh, faces, fmt="f %d %d %d")
            offset += surf.n_points
    os.replace(tmp.with_suffix(".mtl.tmp"), final.with_suffix(".mtl"))


def _write_glb(objects: list[SceneObject], tmp: Path) -> None:
    import trimesh

    scene = trimesh.Scene()
    for obj in objects:
        surf = _surface(obj.data)
        vertices = (np.asarray(surf.points, dtype=float) / 1000.0) @ _Z_UP_TO_Y_UP.T
        mesh = trimesh.Trimesh(vertices, surf.faces.reshape(-1, 4)[:, 1:], process=False)
        rgba = [int(round(c * 255)) for c in obj.color] + [int(round(obj.opacity * 255))]
        mesh.visual = trimesh.visual.TextureVisuals(
            material=trimesh.visual.material.PBRMaterial(name=obj.name, baseColorFactor=rgba))
        scene.add_geometry(mesh, node_name=obj.name, geom_name=obj.name)
    tmp.write_bytes(scene.export(file_type="glb"))


def write_mesh(items: Iterable[SceneObject] | SceneObject | pv.DataSet, path: str | Path,
               units: str = "mm") -> Path:
    """Write one or more meshes (scene objects or datasets, in mm) to ``path``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InputError(f"Cannot write '{path.name}': choose one of {', '.join(WRITE_SUFFIXES)}.")
    if not path.parent.is_dir():
        raise InputError(f"Folder '{path.parent}' does not exist.")
    objects = [o for o in _as_objects(items) if not isinstance(o.data, pv.ImageData)]
    if not objects:
        raise InputError("There is no mesh to write.")
    factor = 1.0 / mm_per(units)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        if suffix == ".obj":
            _write_obj(objects, tmp, path, factor)
        elif suffix == ".glb":
            _write_glb(objects, tmp)
        elif suffix == ".vtu":
            merged = pv.merge([_scaled(o.data, factor) for o in objects], merge_points=False)
            pv.UnstructuredGrid(merged).save(tmp)
        else:
            merged = pv.merge([_scaled(_surface(o.data), factor) for o in objects],
                              merge_points=False)
            surf = merged if isinstance(merged, pv.PolyData) else merged.extract_surface()
            surf.save(tmp, binary=True)
        os.replace(tmp, path)
    except TwinsightError:
        raise
    except Exception as exc:
        raise TwinsightError(f"Writing '{path}' failed ({type(exc).__name__}: {exc}).") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
