"""Benchmark: register a 200k-point scan to a 100k-triangle model from an arbitrary pose.

Target (issue #11): under 3 s on 2 cores. The model is the real idler riser part
(trimesh test model, inches -> mm) subdivided to 100,608 triangles; the scan is a
noisy single-view sample of it with stray points, moved by a random rigid pose.
The numba kernels are compiled (or loaded from cache) before timing.

The machine these tests run on is shared: the wall time is printed with the CPU
time the process used. A run passes when either is under the target: CPU time
under 3 s means even one idle core would finish within 3 s. When neither is and
the machine is oversubscribed (load above 1.5 x its cores), the timing is reported
as an expected failure rather than asserted; correctness is always asserted.
"""

from __future__ import annotations

import time

import numpy as np
import pyvista as pv

from sim.geometry.rigid import apply_transform, random_rigid, transform_error
from sim.registration.surface import _sample_surface, register_surface
from tests.benchmarks.scan_model_util import TARGET_S, check_time, cpu_seconds


def scan_of(mesh: pv.PolyData, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts, nrm = _sample_surface(mesh, int(n / 0.4), seed)  # about half of it faces the scanner
    seen = nrm @ (np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])) > -0.2
    pts = pts[seen][: int(n * 0.99)]  # 99 % surface points, 1 % strays
    assert len(pts) == int(n * 0.99)
    pts = pts + rng.normal(0.0, 0.03, pts.shape)
    lo, hi = np.array(mesh.bounds[::2]), np.array(mesh.bounds[1::2])
    return np.vstack([pts, rng.uniform(lo - 10, hi + 10, (n - len(pts), 3))])


def test_register_200k_scan_to_100k_triangle_model(model, capsys):
    register_surface(pv.PolyData(scan_of(model, 5000, 0)), model)  # imports, JIT, caches
    times, cpus, errors = [], [], []
    for seed in (1, 2, 3):
        scan = scan_of(model, 200_000, seed)
        truth = random_rigid(np.random.default_rng(100 + seed), 100.0)
        moving = pv.PolyData(apply_transform(np.linalg.inv(truth), scan))
        c, t = cpu_seconds(), time.perf_counter()
        res = register_surface(moving, model)
        times.append(time.perf_counter() - t)
        cpus.append(cpu_seconds() - c)
        errors.append(transform_error(res.matrix, truth, at=model.center))
    with capsys.disabled():
        print(f"\n[registration] 200k-point scan -> {model.n_cells:,}-triangle model, "
              "wall / CPU s (rotation, translation error): "
              + ", ".join(f"{t:.2f} / {c:.2f} s ({e[0]:.4f} deg, {e[1]:.4f} mm)"
                          for t, c, e in zip(times, cpus, errors, strict=True))
              + f"; target < {TARGET_S} s")
    assert all(rot < 0.1 and trans < 0.1 for rot, trans in errors)
    check_time(float(np.median(times)), float(np.median(cpus)))
