"""Rigid instruments as signed-distance fields: a probe, a spatula/retractor and a grasper.

Every tool lives in its own tip frame (as tracked tools do, see :mod:`sim.twin.tracking`):
the working end is at the origin and the shaft runs up +z. ``pose`` (4x4, world_T_tip, mm)
places it in the world. The SDF is negative inside the tool; its gradient (the outward
normal) is taken by central differences so unions of primitives need no special cases.
Display meshes are generated here from the same dimensions, so nothing ships in assets/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError

KINDS = ("probe", "spatula", "grasper", "mesh")
_FD_STEP = 1e-4  # mm, finite-difference step of the SDF gradient


def _box_sdf(p: np.ndarray, half: np.ndarray, centre: np.ndarray) -> np.ndarray:
    q = np.abs(p - centre) - half
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    return outside + np.minimum(q.max(axis=1), 0.0)


def _cylinder_sdf(p: np.ndarray, radius: float, z0: float, z1: float) -> np.ndarray:
    """Capped cylinder around the z axis from z0 to z1."""
    dr = np.hypot(p[:, 0], p[:, 1]) - radius
    dz = np.abs(p[:, 2] - 0.5 * (z0 + z1)) - 0.5 * (z1 - z0)
    q = np.stack([dr, dz], axis=1)
    return np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0)


def _capsule_sdf(p: np.ndarray, radius: float, z0: float, z1: float) -> np.ndarray:
    z = np.clip(p[:, 2], z0, z1)
    return np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2 + (p[:, 2] - z) ** 2) - radius


def _number(params: dict[str, Any], key: str, default: float, lo: float = 1e-3,
            hi: float = 1e4) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InputError(f"Instrument parameter '{key}' must be a number between {lo} and {hi} "
                         f"mm, not {value!r}.")
    return float(value)


@dataclass
class Instrument:
    """A rigid tool: kind, dimensions (mm) and its current pose (world_T_tip)."""

    name: str
    kind: str = "probe"
    params: dict[str, Any] = field(default_factory=dict)
    pose: np.ndarray = field(default_factory=lambda: np.eye(4))
    surface: pv.PolyData | None = field(default=None, repr=False)  # kind "mesh"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"Unknown instrument type '{self.kind}' (use {', '.join(KINDS)}).")
        p = dict(self.params)
        if self.kind == "probe":
            p["radius"] = _number(p, "radius", 3.0)
            p["length"] = _number(p, "length", 120.0)
            tip = p.setdefault("tip", "flat")
            if tip not in ("flat", "round"):
                raise InputError(f"A probe tip is 'flat' or 'round', not {tip!r}.")
        elif self.kind == "spatula":
            p["width"] = _number(p, "width", 20.0)
            p["thickness"] = _number(p, "thickness", 2.0)
            p["blade"] = _number(p, "blade", 40.0)
            p["length"] = _number(p, "length", 150.0)
        elif self.kind == "mesh":
            self._load_surface(p)
        else:
            p["jaw_length"] = _number(p, "jaw_length", 20.0)
            p["jaw_width"] = _number(p, "jaw_width", 5.0)
            p["jaw_thickness"] = _number(p, "jaw_thickness", 2.0)
            p["opening"] = _number(p, "opening", 10.0, lo=0.0)
            p["length"] = _number(p, "length", 150.0)
        self.params = p
        self.pose = np.asarray(self.pose, dtype=float).reshape(4, 4).copy()

    def _load_surface(self, p: dict[str, Any]) -> None:
        """An imported closed mesh (in its own tip frame, mm) as the tool's shape."""
        if self.surface is None:
            path = p.get("path")
            if not isinstance(path, str):
                raise InputError(f"Mesh instrument '{self.name}' needs a 'path' to a closed "
                                 "surface file.")
            from sim.io import load

            found = [o.data for o in load(path, units=p.get("units")).scene
                     if isinstance(o.data, pv.PolyData) and o.data.n_cells]
            if not found:
                raise InputError(f"'{path}' holds no surface to use as an instrument.")
            self.surface = found[0]
        from sim.mesh.tetrahedralize import check_closed

        surf = self.surface.triangulate().clean()
        check_closed(np.asarray(surf.points), np.asarray(surf.faces).reshape(-1, 4)[:, 1:],
                     self.name)
        surf = surf.compute_normals(auto_orient_normals=True, consistent_normals=True,
                                    cell_normals=False)
        self.surface = surf
        from vtkmodules.vtkFiltersCore import vtkImplicitPolyDataDistance

        self._implicit = vtkImplicitPolyDataDistance()
        self._implicit.SetInput(surf)

    # -- geometry in the tip frame -------------------------------------------------------------
    def local_sdf(self, p: np.ndarray) -> np.ndarray:
        k = self.params
        if self.kind == "mesh":
            from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy

            out = numpy_to_vtk(np.zeros(len(p)), deep=True)
            self._implicit.FunctionValue(numpy_to_vtk(np.ascontiguousarray(p), deep=True), out)
            return vtk_to_numpy(out).astype(float)
        if self.kind == "probe":
            if k["tip"] == "round":
                return _capsule_sdf(p, k["radius"], k["radius"], k["length"])
            return _cylinder_sdf(p, k["radius"], 0.0, k["length"])
        if self.kind == "spatula":
            half = np.array([k["width"] / 2, k["thickness"] / 2, k["blade"] / 2])
            blade = _box_sdf(p, half, np.array([0.0, 0.0, k["blade"] / 2]))
            shaft = _cylinder_sdf(p, k["thickness"], k["blade"], k["length"])
            return np.minimum(blade, shaft)
        half = np.array([k["jaw_thickness"] / 2, k["jaw_width"] / 2, k["jaw_length"] / 2])
        off = k["opening"] / 2 + k["jaw_thickness"] / 2
        jaws = [_box_sdf(p, half, np.array([s * off, 0.0, k["jaw_length"] / 2])) for s in (-1, 1)]
        shaft_r = max(off + k["jaw_thickness"] / 2, k["jaw_width"] / 2)
        shaft = _cylinder_sdf(p, shaft_r, k["jaw_length"], k["length"])
        return np.minimum(np.minimum(*jaws), shaft)

    def local_mesh(self) -> pv.PolyData:
        k = self.params
        if self.kind == "mesh":
            return self.surface.copy()
        if self.kind == "probe":
            r, L = k["radius"], k["length"]
            if k["tip"] == "round":
                body = pv.Cylinder(center=(0, 0, r + (L - r) / 2), direction=(0, 0, 1), radius=r,
                                   height=L - r, resolution=32)
                mesh = body.merge(pv.Sphere(radius=r, center=(0, 0, r)))
            else:
                mesh = pv.Cylinder(center=(0, 0, L / 2), direction=(0, 0, 1), radius=r, height=L,
                                   resolution=32)
        elif self.kind == "spatula":
            w, t, b, L = k["width"], k["thickness"], k["blade"], k["length"]
            mesh = pv.Box(bounds=(-w / 2, w / 2, -t / 2, t / 2, 0.0, b)).merge(
                pv.Cylinder(center=(0, 0, b + (L - b) / 2), direction=(0, 0, 1), radius=t,
                            height=L - b, resolution=24))
        else:
            t, w, jl, L = k["jaw_thickness"], k["jaw_width"], k["jaw_length"], k["length"]
            off = k["opening"] / 2 + t / 2
            mesh = pv.PolyData()
            for s in (-1, 1):
                mesh = mesh.merge(pv.Box(bounds=(s * off - t / 2, s * off + t / 2, -w / 2, w / 2,
                                                 0.0, jl)))
            shaft_r = max(off + t / 2, w / 2)
            mesh = mesh.merge(pv.Cylinder(center=(0, 0, jl + (L - jl) / 2), direction=(0, 0, 1),
                                          radius=shaft_r, height=L - jl, resolution=24))
        return mesh.triangulate().clean()

    def bounding_sphere(self) -> tuple[np.ndarray, float]:
        """(centre in the world, radius mm) enclosing the tool: a cheap first test before the
        exact distance (cached per geometry, the pose applied each call)."""
        key = tuple(sorted(self.params.items()))
        if getattr(self, "_sphere_key", None) != key:
            pts = np.asarray(self.local_mesh().points, dtype=float)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            self._sphere = (0.5 * (lo + hi), 0.5 * float(np.linalg.norm(hi - lo)))
            self._sphere_key = key
        centre, radius = self._sphere
        return self.to_world(centre[None])[0], radius

    def size(self) -> float:
        """A characteristic size of the working end (mm)."""
        k = self.params
        if self.kind == "mesh":
            return 0.5 * float(np.linalg.norm(np.ptp(np.asarray(self.surface.points), axis=0)))
        return {"probe": lambda: k["radius"], "spatula": lambda: k["width"] / 2,
                "grasper": lambda: k["jaw_length"] / 2}[self.kind]()

    # -- geometry in the world -----------------------------------------------------------------
    def to_local(self, points: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        pose = self.pose if pose is None else pose
        R, t = pose[:3, :3], pose[:3, 3]
        return (np.asarray(points, dtype=float) - t) @ R

    def to_world(self, local: np.ndarray) -> np.ndarray:
        return np.asarray(local, dtype=float) @ self.pose[:3, :3].T + self.pose[:3, 3]

    def signed_distance(self, points: np.ndarray, normals_within: float | None = None,
                        pose: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Signed distance (mm, < 0 inside) and unit outward normal (world) at world points.

        With ``normals_within``, normals are computed only where the distance is below it
        (zero elsewhere): contact needs them at a few points near the tool, not everywhere."""
        pose = self.pose if pose is None else pose
        local = self.to_local(np.atleast_2d(points), pose)
        d = self.local_sdf(local)
        grad = np.zeros_like(local)
        sel = slice(None) if normals_within is None else np.flatnonzero(d < normals_within)
        near = local[sel]
        if len(near):
            g = np.empty_like(near)
            for axis in range(3):
                e = np.zeros(3)
                e[axis] = _FD_STEP
                g[:, axis] = (self.local_sdf(near + e) - self.local_sdf(near - e)) / (2 * _FD_STEP)
            norm = np.linalg.norm(g, axis=1, keepdims=True)
            grad[sel] = np.where(norm > 1e-12, g / np.maximum(norm, 1e-12),
                                 np.array([0.0, 0.0, -1.0]))
        return d, grad @ pose[:3, :3].T

    def mesh(self) -> pv.PolyData:
        """The tool's surface placed at its pose."""
        m = self.local_mesh()
        m.points = self.to_world(np.asarray(m.points))
        return m

    def set_param(self, key: str, value: float) -> None:
        params = dict(self.params)
        params[key] = value
        self.params = Instrument(self.name, self.kind, params, surface=self.surface).params

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, **self.params}


def instrument_from_dict(spec: dict[str, Any]) -> Instrument:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise InputError("An instrument needs a 'name' and a 'type' (probe, spatula, grasper).")
    params = {k: v for k, v in spec.items() if k not in ("name", "type", "pose")}
    inst = Instrument(spec["name"], str(spec.get("type", "probe")), params)
    if "pose" in spec:
        inst.pose = pose_from_spec(spec["pose"])
    return inst


def pose_from_spec(spec: Any) -> np.ndarray:
    """A pose: a 4x4 matrix, or {"position": [x,y,z], "direction": [dx,dy,dz]} where the
    direction is the shaft (+z of the tip frame), or {"position":..., "rotation": 3x3}."""
    if isinstance(spec, list | tuple):
        m = np.asarray(spec, dtype=float)
        if m.shape != (4, 4) or not np.isfinite(m).all():
            raise InputError("A pose matrix must be 4x4 numbers.")
        return _check_rotation(m)
    if not isinstance(spec, dict) or "position" not in spec:
        raise InputError("A pose is a 4x4 matrix or an object with a 'position' [x, y, z] mm.")
    m = np.eye(4)
    pos = np.asarray(spec["position"], dtype=float)
    if pos.shape != (3,) or not np.isfinite(pos).all():
        raise InputError("A pose position must be three numbers (mm).")
    m[:3, 3] = pos
    if "rotation" in spec:
        m[:3, :3] = np.asarray(spec["rotation"], dtype=float).reshape(3, 3)
    elif "direction" in spec:
        m[:3, :3] = frame_from_direction(np.asarray(spec["direction"], dtype=float))
    return _check_rotation(m)


def frame_from_direction(direction: np.ndarray) -> np.ndarray:
    """A rotation whose z axis is ``direction`` (the shaft), x chosen stably."""
    d = np.asarray(direction, dtype=float).reshape(3)
    n = np.linalg.norm(d)
    if not np.isfinite(n) or n < 1e-9:
        raise InputError("A pose direction must be a non-zero vector.")
    z = d / n
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = helper - z * (helper @ z)
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def _check_rotation(m: np.ndarray) -> np.ndarray:
    R = m[:3, :3]
    if not np.allclose(R.T @ R, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
        raise InputError("A pose rotation must be a proper rotation matrix.")
    return m
