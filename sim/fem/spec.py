"""Analysis spec files (JSON or YAML): mesh, element order, material, constraints, loads,
analysis type and named probes, turned into a :class:`~sim.fem.problem.Problem`.

Paths inside a spec are relative to the spec file. See the README's FEM section for the
format and two worked examples (``examples/fem/`` style).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.fem.body import Body
from sim.fem.materials import material_from_spec
from sim.fem.problem import Constraint, Load, Problem, face_areas, surface_traction
from sim.fem.selection import select_faces, select_nodes
from sim.mesh.tetmesh import TetMesh
from sim.progress import Progress, no_progress
from sim.spec_file import read_settings_file, vector3

ANALYSES = ("static_linear", "static_nonlinear", "dynamic")
_COMPONENTS = {"x": 0, "y": 1, "z": 2}


@dataclass
class AnalysisSpec:
    raw: dict[str, Any]
    folder: Path
    name: str

    @property
    def analysis(self) -> dict[str, Any]:
        a = self.raw.get("analysis", {"type": "static_linear"})
        if isinstance(a, str):
            a = {"type": a}
        if a.get("type") not in ANALYSES:
            raise InputError(f"Analysis type '{a.get('type')}' is not one of {', '.join(ANALYSES)}.")
        return a

    @property
    def probes(self) -> dict[str, list[float]]:
        probes = self.raw.get("probes", {}) or {}
        if not isinstance(probes, dict) or not all(
                isinstance(v, list | tuple) and len(v) == 3 for v in probes.values()):
            raise InputError("Probes must map names to [x, y, z] points in mm.")
        return {str(k): [float(c) for c in v] for k, v in probes.items()}


def read_spec(path: str | Path) -> AnalysisSpec:
    """Parse a spec file; any syntax or structure problem is a FileFormatError naming it."""
    path = Path(path)
    raw = read_settings_file(path, "an analysis spec", 10)
    if not isinstance(raw, dict) or "mesh" not in raw or "material" not in raw:
        raise FileFormatError(path, "an analysis spec needs at least 'mesh' and 'material' entries")
    return AnalysisSpec(raw, path.parent.resolve(), str(raw.get("name", path.stem)))


def load_mesh(spec: AnalysisSpec, progress: Progress = no_progress) -> tuple[TetMesh, dict]:
    m = spec.raw["mesh"]
    order = int(spec.raw.get("order", 1))
    if order not in (1, 2):
        raise InputError(f"Element order must be 1 or 2, not {order}.")
    if isinstance(m, str):
        m = {"path": m}
    if not isinstance(m, dict):
        raise InputError("'mesh' must be a file path or an object with 'path' or 'generator'.")
    if "generator" in m:
        from sim.mesh.generators import generate

        mesh = generate({**m, "order": order}, progress)
        return mesh, {"generator": m["generator"], **mesh.quality()}
    if "path" not in m:
        raise InputError("'mesh' needs a 'path' (surface or volume mesh) or a 'generator'.")
    path = Path(m["path"])
    path = path if path.is_absolute() else spec.folder / path
    if not path.exists():
        raise FileFormatError(path, "no such file")
    mesh = _read_volume(path, m.get("units"))
    info: dict[str, Any] = {"path": str(path)}
    if mesh is None:
        from sim.mesh.tetrahedralize import tetrahedralize_file

        mesh, report = tetrahedralize_file(path, m.get("edge_length"), m.get("method", "auto"),
                                           m.get("units"), progress)
        info.update(report)
    mesh = mesh.with_order(order)
    info.update(mesh.quality())
    return mesh, info


def _read_volume(path: Path, units: str | None) -> TetMesh | None:
    """Tetrahedra from a .vtu/.vtk file, or None when the file is a surface to mesh."""
    if path.suffix.lower() not in (".vtu", ".vtk"):
        return None
    import pyvista as pv

    from sim.io.units import mm_per

    try:
        grid = pv.read(path)
    except Exception as exc:
        raise FileFormatError(path, f"it could not be read ({exc})") from None
    if not isinstance(grid, pv.UnstructuredGrid):
        return None
    types = set(np.asarray(grid.celltypes).tolist())
    if not types & {int(pv.CellType.TETRA), int(pv.CellType.QUADRATIC_TETRA)}:
        return None
    mesh = TetMesh.from_pyvista(grid, path.stem)
    scale = mm_per(units)
    return mesh if scale == 1.0 else TetMesh(mesh.points * scale, mesh.cells, mesh.name)


def _components(text: Any) -> tuple[int, ...]:
    text = str(text or "xyz").lower()
    try:
        comps = tuple(sorted({_COMPONENTS[c] for c in text}))
    except KeyError:
        raise InputError(f"Components '{text}' must be letters from 'xyz'.") from None
    return comps


def build_problem(spec: AnalysisSpec, mesh: TetMesh) -> Problem:
    law = spec.raw.get("law")
    material = material_from_spec(spec.raw["material"], law)
    body = Body(mesh, material)
    constraints = []
    for k, c in enumerate(spec.raw.get("constraints", []) or []):
        name = str(c.get("name", f"constraint{k + 1}"))
        kind = c.get("type", "fixed")
        nodes = select_nodes(mesh, c.get("select"), f"constraint '{name}'")
        if kind == "fixed":
            disp = (0.0, 0.0, 0.0)
        elif kind == "displacement":
            disp = tuple(vector3(c.get("value"), f"Displacement of '{name}'"))
        else:
            raise InputError(f"Constraint type '{kind}' must be 'fixed' or 'displacement'.")
        constraints.append(Constraint(name, nodes, _components(c.get("components")), disp))
    loads = []
    for k, ld in enumerate(spec.raw.get("loads", []) or []):
        name = str(ld.get("name", f"load{k + 1}"))
        kind = ld.get("type")
        if kind == "gravity":
            acc = vector3(ld.get("acceleration", [0.0, 0.0, -9810.0]), f"Acceleration of '{name}'")
            vec = body.body_force(acc)
        elif kind == "nodal_force":
            nodes = select_nodes(mesh, ld.get("select"), f"load '{name}'")
            force = vector3(ld.get("force"), f"Force of '{name}'") / len(nodes)
            vec = np.zeros(body.ndof)
            vec.reshape(-1, 3)[nodes] += force
        elif kind == "surface_force":
            faces = select_faces(mesh, ld.get("select"), f"load '{name}'")
            total = vector3(ld.get("force"), f"Force of '{name}'")
            vec = surface_traction(body, faces, traction=total / face_areas(body, faces).sum())
        elif kind == "pressure":
            faces = select_faces(mesh, ld.get("select"), f"load '{name}'")
            try:
                p = float(ld["pressure"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"Pressure load '{name}' needs a 'pressure' in MPa.") from None
            vec = surface_traction(body, faces, pressure=p)
        else:
            raise InputError(f"Load type '{kind}' must be gravity, nodal_force, surface_force "
                             "or pressure.")
        loads.append(Load(name, kind, vec))
    return Problem(body, constraints, loads)
