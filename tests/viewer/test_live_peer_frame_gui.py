"""The Live panel's peer frame and image-pose settings, with pyigtl as a 3D Slicer / PLUS
style peer: a RAS pose is drawn at its LPS mirror, an image follows its TRANSFORM, and the
settings are kept with the case."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import Case
from tests.viewer.case_window import listening_live_panel, shared_window_fixture  # noqa: F401

pyigtl = pytest.importorskip("pyigtl")
FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def _rot_z(degrees: float, t=(0.0, 0.0, 0.0)) -> np.ndarray:
    a = np.radians(degrees)
    m = np.eye(4)
    m[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    m[:3, 3] = t
    return m


@pytest.fixture
def window(shared_window, qtbot):
    win = shared_window
    panel = listening_live_panel(win, qtbot, "slicer")
    yield win, panel
    panel.shutdown()
    panel.set_peer_settings("lps", {})


def test_ras_peer_and_image_pose_from_transform_in_the_view(window, qtbot):
    win, panel = window
    panel.frame_combo.setCurrentIndex(panel.frame_combo.findData("ras"))
    panel.image_pose_edit.setText("Image_Reference=ImageToReference")
    panel.connect_link()
    assert panel.connected, win.last_error and win.last_error.text()
    ins = panel.session.instruments
    assert ins.peer_frame == "ras" and ins.image_poses == {"Image_Reference": "ImageToReference"}
    # Kept with the case, beside the registration.
    link = win.case.sections["link"]
    assert link["peer_frame"] == "ras"
    assert link["image_poses"] == {"Image_Reference": "ImageToReference"}

    client = pyigtl.OpenIGTLinkClient("127.0.0.1", ins.endpoint.port)
    try:
        ras = _rot_z(30.0, (40.0, 25.0, -10.0))
        client.send_message(pyigtl.TransformMessage(ras, device_name="Stylus"), wait=True)
        qtbot.waitUntil(lambda: "Stylus" in ins.tools and ins.tools["Stylus"].shown,
                        timeout=5_000)
        tool = ins.tools["Stylus"]
        np.testing.assert_allclose(tool.tip, (-40.0, -25.0, -10.0), atol=1e-4)
        qtbot.waitUntil(lambda: tool.obj.uid in panel.overlay.bound, timeout=5_000)
        # The view draws the mesh there: its tip (lowest z along the shaft) is the point.
        pts = np.asarray(tool.obj.data.points)
        assert np.linalg.norm(pts - (-40.0, -25.0, -10.0), axis=1).min() < 1e-3

        frame = np.full((20, 40), 30, dtype=np.uint8)
        frame[:5, :5] = 255
        spacing = np.diag([1.0, 0.5, 0.5, 1.0])
        client.send_message(pyigtl.ImageMessage(frame, ijk_to_world_matrix=spacing,
                                                device_name="Image_Reference"), wait=True)
        placing = _rot_z(90.0, (10.0, -30.0, 60.0))
        client.send_message(pyigtl.TransformMessage(placing, device_name="ImageToReference"),
                            wait=True)
        qtbot.waitUntil(lambda: "Image_Reference" in ins.images
                        and ins.images["Image_Reference"].shown
                        and ins.images["Image_Reference"].poses, timeout=5_000)
        plane = ins.images["Image_Reference"].obj
        qtbot.waitUntil(lambda: plane.uid in panel.overlay.bound, timeout=5_000)
        ijk = np.array([[0, -0.5, -0.5], [0, 39.5, -0.5], [0, 39.5, 19.5], [0, -0.5, 19.5]])
        m = (FLIP @ placing @ FLIP) @ spacing
        expected = np.c_[ijk, np.ones(4)] @ m.T[:, :3]
        np.testing.assert_allclose(plane.data.points, expected, atol=1e-4)
        win.view.plotter.render()
        actor = panel.overlay.actor(plane)
        lo, hi = expected.min(axis=0), expected.max(axis=0)
        np.testing.assert_allclose(actor.GetBounds(), np.c_[lo, hi].ravel(), atol=1e-3)
        assert "ImageToReference" not in ins.tools
    finally:
        client.stop()


def test_target_goes_back_in_ras(window, qtbot):
    win, panel = window
    panel.frame_combo.setCurrentIndex(panel.frame_combo.findData("ras"))
    panel.connect_link()
    assert panel.connected, win.last_error and win.last_error.text()
    ins = panel.session.instruments
    client = pyigtl.OpenIGTLinkClient("127.0.0.1", ins.endpoint.port)
    try:
        qtbot.waitUntil(lambda: ins.endpoint.peers == 1, timeout=5_000)
        target = _rot_z(-20.0, (-15.0, 8.0, 42.0))
        assert ins.send_target(target)
        got = client.wait_for_message("Target", timeout=5)
        np.testing.assert_allclose(got.matrix, FLIP @ target @ FLIP, atol=1e-5)
    finally:
        client.stop()


def test_a_case_brings_its_peer_settings_into_the_form(window):
    win, panel = window
    case = Case(name="saved", anatomical=False)
    case.sections["link"] = {"patient_T_tracker": np.eye(4).tolist(), "tool_T_tip": {},
                             "peer_frame": "ras", "image_poses": {"US": "ProbeToRef"}}
    win.set_case(case)
    assert panel.frame_combo.currentData() == "ras"
    assert panel.image_pose_edit.text() == "US=ProbeToRef"
    # A malformed mapping is refused with the error shown, not half-connected.
    panel.image_pose_edit.setText("no mapping here")
    win.last_error = None
    panel.connect_link()
    assert not panel.connected and panel.session is None
    assert "IMAGE=TRANSFORM" in win.last_error.text()
    win.last_error.close()
