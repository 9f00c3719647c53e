"""Fix what can be fixed in a triangle mesh, and say what was done.

Order matters: merge coincident vertices first (so shared edges are shared),
then drop degenerate and duplicate faces, fill holes, and only then make the
winding consistent and outward, because hole patches come with their own winding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.io.mesh_check import MeshReport, check_mesh, degenerate_mask, duplicate_mask, triangles_of
from sim.progress import Progress, no_progress, sub_progress


@dataclass
class RepairResult:
    mesh: pv.PolyData
    actions: list[str] = field(default_factory=list)
    before: MeshReport | None = None
    after: MeshReport | None = None
    remaining: list[str] = field(default_factory=list)  # problems repair cannot fix


def _fill_holes(mesh: pv.PolyData) -> pv.PolyData:
    size = float(np.linalg.norm(np.ptp(np.asarray(mesh.points), axis=0)))
    filled = mesh.fill_holes(size)  # vtkFillHolesFilter: closes each boundary loop with a fan
    return filled.triangulate().clean()


def repair_mesh(data: pv.DataSet, progress: Progress = no_progress,
                fill_holes: bool = True) -> RepairResult:
    before = check_mesh(data, sub_progress(progress, 0.0, 0.4))
    points, faces = triangles_of(data)
    if not len(faces):
        raise InputError("The mesh has no triangles to repair.")
    actions: list[str] = []
    n_points = len(points)
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    faces = inverse.ravel()[faces]
    used, faces = np.unique(faces, return_inverse=True)
    points, faces = unique[used], faces.reshape(-1, 3)
    if len(points) < n_points:
        actions.append(f"merged {n_points - len(points)} duplicate or unused vertices")
    bad = degenerate_mask(points, faces)
    if bad.any():
        faces = faces[~bad]
        actions.append(f"removed {int(bad.sum())} degenerate faces")
    dup = duplicate_mask(faces)
    if dup.any():
        faces = faces[~dup]
        actions.append(f"removed {int(dup.sum())} duplicate faces")
    if not len(faces):
        raise InputError("Nothing is left of the mesh after removing degenerate faces.")
    mesh = pv.PolyData.from_regular_faces(points, faces)
    progress(0.5, "Filling holes")
    if fill_holes and before.boundary_edges:
        n = mesh.n_cells
        mesh = _fill_holes(mesh)
        if mesh.n_cells > n:
            actions.append(f"filled holes with {mesh.n_cells - n} new faces")
    progress(0.6, "Fixing normals")
    report = check_mesh(mesh, no_progress) if before.inconsistent_edges or before.inverted \
        or before.boundary_edges else before
    out = mesh
    if report.inconsistent_edges or report.inverted:
        # vtkPolyDataNormals flips faces to agree with their neighbours and, on a closed
        # surface, turns the whole shell so its normals point outwards.
        out = mesh.compute_normals(consistent_normals=True, auto_orient_normals=report.watertight,
                                   split_vertices=False, cell_normals=False)
        out = pv.PolyData.from_regular_faces(*triangles_of(out))
        if report.inconsistent_edges:
            actions.append("made the face winding consistent")
        if report.inverted or report.watertight:
            actions.append("turned the normals outwards")
    after = check_mesh(out, sub_progress(progress, 0.7, 1.0))
    remaining = []
    if after.self_intersections:
        remaining.append(f"{after.self_intersections} self-intersecting triangle pairs")
    if after.non_manifold_edges:
        remaining.append(f"{after.non_manifold_edges} non-manifold edges")
    if after.boundary_edges:
        remaining.append(f"{after.boundary_edges} open boundary edges")
    if after.inconsistent_edges:
        remaining.append(f"{after.inconsistent_edges} edges with inconsistent winding")
    return RepairResult(out, actions or ["nothing needed fixing"], before, after, remaining)
