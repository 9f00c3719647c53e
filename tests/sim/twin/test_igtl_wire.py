"""Our OpenIGTLink codec against pyigtl (an independent implementation), and bad input."""

from __future__ import annotations

import struct

import numpy as np
import pyigtl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.twin import igtl_wire as wire
from sim.twin.errors import ProtocolError

ROT = np.array([[0, -1, 0, 10.5], [1, 0, 0, -20.25], [0, 0, 1, 30], [0, 0, 0, 1]], float)


def ours(raw: bytes) -> wire.Message:
    return wire.decode(wire.parse_header(raw[:58]), raw[58:])


def theirs(raw: bytes):
    fields = pyigtl.MessageBase.parse_header(raw[:58])
    msg = pyigtl.MessageBase.create_message(fields["message_type"])
    msg.unpack(fields, raw[58:])
    return msg


def test_transform_from_pyigtl():
    raw = pyigtl.TransformMessage(ROT, device_name="Stylus", timestamp=1700000000.25).pack()
    msg = ours(raw)
    assert (msg.type, msg.device) == ("TRANSFORM", "Stylus")
    assert msg.timestamp == pytest.approx(1700000000.25, abs=1e-6)
    np.testing.assert_allclose(msg.content, ROT, atol=1e-6)


@pytest.mark.parametrize("version", [1, 2])
def test_transform_to_pyigtl(version):
    m = theirs(wire.encode_transform("Target", ROT, timestamp=1234.5, version=version))
    assert m.device_name == "Target" and m.header_version == version
    np.testing.assert_allclose(m.matrix, ROT, atol=1e-6)
    assert m.timestamp == pytest.approx(1234.5, abs=1e-6)


def test_string_both_ways_and_v2_metadata():
    s = pyigtl.StringMessage("START_RECORDING", device_name="Cmd")
    s.header_version = 2
    s.metadata = {"session": "42"}
    msg = ours(s.pack())
    assert msg.content == "START_RECORDING" and msg.metadata == {"session": "42"}
    assert theirs(wire.encode_string("Reply", "distance 3.5 mm")).string == "distance 3.5 mm"
    assert ours(wire.encode_string("U", "Größe")).content == "Größe"  # UTF-8 path


def test_points_both_ways():
    raw = pyigtl.PointMessage([[1, 2, 3], [4, 5, 6]], names=["entry", "target"],
                              device_name="Plan").pack()
    items = ours(raw).content
    assert [p.name for p in items] == ["entry", "target"]
    np.testing.assert_allclose(items[1].position, [4, 5, 6])
    back = theirs(wire.encode_points("Plan", items))
    assert back.names == ["entry", "target"]
    np.testing.assert_allclose(back.positions, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_image_both_ways(dtype):
    pixels = (np.arange(6 * 10) % 97).astype(dtype).reshape(1, 6, 10)
    m = np.array([[0.3, 0, 0, -3], [0, 0, 0.3, 4], [0, -0.3, 0, 5], [0, 0, 0, 1.0]])
    frame = ours(pyigtl.ImageMessage(pixels, ijk_to_world_matrix=m, device_name="US").pack())
    np.testing.assert_array_equal(frame.content.pixels, pixels)
    np.testing.assert_allclose(frame.content.ijk_to_lps, m, atol=1e-6)
    back = theirs(wire.encode_image("US", wire.ImageFrame(pixels, m)))
    np.testing.assert_array_equal(back.image, pixels)
    np.testing.assert_allclose(back.ijk_to_world_matrix, m, atol=1e-6)


def test_ras_image_is_converted_to_lps():
    m = np.diag([0.5, 0.5, 1.0, 1.0])
    msg = pyigtl.ImageMessage(np.zeros((1, 4, 4), np.uint8), ijk_to_world_matrix=m,
                              world_coordinate_system="ras")
    lps = ours(msg.pack()).content.ijk_to_lps
    np.testing.assert_allclose(lps[:3, :3], np.diag([-0.5, -0.5, 1.0]))


# -- hostile or broken input --------------------------------------------------------------
def good_transform() -> bytearray:
    return bytearray(wire.encode_transform("Tool", ROT))


def test_bad_header_version():
    raw = good_transform()
    raw[0:2] = struct.pack(">H", 7)
    with pytest.raises(ProtocolError, match="version 7"):
        wire.parse_header(bytes(raw[:58]))


def test_oversized_body_is_refused_before_reading():
    raw = good_transform()
    raw[42:50] = struct.pack(">Q", 2**63)
    with pytest.raises(ProtocolError, match="exceeds"):
        wire.parse_header(bytes(raw[:58]))


def test_non_ascii_type_is_refused():
    raw = good_transform()
    raw[2:14] = b"\xff\x01TRANSFORM\0"
    with pytest.raises(ProtocolError, match="printable"):
        wire.parse_header(bytes(raw[:58]))


def test_bad_crc():
    raw = good_transform()
    raw[-1] ^= 0x01
    with pytest.raises(ProtocolError, match="CRC"):
        ours(bytes(raw))


def test_unknown_type():
    raw = wire.pack("QTDATA", "dev", b"\x00" * 8)
    with pytest.raises(ProtocolError, match="not supported"):
        ours(raw)


@pytest.mark.parametrize("mtype,body", [
    ("TRANSFORM", b"\x00" * 47),
    ("TRANSFORM", struct.pack(">12f", *([float("nan")] * 12))),
    ("STRING", struct.pack(">HH", 3, 50) + b"short"),
    ("STRING", struct.pack(">HH", 999, 1) + b"x"),
    ("POINT", b"\x00" * 135),
    ("IMAGE", b"\x00" * 10),
    ("IMAGE", struct.pack(">HBBBBHHH12fHHHHHH", 1, 1, 3, 2, 2, 100, 100, 1, *([1.0] * 12),
                          0, 0, 0, 100, 100, 1) + b"\x00" * 10),
    ("IMAGE", struct.pack(">HBBBBHHH12fHHHHHH", 1, 1, 99, 2, 2, 1, 1, 1, *([1.0] * 12),
                          0, 0, 0, 1, 1, 1) + b"\x00"),
])
def test_malformed_bodies(mtype, body):
    with pytest.raises(ProtocolError, match="malformed"):
        ours(wire.pack(mtype, "dev", body))


def test_v2_extended_header_inconsistent():
    body = wire.EXTENDED_HEADER.pack(12, 500, 500, 0) + b"\x00" * 48
    with pytest.raises(ProtocolError, match="extended header"):
        ours(wire.pack("TRANSFORM", "dev", body, version=1)[:0] +
             wire.HEADER.pack(2, b"TRANSFORM", b"dev", 0, 0, len(body), wire.crc64(body)) + body)


@settings(max_examples=300, deadline=None)
@given(mtype=st.sampled_from(wire.KNOWN_TYPES), body=st.binary(max_size=400),
       version=st.sampled_from([1, 2]))
def test_fuzzed_bodies_never_crash(mtype, body, version):
    head = wire.HEADER.pack(version, mtype.encode(), b"fuzz", 0, 0, len(body), wire.crc64(body))
    try:
        msg = wire.decode(wire.parse_header(head), body)
    except ProtocolError:
        return
    assert mtype in (msg.type, msg.wire_type)  # a POSITION arrives as a TRANSFORM pose


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(min_size=58, max_size=58))
def test_fuzzed_headers_never_crash(raw):
    try:
        h = wire.parse_header(raw)
    except ProtocolError:
        return
    assert h.body_size <= wire.DEFAULT_MAX_BODY and h.version in (1, 2)
