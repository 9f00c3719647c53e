"""Benchmark: exact point-to-mesh closest points, points per second, for both engines.

The model is the real idler riser part subdivided to ~100k triangles (the inspection
benchmark's). Points: a noisy surface scan (sigma 0.05 mm, inspection's case) and points
scattered up to 5 mm off (placement's clearance checks). Engines: inspection's uniform
grid (parallel, nogil) and placement's BVH (serial for per-pose batches, parallel for large
ones). Figures are printed with the CPU time used; nothing fails on wall clock (the machine
is shared). Exactness is checked against the BVH/grid agreement and VTK's vtkCellLocator.

    .venv/bin/python -m pytest tests/benchmarks/test_point_mesh_distance.py -q -s
"""

from __future__ import annotations

import time

import numpy as np
import vtk

from sim.geometry.bvh import TriangleTree, closest_points_parallel, closest_points_serial
from sim.inspection.distance import MeshDistance
from sim.placement.field import mesh_triangles
from sim.registration.surface import _sample_surface
from tests.benchmarks.scan_model_util import cpu_seconds

N = 300_000


def _rate(fn, pts) -> tuple[float, float]:
    fn(pts[:2000])  # compile or load from cache
    c, t = cpu_seconds(), time.perf_counter()
    fn(pts)
    wall, cpu = time.perf_counter() - t, cpu_seconds() - c
    return len(pts) / wall, cpu


def test_points_per_second(model, capsys):
    pts, nrm = _sample_surface(model, N, seed=3)
    rng = np.random.default_rng(3)
    scan = pts + nrm * rng.normal(0, 0.05, (N, 1))
    off = pts + nrm * rng.uniform(-5, 5, (N, 1)) + rng.normal(0, 1.0, (N, 3))
    md = MeshDistance.from_mesh(model)
    v, f = mesh_triangles(model)
    tree = TriangleTree.build(v[f])

    def bvh(kernel):
        def run(p):
            n = len(p)
            out = np.empty((n, 3)), np.empty(n, np.int64), np.empty(n, np.int64)
            kernel(np.ascontiguousarray(p), *tree.arrays(), np.inf, *out)
            return out[0]
        return run

    engines = {"grid (parallel)": lambda p: md.closest(p).points,
               "BVH serial": bvh(closest_points_serial),
               "BVH parallel": bvh(closest_points_parallel)}
    lines = []
    for label, p in (("scan 0.05 mm", scan), ("off by <= 5 mm", off)):
        ref = md.closest(p[:3000]).points
        for name, fn in engines.items():
            rate, cpu = _rate(fn, p)
            q = fn(p[:3000])
            np.testing.assert_allclose(np.linalg.norm(p[:3000] - q, axis=1),
                                       np.linalg.norm(p[:3000] - ref, axis=1), atol=1e-6)
            lines.append(f"  {label:15s} {name:16s} {rate:12,.0f} points/s (CPU {cpu:.2f} s)")
    loc = vtk.vtkCellLocator()
    loc.SetDataSet(model)
    loc.BuildLocator()
    cp, cell, sub, d2 = [0.0] * 3, vtk.reference(0), vtk.reference(0), vtk.reference(0.0)
    t = time.perf_counter()
    for x in scan[:20_000]:
        loc.FindClosestPoint(x, cp, cell, sub, d2)
    vtk_rate = 20_000 / (time.perf_counter() - t)
    with capsys.disabled():
        print(f"\n[distance] {N:,} points -> {model.n_cells:,} triangles")
        print("\n".join(lines))
        print(f"  reference: VTK vtkCellLocator (Python loop) {vtk_rate:,.0f} points/s")
