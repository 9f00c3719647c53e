"""Parametric geometry for the demo: a pedicle screw and an L-bracket (mm)."""

from __future__ import annotations

import numpy as np
import pyvista as pv


def _revolve(profile_r: np.ndarray, profile_z: np.ndarray, n_theta: int = 48) -> pv.PolyData:
    """Closed surface of revolution about +z from a radius profile (end radii may be 0)."""
    line = pv.lines_from_points(np.c_[profile_r, np.zeros_like(profile_r), profile_z])
    return line.extrude_rotate(resolution=n_theta, capping=True).triangulate().clean()


def make_pedicle_screw(diameter: float = 6.5, length: float = 45.0, pitch: float = 2.8,
                       entry=(18.0, 88.0, 0.0), target=(11.0, 62.0, 0.0)) -> pv.PolyData:
    """A threaded pedicle screw placed from ``entry`` towards ``target`` (LPS mm).

    The shaft is a surface of revolution whose radius alternates between core and
    major diameter every half pitch (a sawtooth thread profile), with a conical
    tip and a spherical polyaxial head. Its local +z is the insertion axis.
    """
    r_major, r_core = diameter / 2.0, diameter / 2.0 * 0.7
    z = np.linspace(0.0, length, int(length / pitch * 8) + 1)
    phase = (z / pitch) % 1.0
    r = r_core + (r_major - r_core) * (1.0 - np.abs(2.0 * phase - 1.0))
    tip = z < 4.0
    r[tip] *= np.clip(z[tip] / 4.0, 0.15, 1.0)
    r[0] = 0.0
    shaft = _revolve(np.r_[r, 0.0], np.r_[z, length])
    head = pv.Sphere(radius=r_major * 1.45, center=(0, 0, length + r_major * 1.1),
                     theta_resolution=32, phi_resolution=24)
    screw = shaft.merge(head).clean()
    # Local +z (tip at z=0) must point from the head (at entry) to the tip (towards target).
    entry, target = np.asarray(entry, float), np.asarray(target, float)
    axis = (entry - target) / np.linalg.norm(entry - target)  # tip -> head direction
    tip_pos = entry - axis * length
    screw = screw.transform(_align_z(axis, tip_pos), inplace=False)
    return screw


def _align_z(axis: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """4x4 rigid transform taking local +z to ``axis`` and the local origin to ``origin``."""
    zc = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0.0, 0.0]) if abs(zc[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    xc = np.cross(helper, zc)
    xc /= np.linalg.norm(xc)
    yc = np.cross(zc, xc)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = xc, yc, zc, origin
    return m


def make_bracket(width: float = 40.0, leg: float = 50.0, thickness: float = 6.0,
                 origin=(40.0, 118.0, -25.0)) -> pv.PolyData:
    """A watertight L-bracket (a table mount under the patient): an L profile extruded along y."""
    t, a = thickness, leg
    profile = np.array([[0, 0], [a, 0], [a, t], [t, t], [t, a], [0, a]], float)
    n = len(profile)
    bottom = np.c_[profile[:, 0], np.zeros(n), profile[:, 1]]
    top = bottom + [0.0, width, 0.0]
    # Vertex 0 sees every other vertex of the L, so a fan from it triangulates the cap.
    fan = [(0, i, i + 1) for i in range(1, n - 1)]
    faces = [(0, k, j) for (_, j, k) in fan]  # bottom cap faces -y
    faces += [(n, n + j, n + k) for (_, j, k) in fan]  # top cap faces +y
    for i in range(n):
        j = (i + 1) % n
        faces += [(i, j, n + j), (i, n + j, n + i)]
    tri = np.hstack([np.full((len(faces), 1), 3), np.array(faces)]).ravel()
    solid = pv.PolyData(np.vstack([bottom, top]), faces=tri)
    solid = solid.compute_normals(auto_orient_normals=True, split_vertices=False)
    return solid.translate(origin, inplace=False)
