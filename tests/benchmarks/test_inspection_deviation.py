"""Benchmark: signed deviation of 3 million points to a 100k-triangle model.

Target (issue #11): under 3 s on 2 cores (CloudCompare's wiki quotes about 10 s for
3 million points against a 14k-triangle mesh on a dual-core laptop). The model is
the real idler riser part (inches -> mm) subdivided to 100,608 triangles; the
points are a noisy sample of its surface. Exactness is checked on a subset
against Open3D's closest-point query. The timed figure includes preparing the
mesh (grid build); numba kernels are compiled or loaded from cache first.

The machine these tests run on is shared: the wall time is printed with the CPU
time the process used. A run passes when either is under the target: CPU time
under 3 s means even one idle core would finish within 3 s. When neither is and
the machine is oversubscribed (load above 1.5 x its cores), the timing is reported
as an expected failure rather than asserted; correctness is always asserted.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim.inspection.deviation import compute_deviation
from sim.inspection.distance import MeshDistance
from sim.registration.surface import _sample_surface
from tests.benchmarks.scan_model_util import TARGET_S, check_time, cpu_seconds


def test_signed_deviation_3M_points_to_100k_triangles(model, capsys):
    pts, nrm = _sample_surface(model, 3_000_000, seed=1)
    pts += nrm * np.random.default_rng(1).normal(0, 0.05, (len(pts), 1))
    compute_deviation(pts[:1000], model, 0.1)  # JIT warm-up / cache load
    c, t = cpu_seconds(), time.perf_counter()
    md = MeshDistance.from_mesh(model)
    t_build = time.perf_counter() - t
    res = compute_deviation(pts, md, 0.1)
    total, cpu = time.perf_counter() - t, cpu_seconds() - c
    with capsys.disabled():
        print(f"\n[inspection] signed deviation, {len(pts):,} points -> {model.n_cells:,} "
              f"triangles: wall {total:.2f} s (mesh preparation {t_build:.2f} s), "
              f"CPU {cpu:.2f} s; target < {TARGET_S} s")
    assert res.stats.count == len(pts)
    assert res.stats.std == pytest.approx(0.05, rel=0.05)
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    faces = model.faces.reshape(-1, 4)[:, 1:].astype(np.uint32)
    scene.add_triangles(o3d.core.Tensor(np.asarray(model.points, np.float32)),
                        o3d.core.Tensor(faces))
    sub = pts[:20_000]
    ref = scene.compute_closest_points(o3d.core.Tensor(sub.astype(np.float32)))["points"].numpy()
    np.testing.assert_allclose(np.abs(res.deviation[:20_000]),
                               np.linalg.norm(sub - ref, axis=1), atol=1e-3)
    check_time(total, cpu)
