"""Benchmark: full pose evaluations of a ~5k-triangle pedicle screw against >=300k triangles
of real anatomy (L1 as host; spinal cord, aorta and IVC critical) at >= 200 per second,
and >= 20x faster than trimesh.proximity.signed_distance answering the same point queries.

Timing uses process CPU time (one thread: the evaluation is serial on purpose) as well as
wall time; the assertion is on CPU time so a busy shared machine does not fail it falsely.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import trimesh

from sim.devices import make, pose_on_trajectory
from sim.placement import PlacementScene, RigidDevice, evaluate
from sim.placement.anatomy import label_surface, labelmap_of
from sim.placement.field import mesh_triangles

ENTRY = np.array([22.0, -88.0, 130.3])
TARGET = np.array([8.0, -128.0, 130.3])


@pytest.fixture(scope="module")
def big_scene(shared_data):
    from sim.io import load

    labels = labelmap_of(load(shared_data / "ct" / "totalseg" / "example_seg.nii.gz"))
    scene = PlacementScene()
    meshes = {}
    # Label surfaces are a few thousand triangles at 3 mm; subdivide to CT-resolution sizes.
    for name, label, role, levels in (("L1", 31, "host", 3), ("spinal cord", 79, "critical", 2),
                                      ("aorta", 52, "critical", 2), ("IVC", 63, "critical", 2)):
        meshes[name] = label_surface(labels, label).subdivide(levels, "linear")
        scene.add(name, meshes[name], role=role, margin_mm=1.0 if role == "host" else None)
    scene.prepare([ENTRY, TARGET], reach=30.0)
    return scene, meshes


def test_pose_evaluation_rate(big_scene, capsys):
    scene, meshes = big_scene
    n_tri = sum(m.n_cells for m in meshes.values())
    assert n_tri >= 300_000
    device = RigidDevice(make("pedicle_screw", diameter=6.5, length=45))
    assert 4000 <= device.device.mesh.n_cells <= 6000
    rng = np.random.default_rng(0)
    # Poses a user or the fitter visits near the plan; some hit the cord, most do not.
    poses = [pose_on_trajectory(ENTRY + rng.normal(0, 2.0, 3), TARGET + rng.normal(0, 4.0, 3),
                                depth=rng.uniform(-4, 4)) for _ in range(300)]
    evaluate(scene, device, poses[0])  # compile / warm caches
    wall, cpu = time.perf_counter(), time.process_time()
    results = [evaluate(scene, device, p) for p in poses]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    hits = sum(r.result("spinal cord").collision for r in results)
    rate_cpu, rate_wall = len(poses) / cpu, len(poses) / wall

    # trimesh answering the same point queries: signed distance of every device vertex to
    # each structure, per pose. It takes seconds per structure, so it is timed on a
    # subset of the vertices and scaled linearly (its cost is per query point).
    verts = device.moved(poses[0]).vertices
    subset = verts[:: max(len(verts) // 100, 1)]
    t_tm = 0.0
    for mesh in meshes.values():
        tm = trimesh.Trimesh(*mesh_triangles(mesh), process=False)
        trimesh.proximity.signed_distance(tm, subset[:5])  # build its tree outside the timing
        t = time.process_time()
        trimesh.proximity.signed_distance(tm, subset)
        t_tm += (time.process_time() - t) * len(verts) / len(subset)
    ours = cpu / len(poses)
    with capsys.disabled():
        print(f"\n[placement eval] screw {device.device.mesh.n_cells} tris vs anatomy {n_tri} tris "
              f"(4 structures, 3 critical); {len(poses)} poses, {hits} hit the cord")
        print(f"[placement eval] ours: {1e3 * ours:.2f} ms/pose CPU = {rate_cpu:.0f} evals/s CPU "
              f"({rate_wall:.0f}/s wall)")
        print(f"[placement eval] trimesh signed_distance, same vertex queries: {t_tm:.1f} s/pose CPU "
              f"(timed on {len(subset)} of {len(verts)} vertices, scaled) -> {t_tm / ours:.0f}x")
    assert hits > 0 and hits < len(poses)
    assert rate_cpu >= 200
    assert t_tm / ours >= 20
