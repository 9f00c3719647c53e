"""Plate-like test parts and simulated partial scans of them for the registration tests.

The parts are built as signed-distance fields (a plate minus holes, pockets and
counterbores) and meshed with VTK's flying edges, so they are closed surfaces with
real walls, edges and rims; the scans see one side of the part only.
"""

from __future__ import annotations

import functools

import numpy as np
import pyvista as pv

from sim.geometry.rigid import make_transform, rotation_about


def _box_sdf(p, lo, hi):
    c, h = (np.asarray(lo) + hi) / 2.0, (np.asarray(hi) - lo) / 2.0
    q = np.abs(p - c) - h
    return (np.linalg.norm(np.maximum(q, 0.0), axis=-1)
            + np.minimum(np.max(q, axis=-1), 0.0))


def _rounded_rect_sdf(p, size, thickness, radius):
    """A plate size[0] x size[1] centred on the origin, z in 0..thickness, round corners."""
    half = np.array(size, float) / 2.0 - radius
    q = np.abs(p[..., :2]) - half
    d2 = np.linalg.norm(np.maximum(q, 0.0), axis=-1) + np.minimum(q.max(axis=-1), 0.0) - radius
    dz = np.abs(p[..., 2] - thickness / 2.0) - thickness / 2.0
    return np.maximum(d2, dz)


def _cylinder_sdf(p, centre, radius, z0, z1):
    d2 = np.linalg.norm(p[..., :2] - np.asarray(centre, float), axis=-1) - radius
    dz = np.abs(p[..., 2] - (z0 + z1) / 2.0) - (z1 - z0) / 2.0
    return np.maximum(d2, dz)


def plate(size=(120.0, 80.0), thickness=10.0, corner=6.0, holes=(), pockets=(),
          counterbores=(), voxel=0.5) -> pv.PolyData:
    """A plate with through holes ``(x, y, r)``, pockets ``(x0, y0, x1, y1, depth)`` and
    counterbores ``(x, y, r_hole, r_bore, depth)`` (mm), meshed as a closed surface."""
    lo = np.array([-size[0] / 2 - 2, -size[1] / 2 - 2, -2.0])
    hi = np.array([size[0] / 2 + 2, size[1] / 2 + 2, thickness + 2])
    dims = np.ceil((hi - lo) / voxel).astype(int) + 1
    grid = pv.ImageData(dimensions=dims, spacing=(voxel,) * 3, origin=lo)
    p = np.asarray(grid.points)
    d = _rounded_rect_sdf(p, size, thickness, corner)
    big = thickness + 10.0
    for x, y, r in holes:
        d = np.maximum(d, -_cylinder_sdf(p, (x, y), r, -big, big))
    for x0, y0, x1, y1, depth in pockets:
        d = np.maximum(d, -_box_sdf(p, (x0, y0, thickness - depth), (x1, y1, big)))
    for x, y, rh, rb, depth in counterbores:
        d = np.maximum(d, -_cylinder_sdf(p, (x, y), rh, -big, big))
        d = np.maximum(d, -_cylinder_sdf(p, (x, y), rb, thickness - depth, big))
    grid.point_data["d"] = d
    mesh = grid.contour([0.0], scalars="d", method="flying_edges").clean()
    mesh = pv.PolyData(mesh.points, mesh.faces).triangulate()  # polygons only
    mesh.clear_data()
    # Flat faces need few triangles: keep about 40k, the edges and the topology.
    return mesh.decimate_pro(max(0.0, 1.0 - 40_000 / mesh.n_cells), preserve_topology=True,
                             feature_angle=30.0, splitting=False)


# Plates with holes, pockets and counterbores; some nearly symmetric.
PLATES: dict[str, dict] = {
    # Four corner holes and one off-centre hole: symmetric but for that hole.
    "holes": dict(holes=[(-50, -30, 3), (50, -30, 3), (-50, 30, 3), (50, 30, 3), (12, 5, 4)]),
    # A pocket and two counterbores, placed without symmetry.
    "pocket": dict(size=(100.0, 70.0), thickness=8.0, pockets=[(-35, -20, 5, 10, 3.0)],
                   counterbores=[(25, 15, 3, 6, 2.5), (30, -20, 3, 6, 2.5)]),
    # A square plate, four-fold symmetric but for one counterbore.
    "square": dict(size=(80.0, 80.0), thickness=6.0, corner=4.0,
                   holes=[(-28, -28, 3), (28, -28, 3), (-28, 28, 3), (28, 28, 3)],
                   counterbores=[(10, 0, 3, 5.5, 2.0)]),
    # Exactly two-fold symmetric: a turn of 180 degrees gives the same part.
    "symmetric": dict(size=(110.0, 60.0), thickness=8.0, holes=[(-40, 0, 5), (40, 0, 5)],
                      pockets=[(-15, -12, 15, 12, 3.0)]),
}


@functools.cache
def _built(name: str) -> pv.PolyData:
    return plate(**PLATES[name])  # ~1 s each: made once per test session


def generated_parts(*names: str) -> dict[str, pv.PolyData]:
    """Copies of the named plates (default all of :data:`PLATES`)."""
    return {n: _built(n).copy() for n in (names or PLATES)}


def in_plane_turn(mesh: pv.PolyData, degrees: float, offset=(3.0, -2.0, 0.5),
                  axis=(0.0, 0.0, 1.0)) -> np.ndarray:
    """The pose of a part turned by ``degrees`` about ``axis`` through its centre, then
    shifted by ``offset`` (mm): the 4x4 matrix nominal -> as scanned."""
    c = np.asarray(mesh.center)
    r = rotation_about(np.asarray(axis, float), np.radians(degrees))
    return make_transform(r, c - r @ c + np.asarray(offset, float))


def partial_scan(mesh: pv.PolyData, n: int, seed: int, noise: float = 0.03,
                 view=(0.15, -0.2, 1.0), keep: float = 1.0) -> np.ndarray:
    """A one-sided scan: surface points whose normals face a scanner along ``view``
    (plus grazing ones), Gaussian noise of ``noise`` mm, ``keep`` of them retained."""
    from sim.registration.surface import _sample_surface

    rng = np.random.default_rng(seed)
    pts, nrm = _sample_surface(mesh, int(n / 0.45 / keep), seed)
    v = np.asarray(view, float) / np.linalg.norm(view)
    pts = pts[nrm @ v > -0.1]
    pts = pts[rng.random(len(pts)) < keep][:n]
    return pts + rng.normal(0.0, noise, pts.shape)


def write_turned_symmetric_plate(folder) -> tuple[pv.PolyData, np.ndarray]:
    """The two-fold symmetric plate as ``plate.stl`` and a one-sided scan of it turned 30
    degrees in its plane as ``scan.xyz`` in ``folder``: a pose no surface fit can tell from
    its 180-degree twin. Returns the part and the true pose (nominal -> as scanned)."""
    from sim.geometry.rigid import apply_transform

    part = generated_parts("symmetric")["symmetric"]
    part.save(folder / "plate.stl")
    pose = in_plane_turn(part, 30.0)
    np.savetxt(folder / "scan.xyz", apply_transform(pose, partial_scan(part, 30_000, 1)),
               fmt="%.5f")
    return part, pose
