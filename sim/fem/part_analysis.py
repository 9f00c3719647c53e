"""A stress analysis of one part set up by picking its faces: the Analysis panel's model.

:class:`PartAnalysis` holds what the engineer chose (material, element order, mesh size,
supports and loads on picked faces). It is stored in the case (section ``analysis``),
turns into an ordinary analysis spec (:func:`spec_dict`, :func:`export_spec`) that
``twinsight fem solve`` runs the same way, and runs here without any GUI (:func:`run`).
Faces are saved as seed points with a feature angle (``{"patch": ...}`` selectors), so
the selection survives remeshing and reads well in the spec.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.fem.materials import library_material, library_names
from sim.fem.patches import DEFAULT_ANGLE, patch_mask
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress, no_progress

SECTION = "analysis"
CONSTRAINTS = ("fixed", "displacement")
LOADS = ("force", "pressure", "gravity")
KINDS = CONSTRAINTS + LOADS
# What "value" holds per kind, and its unit.
VALUE_UNITS = {"fixed": "", "displacement": "mm", "force": "N", "pressure": "MPa",
               "gravity": "mm/s²"}
STANDARD_GRAVITY = [0.0, 0.0, -9810.0]  # mm/s^2
# Tissue words in an object's name pick a tissue; otherwise the object's kind decides.
_TISSUES = {"liver": "liver", "kidney": "kidney", "brain": "brain", "fat": "fat",
            "muscle": "muscle", "skin": "skin", "vessel": "vessel_wall", "aorta": "vessel_wall",
            "artery": "vessel_wall", "vein": "vessel_wall", "vertebra": "cortical_bone",
            "bone": "cortical_bone", "femur": "cortical_bone", "skull": "cortical_bone"}
_BY_KIND = {ObjectKind.PART: "steel", ObjectKind.DEVICE: "titanium_alloy",
            ObjectKind.SURFACE: "steel"}


def default_material(kind: ObjectKind | str, name: str = "") -> str:
    """The library material a new analysis of an object starts with: a tissue named in the
    object's name, else steel for parts and surfaces and titanium for devices."""
    lower = name.lower()
    for word, material in _TISSUES.items():
        if word in lower:
            return material
    return _BY_KIND.get(ObjectKind(kind), "steel")


@dataclass
class Condition:
    """A support or load on the faces picked at ``seeds`` (world mm).

    ``value``: displacement [x, y, z] mm, total force [x, y, z] N, pressure MPa (positive
    pushes into the part), gravity acceleration [x, y, z] mm/s² (no faces)."""

    name: str
    kind: str
    seeds: list[list[float]] = field(default_factory=list)
    value: list[float] | float = 0.0
    components: str = "xyz"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"Condition '{self.name}' has kind '{self.kind}', not one of "
                             f"{', '.join(KINDS)}.")
        self.seeds = [[float(c) for c in s] for s in self.seeds]
        if self.kind != "gravity" and not self.seeds:
            raise InputError(f"{self.kind.capitalize()} '{self.name}' needs at least one "
                             f"picked face.")
        if self.kind == "pressure":
            self.value = float(self.value if not isinstance(self.value, list) else self.value[0])
        elif self.kind == "fixed":
            self.value = [0.0, 0.0, 0.0]
        else:
            v = np.asarray(self.value, dtype=float).reshape(-1)
            if v.shape != (3,) or not np.isfinite(v).all():
                raise InputError(f"{self.kind.capitalize()} '{self.name}' needs 3 finite "
                                 f"numbers [x, y, z] {VALUE_UNITS[self.kind]}.")
            self.value = v.tolist()

    def describe(self) -> str:
        """One line for lists and reports: what, where, how much."""
        faces = f"{len(self.seeds)} face{'s' if len(self.seeds) != 1 else ''}"
        if self.kind == "fixed":
            return f"Fixed: {faces}"
        if self.kind == "pressure":
            return f"Pressure {self.value:g} MPa on {faces}"
        vec = ", ".join(f"{c:g}" for c in self.value)  # type: ignore[union-attr]
        where = "" if self.kind == "gravity" else f" on {faces}"
        return f"{self.kind.capitalize()} [{vec}] {VALUE_UNITS[self.kind]}{where}"


