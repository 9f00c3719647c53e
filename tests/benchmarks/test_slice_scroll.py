"""Slice scrolling on a 512x512x100 CT (the real TotalSegmentator CT, resampled) with the plan
drawn on the slices: bone surfaces, a screw, markups and a trajectory. Reports milliseconds per
slice step (reslice, overlays, render of all three views) for the axial, coronal and sagittal
views; the issue's target is <= 50 ms per slice.

    QT_QPA_PLATFORM=xcb .venv/bin/python -m pytest tests/benchmarks/test_slice_scroll.py -s -q
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from tests.ct_samples import resampled_ct

TARGET_MS = 50.0


@pytest.fixture(scope="module")
def big_ct(shared_data):
    return resampled_ct(shared_data, (512, 512, 100))


def plan_case(image):
    """A case with the CT, its bone surface, a screw through the middle and two markups."""
    import pyvista as pv

    from sim.imaging.pipeline import Recipe, run
    from sim.markups.model import Markup
    from sim.model import Case, ObjectKind, SceneObject

    case = Case("bench")
    case.scene.add(SceneObject("CT", ObjectKind.VOLUME, image))
    bone = run(image, Recipe("bone", target_triangles=80_000)).surface
    case.scene.add(SceneObject("bone", ObjectKind.SURFACE, bone, color=(0.9, 0.9, 0.8)))
    c = np.asarray(image.center)
    screw = pv.Cylinder(center=c, direction=(0, 1, 0), radius=3.0, height=45, resolution=48)
    case.scene.add(SceneObject("screw", ObjectKind.DEVICE, screw.triangulate(), color=(0.3, 0.6, 1)))
    case.markups.add(Markup("F", "point", points=[tuple(c), tuple(c + [10, 0, 0])]))
    case.markups.add(Markup("trajectory", "line", points=[tuple(c - [0, 30, 20]), tuple(c + [0, 30, 20])]))
    return case


@pytest.mark.benchmark
def test_scroll_ms_per_slice(qtbot, big_ct):
    from PyQt6.QtWidgets import QApplication

    from viewer.main_window import MainWindow

    win = MainWindow()  # the real window: the 3D view follows the crosshair too
    qtbot.addWidget(win)
    win.resize(1500, 950)
    win.show()
    qtbot.waitExposed(win)
    win.set_case(plan_case(big_ct))
    viewer = win.imaging.slices
    viewer.slices3d.setChecked(True)
    qtbot.waitUntil(lambda: bool(viewer.views), timeout=10_000)
    # The case's first frame in every view (shaders compiled, textures and contours made) is
    # part of loading it: left in, it added ~0.7-1.6 s to the first view timed (axial), ~17-40
    # ms to each of its 40 steps.
    qtbot.wait(1000)
    lines = []
    for view in viewer.views:
        viewer.scroll(view.axis, 1)  # warm up: the first frame of this plane's actors
        qtbot.wait(300)
        times = []
        start, cpu = time.perf_counter(), time.process_time()
        for step in range(40):
            t0 = time.perf_counter()
            viewer.scroll(view.axis, 1 if step % 20 < 10 else -1)
            QApplication.processEvents()  # what the event loop does between wheel events
            times.append((time.perf_counter() - t0) * 1000)
        per_slice = (time.perf_counter() - start) * 1000 / len(times)
        cpu_ms = (time.process_time() - cpu) * 1000 / len(times)  # all threads (llvmpipe too)
        times.sort()
        lines.append(f"{view.title.text().split()[0]}: {per_slice:.1f} ms per slice, "
                     f"{cpu_ms:.1f} ms CPU "
                     f"(median step {times[len(times) // 2]:.1f} ms, "
                     f"90th {times[int(0.9 * len(times))]:.1f} ms)")
    print(f"\nSlice scroll on 512x512x100 with the plan drawn, slices in 3D "
          f"(target {TARGET_MS:.0f} ms/slice; load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores): " + "; ".join(lines))
