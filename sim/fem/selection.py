"""Selecting nodes and boundary faces for constraints and loads (by box, side, markup points,
surface patch orientation or explicit node ids). All criteria given must hold together.

A selector is a dict, e.g. ``{"box": [xmin, xmax, ymin, ymax, zmin, zmax]}`` (``null`` for an
open side), ``{"side": "zmax", "tolerance": 0.5}``, ``{"points": [[x, y, z]], "radius": 5}``
(markups), ``{"surface": {"normal": [0, 0, 1], "angle": 30}}``, ``{"nodes": [1, 2, 3]}``,
``{"patch": {"seeds": [[x, y, z]], "angle": 30}}`` (the faces picked in the Analysis panel:
the smooth boundary patch around each seed, see :mod:`sim.fem.patches`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.errors import InputError
from sim.mesh.tetmesh import TetMesh

_KEYS = {"box", "side", "points", "radius", "surface", "nodes", "tolerance", "nearest", "patch"}
_SIDES = {"xmin": (0, 0), "xmax": (0, 1), "ymin": (1, 0), "ymax": (1, 1), "zmin": (2, 0),
          "zmax": (2, 1)}


def _node_mask(mesh: TetMesh, sel: dict[str, Any]) -> np.ndarray:
    p = mesh.points
    mask = np.ones(mesh.n_nodes, dtype=bool)
    if "box" in sel:
        b = sel["box"]
        if not isinstance(b, list | tuple) or len(b) != 6:
            raise InputError("A box selector needs 6 numbers: xmin, xmax, ymin, ymax, zmin, zmax.")
        for k in range(3):
            lo, hi = b[2 * k], b[2 * k + 1]
            if lo is not None:
                mask &= p[:, k] >= float(lo)
            if hi is not None:
                mask &= p[:, k] <= float(hi)
    if "side" in sel:
        side = str(sel["side"]).lower()
        if side not in _SIDES:
            raise InputError(f"Side '{side}' must be one of {', '.join(_SIDES)}.")
        axis, top = _SIDES[side]
        size = float(np.ptp(p, axis=0).max())
        tol = float(sel.get("tolerance", 1e-6 * size))
        edge = p[:, axis].max() if top else p[:, axis].min()
        mask &= np.abs(p[:, axis] - edge) <= tol
    if "points" in sel:
        pts = np.asarray(sel["points"], dtype=float).reshape(-1, 3)
        if "radius" in sel:
            r = float(sel["radius"])
            d = np.linalg.norm(p[:, None, :] - pts[None], axis=2).min(axis=1)
            mask &= d <= r
        else:  # each markup grabs its nearest node
            near = np.zeros(mesh.n_nodes, dtype=bool)
            near[np.linalg.norm(p[:, None, :] - pts[None], axis=2).argmin(axis=0)] = True
            mask &= near
    if "nodes" in sel:
        ids = np.asarray(sel["nodes"], dtype=np.int64).ravel()
        if len(ids) and (ids.min() < 0 or ids.max() >= mesh.n_nodes):
            raise InputError(f"Node ids must be between 0 and {mesh.n_nodes - 1}.")
        only = np.zeros(mesh.n_nodes, dtype=bool)
        only[ids] = True
        mask &= only
    return mask


def _face_mask(mesh: TetMesh, sel: dict[str, Any]) -> np.ndarray:
    faces, _ = mesh.boundary
    node_mask = _node_mask(mesh, sel)
    mask = node_mask[faces[:, :3]].all(axis=1)
    if "surface" in sel:
        s = sel["surface"]
        normal = np.asarray(s.get("normal", [0, 0, 1]), dtype=float)
        if normal.shape != (3,) or not np.linalg.norm(normal) > 0:
            raise InputError("A surface selector needs a normal of 3 numbers, not all zero.")
        normal /= np.linalg.norm(normal)
        n, _, _ = mesh.boundary_normals()
        mask &= n @ normal >= np.cos(np.radians(float(s.get("angle", 30.0))))
    if "patch" in sel:
        mask &= _patch(mesh, faces, sel["patch"])
    return mask


def _patch(mesh: TetMesh, faces: np.ndarray, spec: Any) -> np.ndarray:
    from sim.fem.patches import DEFAULT_ANGLE, patch_mask

    if not isinstance(spec, dict) or "seeds" not in spec:
        raise InputError("A patch selector needs 'seeds': a list of [x, y, z] points in mm.")
    size = float(np.ptp(mesh.points, axis=0).max())
    return patch_mask(mesh.points, faces[:, :3], spec["seeds"],
                      float(spec.get("angle", DEFAULT_ANGLE)),
                      max_distance=float(spec.get("tolerance", 0.05 * size)))


def _check(sel: Any) -> dict[str, Any]:
    if not isinstance(sel, dict) or not sel:
        raise InputError("A selection must be an object such as {\"box\": [...]} or {\"side\": \"zmin\"}.")
    unknown = set(sel) - _KEYS
    if unknown:
        raise InputError(f"Unknown selection key(s) {sorted(unknown)} (use {sorted(_KEYS)}).")
    return sel


def select_nodes(mesh: TetMesh, sel: dict[str, Any], what: str = "selection") -> np.ndarray:
    sel = _check(sel)
    if "surface" in sel or "patch" in sel:
        faces, _ = mesh.boundary
        nodes = np.unique(faces[_face_mask(mesh, sel)])
    else:
        nodes = np.flatnonzero(_node_mask(mesh, sel))
    if len(nodes) == 0:
        raise InputError(f"The {what} selects no nodes of the mesh; check its coordinates (mm).")
    return nodes


def select_faces(mesh: TetMesh, sel: dict[str, Any], what: str = "selection") -> np.ndarray:
    sel = _check(sel)
    faces, _ = mesh.boundary
    chosen = faces[_face_mask(mesh, sel)]
    if len(chosen) == 0:
        raise InputError(f"The {what} selects no boundary faces of the mesh; check it.")
    return chosen
