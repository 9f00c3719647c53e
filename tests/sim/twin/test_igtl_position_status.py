"""OpenIGTLink POSITION and STATUS (issue #23, item 8) against the C++ reference library.

The reference library's own example programs (Debian ``openigtlink-examples``, built here
against ``libopenigtlink-dev``) connect to a socket we listen on: TrackerClient2 sends
POSITION messages and prints each position and quaternion it sent; StatusClient sends a
STATUS whose fields are fixed in its source. Rotations are checked with scipy's
quaternion conversion, not ours.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sim.twin import igtl_wire as wire

EXAMPLES = Path("/usr/share/doc/openigtlink-examples/examples")
INCLUDE = Path("/usr/include/openigtlink")


@pytest.fixture(scope="module")
def reference_programs(tmp_path_factory):
    compiler = shutil.which("g++")
    if not (EXAMPLES.is_dir() and INCLUDE.is_dir()) or compiler is None:
        pytest.skip("the OpenIGTLink reference library is not installed (Debian packages "
                    "openigtlink-examples, libopenigtlink-dev and g++; packaging/setup-env.sh)")
    out = tmp_path_factory.mktemp("igtl")
    programs = {}
    for name, src in (("TrackerClient2", "Tracker/TrackerClient2.cxx"),
                      ("StatusClient", "Status/StatusClient.cxx")):
        exe = out / name
        subprocess.run([compiler, "-O0", "-o", str(exe), str(EXAMPLES / src), f"-I{INCLUDE}",
                        "-lOpenIGTLink"], check=True, capture_output=True, timeout=120)
        programs[name] = exe
    return programs


def _receive(args: list[str], count: int) -> tuple[list[wire.Message], str]:
    """Run a reference client against a listening socket; decode ``count`` messages."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    port = server.getsockname()[1]
    proc = subprocess.Popen([*args[:1], "127.0.0.1", str(port), *args[1:]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    messages = []
    try:
        conn, _ = server.accept()
        conn.settimeout(10)
        with conn:
            def exact(n: int) -> bytes:
                data = b""
                while len(data) < n:
                    chunk = conn.recv(n - len(data))
                    assert chunk, "the reference client closed the connection"
                    data += chunk
                return data

            for _ in range(count):
                header = wire.parse_header(exact(wire.HEADER_SIZE))
                messages.append(wire.decode(header, exact(header.body_size)))
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        server.close()
    return messages, err


def test_position_from_trackerclient2_is_a_tool_pose(reference_programs):
    from scipy.spatial.transform import Rotation

    messages, printed = _receive([str(reference_programs["TrackerClient2"]), "50"], 5)
    num = r"(-?[\d.]+(?:e[-+]?\d+)?)"
    positions = re.findall(rf"position\s*=\s*\({num}, {num}, {num}\)", printed)
    quaternions = re.findall(rf"quaternion = \({num}, {num}, {num}, {num}\)", printed)
    assert len(positions) >= 5 and len(quaternions) >= 5, printed
    for i, msg in enumerate(messages):
        assert (msg.type, msg.wire_type, msg.device) == ("TRANSFORM", "POSITION", "Tracker")
        assert wire.pose_problem(msg.content) is None  # a rigid tool pose
        expected_p = np.array(positions[i], dtype=float)
        np.testing.assert_allclose(msg.content[:3, 3], expected_p, rtol=1e-5, atol=1e-4)
        q = np.array(quaternions[i], dtype=float)  # (ox, oy, oz, w); not of unit length
        expected_r = Rotation.from_quat(q).as_matrix()  # scipy normalises
        np.testing.assert_allclose(msg.content[:3, :3], expected_r, atol=1e-5)
    assert not np.allclose(messages[0].content, messages[-1].content)  # it moved


def test_status_from_statusclient(reference_programs):
    (msg,), _ = _receive([str(reference_programs["StatusClient"])], 1)
    assert msg.type == "STATUS" and msg.device == "Device"
    status = msg.content
    assert isinstance(status, wire.PeerStatus)
    # StatusClient.cxx: SetCode(STATUS_OK), SetSubCode(128), SetErrorName("OK!"), and its text
    assert (status.code, status.subcode, status.error_name) == (1, 128, "OK!")
    assert status.text == "This is a test to send status message."
    assert status.ok and str(status).startswith("OK: OK!")


def test_position_round_trip_and_short_forms():
    from scipy.spatial.transform import Rotation

    r = Rotation.from_euler("xyz", [20, -35, 110], degrees=True)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = r.as_matrix(), (12.5, -3.0, 250.0)
    raw = wire.encode_position("Probe", pose, timestamp=5.0)
    msg = wire.decode(wire.parse_header(raw[:wire.HEADER_SIZE]), raw[wire.HEADER_SIZE:])
    np.testing.assert_allclose(msg.content, pose, atol=1e-5)
    x, y, z, w = r.as_quat() if r.as_quat()[3] >= 0 else -r.as_quat()
    for body, rot in ((np.float32([1, 2, 3]).byteswap().tobytes(), np.eye(3)),  # position only
                      (np.array([1, 2, 3, x, y, z], ">f4").tobytes(), r.as_matrix())):
        raw = wire.pack("POSITION", "P", body)
        m = wire.decode(wire.parse_header(raw[:wire.HEADER_SIZE]), raw[wire.HEADER_SIZE:])
        np.testing.assert_allclose(m.content[:3, 3], (1, 2, 3))
        np.testing.assert_allclose(m.content[:3, :3], rot, atol=1e-5)


@pytest.mark.parametrize("body", [b"\0" * 20, np.array([0, 0, 0, 0, 0, 0, 0], ">f4").tobytes(),
                                  np.array([0, 0, 0, np.nan, 0, 0, 1], ">f4").tobytes()])
def test_bad_positions_are_refused(body):
    raw = wire.pack("POSITION", "P", body)
    with pytest.raises(wire.ProtocolError, match="malformed"):
        wire.decode(wire.parse_header(raw[:wire.HEADER_SIZE]), raw[wire.HEADER_SIZE:])


def test_status_round_trip_and_unknown_code():
    status = wire.PeerStatus(18, -7, "MOTOR", "axis 2 stalled")
    raw = wire.encode_status("Robot", status)
    msg = wire.decode(wire.parse_header(raw[:wire.HEADER_SIZE]), raw[wire.HEADER_SIZE:])
    assert msg.content == status and msg.content.name == "hardware failure"
    assert not msg.content.ok
    assert wire.PeerStatus(99, 0, "", "").name == "code 99"


def test_status_from_statusclient_is_listed_with_the_peers_messages(reference_programs,
                                                                    tmp_path):
    """What the Live panel lists under "From the instrument peer" (recent strings) and the
    history keep a STATUS as one readable line."""
    from sim.twin.history import HistoryStore
    from sim.twin.instruments import InstrumentLink

    (msg,), _ = _receive([str(reference_programs["StatusClient"])], 1)
    history = HistoryStore(tmp_path / "h.db")
    link = InstrumentLink(history=history)
    link.handle(msg)
    (_t, device, text), = link.recent_strings(5)
    assert device == "Device" and link.strings_received == 1
    assert text == "STATUS OK (OK!): This is a test to send status message."
    history.close()
