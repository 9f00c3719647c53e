"""Parametric device geometry (mm), each in its anchor frame with +z the insertion axis.

Every generator returns one closed, consistently oriented triangle surface, so signed
distances and enclosed volumes of the device are well defined. Round devices are a single
surface of revolution of a closed profile (one manifold, no overlapping parts).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv


def revolve(profile_r: np.ndarray, profile_z: np.ndarray, n_theta: int = 32) -> pv.PolyData:
    """Closed surface of revolution about z from a radius profile whose end radii are 0."""
    r = np.asarray(profile_r, float)
    z = np.asarray(profile_z, float)
    theta = np.linspace(0.0, 2.0 * np.pi, n_theta, endpoint=False)
    inner = np.arange(1, len(r) - 1)
    ring = r[inner, None]
    pts = np.c_[(ring * np.cos(theta)).ravel(), (ring * np.sin(theta)).ravel(),
                np.repeat(z[inner], n_theta)]
    first, last = len(pts), len(pts) + 1
    pts = np.vstack([pts, [0.0, 0.0, z[0]], [0.0, 0.0, z[-1]]])
    n_ring = len(inner)
    faces = []
    j = np.arange(n_theta)
    jn = (j + 1) % n_theta
    for i in range(n_ring - 1):
        a, b = i * n_theta + j, i * n_theta + jn
        c, d = (i + 1) * n_theta + jn, (i + 1) * n_theta + j
        faces += [np.c_[a, d, c], np.c_[a, c, b]]
    faces.append(np.c_[np.full(n_theta, first), j, jn])
    base = (n_ring - 1) * n_theta
    faces.append(np.c_[np.full(n_theta, last), base + jn, base + j])
    tri = np.vstack(faces)
    mesh = pv.PolyData.from_regular_faces(pts, tri)
    # The winding above faces outward when z increases along the profile; fix it otherwise.
    if _signed_volume(pts, tri) < 0:
        mesh = pv.PolyData.from_regular_faces(pts, tri[:, ::-1])
    return mesh


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0)


def pedicle_screw(diameter: float, length: float, pitch: float = 2.8,
                  n_theta: int = 32) -> pv.PolyData:
    """Threaded pedicle screw: entry (shaft/head junction) at z=0, tip at z=+length.

    The thread is a sawtooth between core (70 % of the major diameter) and major radius,
    sampled four times a pitch; the last 4 mm taper to the tip; a polyaxial spherical head
    sits above the entry (z < 0).
    """
    r_major, r_core = diameter / 2.0, 0.35 * diameter
    # Quarter-pitch samples hit the thread crests exactly, so the major diameter is true.
    z = np.arange(0.0, length - 1e-9, pitch / 4.0)
    z = np.r_[z, length] if length - z[-1] > 0.05 * pitch else np.r_[z[:-1], length]
    phase = (z / pitch) % 1.0
    r = r_core + (r_major - r_core) * (1.0 - np.abs(2.0 * phase - 1.0))
    taper = z > length - 4.0
    r[taper] *= np.clip((length - z[taper]) / 4.0, 0.15, 1.0)
    # Head: a polyaxial sphere (radius 1.45 r_major, centre 1.1 r_major above the entry),
    # from its pole down to where it meets the entry plane z=0.
    rs, zc = 1.45 * r_major, -1.1 * r_major
    ang = np.linspace(-np.pi / 2, np.arcsin(-zc / rs), 10)
    profile_r = np.r_[rs * np.cos(ang[:-1]), rs * np.cos(ang[-1]), r, 0.0]
    profile_z = np.r_[zc + rs * np.sin(ang[:-1]), 0.0, z, length]
    profile_r[0] = 0.0
    return revolve(profile_r, profile_z, n_theta)


def bolt(diameter: float, length: float, n_theta: int = 32) -> pv.PolyData:
    """Socket-head cap bolt (ISO 4762 proportions): head on z<0, threaded shank to z=length."""
    pitch = {3: 0.5, 4: 0.7, 5: 0.8, 6: 1.0, 8: 1.25, 10: 1.5, 12: 1.75}.get(int(diameter), 0.15 * diameter)
    r_major, r_minor = diameter / 2.0, diameter / 2.0 - 0.6134 * pitch
    n = max(int(round(4.0 * length / pitch)), 8)
    z = np.linspace(0.0, length, n + 1)
    phase = (z / pitch) % 1.0
    r = r_minor + (r_major - r_minor) * (1.0 - np.abs(2.0 * phase - 1.0))
    r[-1] = r_minor - 0.2 * pitch  # chamfered end
    head_r, head_h = 0.75 * diameter, diameter
    profile_r = np.r_[0.0, head_r - 0.05 * diameter, head_r, head_r, r, 0.0]
    profile_z = np.r_[-head_h, -head_h, -head_h + 0.05 * diameter, 0.0, z, length]
    return revolve(profile_r, profile_z, n_theta)


def stent(diameter: float, length: float, wall: float = 0.08, n_theta: int = 48) -> pv.PolyData:
    """A cylindrical stent / flow diverter envelope: thin tube from z=0 to z=length.

    The braid is represented by its envelope (outer and inner wall), which is what
    sizing and wall apposition are judged on.
    """
    ro, ri = diameter / 2.0, diameter / 2.0 - wall
    n = max(int(np.ceil(length / 1.0)), 2)
    z = np.linspace(0.0, length, n + 1)
    theta = np.linspace(0.0, 2.0 * np.pi, n_theta, endpoint=False)
    rings = []
    for radius, zs in ((ro, z), (ri, z[::-1])):
        for zz in zs:
            rings.append(np.c_[radius * np.cos(theta), radius * np.sin(theta), np.full(n_theta, zz)])
    pts = np.vstack(rings)
    n_rings = len(rings)
    j = np.arange(n_theta)
    jn = (j + 1) % n_theta
    faces = []
    for i in range(n_rings):  # the last ring (inner, z=0) joins the first (outer, z=0)
        i2 = (i + 1) % n_rings
        a, b = i * n_theta + j, i * n_theta + jn
        c, d = i2 * n_theta + jn, i2 * n_theta + j
        faces += [np.c_[a, b, c], np.c_[a, c, d]]
    tri = np.vstack(faces)
    if _signed_volume(pts, tri) < 0:
        tri = tri[:, ::-1]
    return pv.PolyData.from_regular_faces(pts, tri)


def bone_plate(n_holes: int = 4, hole_spacing: float = 12.0, width: float = 11.0,
               thickness: float = 3.0, hole_diameter: float = 4.5) -> pv.PolyData:
    """A straight bone plate with round through-holes, lying on z in [-thickness, 0].

    The anchor is the centre of the bone-facing side (z=0); +z points into the bone, the
    direction the plate's screws are inserted. Each hole sits in a rectangular cell whose
    outline points are joined radially to the hole's points: a watertight mesh with no
    polygon-with-holes triangulation needed.
    """
    m = 6  # outline points per cell edge
    n_holes = int(round(n_holes))
    r = hole_diameter / 2.0
    index: dict[tuple[float, float], int] = {}
    pts2: list[tuple[float, float]] = []

    def vid(x: float, y: float) -> int:
        key = (round(x, 9), round(y, 9))
        if key not in index:
            index[key] = len(pts2)
            pts2.append((x, y))
        return index[key]

    tris = []
    s = np.linspace(0.0, 1.0, m, endpoint=False)
    for i in range(n_holes):
        cx = (i - (n_holes - 1) / 2.0) * hole_spacing
        x0, x1, y0, y1 = cx - hole_spacing / 2, cx + hole_spacing / 2, -width / 2, width / 2
        loop = np.vstack([np.c_[x0 + (x1 - x0) * s, np.full(m, y0)],
                          np.c_[np.full(m, x1), y0 + (y1 - y0) * s],
                          np.c_[x1 - (x1 - x0) * s, np.full(m, y1)],
                          np.c_[np.full(m, x0), y1 - (y1 - y0) * s]])
        outer = [vid(x, y) for x, y in loop]
        direction = loop - [cx, 0.0]
        direction /= np.linalg.norm(direction, axis=1)[:, None]
        hole = [vid(cx + r * dx, r * dy) for dx, dy in direction]
        k = len(loop)
        for j in range(k):
            jn = (j + 1) % k
            tris += [(hole[j], outer[j], outer[jn]), (hole[j], outer[jn], hole[jn])]
    p2 = np.array(pts2)
    tri = np.array(tris)
    n = len(p2)
    verts = np.vstack([np.c_[p2, np.zeros(n)], np.c_[p2, np.full(n, -thickness)]])
    faces = [tri, tri[:, ::-1] + n]
    edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    border = edges[counts[inv.reshape(-1)] == 1]
    a, b = border[:, 0], border[:, 1]
    faces += [np.c_[a, a + n, b + n], np.c_[a, b + n, b]]
    return pv.PolyData.from_regular_faces(verts, np.vstack(faces))


def l_bracket(width: float = 40.0, leg: float = 50.0, thickness: float = 6.0) -> pv.PolyData:
    """A watertight L-bracket: an L profile in the xz plane extruded along +y.

    Anchor at the outer corner; the base leg lies on z in [0, thickness], the upright leg
    on x in [0, thickness]; +z (up the upright) is its mounting axis.
    """
    t, a = thickness, leg
    profile = np.array([[0, 0], [a, 0], [a, t], [t, t], [t, a], [0, a]], float)
    n = len(profile)
    bottom = np.c_[profile[:, 0], np.zeros(n), profile[:, 1]]
    top = bottom + [0.0, width, 0.0]
    # Vertex 0 sees every other vertex of the L, so a fan from it triangulates the cap.
    fan = [(0, i, i + 1) for i in range(1, n - 1)]
    faces = [(0, k, j) for (_, j, k) in fan]
    faces += [(n, n + j, n + k) for (_, j, k) in fan]
    for i in range(n):
        j = (i + 1) % n
        faces += [(i, j, n + j), (i, n + j, n + i)]
    v = np.vstack([bottom, top])
    f = np.array(faces)
    if _signed_volume(v, f) < 0:
        f = f[:, ::-1]
    return pv.PolyData.from_regular_faces(v, f)
