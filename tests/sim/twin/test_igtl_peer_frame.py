"""Peer frame (RAS peers such as 3D Slicer) and images placed by a separate TRANSFORM
(PLUS style), with pyigtl as the real other end."""

from __future__ import annotations

import json

import numpy as np
import pyigtl
import pytest

from sim.cli import main
from sim.errors import InputError
from sim.model import Case
from sim.twin.instruments import InstrumentLink, parse_image_poses, ras_to_lps
from sim.twin.session import LiveSession

FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def _rot_z(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    m = np.eye(4)
    m[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    return m


def _ras_pose() -> np.ndarray:
    m = _rot_z(30.0)
    m[:3, 3] = (12.0, 34.0, -5.0)  # RAS: 12 mm right, 34 mm anterior, 5 mm inferior
    return m


def _listen(link: InstrumentLink):
    server = link.listen("127.0.0.1", 0)
    client = pyigtl.OpenIGTLinkClient("127.0.0.1", server.port)
    assert server.wait_connected(5)
    return server, client


def test_ras_transform_lands_at_the_lps_mirrored_pose_and_the_target_goes_back_in_ras(
        wait_until):
    case = Case(name="ras")
    link = InstrumentLink(case)
    link.set_peer_frame("RAS")
    reg = np.eye(4)
    reg[:3, 3] = (0, 0, 100)
    link.set_registration(reg)
    _server, client = _listen(link)
    try:
        client.send_message(pyigtl.TransformMessage(_ras_pose(), device_name="Stylus"),
                            wait=True)
        # ``shown``: the mesh has moved too (it follows the pose a moment after ``updates``)
        assert wait_until(lambda: "Stylus" in link.tools and link.tools["Stylus"].shown)
        tool = link.tools["Stylus"]
        # RAS (12, 34, -5) is LPS (-12, -34, -5); the rotation about z keeps its angle.
        np.testing.assert_allclose(tool.tip, (-12, -34, 95), atol=1e-4)
        np.testing.assert_allclose(tool.pose[:3, :3], _rot_z(30.0)[:3, :3], atol=1e-5)
        obj = case.scene["Stylus"]
        assert np.linalg.norm(obj.data.points - tool.tip, axis=1).min() < 1e-3
        # A POINT list from the same peer is mirrored too.
        client.send_message(pyigtl.PointMessage(positions=[[1.0, 2.0, 3.0]], names=["P"],
                                                device_name="Fids"), wait=True)
        assert wait_until(lambda: "Fids" in link.points)
        np.testing.assert_allclose(link.points["Fids"][0].position, (-1, -2, 3), atol=1e-5)
        # Our LPS target reaches the peer in its RAS frame.
        target = _rot_z(-45.0)
        target[:3, 3] = (-20.0, 10.0, 50.0)
        link.send_target(target)
        got = client.wait_for_message("Target", timeout=5)
        expect = target.copy()
        expect[:2, 3] *= -1
        expect[:2, 2] *= -1
        expect[2, :2] *= -1
        np.testing.assert_allclose(got.matrix, expect, atol=1e-5)
        np.testing.assert_allclose(got.matrix, FLIP @ target @ FLIP, atol=1e-5)
    finally:
        client.stop()
        link.close()


def test_lps_peer_is_taken_as_it_comes(wait_until):
    link = InstrumentLink(Case())
    assert link.peer_frame == "lps"
    _server, client = _listen(link)
    try:
        client.send_message(pyigtl.TransformMessage(_ras_pose(), device_name="Stylus"),
                            wait=True)
        assert wait_until(lambda: "Stylus" in link.tools and link.tools["Stylus"].updates)
        np.testing.assert_allclose(link.tools["Stylus"].pose, _ras_pose(), atol=1e-5)
    finally:
        client.stop()
        link.close()


def _image_corners(obj) -> np.ndarray:
    return np.asarray(obj.data.points, dtype=float)


def test_image_follows_the_transform_named_for_it(wait_until):
    """PLUS style: IMAGE 'Image_Reference' has only its pixel geometry, TRANSFORM
    'ImageToReference' (RAS peer) places it; the plane appears once both arrived, lands
    at registration @ F T F @ ijk and follows each new transform; no tool is made."""
    case = Case(name="plus")
    link = InstrumentLink(case)
    link.set_peer_frame("ras")
    link.set_image_poses(parse_image_poses("Image_Reference=ImageToReference"))
    reg = np.eye(4)
    reg[:3, 3] = (5, 0, 0)
    link.set_registration(reg)
    _server, client = _listen(link)
    # A (16 rows x 32 columns) frame, 0.5 mm pixels; pyigtl sends it in i=1, j=32, k=16.
    frame = np.zeros((16, 32), dtype=np.uint8)
    frame[0, 0] = 255
    spacing = np.diag([1.0, 0.5, 0.5, 1.0])
    try:
        client.send_message(pyigtl.ImageMessage(frame, ijk_to_world_matrix=spacing,
                                                device_name="Image_Reference"), wait=True)
        assert wait_until(lambda: "Image_Reference" in link.images
                          and link.images["Image_Reference"].frames == 1)
        # Not shown at a provisional place: only its transform may place it.
        assert "Image_Reference" not in [o.name for o in case.scene]
        t1 = _rot_z(90.0)
        t1[:3, 3] = (10.0, 20.0, 30.0)
        client.send_message(pyigtl.TransformMessage(t1, device_name="ImageToReference"),
                            wait=True)
        assert wait_until(lambda: "Image_Reference" in [o.name for o in case.scene])
        plane = link.images["Image_Reference"]
        assert wait_until(lambda: plane.shown >= 1 and plane.poses == 1)
        obj = case.scene["Image_Reference"]

        def expected(t_ras: np.ndarray) -> np.ndarray:
            # quad corners in ijk: j spans columns, k rows, each half a pixel outwards
            ijk = np.array([[0, -0.5, -0.5], [0, 31.5, -0.5], [0, 31.5, 15.5],
                            [0, -0.5, 15.5]])
            m = reg @ (FLIP @ t_ras @ FLIP) @ spacing
            return np.c_[ijk, np.ones(4)] @ m.T[:, :3]

        np.testing.assert_allclose(_image_corners(obj), expected(t1), atol=1e-4)
        # By hand: the first pixel's outer corner is (0, -0.25, -0.25) in the image frame
        # (the header says LPS), (0, 0.25, -0.25) in RAS; turned 90 degrees about z and
        # moved in RAS: (9.75, 20, 29.75); in LPS (-9.75, -20, 29.75); registered: +5 in x.
        np.testing.assert_allclose(_image_corners(obj)[0], (-4.75, -20.0, 29.75), atol=1e-4)
        assert obj.texture[0, 0, 0] == 255
        # A new transform alone moves the plane (no new image needed).
        t2 = np.eye(4)
        t2[:3, 3] = (-40.0, 0.0, 7.0)
        client.send_message(pyigtl.TransformMessage(t2, device_name="ImageToReference"),
                            wait=True)
        assert wait_until(lambda: plane.poses == 2 and plane.shown >= 2)
        # ``poses`` counts before the quad is synced on the dispatch thread: wait for it.
        wait_until(lambda: np.allclose(_image_corners(obj), expected(t2), atol=1e-4))
        np.testing.assert_allclose(_image_corners(obj), expected(t2), atol=1e-4)
        # The placing transform drives the image, not a stylus.
        assert "ImageToReference" not in link.tools
        assert "ImageToReference" not in [o.name for o in case.scene]
        # An image without a mapping still appears at its header geometry.
        client.send_message(pyigtl.ImageMessage(frame, ijk_to_world_matrix=spacing,
                                                device_name="Other"), wait=True)
        assert wait_until(lambda: "Other" in [o.name for o in case.scene])
    finally:
        client.stop()
        link.close()


def test_transform_before_image_places_the_first_frame():
    from sim.twin import igtl_wire as wire

    case = Case()
    link = InstrumentLink(case)
    link.set_image_poses({"US": "ProbeToRef"})
    t = np.eye(4)
    t[:3, 3] = (0, 0, 50)
    for raw in (pyigtl.TransformMessage(t, device_name="ProbeToRef").pack(),
                pyigtl.ImageMessage(np.zeros((4, 6), np.uint8), device_name="US").pack()):
        link.handle(wire.decode(wire.parse_header(raw[:wire.HEADER_SIZE]),
                                raw[wire.HEADER_SIZE:]))
    assert case.scene["US"].data.bounds[4] == pytest.approx(49.5)


def test_settings_keep_the_peer_frame_and_image_poses():
    link = InstrumentLink(Case())
    link.set_peer_frame("ras")
    link.set_image_poses({"Image_Reference": "ImageToReference"})
    doc = json.loads(json.dumps(link.settings()))
    again = InstrumentLink(Case())
    again.apply_settings(doc)
    assert again.peer_frame == "ras"
    assert again.image_poses == {"Image_Reference": "ImageToReference"}
    # Settings saved before these existed still load (LPS, no mapping).
    old = InstrumentLink(Case())
    old.apply_settings({"patient_T_tracker": np.eye(4).tolist(), "tool_T_tip": {}})
    assert old.peer_frame == "lps" and old.image_poses == {}
    with pytest.raises(InputError, match="LPS or RAS"):
        again.apply_settings({**doc, "peer_frame": "xyz"})
    with pytest.raises(InputError, match="image_poses"):
        again.apply_settings({**doc, "image_poses": ["a"]})
    # A session's connect overrides what the case said.
    session = LiveSession(Case())
    session.instruments.apply_settings(doc)
    session.connect_igtl("127.0.0.1", 0, listen=True, peer_frame="lps", image_poses={})
    try:
        assert session.status()["igtl"]["peer_frame"] == "lps"
        assert session.instruments.image_poses == {}
    finally:
        session.close()


def test_parse_image_poses_and_ras_to_lps():
    assert parse_image_poses("A=B, C = D;E=F") == {"A": "B", "C": "D", "E": "F"}
    assert parse_image_poses(["Image_Reference=ImageToReference"]) == {
        "Image_Reference": "ImageToReference"}
    assert parse_image_poses("") == {}
    for bad in ("A", "=B", "A=", "A" * 21 + "=B"):
        with pytest.raises(InputError, match="IMAGE=TRANSFORM"):
            parse_image_poses(bad)
    m = _ras_pose()
    np.testing.assert_allclose(ras_to_lps(ras_to_lps(m)), m)
    assert np.linalg.det(ras_to_lps(m)[:3, :3]) == pytest.approx(1.0)


def test_record_converts_a_ras_peer_and_places_its_image(tmp_path, free_port, capsys,
                                                          record_from_peer):
    db = tmp_path / "ras.db"
    sent = (pyigtl.TransformMessage(_ras_pose(), device_name=name)
            for name in ("Needle", "ImageToRef"))
    rc = record_from_peer(free_port(), sent, ["-o", str(db), "--peer-frame", "RAS",
                                              "--image-pose", "US=ImageToRef", "--duration", "2",
                                              "--json"])
    assert rc == 0
    status = json.loads(capsys.readouterr().out)
    assert status["igtl"]["peer_frame"] == "ras"
    assert status["igtl"]["image_poses"] == {"US": "ImageToRef"}
    assert status["tools"]["Needle"]["tip_mm"] == pytest.approx([-12.0, -34.0, -5.0], abs=1e-4)
    assert "ImageToRef" not in status["tools"]
    assert main(["link", "replay", str(db), "--events", "--json"]) == 0
    out = capsys.readouterr().out
    assert "ImageToRef" in out  # the image's pose is recorded as well
    assert main(["link", "record", "--igtl", "127.0.0.1:1", "--image-pose", "nonsense",
                 "-o", str(tmp_path / "x.db"), "--duration", "0.1"]) == 2
