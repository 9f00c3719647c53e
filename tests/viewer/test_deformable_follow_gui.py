"""*Follow tracked stylus* in the deformable update box, fed by a real OpenIGTLink sender.

A pyigtl client on 127.0.0.1 streams the poses of a tool named "Stylus" whose tip touches an
organ (an ellipsoid, 90 x 70 x 60 mm) whose top has been pressed down by up to 8 mm. The Live
panel listens; the box's toggle collects the tip as touched points and the background updates
move the organ's live preview toward them (and its embedded target), at a bounded rate of at
least one update a second while the points stream in (each update's phases are measured).
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import pyvista as pv

from sim.inspection.distance import MeshDistance
from sim.markups.model import Markup
from sim.model import ObjectKind, SceneObject
from tests.viewer.case_window import (  # noqa: F401
    listening_live_panel,
    send_tip,
    shared_window_fixture,
)
from viewer.panels.deformable_follow import MIN_INTERVAL_S

pyigtl = pytest.importorskip("pyigtl")
pytestmark = pytest.mark.slow


def _organ() -> pv.PolyData:
    s = pv.Sphere(radius=1.0, theta_resolution=40, phi_resolution=30)
    s.points = np.asarray(s.points) * [45.0, 35.0, 30.0]
    return s.triangulate().clean()


def _pressed(p: np.ndarray) -> np.ndarray:
    """The organ pressed down on top: z reduced by up to 8 mm near the top, smoothly."""
    out = p.copy()
    top = np.clip(p[:, 2] / 30.0, 0.0, 1.0)
    out[:, 2] -= 8.0 * top ** 2 * np.exp(-(p[:, 0] ** 2 + p[:, 1] ** 2) / (2 * 25.0 ** 2))
    return out


STREAMED = 200


def _rate_report(timings: list[dict], streamed_at: float) -> dict:
    """Median phases of the warm updates (the first one also prepares the model) and the
    intervals between updates shown while the points streamed in; printed."""
    warm = timings[1:]
    phases = ("wait_s", "fit_s", "frame_s", "deliver_s", "display_s", "total_s", "fit_cpu_s",
              "display_cpu_s", "cpu_s")
    med = {k: float(np.median([t[k] for t in warm])) for k in phases} if warm else {}
    shown = [t["shown_at"] for t in timings if t["shown_at"] <= streamed_at]
    gaps = np.diff(shown)
    out = {"warm_updates": len(warm), "median_cpu_s": med.get("cpu_s", np.inf),
           "median_interval_s": float(np.median(gaps)) if len(gaps) else float("nan")}
    if timings:
        print(f"\nfirst update: prepare {timings[0]['prepare_s']:.2f} s, fit "
              f"{timings[0]['fit_s']:.2f} s, total {timings[0]['total_s']:.2f} s")
    print("warm updates (median s): " + ", ".join(f"{k[:-2]} {v:.3f}" for k, v in med.items())
          + f"; {len(shown)} shown while streaming, median interval "
          f"{out['median_interval_s']:.2f} s, max {gaps.max() if len(gaps) else float('nan'):.2f} s")
    return out


def test_follow_stylus_moves_the_organ_toward_the_touched_points(shared_window, qtbot,
                                                                 tmp_path):
    win = shared_window
    panel = listening_live_panel(win, qtbot, "follow")
    panel.connect_link()
    assert panel.connected, win.last_error and win.last_error.text()
    port = panel.session.instruments.endpoint.port
    organ = _organ()
    win.case.scene.add(SceneObject("organ", ObjectKind.SURFACE, organ, color=(0.25, 0.45, 0.95)))
    win.case.markups.add(Markup("target", "point", points=((0.0, 0.0, 20.0),)))
    box = win.inspect.deformable
    box.refresh()
    box.organ_combo.setCurrentIndex(box.organ_combo.findText("organ"))
    box.noise_spin.setValue(0.5)

    # Tip positions: over the top half of the pressed organ (where the stylus can reach).
    rng = np.random.default_rng(2)
    verts = np.asarray(organ.points)
    touched = _pressed(verts[verts[:, 2] > 5.0])[rng.permutation((verts[:, 2] > 5.0).sum())]
    client = pyigtl.OpenIGTLinkClient(host="127.0.0.1", port=port)
    try:
        def send(p):
            send_tip(client, p)

        send(touched[0])
        ins = panel.session.instruments
        qtbot.waitUntil(lambda: "Stylus" in ins.tools, timeout=10_000)
        box.follow_check.setChecked(True)
        assert box.follower.trace is not None, win.last_error and win.last_error.text()
        t0 = time.perf_counter()
        for p in touched[:STREAMED]:  # a stylus sliding over the organ for ~8 s
            send(p)
            qtbot.wait(25)
        # With a cold numba cache (a fresh clone, as in CI) the first fit compiles its
        # kernels for ~20 s while those points stream: keep touching (the same points
        # again) until eight warm updates have been shown (each continues the fit a few
        # steps), or for at most 90 s.
        again, deadline = itertools.cycle(touched[:STREAMED]), time.perf_counter() + 90
        while len(box.follower.timings) < 9 and time.perf_counter() < deadline:
            send(next(again))
            qtbot.wait(25)
        streamed = time.perf_counter()
        # The last update fits every touched point.
        qtbot.waitUntil(lambda: box.follower.updates >= 2 and box.follower.caught_up,
                        timeout=120_000)
        elapsed = time.perf_counter() - t0
        rate = _rate_report(box.follower.timings, streamed)
        preview = box.follower._preview
        assert preview is not None and win.case.scene.find(preview.uid) is not None
        assert not win.case.scene["organ"].visible
        pts = box.follower.trace.points
        assert len(pts) >= 40
        before = np.abs(MeshDistance.from_mesh(organ).signed_distance(pts)).mean()
        after = np.abs(MeshDistance.from_mesh(preview.data).signed_distance(pts)).mean()
        print(f"\n{len(pts)} touched points, {box.follower.updates} updates in {elapsed:.1f} s;"
              f" mean distance to the organ {before:.2f} -> {after:.2f} mm")
        assert after < 0.5 * before, (before, after)
        # Bounded rate: at most two updates a second (+2 for the first ones).
        assert box.follower.updates <= elapsed / MIN_INTERVAL_S + 2
        # >= 1 Hz: an update (warm fit, view data, display and render) costs well under a
        # second. CPU time, not wall time, so a loaded CI machine cannot fake a failure; the
        # wall-clock figures are printed.
        assert rate["warm_updates"] >= 3, rate
        assert rate["median_cpu_s"] <= 1.0, rate
        target = box.follower._targets
        assert target is not None and np.asarray(target.data.points)[0, 2] < 20.0 - 1.0
        assert "residual RMS" in box.label.text()
        win.view.plotter.render()
        from PyQt6.QtWidgets import QDockWidget, QScrollArea

        dock = win.findChild(QDockWidget, "dockInspect")
        if dock is not None:
            dock.raise_()
        for area in win.findChildren(QScrollArea):
            if area.isAncestorOf(box):
                area.ensureWidgetVisible(box)
        win.view.plotter.reset_camera()
        win.view.plotter.render()
        qtbot.wait(100)
        win.grab().save(str(tmp_path / "follow.png"))  # look at them: -s --basetemp=DIR
        box.grab().save(str(tmp_path / "follow_box.png"))
        # Turning it off keeps the last update as one undoable step.
        box.follow_check.setChecked(False)
        assert win.case.scene.find(preview.uid) is None
        assert win.case.scene["organ (updated)"].visible
        win.case.history.undo()
        assert "organ (updated)" not in [o.name for o in win.case.scene]
        assert win.case.scene["organ"].visible
    finally:
        client.stop()
        panel.shutdown()


def test_the_stylus_list_offers_the_tools_on_the_link_and_follows_the_chosen_one(
        shared_window, qtbot):
    win = shared_window
    panel = listening_live_panel(win, qtbot, "follow-tools")
    panel.connect_link()
    assert panel.connected, win.last_error and win.last_error.text()
    port = panel.session.instruments.endpoint.port
    win.case.scene.add(SceneObject("organ", ObjectKind.SURFACE, _organ()))
    box = win.inspect.deformable
    box.refresh()
    box.organ_combo.setCurrentIndex(box.organ_combo.findText("organ"))
    combo = box.follow_tool_combo
    # Two tools touch two different places: the Stylus on the top, the Probe on the side.
    top = np.array([[x, y, 30.0] for x in np.linspace(-20, 20, 12) for y in (-6.0, 0.0, 6.0)])
    side = np.array([[45.0, y, z] for y in np.linspace(-20, 20, 12) for z in (-6.0, 0.0, 6.0)])
    client = pyigtl.OpenIGTLinkClient(host="127.0.0.1", port=port)
    try:
        def send(name, p):
            m = np.eye(4)
            m[:3, 3] = p
            client.send_message(pyigtl.TransformMessage(m, device_name=name), wait=True)

        def stream():
            for a, b in zip(top, side, strict=True):
                send("Stylus", a)
                send("Probe", b)
                qtbot.wait(5)

        send("Probe", side[0])
        qtbot.waitUntil(lambda: combo.count() == 1, timeout=10_000)  # listed as it appears
        assert combo.currentText() == "Probe"  # the only tool
        send("Stylus", top[0])
        qtbot.waitUntil(lambda: combo.count() == 2, timeout=10_000)
        assert combo.currentText() == "Probe"  # kept (the user's view does not jump)
        combo.setCurrentIndex(combo.findText("Stylus"))
        box.follow_check.setChecked(True)
        assert box.follower.tool.device == "Stylus", win.last_error and win.last_error.text()
        stream()
        qtbot.waitUntil(lambda: len(box.follower.trace.points) >= len(top) - 1, timeout=20_000)
        got = box.follower.trace.points
        assert np.abs(got[:, 2] - 30.0).max() < 1e-6  # the Stylus's tip points only

        # Choosing the Probe while following: its tip points from now on.
        combo.setCurrentIndex(combo.findText("Probe"))
        assert box.follower.tool.device == "Probe"
        assert "Following Probe" in box.label.text()
        stream()
        qtbot.waitUntil(lambda: len(box.follower.trace.points) >= len(side) - 1,
                        timeout=20_000)
        got = box.follower.trace.points
        assert np.abs(got[:, 0] - 45.0).max() < 1e-6  # the Probe's only
        box.follow_check.setChecked(False)
    finally:
        client.stop()
        panel.shutdown()
