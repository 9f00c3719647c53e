"""Benchmark: Prepare structures, Fit and Recommend size on a ~300k-triangle bone surface
(the lumbar spine of TotalSegmentator's example, refined) plus the spinal cord and aorta.

Reports figures only (never fails on wall clock): cold preparation (trees, normals, grids
built), preparing again (from the content cache), a 400-pose fit and a screw recommendation,
and how many progress reports each gave. Run: ``pytest -s tests/benchmarks/test_placement_large.py``.
"""

from __future__ import annotations

import time

import numpy as np
import pyvista as pv

from sim.devices import make
from sim.placement import PlacementScene, RigidDevice
from sim.placement.field import CACHE
from sim.placement.fit import fit_on_trajectory
from sim.placement.sizing import recommend_screw

ENTRY = np.array([22.0, -88.0, 130.3])
TARGET = np.array([8.0, -128.0, 130.3])


def _surfaces(shared_data) -> list[tuple[str, pv.PolyData, str, float]]:
    from sim.imaging.surface import mask_to_surface
    from sim.io import load
    from sim.placement.anatomy import labelmap_of

    labels = labelmap_of(load(shared_data / "ct" / "totalseg" / "example_seg.nii.gz"))
    arr = np.asarray(labels.active_scalars).reshape(labels.dimensions, order="F")
    spine = mask_to_surface(labels, np.isin(arr, [30, 31, 32, 33]), target_triangles=None)
    spine = spine.subdivide(2, "loop").subdivide_adaptive(max_edge_len=0.75)
    cord = mask_to_surface(labels, arr == 79, target_triangles=None).subdivide(1, "loop")
    aorta = mask_to_surface(labels, arr == 52, target_triangles=None).subdivide(1, "loop")
    return [("spine", spine, "host", 1.0), ("spinal cord", cord, "critical", 2.0),
            ("aorta", aorta, "critical", 2.0)]


class Count:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, fraction: float, message: str) -> None:
        self.n += 1


def test_placement_on_300k_triangles(shared_data, capsys):
    items = _surfaces(shared_data)
    n_tri = items[0][1].n_cells
    assert 250_000 <= n_tri <= 400_000
    # Compile (numba caches to disk; a cold compile is reported by the first warm-up).
    t0 = time.perf_counter()
    warm = PlacementScene.from_surfaces([("b", pv.Sphere(radius=10), "host", 1.0),
                                         ("c", pv.Sphere(radius=2, center=(0, 0, 25)), "critical",
                                          1.0)])
    fit_on_trajectory(warm, RigidDevice(make("pedicle_screw", diameter=6.0, length=45)),
                      (0, 0, -20), (0, 0, 0), budget=30)
    t_warm = time.perf_counter() - t0
    CACHE.clear()
    rows = []
    for what in ("cold", "again"):
        count = Count()
        t0 = time.perf_counter()
        scene = PlacementScene.from_surfaces(items, around=[ENTRY, TARGET], reach=60.0,
                                             progress=count)
        rows.append((f"prepare ({what})", time.perf_counter() - t0, count.n))
    device = RigidDevice(make("pedicle_screw", diameter=5.5, length=45))
    count = Count()
    t0 = time.perf_counter()
    fit = fit_on_trajectory(scene, device, ENTRY, TARGET, budget=400, progress=count)
    rows.append((f"fit ({fit.evaluations} poses)", time.perf_counter() - t0, count.n))
    count = Count()
    t0 = time.perf_counter()
    rec = recommend_screw(scene, ENTRY, TARGET, progress=count)
    rows.append((f"recommend -> {rec.diameter} x {rec.length}", time.perf_counter() - t0, count.n))
    with capsys.disabled():
        print(f"\n[placement, {n_tri:,}-triangle spine + cord + aorta] warm-up/compile "
              f"{t_warm:.2f} s")
        for name, secs, n in rows:
            print(f"  {name:<34}{secs:7.2f} s wall   {n:5d} progress reports")
    assert fit.evaluation.safe and rec.diameter is not None
    assert all(n >= 5 for name, _, n in rows if name != "prepare (again)")
