"""Benchmark: *Follow tracked stylus* in the GUI on SOFA's liver (issue #18).

A pyigtl client on 127.0.0.1 streams a stylus sweeping over the anterior third of the liver
(deformed by the FE truth, 1 mm noise) into the Live panel; the deformable update box follows
it. Prints (never fails on wall clock) the first update, the median phases of the warm updates
(wait for the worker, fit, view data, delivery, display + render, total; CPU = fit + view
data + GUI work) and the intervals between updates shown while the points streamed in
(target: <= 1 s, i.e. >= 1 Hz).

Run:  QT_QPA_PLATFORM=xcb .venv/bin/python -m pytest tests/benchmarks/test_follow_stylus_liver.py -s -q
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim.model import ObjectKind, SceneObject
from tests.sim.registration.liver_truth import anterior_patch, liver_truth, sample_patch
from tests.viewer.case_window import (  # noqa: F401
    listening_live_panel,
    send_tip,
    shared_window_fixture,
)
from tests.viewer.test_deformable_follow_gui import _rate_report

pyigtl = pytest.importorskip("pyigtl")
pytestmark = pytest.mark.benchmark


def test_follow_stylus_on_the_liver(shared_window, qtbot, shared_data):
    truth = liver_truth(shared_data)
    win = shared_window
    win.ask_unsaved_changes = lambda: "discard"  # closing at the end: no question
    panel = listening_live_panel(win, qtbot, "follow-liver")
    panel.connect_link()
    assert panel.connected, win.last_error and win.last_error.text()
    win.case.scene.add(SceneObject("liver", ObjectKind.SURFACE, truth.surface))
    box = win.inspect.deformable
    box.refresh()
    box.organ_combo.setCurrentIndex(box.organ_combo.findText("liver"))
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.3), 400, 1.0,
                       np.random.default_rng(2))
    pts = pts[np.argsort(pts[:, 0])]  # a sweep across the surface
    client = pyigtl.OpenIGTLinkClient(host="127.0.0.1",
                                      port=panel.session.instruments.endpoint.port)
    try:
        def send(p):
            send_tip(client, p)

        send(pts[0])
        qtbot.waitUntil(lambda: box.follow_tool_combo.currentText() == "Stylus", timeout=10_000)
        box.follow_check.setChecked(True)
        assert box.follower.trace is not None, win.last_error and win.last_error.text()
        for p in pts:
            send(p)
            qtbot.wait(25)
        streamed = time.perf_counter()
        qtbot.waitUntil(lambda: not box.follower.busy, timeout=120_000)
        f = box.follower
        print(f"\n{f.live.model.mesh.n_elements} tetrahedra, {truth.surface.n_points} surface "
              f"vertices, {len(f.trace.points)} points, {f.updates} updates")
        _rate_report(f.timings, streamed)
        box.follow_check.setChecked(False)
    finally:
        client.stop()
        panel.shutdown()
