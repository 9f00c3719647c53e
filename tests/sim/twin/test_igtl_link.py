"""The OpenIGTLink link over real sockets with pyigtl as the other end."""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pyigtl
import pytest

from sim.model import Case
from sim.twin import igtl_link
from sim.twin import igtl_wire as wire
from sim.twin.igtl_link import IgtlClient, IgtlServer, exposure_warning
from sim.twin.instruments import Endpoint, InstrumentLink


def pose(x: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, 2.0 * x, -x)
    return m


def test_server_receives_from_pyigtl_client_and_answers(wait_until):
    got = []
    server = IgtlServer("127.0.0.1", 0, on_message=got.append)
    client = pyigtl.OpenIGTLinkClient("127.0.0.1", server.port)
    try:
        assert server.wait_connected(5)
        client.send_message(pyigtl.TransformMessage(pose(3), device_name="Stylus"), wait=True)
        client.send_message(pyigtl.StringMessage("hello", device_name="Note"), wait=True)
        assert wait_until(lambda: len(got) == 2)
        np.testing.assert_allclose(got[0].content, pose(3), atol=1e-6)
        assert got[1].content == "hello"
        assert server.send(wire.encode_string("Reply", "ack")) == 1
        reply = client.wait_for_message("Reply", timeout=5)
        assert reply is not None and reply.string == "ack"
    finally:
        client.stop()
        server.close()
    assert server.counters.received == 2 and server.counters.rejected_crc == 0


def test_client_receives_from_pyigtl_server_and_sends_back(pyigtl_server_factory, wait_until):
    peer = pyigtl_server_factory()
    got = []
    client = IgtlClient("127.0.0.1", peer.port, on_message=got.append)
    try:
        assert client.wait_connected(5)
        assert wait_until(peer.is_connected)
        peer.send_message(pyigtl.TransformMessage(pose(7), device_name="Probe"), wait=True)
        assert wait_until(lambda: got)
        np.testing.assert_allclose(got[0].content, pose(7), atol=1e-6)
        client.send(wire.encode_transform("Target", pose(1)))
        back = peer.wait_for_message("Target", timeout=5)
        assert back is not None
        np.testing.assert_allclose(back.matrix, pose(1), atol=1e-6)
    finally:
        client.close()


def test_client_reconnects_with_backoff_after_peer_restart(pyigtl_server_factory, wait_until, free_port):
    port = free_port()
    peer = pyigtl_server_factory(port)
    got = []
    client = IgtlClient("127.0.0.1", port, on_message=got.append, backoff=(0.02, 0.2))
    try:
        assert client.wait_connected(5)
        peer.stop()
        assert wait_until(lambda: not client.connected.is_set(), 5)
        time.sleep(0.3)  # several failed attempts while the peer is down
        peer2 = pyigtl_server_factory(port)
        assert wait_until(lambda: client.counters.connects == 2, 10)
        assert wait_until(peer2.is_connected)
        peer2.send_message(pyigtl.TransformMessage(pose(5), device_name="Stylus"), wait=True)
        assert wait_until(lambda: got)
        assert client.attempts > 2
    finally:
        client.close()


