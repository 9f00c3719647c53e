"""The live link in the GUI with real OpenIGTLink peers: thread-safe tool updates under a pose
flood, IMAGE texture orientation in the 3D view, pointer landmarks for registration."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import vtk

from sim.model import Case
from sim.twin import igtl_wire as wire
from tests.viewer.case_window import shared_window_fixture  # noqa: F401

pyigtl = pytest.importorskip("pyigtl")


@pytest.fixture
def live(shared_window, qtbot):
    """The shared window with an empty case and its Live panel listening on a free port."""
    win = shared_window
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.task is None, timeout=60_000)
    win.set_case(Case(name="live", anatomical=False))
    panel = win.live
    panel.mqtt_edit.setText("")
    panel.igtl_mode.setCurrentIndex(1)  # listen on
    panel.igtl_edit.setText("127.0.0.1:0")
    panel.connect_link()
    assert panel.connected, win.last_error and win.last_error.text()
    yield win, panel, panel.session.instruments.endpoint.port
    panel.shutdown()


def _pose(i: int) -> np.ndarray:
    """Frame i of the flood: rotated about z by i degrees, jumping 100 mm in x every frame,
    so a mesh torn between two poses would be far from rigid."""
    a = np.radians(i % 360)
    m = np.eye(4)
    m[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    m[:3, 3] = (100.0 * (i % 2), 0.2 * i, 10.0)
    return m


def test_pose_flood_while_the_view_renders(live, qtbot):
    win, panel, port = live
    ins = panel.session.instruments
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(wire.encode_transform("Flood", _pose(0), timestamp=time.time()))
    qtbot.waitUntil(lambda: "Flood" in ins.tools, timeout=5_000)
    tool = ins.tools["Flood"]
    qtbot.waitUntil(lambda: tool.obj.uid in panel.overlay.bound, timeout=5_000)
    mesh = tool.obj.data
    gui = threading.get_ident()
    touched: set[int] = set()
    obs = mesh.AddObserver(vtk.vtkCommand.ModifiedEvent,
                           lambda *_: touched.add(threading.get_ident()))

    n = 20_000
    blob = b"".join(wire.encode_transform("Flood", _pose(i), timestamp=time.time())
                    for i in range(1, n + 1))
    sender = threading.Thread(target=sock.sendall, args=(blob,))
    renders, worst_gap, torn = 0, 0.0, 0
    t0 = last = time.perf_counter()
    sender.start()
    try:
        while tool.updates < n + 1 and time.perf_counter() - t0 < 60:
            qtbot.wait(2)  # the event loop: queued mesh updates and the panel's 30 Hz timer
            win.view.plotter.render()  # and renders of our own, as fast as we can
            renders += 1
            # What the view draws is always one whole pose: the mesh is the tool's local
            # shape moved by the pose recorded with it (both written on this thread).
            world = tool.obj.metadata["pose"]
            expect = tool._local @ world[:3, :3].T + world[:3, 3]
            torn += not np.allclose(mesh.points, expect, atol=1e-6)
            now = time.perf_counter()
            worst_gap, last = max(worst_gap, now - last), now
        elapsed = time.perf_counter() - t0
        sender.join(10)
        qtbot.waitUntil(lambda: tool.shown and tool._pending is None, timeout=5_000)
    finally:
        mesh.RemoveObserver(obs)
        sock.close()
    print(f"\n{tool.updates - 1} poses in {elapsed:.2f} s ({(tool.updates - 1) / elapsed:.0f}/s), "
          f"{renders} renders, {tool.shown} mesh updates, worst event-loop gap "
          f"{worst_gap * 1000:.0f} ms")
    assert tool.updates == n + 1  # every pose reached the model
    assert touched == {gui}, "the rendered mesh was modified off the GUI thread"
    assert torn == 0
    assert tool.shown < tool.updates  # coalesced: no queued call per pose
    # The mesh ends exactly at the last pose; the event loop never stalled.
    np.testing.assert_allclose(tool.pose, _pose(n))
    expect = tool._local @ _pose(n)[:3, :3].T + _pose(n)[:3, 3]
    np.testing.assert_allclose(mesh.points, expect, atol=1e-6)
    assert worst_gap < 1.0, f"the GUI stalled for {worst_gap:.2f} s"
    assert renders > 20


def _display_rgb(win, img: np.ndarray, world) -> np.ndarray:
    """The screenshot colour where the world point ``world`` is drawn."""
    ren = win.view.plotter.renderer
    ren.SetWorldPoint(*world, 1.0)
    ren.WorldToDisplay()
    x, y, _ = ren.GetDisplayPoint()
    row, col = img.shape[0] - 1 - int(round(y)), int(round(x))
    return img[row - 1:row + 2, col - 1:col + 2, :3].reshape(-1, 3).mean(axis=0)


def test_image_plane_orientation_in_the_view(live, qtbot, tmp_path):
    """An asymmetric frame from pyigtl appears the right way round at its pose."""
    win, panel, port = live
    rows, cols = 40, 60
    img = np.full((1, rows, cols), 20, dtype=np.uint8)  # (k, j, i): 40 rows of 60 pixels
    img[0, :12, :12] = 255  # a white block at the first pixel (i = 0, j = 0)
    img[0, :4, 12:] = 140  # a grey bar along the first row (+i)
    img[0, 12:, :3] = 80  # a darker bar down the first column (+j): an "L" with a head
    # Spacing 2 mm; i runs along +y, j along -x, the plane is normal to z (LPS).
    ijk_to_lps = np.array([[0, -2.0, 0, 30], [2.0, 0, 0, -10], [0, 0, 2.0, 5], [0, 0, 0, 1]])
    client = pyigtl.OpenIGTLinkClient("127.0.0.1", port)
    try:
        client.send_message(pyigtl.ImageMessage(img, ijk_to_world_matrix=ijk_to_lps,
                                                device_name="US"), wait=True)
        ins = panel.session.instruments
        qtbot.waitUntil(lambda: "US" in ins.images and ins.images["US"].shown, timeout=5_000)
        plane = ins.images["US"].obj
        qtbot.waitUntil(lambda: plane.uid in panel.overlay.bound, timeout=5_000)
    finally:
        client.stop()

    def world(i: float, j: float) -> np.ndarray:
        return (ijk_to_lps @ [i, j, 0, 1])[:3]

    plotter = win.view.plotter
    centre = world((cols - 1) / 2, (rows - 1) / 2)
    cam = plotter.camera
    cam.focal_point = centre
    cam.position = centre + (0, 0, 400.0)  # looking down -z at the plane
    cam.up = (0, 1, 0)
    plotter.renderer.ResetCameraClippingRange()
    shot = win.view.screenshot(str(tmp_path / "us.png"))
    print(f"\nscreenshot {tmp_path / 'us.png'}")
    white = _display_rgb(win, shot, world(5, 5))
    grey = _display_rgb(win, shot, world(40, 1.5))
    dark = _display_rgb(win, shot, world(1, 30))
    background = _display_rgb(win, shot, world(40, 30))
    mirrored = [_display_rgb(win, shot, world(cols - 6, rows - 6)),  # both flipped
                _display_rgb(win, shot, world(cols - 6, 5)),  # columns flipped
                _display_rgb(win, shot, world(5, rows - 6))]  # rows flipped
    lum = {k: float(v.mean()) for k, v in (("white", white), ("grey", grey), ("dark", dark),
                                           ("background", background))}
    assert lum["white"] > lum["grey"] > lum["dark"] > lum["background"], lum
    assert all(float(m.mean()) < lum["dark"] for m in mirrored), (lum, mirrored)
    # Grey pixels stay grey (the texture is not tinted by the object's colour).
    assert np.ptp(grey) < 10