@dataclass
class PartAnalysis:
    """The analysis of one scene object (by uid) as the engineer set it up."""

    object_uid: str = ""
    material: str = "steel"
    order: int = 1
    edge_length: float = 0.0  # mm; 0 lets the mesher choose
    angle: float = DEFAULT_ANGLE  # feature angle bounding a picked face (degrees)
    conditions: list[Condition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.material not in library_names():
            raise InputError(f"No material '{self.material}' in the library.")
        if self.order not in (1, 2):
            raise InputError(f"Element order must be 1 (P1) or 2 (P2), not {self.order}.")
        if not self.edge_length >= 0:
            raise InputError("The element size must be 0 (automatic) or a positive length.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartAnalysis:
        if not isinstance(data, dict):
            raise InputError("An analysis setup must be an object.")
        try:
            conds = [Condition(**c) for c in data.get("conditions", [])]
            return cls(str(data.get("object_uid", "")), str(data.get("material", "steel")),
                       int(data.get("order", 1)), float(data.get("edge_length", 0.0)),
                       float(data.get("angle", DEFAULT_ANGLE)), conds)
        except TypeError as exc:
            raise InputError(f"The analysis setup is damaged ({exc}).") from None

    def check_runnable(self) -> None:
        """Bad input before any meshing: the solve would be singular or do nothing."""
        if not any(c.kind in CONSTRAINTS for c in self.conditions):
            raise InputError("The part is not held: add a fixed or displacement support on a "
                             "face before solving.")
        if not any(c.kind in LOADS or c.kind == "displacement" for c in self.conditions):
            raise InputError("Nothing loads the part: add a force, pressure, gravity or a "
                             "displacement.")


def _select(c: Condition, angle: float) -> dict[str, Any]:
    return {"patch": {"seeds": c.seeds, "angle": angle}}


def spec_dict(setup: PartAnalysis, mesh_path: str, name: str = "part",
              probes: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """The analysis spec (``twinsight fem solve`` format) of ``setup`` on a surface file."""
    constraints, loads = [], []
    for c in setup.conditions:
        if c.kind == "fixed":
            constraints.append({"name": c.name, "type": "fixed", "select": _select(c, setup.angle)})
        elif c.kind == "displacement":
            constraints.append({"name": c.name, "type": "displacement", "value": c.value,
                                "components": c.components, "select": _select(c, setup.angle)})
        elif c.kind == "force":
            loads.append({"name": c.name, "type": "surface_force", "force": c.value,
                          "select": _select(c, setup.angle)})
        elif c.kind == "pressure":
            loads.append({"name": c.name, "type": "pressure", "pressure": c.value,
                          "select": _select(c, setup.angle)})
        else:
            loads.append({"name": c.name, "type": "gravity", "acceleration": c.value})
    mesh: dict[str, Any] = {"path": mesh_path}
    if setup.edge_length > 0:
        mesh["edge_length"] = setup.edge_length
    spec = {"name": name, "mesh": mesh, "order": setup.order, "material": setup.material,
            "analysis": {"type": "static_linear"}, "constraints": constraints, "loads": loads}
    if probes:
        spec["probes"] = probes
    return spec


def world_surface(obj: SceneObject) -> pv.PolyData:
    """The object's triangles where the view shows them (its transform applied)."""
    data = obj.data
    if not isinstance(data, pv.PolyData):
        data = data.extract_surface()
    surf = data.triangulate() if not data.is_all_triangles else data.copy()
    if obj.has_transform:
        surf = surf.transform(obj.transform, inplace=False)
    return surf


def export_spec(setup: PartAnalysis, surface: pv.PolyData, folder: str | Path,
                name: str = "part") -> Path:
    """Write ``<name>.vtp`` (the surface, world mm) and ``<name>.analysis.json`` into
    ``folder``; the spec's mesh path is relative, so the folder can be moved."""
    from sim.model.atomic import release_temp, temp_sibling, write_file_atomic

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Folder '{folder}' does not exist.")
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name).strip("_") or "part"
    mesh_file = folder / f"{stem}.vtp"
    clean = pv.PolyData(np.asarray(surface.points, float), surface.faces)
    tmp = temp_sibling(mesh_file, ".vtp")
    try:
        clean.save(tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, mesh_file)
    finally:
        release_temp(tmp)
        tmp.unlink(missing_ok=True)
    spec = spec_dict(setup, mesh_file.name, name)
    spec_path = folder / f"{stem}.analysis.json"
    text = json.dumps(spec, indent=2).encode()
    write_file_atomic(spec_path, lambda fh: fh.write(text))
    return spec_path


def picked_faces(surface: pv.PolyData, seeds: list[list[float]],
                 angle: float = DEFAULT_ANGLE) -> np.ndarray:
    """Triangle mask of the faces ``seeds`` pick on ``surface`` (what the panel draws)."""
    tris = surface.faces.reshape(-1, 4)[:, 1:] if surface.is_all_triangles else \
        surface.triangulate().faces.reshape(-1, 4)[:, 1:]
    return patch_mask(np.asarray(surface.points), tris, seeds, angle)


@dataclass
class PartResult:
    """A solved analysis: the numbers (as ``fem solve --json`` prints them) and the
    tetrahedral grid with every field."""

    summary: dict[str, Any]
    grid: pv.UnstructuredGrid

    def reactions(self) -> dict[str, list[float]]:
        return dict(self.summary.get("reactions_n", {}))


def run(setup: PartAnalysis, surface: pv.PolyData, name: str = "part",
        progress: Progress = no_progress) -> PartResult:
    """Mesh and solve ``setup`` on ``surface`` (world mm) through the same spec the CLI
    reads; ``progress`` may raise Cancelled."""
    from sim.fem.analysis import run_analysis
    from sim.fem.spec import read_spec

    setup.check_runnable()
    folder = Path(tempfile.mkdtemp(prefix="twinsight-analysis-"))  # owner-only
    try:
        spec_path = export_spec(setup, surface, folder, name)
        result = run_analysis(read_spec(spec_path), progress)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.summary["mesh"].pop("path", None)  # the temporary folder is gone
    return PartResult(result.summary, result.grid)


def probe_surface(surface: pv.PolyData, point: np.ndarray) -> dict[str, Any]:
    """Field values at a surface point, interpolated in the triangle under it (linear):
    displacement vector and magnitude (mm), von Mises stress (MPa)."""
    tri_surface = surface if surface.is_all_triangles else surface.triangulate()
    cell, closest = tri_surface.find_closest_cell(np.asarray(point, float).reshape(1, 3),
                                                  return_closest_point=True)
    cell = int(np.asarray(cell).reshape(-1)[0])
    ids = np.asarray(tri_surface.get_cell(cell).point_ids)
    corners = np.asarray(tri_surface.points)[ids]
    w = _barycentric(corners, np.asarray(closest).reshape(3))
    out: dict[str, Any] = {"position_mm": np.asarray(closest).reshape(3).tolist()}
    if "displacement" in tri_surface.point_data:
        u = w @ np.asarray(tri_surface.point_data["displacement"])[ids]
        out["displacement_mm"] = u.tolist()
        out["displacement_magnitude_mm"] = float(np.linalg.norm(u))
    if "von_mises" in tri_surface.point_data:
        out["von_mises_mpa"] = float(w @ np.asarray(tri_surface.point_data["von_mises"])[ids])
    return out


def _barycentric(tri: np.ndarray, p: np.ndarray) -> np.ndarray:
    a, b, c = tri
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = v0 @ v0, v0 @ v1, v1 @ v1
    d20, d21 = v2 @ v0, v2 @ v1
    den = d00 * d11 - d01 * d01
    if abs(den) < 1e-300:
        return np.array([1.0, 0.0, 0.0])
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.clip(np.array([1.0 - v - w, v, w]), 0.0, None)
    return bary / bary.sum()


def material_for(setup: PartAnalysis) -> dict[str, Any]:
    m = library_material(setup.material)
    return {"name": m.name, "youngs_modulus_mpa": m.youngs_modulus,
            "poisson_ratio": m.poisson_ratio, "density_t_per_mm3": m.density, "law": m.law}
