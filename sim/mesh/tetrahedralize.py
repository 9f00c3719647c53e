"""Closed surface -> quality tetrahedral mesh, with size control and an on-disk cache.

Two meshers (both permissively licensed; TetGen is AGPL and not used):
- gmsh (GPL-2+, like Twinsight): remeshes the surface at the target size and fills it with a
  Delaunay mesh. Fast and exact on clean, non-self-intersecting surfaces (CAD parts).
- fTetWild via ``pytetwild`` (MPL-2.0): robust to self-intersections and other defects of
  real anatomy surfaces (SOFA's liver) at the price of tens of seconds.
``method="auto"`` tries gmsh first and falls back to fTetWild when gmsh rejects the surface.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pyvista as pv

from sim import __version__
from sim.errors import InputError, TwinsightError
from sim.mesh.edges import edge_counts
from sim.mesh.tetmesh import TetMesh, signed_volumes
from sim.progress import Progress, no_progress, sub_progress

log = logging.getLogger(__name__)
METHODS = ("auto", "gmsh", "tetwild")


class MeshingError(TwinsightError):
    """A mesher could not make a volume mesh from a surface."""


def _triangles(surface: pv.PolyData) -> tuple[np.ndarray, np.ndarray]:
    surf = surface if surface.is_all_triangles else surface.triangulate()
    diag = float(np.linalg.norm(np.ptp(np.asarray(surf.points), axis=0))) if surf.n_points else 0.0
    # STL stores each triangle's corners separately, rounded: weld corners closer than 1e-7 diag.
    surf = surf.clean(tolerance=1e-7 * diag, absolute=True) if diag > 0 else surf
    faces = np.asarray(surf.faces).reshape(-1, 4)[:, 1:]
    return np.asarray(surf.points, dtype=np.float64), faces.astype(np.int64)


def check_closed(vertices: np.ndarray, faces: np.ndarray, name: str) -> None:
    """A surface that does not enclose a volume cannot be meshed: say why in plain words."""
    if len(faces) < 4:
        raise InputError(f"Surface '{name}' has fewer than 4 triangles; it encloses no volume.")
    _, counts = edge_counts(faces)
    open_edges = int((counts == 1).sum())
    if open_edges:
        raise InputError(f"Surface '{name}' is not closed: it has {open_edges} boundary edges "
                         "(holes); close it (e.g. with 'mesh repair') before volume meshing.")


def _orient(points: np.ndarray, tets: np.ndarray, name: str) -> TetMesh:
    tets = np.asarray(tets, dtype=np.int64)
    vol = signed_volumes(points, tets)
    scale = float(np.ptp(points, axis=0).max())
    keep = np.abs(vol) > 1e-12 * scale**3  # drop slivers of zero volume a mesher may leave
    tets, vol = tets[keep], vol[keep]
    tets[vol < 0] = tets[vol < 0][:, [0, 2, 1, 3]]
    used = np.unique(tets)
    remap = np.full(len(points), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return TetMesh(points[used], remap[tets], name)


def _run_worker(method: str, vertices: np.ndarray, faces: np.ndarray, size: float, name: str,
                timeout: float, progress: Progress = no_progress) -> TetMesh:
    """Mesh in a child process (see :mod:`sim.mesh.mesher_worker`): crash- and hang-proof, and
    stopped (with any process it started) within a second of Cancel."""
    import sys
    import tempfile

    from sim.child_process import ChildTimeout, GmshLog, python_child, run_child, tetwild_log

    label = "gmsh" if method == "gmsh" else "fTetWild"
    if getattr(sys, "frozen", False):  # a bundled app has no interpreter to start: mesh here
        from sim.mesh import mesher_worker

        fn = mesher_worker.mesh_gmsh if method == "gmsh" else mesher_worker.mesh_tetwild
        progress(0.0, f"Meshing {name} with {label} (cannot be cancelled in this build)")
        try:
            points, tets = fn(vertices, faces, size)
        except Exception as exc:
            raise MeshingError(f"{label} could not mesh '{name}': {exc}") from None
        return _orient(np.asarray(points, dtype=np.float64), tets, name)
    with tempfile.TemporaryDirectory(prefix="twinsight-mesh-") as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, vertices=vertices, faces=faces)
        cmd = python_child("sim.mesh.mesher_worker", method, str(src), str(dst),
                           repr(float(size)))
        # Run in the scratch folder: fTetWild drops a debug '__tracked_surface.stl' into the
        # working directory. The package root goes on the path instead.
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p))
        parse = GmshLog(0.0, 0.95) if method == "gmsh" else tetwild_log
        try:
            run = run_child(cmd, progress, f"Meshing {name} with {label}", timeout=timeout,
                            cwd=tmp, env=env, parse=parse)
        except ChildTimeout:
            raise MeshingError(f"{label} did not finish meshing '{name}' within "
                               f"{timeout:.0f} s.") from None
        if run.returncode != 0 or not dst.is_file():
            why = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else (
                f"it crashed (exit code {run.returncode})")
            raise MeshingError(f"{label} could not mesh '{name}': {why}")
        data = np.load(dst)
        points, tets = data["points"], data["tets"]
    if len(tets) == 0:
        raise MeshingError(f"{label} made no tetrahedra for '{name}'.")
    return _orient(np.asarray(points, dtype=np.float64), tets, name)


def default_edge_length(vertices: np.ndarray) -> float:
    """A twentieth of the bounding-box diagonal, as fTetWild does by default."""
    return float(np.linalg.norm(np.ptp(vertices, axis=0))) / 20.0


def cache_path(vertices: np.ndarray, faces: np.ndarray, size: float, method: str) -> Path:
    from sim.demo.cache import cache_dir

    h = hashlib.sha256()
    h.update(np.ascontiguousarray(vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    h.update(f"{size:.9g}|{method}|{__version__}".encode())
    return cache_dir() / "tetmesh" / f"{h.hexdigest()[:32]}.vtu"


def tetrahedralize(surface: pv.PolyData, edge_length: float | None = None, method: str = "auto",
                   name: str = "surface", progress: Progress = no_progress,
                   use_cache: bool = True, timeout: float = 600.0) -> tuple[TetMesh, dict]:
    """Fill a closed triangle surface (mm) with tetrahedra of about ``edge_length`` mm.

    Returns the mesh and a report (mesher used, cache hit, quality figures).
    """
    if method not in METHODS:
        raise InputError(f"Unknown meshing method '{method}' (use {', '.join(METHODS)}).")
    vertices, faces = _triangles(surface)
    check_closed(vertices, faces, name)
    size = default_edge_length(vertices) if edge_length is None else float(edge_length)
    diag = float(np.linalg.norm(np.ptp(vertices, axis=0)))
    if not np.isfinite(size) or size <= 0:
        raise InputError(f"Edge length must be a positive number of mm, not {edge_length}.")
    if diag / size > 400:
        raise InputError(f"Edge length {size:g} mm is too small for a {diag:.0f} mm object: it "
                         "would make hundreds of millions of elements; use at least "
                         f"{diag / 400:.3g} mm.")
    path = cache_path(vertices, faces, size, method)
    if use_cache and path.is_file():
        try:
            grid = pv.read(path)
            mesh = TetMesh.from_pyvista(grid, name)
            used = str(grid.field_data["method"][0]) if "method" in grid.field_data else method
            progress(1.0, "Volume mesh from cache")
            return mesh, {"method": used, "cached": True, "edge_length_mm": size,
                          **mesh.quality()}
        except Exception:  # a damaged cache entry is remeshed, never trusted
            log.warning("ignoring unreadable cached mesh %s", path)
    progress(0.05, f"Meshing {name}")
    used = method
    if method in ("auto", "gmsh"):
        try:
            mesh = _run_worker("gmsh", vertices, faces, size, name, timeout,
                               sub_progress(progress, 0.05, 0.95 if method == "gmsh" else 0.3))
            used = "gmsh"
        except MeshingError as exc:
            if method == "gmsh":
                raise
            log.info("%s; falling back to fTetWild", exc)
            progress(0.3, f"Meshing {name} with fTetWild")
            mesh = _run_worker("tetwild", vertices, faces, size, name, timeout,
                               sub_progress(progress, 0.3, 0.95))
            used = "tetwild"
    else:
        mesh = _run_worker("tetwild", vertices, faces, size, name, timeout,
                           sub_progress(progress, 0.05, 0.95))
    if use_cache:
        grid = mesh.to_pyvista()
        grid.field_data["method"] = np.array([used])
        from sim.model.atomic import FILE_MODE, private_dir

        private_dir(path.parent.parent)  # the cache holds patients' anatomy: owner-only
        private_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.vtu")
        grid.save(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    progress(1.0, f"Meshed {name}")
    return mesh, {"method": used, "cached": False, "edge_length_mm": size, **mesh.quality()}


def tetrahedralize_file(path: str | Path, edge_length: float | None = None, method: str = "auto",
                        units: str | None = None, progress: Progress = no_progress,
                        use_cache: bool = True) -> tuple[TetMesh, dict]:
    """Read a surface file with :func:`sim.io.load` and mesh its (first) surface."""
    from sim.io import load
    from sim.progress import sub_progress

    case = load(path, sub_progress(progress, 0.0, 0.1), units=units)
    surfaces = [o for o in case.scene if isinstance(o.data, pv.PolyData) and o.data.n_cells]
    if not surfaces:
        raise InputError(f"'{path}' contains no surface to fill with tetrahedra.")
    merged = surfaces[0].data if len(surfaces) == 1 else pv.merge([s.data for s in surfaces])
    return tetrahedralize(merged, edge_length, method, Path(path).stem,
                          sub_progress(progress, 0.1, 1.0), use_cache)