def raw_peer(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_garbage_and_bad_messages_are_rejected_without_stopping_the_server(wait_until):
    got = []
    server = IgtlServer("127.0.0.1", 0, on_message=got.append)
    try:
        s = raw_peer(server.port)
        bad_crc = bytearray(wire.encode_transform("Tool", pose(1)))
        bad_crc[-1] ^= 0xFF
        s.sendall(bytes(bad_crc))
        s.sendall(wire.pack("MYSTERY", "dev", b"\x01\x02\x03"))
        s.sendall(wire.pack("TRANSFORM", "Tool", b"\x00" * 12))
        s.sendall(wire.encode_transform("Tool", pose(2)))  # framing intact: still accepted
        assert wait_until(lambda: len(got) == 1)
        c = server.counters
        assert (c.rejected_crc, c.rejected_unknown_type, c.rejected_malformed) == (1, 1, 1)
        # A header announcing a huge body: the connection is dropped, nothing allocated.
        s.sendall(wire.HEADER.pack(1, b"IMAGE", b"x", 0, 0, 2**40, 0))
        assert wait_until(lambda: server.counters.dropped_connections == 1)
        s.close()
        # Random garbage from a second peer: dropped too; the server keeps serving.
        s2 = raw_peer(server.port)
        s2.sendall(bytes(range(256)) * 4)
        assert wait_until(lambda: server.counters.dropped_connections == 2)
        s2.close()
        s3 = raw_peer(server.port)
        s3.sendall(wire.encode_transform("Tool", pose(3)))
        assert wait_until(lambda: len(got) == 2)
        s3.close()
    finally:
        server.close()


def test_stalled_peer_is_dropped(monkeypatch, wait_until):
    monkeypatch.setattr(igtl_link, "BODY_TIMEOUT_S", 0.2)
    server = IgtlServer("127.0.0.1", 0)
    try:
        s = raw_peer(server.port)
        s.sendall(wire.encode_transform("Tool", pose(1))[:70])  # header + part of the body
        assert wait_until(lambda: server.counters.dropped_connections == 1, 3)
        s.close()
    finally:
        server.close()


def test_oversized_body_limit_is_configurable(wait_until):
    server = IgtlServer("127.0.0.1", 0, max_body=1000)
    try:
        s = raw_peer(server.port)
        img = wire.encode_image("US", wire.ImageFrame(np.zeros((1, 40, 40), np.uint8), np.eye(4)))
        s.sendall(img)
        assert wait_until(lambda: server.counters.dropped_connections == 1)
        assert "exceeds" in server.last_error
        s.close()
    finally:
        server.close()


def test_exposure_warning_and_endpoint_parsing():
    assert exposure_warning("127.0.0.1") is None and exposure_warning("localhost") is None
    assert "not encrypted" in exposure_warning("0.0.0.0")
    assert Endpoint.parse("127.0.0.1:1234") == Endpoint("127.0.0.1", 1234)
    assert Endpoint.parse("localhost").port == igtl_link.DEFAULT_PORT
    from sim.errors import InputError

    with pytest.raises(InputError, match="HOST:PORT"):
        Endpoint.parse("host:notaport")


def test_port_in_use_is_a_link_error():
    from sim.twin.errors import LinkError

    first = IgtlServer("127.0.0.1", 0)
    try:
        with pytest.raises(LinkError, match="Cannot listen"):
            IgtlServer("127.0.0.1", first.port)
    finally:
        first.close()


def test_instrument_link_moves_tool_applies_calibration_and_sends_distance(wait_until):
    case = Case(name="t")
    link = InstrumentLink(case)
    reg = np.eye(4)
    reg[:3, 3] = (100, 0, 0)
    link.set_registration(reg)
    server = link.listen("127.0.0.1", 0)
    client = pyigtl.OpenIGTLinkClient("127.0.0.1", server.port)
    try:
        assert server.wait_connected(5)
        calib = np.eye(4)
        calib[:3, 3] = (0, 0, 150)  # tip 150 mm along the tool's z
        link.add_tool("Stylus", tool_T_tip=calib)
        target = np.eye(4)
        target[:3, 3] = (110, 20, 130)
        link.send_target(target)
        client.send_message(pyigtl.TransformMessage(pose(10), device_name="Stylus"), wait=True)
        assert wait_until(lambda: link.tools["Stylus"].updates == 1)
        tool = link.tools["Stylus"]
        np.testing.assert_allclose(tool.tip, (110, 20, 140), atol=1e-5)
        # The scene object moved with it (its mesh tip is at the local origin).
        obj = case.scene["Stylus"]  # (moved just after the tool's pose is counted)
        assert wait_until(lambda: np.linalg.norm(obj.data.points - tool.tip, axis=1).min()
                          < 1e-4)
        got = client.wait_for_message("Target", timeout=5)
        np.testing.assert_allclose(got.matrix, target, atol=1e-5)
        dist = client.wait_for_message("StylusDist", timeout=5)
        assert float(dist.string) == pytest.approx(10.0, abs=1e-3)
        # A second tool appears on first sight; images become textured planes.
        img = np.tile(np.arange(32, dtype=np.uint8), (1, 16, 1))
        client.send_message(pyigtl.ImageMessage(img, ijk_to_world_matrix=np.eye(4),
                                                device_name="US"), wait=True)
        assert wait_until(lambda: "US" in link.images)
        plane = case.scene["US"]
        assert plane.texture.shape == (16, 32, 3)
        np.testing.assert_allclose(plane.data.bounds[:4], (99.5, 131.5, -0.5, 15.5))
        link.send_command("FREEZE")
        assert client.wait_for_message("Command", timeout=5).string == "FREEZE"
    finally:
        client.stop()
        link.close()


def test_bad_registration_is_refused():
    from sim.errors import InputError

    link = InstrumentLink(Case())
    with pytest.raises(InputError, match="rigid"):
        link.set_registration(np.diag([2.0, 1, 1, 1]))
    assert struct.calcsize(">H") == 2


def test_tracked_tool_drives_a_rigid_instrument():
    from types import SimpleNamespace

    from sim.errors import InputError

    link = InstrumentLink(Case())
    tool = link.add_tool("Probe")
    probe = SimpleNamespace(pose=np.eye(4))  # any rigid tool with a world_T_tip pose
    tool.drive(probe)
    tool.update(pose(4), 0.0)
    np.testing.assert_allclose(probe.pose, tool.pose)
    with pytest.raises(InputError, match="no pose"):
        tool.drive(object())


def test_a_new_session_adopts_the_tool_a_previous_one_moved():
    case = Case()
    first = InstrumentLink(case)
    tool = first.add_tool("Stylus")
    local = tool.obj.data.points.copy()
    tool.update(pose(12), 0.0)
    second = InstrumentLink(case)
    again = second.add_tool("Stylus")
    assert again.obj is tool.obj and len(case.scene) == 1
    again.update(pose(-3), 0.0)
    np.testing.assert_allclose(again.obj.data.points, local + pose(-3)[:3, 3], atol=1e-4)


def test_a_2d_pyigtl_image_is_shown_as_the_plane_it_spans():
    """pyigtl sends a bare (rows, cols) array as k rows of j pixels, one voxel thick in i:
    the plane must span j (columns) and k (rows), not show a single row."""
    from sim.twin.tracking import ImagePlane

    frame = np.zeros((20, 30), dtype=np.uint8)
    frame[0, 0] = 255
    raw = pyigtl.ImageMessage(frame, ijk_to_world_matrix=np.diag([1.0, 2.0, 3.0, 1.0]),
                              device_name="US").pack()
    msg = wire.decode(wire.parse_header(raw[:wire.HEADER.size]), raw[wire.HEADER.size:])
    plane = ImagePlane("US")
    plane.update(msg.content)
    tex = plane.obj.texture
    assert tex.shape == (20, 30, 3) and tex[0, 0, 0] == 255 and tex[1:, 1:].max() == 0
    # Columns run along j (2 mm), rows along k (3 mm); i stays at 0.
    np.testing.assert_allclose(plane.obj.data.bounds, (0, 0, -1, 59, -1.5, 58.5))
