"""From a case object to a simulation body: its surface (world frame) tet-meshed (cached)."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.mesh.tetmesh import TetMesh
from sim.mesh.tetrahedralize import check_closed, tetrahedralize
from sim.model import Case, SceneObject
from sim.progress import Progress, no_progress

MAX_VISUAL_POINTS = 400_000


def closed_surfaces(case: Case) -> list[SceneObject]:
    """Scene objects that can be simulated: closed triangle surfaces."""
    out = []
    for obj in case.scene:
        data = obj.data
        if not isinstance(data, pv.PolyData) or data.n_cells < 4 or data.n_points == 0:
            continue
        try:
            surf = data.triangulate() if not data.is_all_triangles else data
            faces = np.asarray(surf.faces).reshape(-1, 4)[:, 1:]
            check_closed(np.asarray(surf.points), faces, obj.name)
        except (InputError, ValueError):
            continue
        out.append(obj)
    return out


def world_surface(obj: SceneObject) -> pv.PolyData:
    """The object's surface with its transform applied (what the view shows)."""
    surf = obj.data.triangulate() if not obj.data.is_all_triangles else obj.data.copy()
    if obj.has_transform:
        surf = surf.transform(obj.transform, inplace=False)
    return surf


def pick_body(case: Case, name: str | None) -> SceneObject:
    if name is not None:
        try:
            obj = case.scene[name]
        except KeyError:
            names = ", ".join(o.name for o in case.scene) or "none"
            raise InputError(f"The case has no object named '{name}' (objects: {names}).") from None
        if obj not in closed_surfaces(case):
            raise InputError(f"'{name}' is not a closed surface, so it cannot be simulated.")
        return obj
    bodies = closed_surfaces(case)
    if not bodies:
        raise InputError("The case has no closed surface to simulate.")
    return bodies[0]


MESHERS = ("engine", "sparse")


def prepare_body(obj: SceneObject, edge_length: float | None = None,
                 progress: Progress = no_progress, mesher: str = "engine",
                 target_tets: int = 10_000) -> tuple[TetMesh, pv.PolyData, dict]:
    """Tet mesh and the fine visual surface to embed in it. ``mesher="engine"``: the FE
    engine's surface-conforming tetrahedralisation (cached); ``"sparse"``: an instant sparse
    grid enclosing the surface (``edge_length`` or sized for ``target_tets``)."""
    if mesher not in MESHERS:
        raise InputError(f"Unknown mesher '{mesher}' (use {', '.join(MESHERS)}).")
    surf = world_surface(obj)
    if surf.n_points > MAX_VISUAL_POINTS:
        raise InputError(f"'{obj.name}' has {surf.n_points} vertices; decimate it below "
                         f"{MAX_VISUAL_POINTS} for interactive simulation.")
    if mesher == "sparse":
        from sim.interaction.sparse_grid import sparse_grid

        progress(0.1, f"Sparse grid around {obj.name}")
        mesh = sparse_grid(surf, edge_length, target_tets, obj.name)
        return mesh, surf, {"method": "sparse_grid", "cached": False}
    mesh, report = tetrahedralize(surf, edge_length, name=obj.name, progress=progress)
    return mesh, surf, report
