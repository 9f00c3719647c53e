"""Benchmark: a 1M-triangle binary STL loads (with validation) in at most 1.2x trimesh.load's time."""

from __future__ import annotations

import time

import numpy as np
import pyvista as pv
import trimesh

from sim.io import load


def _write_binary_stl(path, mesh: pv.PolyData) -> None:
    faces = mesh.faces.reshape(-1, 4)[:, 1:]
    rec = np.zeros(len(faces), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    rec["v"] = np.asarray(mesh.points, dtype=np.float32)[faces]
    with open(path, "wb") as fh:
        fh.write(b"\0" * 80 + np.uint32(len(faces)).tobytes())
        rec.tofile(fh)


def _best(fn, repeat=2) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_million_triangle_stl_vs_trimesh(tmp_path, capsys):
    sphere = pv.Sphere(theta_resolution=710, phi_resolution=706).triangulate()
    path = tmp_path / "million.stl"
    _write_binary_stl(path, sphere)
    ours_mesh = list(load(path).scene)[0].data
    ref = trimesh.load(path)
    assert ours_mesh.n_cells == len(ref.faces) >= 999_000
    assert ours_mesh.n_points == len(ref.vertices)  # same vertex merging
    t_trimesh = _best(lambda: trimesh.load(path))
    t_ours = _best(lambda: load(path))
    with capsys.disabled():
        print(f"\n[benchmark] 1M-triangle binary STL: twinsight load {t_ours:.3f} s, "
              f"trimesh.load {t_trimesh:.3f} s, ratio {t_ours / t_trimesh:.2f} (target <= 1.2)")
    assert t_ours <= 1.2 * t_trimesh
