"""The OpenIGTLink wire format (header v1/v2; TRANSFORM, POSITION, IMAGE, POINT, STRING,
STATUS bodies).

A POSITION (position + quaternion ``(ox, oy, oz, w)``; 12, 24 or 28 bytes) is decoded
into the same 4x4 pose as a TRANSFORM and delivered as one (``Message.type`` is
"TRANSFORM", ``Message.wire_type`` "POSITION"), so every pose consumer handles both.
A STATUS becomes a :class:`PeerStatus` (code, its name, sub-code, error name, text).

We implement the protocol ourselves rather than wrapping pyigtl so that we control
validation (a hostile peer must not crash us or exhaust memory) and latency (no
polling loops); pyigtl is the independent peer in the tests.

All numbers are big-endian. A message is a 58-byte header followed by ``body_size``
bytes whose CRC-64 (ECMA-182 polynomial, init 0) is in the header.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Any

import crcmod
import numpy as np

from sim.geometry.rigid import matrix_quaternion, quaternion_matrix
from sim.twin.errors import ProtocolError

HEADER = struct.Struct(">H12s20sIIQQ")
HEADER_SIZE = HEADER.size  # 58
EXTENDED_HEADER = struct.Struct(">HHII")
DEFAULT_MAX_BODY = 64 * 1024 * 1024  # one 4K RGB frame is ~25 MB; anything larger is hostile
KNOWN_TYPES = ("TRANSFORM", "IMAGE", "POINT", "STRING", "POSITION", "STATUS")
_ASCII, _UTF8 = 3, 106
_TRANSFORM = struct.Struct(">12f")
_IMAGE_HEADER = struct.Struct(">HBBBBHHH12fHHHHHH")
_POINT = struct.Struct(">64s32s4B4f20s")
_POSITION_SIZES = (12, 24, 28)  # position only; + quaternion x, y, z; + w
_STATUS = struct.Struct(">Hq20s")
STATUS_CODES = ("invalid", "OK", "unknown error", "panic mode", "not found", "access denied",
                "busy", "time out", "overflow", "checksum error", "configuration error",
                "resource error", "unknown instruction", "not ready", "manual mode", "disabled",
                "not present", "unknown version", "hardware failure", "shut down")
_SCALAR_TYPES = {2: np.int8, 3: np.uint8, 4: np.int16, 5: np.uint16, 6: np.int32,
                 7: np.uint32, 10: np.float32, 11: np.float64}
_NUMPY_TO_SCALAR = {np.dtype(v).newbyteorder(">"): k for k, v in _SCALAR_TYPES.items()}

crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, rev=False, initCrc=0, xorOut=0)


@dataclass(frozen=True)
class Header:
    version: int
    type: str
    device: str
    timestamp: float  # seconds since 1970 (sender's clock)
    body_size: int
    crc: int


@dataclass
class ImageFrame:
    """An image (k, j, i[, components]) with its voxel-to-LPS matrix in mm."""

    pixels: np.ndarray
    ijk_to_lps: np.ndarray


@dataclass
class PointItem:
    name: str
    group: str
    rgba: tuple[int, int, int, int]
    position: np.ndarray  # mm
    diameter: float
    owner: str


@dataclass(frozen=True)
class PeerStatus:
    """An OpenIGTLink STATUS: how the peer (or one of its devices) is doing."""

    code: int
    subcode: int
    error_name: str
    text: str

    @property
    def name(self) -> str:
        return STATUS_CODES[self.code] if 0 <= self.code < len(STATUS_CODES) else \
            f"code {self.code}"

    @property
    def ok(self) -> bool:
        return self.code == 1

    def __str__(self) -> str:
        extra = ", ".join(x for x in (self.error_name, self.text) if x)
        return self.name + (f": {extra}" if extra else "")


@dataclass
class Message:
    type: str
    device: str
    timestamp: float
    content: Any
    received: float = field(default_factory=time.time)
    metadata: dict[str, str] = field(default_factory=dict)
    wire_type: str = ""  # the type on the wire when it differs (POSITION arrives as TRANSFORM)


# -- header ------------------------------------------------------------------------------
def _ts_fields(t: float) -> tuple[int, int]:
    seconds = int(t)
    return seconds, min(int((t - seconds) * 4294967296.0), 0xFFFFFFFF)


def _printable(raw: bytes, what: str) -> str:
    text = raw.split(b"\0", 1)[0]
    if any(c < 32 or c > 126 for c in text):
        raise ProtocolError(f"The OpenIGTLink {what} field is not printable ASCII.")
    return text.decode("ascii")


def parse_header(raw: bytes, max_body: int = DEFAULT_MAX_BODY) -> Header:
    """Validate a 58-byte header; a bad header means the stream cannot be trusted."""
    if len(raw) != HEADER_SIZE:
        raise ProtocolError(f"An OpenIGTLink header must be {HEADER_SIZE} bytes, got {len(raw)}.")
    version, mtype, device, sec, frac, size, crc = HEADER.unpack(raw)
    if version not in (1, 2):
        raise ProtocolError(f"OpenIGTLink header version {version} is not supported.")
    mtype_s = _printable(mtype, "message type")
    if not mtype_s:
        raise ProtocolError("The OpenIGTLink message type is empty.")
    device_s = raw[14:34].split(b"\0", 1)[0].decode("utf-8", errors="replace")
    if size > max_body:
        raise ProtocolError(f"The OpenIGTLink {mtype_s} body of {size} bytes exceeds the "
                            f"{max_body}-byte limit.")
    return Header(version, mtype_s, device_s, sec + frac / 4294967296.0, size, crc)


def pack(mtype: str, device: str, content: bytes, timestamp: float | None = None,
         version: int = 1) -> bytes:
    """A complete message; header version 2 adds an (empty-metadata) extended header."""
    if version == 2:
        content = EXTENDED_HEADER.pack(12, 2, 0, 0) + content + struct.pack(">H", 0)
    sec, frac = _ts_fields(time.time() if timestamp is None else timestamp)
    head = HEADER.pack(version, mtype.encode("ascii"), device.encode("utf-8")[:20], sec, frac,
                       len(content), crc64(content))
    return head + content


# -- bodies ------------------------------------------------------------------------------
def decode(header: Header, body: bytes) -> Message:
    """Turn a body into a :class:`Message`; raises :class:`ProtocolError` when invalid."""
    if len(body) != header.body_size:
        raise ProtocolError(f"The {header.type} body is truncated.")
    if crc64(body) != header.crc:
        raise ProtocolError(f"The {header.type} message from '{header.device}' failed its "
                            "CRC check.")
    content, metadata = _split_extended(header, body)
    decoder = _DECODERS.get(header.type)
    if decoder is None:
        raise ProtocolError(f"OpenIGTLink message type '{header.type}' is not supported.")
    try:
        value = decoder(content)
    except (struct.error, ValueError, UnicodeDecodeError, IndexError) as exc:
        raise ProtocolError(f"The {header.type} message from '{header.device}' is malformed "
                            f"({exc}).") from None
    if header.type == "POSITION":
        return Message("TRANSFORM", header.device, header.timestamp, value, metadata=metadata,
                       wire_type="POSITION")
    return Message(header.type, header.device, header.timestamp, value, metadata=metadata)


def _split_extended(header: Header, body: bytes) -> tuple[bytes, dict[str, str]]:
    if header.version < 2:
        return body, {}
    if len(body) < EXTENDED_HEADER.size:
        raise ProtocolError("The OpenIGTLink v2 extended header is truncated.")
    ext_size, meta_head, meta_body, _msg_id = EXTENDED_HEADER.unpack_from(body)
    end = len(body) - meta_head - meta_body
    if ext_size < EXTENDED_HEADER.size or end < ext_size:
        raise ProtocolError("The OpenIGTLink v2 extended header sizes are inconsistent.")
    metadata: dict[str, str] = {}
    if meta_head >= 2:
        meta = body[end:]
        count = struct.unpack_from(">H", meta)[0]
        if 2 + 8 * count > meta_head:
            raise ProtocolError("The OpenIGTLink v2 metadata index is inconsistent.")
        offset = meta_head
        for i in range(count):
            klen, _enc, vlen = struct.unpack_from(">HHI", meta, 2 + 8 * i)
            if offset + klen + vlen > len(meta):
                raise ProtocolError("The OpenIGTLink v2 metadata overruns the message.")
            key = meta[offset:offset + klen].decode("utf-8", errors="replace")
            val = meta[offset + klen:offset + klen + vlen].decode("utf-8", errors="replace")
            metadata[key] = val
            offset += klen + vlen
    return body[ext_size:end], metadata


def _decode_transform(content: bytes) -> np.ndarray:
    if len(content) != _TRANSFORM.size:
        raise ValueError(f"a transform is 48 bytes, not {len(content)}")
    v = _TRANSFORM.unpack(content)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = v[0:3], v[3:6], v[6:9], v[9:12]
    if not np.isfinite(m).all():
        raise ValueError("the matrix holds NaN or infinity")
    return m


RIGID_TOL = 1e-2  # |R^T R - I| entries; float32 poses from trackers are far closer
MAX_TRANSLATION_MM = 1e6  # a kilometre: anything further is not a tracked instrument


def pose_problem(m: np.ndarray, scaled: bool = False) -> str | None:
    """Why a 4x4 pose cannot be a rigid motion (None when it can).

    ``scaled``: the transform places an image (PLUS ``ImageToReference``), which may carry
    the pixel spacing: its columns need only be orthogonal, non-zero and bounded."""
    m = np.asarray(m, dtype=float)
    if not np.isfinite(m).all():
        return "it holds NaN or infinity"
    if np.abs(m[:3, 3]).max() > MAX_TRANSLATION_MM:
        return f"its translation exceeds {MAX_TRANSLATION_MM:g} mm"
    r = m[:3, :3]
    gram = r.T @ r
    if scaled:
        norms = np.sqrt(np.diag(gram))
        if not ((norms > 1e-9) & (norms < 1e6)).all():
            return "a column of its rotation part is zero or huge"
        cos = gram / np.outer(norms, norms)
        if np.abs(cos - np.eye(3)).max() > RIGID_TOL:
            return "its rotation part is not orthogonal"
        return None
    if np.abs(gram - np.eye(3)).max() > RIGID_TOL or np.linalg.det(r) <= 0:
        return "its rotation part is not a rotation (not orthonormal)"
    return None


def _decode_position(content: bytes) -> np.ndarray:
    if len(content) not in _POSITION_SIZES:
        raise ValueError(f"a position is 12, 24 or 28 bytes, not {len(content)}")
    v = np.array(struct.unpack(f">{len(content) // 4}f", content), dtype=float)
    if not np.isfinite(v).all():
        raise ValueError("the position holds NaN or infinity")
    m = np.eye(4)
    m[:3, 3] = v[:3]
    if len(v) == 6:  # x, y, z of a unit quaternion; w >= 0 follows
        w2 = 1.0 - float(v[3:6] @ v[3:6])
        if w2 < -1e-3:
            raise ValueError("the quaternion's x, y, z exceed unit length")
        m[:3, :3] = quaternion_matrix([*v[3:6], np.sqrt(max(w2, 0.0))])
    elif len(v) == 7:
        m[:3, :3] = quaternion_matrix(v[3:7])
    return m


def _decode_status(content: bytes) -> PeerStatus:
    code, subcode, name = _STATUS.unpack_from(content)
    text = content[_STATUS.size:].split(b"\0", 1)[0]
    return PeerStatus(int(code), int(subcode), _printable(name, "status error name")
                      if name.split(b"\0", 1)[0] else "",
                      text.decode("utf-8", errors="replace"))


def _decode_string(content: bytes) -> str:
    encoding, length = struct.unpack_from(">HH", content)
    if 4 + length > len(content):
        raise ValueError("the string is longer than the message")
    raw = content[4:4 + length]
    if encoding == _ASCII:
        return raw.decode("ascii")
    if encoding == _UTF8:
        return raw.decode("utf-8")
    raise ValueError(f"character set {encoding} is not supported")


def _decode_points(content: bytes) -> list[PointItem]:
    if len(content) % _POINT.size:
        raise ValueError(f"the point list is not a multiple of {_POINT.size} bytes")
    items = []
    for v in _POINT.iter_unpack(content):
        pos = np.array(v[6:9], dtype=float)
        if not np.isfinite(pos).all():
            raise ValueError("a point position holds NaN or infinity")
        text = [s.split(b"\0", 1)[0].decode("utf-8", errors="replace") for s in (v[0], v[1], v[10])]
        items.append(PointItem(text[0], text[1], tuple(v[2:6]), pos, float(v[9]), text[2]))
    return items


def _decode_image(content: bytes) -> ImageFrame:
    h = _IMAGE_HEADER.unpack_from(content)
    _ver, ncomp, stype, endian, coord = h[:5]
    size = np.array(h[5:8])
    sub_off, sub_size = h[20:23], np.array(h[23:26])
    if stype not in _SCALAR_TYPES:
        raise ValueError(f"scalar type {stype} is not supported")
    if ncomp < 1 or endian not in (1, 2, 3) or coord not in (1, 2):
        raise ValueError("the image header fields are out of range")
    if any(sub_off) or (sub_size != size).any():
        raise ValueError("sub-volume images are not supported")
    dtype = np.dtype(_SCALAR_TYPES[stype]).newbyteorder("<" if endian == 2 else ">")
    expected = int(np.prod(size)) * ncomp * dtype.itemsize
    data = content[_IMAGE_HEADER.size:]
    if len(data) != expected or expected == 0:
        raise ValueError(f"{len(data)} pixel bytes where the header announces {expected}")
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = h[8:11], h[11:14], h[14:17]
    if not np.isfinite(h[8:20]).all():
        raise ValueError("the image matrix holds NaN or infinity")
    # The header gives the centre of the image; the origin is half the extent away.
    m[:3, 3] = np.asarray(h[17:20]) - m[:3, :3] @ ((size - 1) / 2.0)
    if coord == 1:  # RAS -> LPS
        m = np.diag([-1.0, -1.0, 1.0, 1.0]) @ m
    shape = (size[2], size[1], size[0]) + ((ncomp,) if ncomp > 1 else ())
    pixels = np.frombuffer(data, dtype=dtype).reshape(shape)
    return ImageFrame(pixels, m)


_DECODERS = {"TRANSFORM": _decode_transform, "STRING": _decode_string,
             "POINT": _decode_points, "IMAGE": _decode_image, "POSITION": _decode_position,
             "STATUS": _decode_status}


# -- encoders (for sending back and for the simulator) -------------------------------------
def encode_transform(device: str, matrix: np.ndarray, timestamp: float | None = None,
                     version: int = 1) -> bytes:
    m = np.asarray(matrix, dtype=float)
    if m.shape != (4, 4):
        raise ValueError("A transform must be a 4x4 matrix.")
    body = _TRANSFORM.pack(*m[:3, 0], *m[:3, 1], *m[:3, 2], *m[:3, 3])
    return pack("TRANSFORM", device, body, timestamp, version)


def encode_position(device: str, matrix: np.ndarray, timestamp: float | None = None,
                    version: int = 1) -> bytes:
    """A POSITION (position + quaternion, 28 bytes) of a rigid 4x4 pose."""
    m = np.asarray(matrix, dtype=float)
    if m.shape != (4, 4):
        raise ValueError("A position must come from a 4x4 matrix.")
    body = struct.pack(">7f", *m[:3, 3], *matrix_quaternion(m[:3, :3]))
    return pack("POSITION", device, body, timestamp, version)


def encode_status(device: str, status: PeerStatus, timestamp: float | None = None) -> bytes:
    body = _STATUS.pack(status.code, status.subcode, status.error_name.encode("ascii")[:20]) \
        + status.text.encode("utf-8") + b"\0"
    return pack("STATUS", device, body, timestamp)


def encode_string(device: str, text: str, timestamp: float | None = None) -> bytes:
    try:
        raw, enc = text.encode("ascii"), _ASCII
    except UnicodeEncodeError:
        raw, enc = text.encode("utf-8"), _UTF8
    if len(raw) > 0xFFFF:
        raise ValueError("An OpenIGTLink string is limited to 65535 bytes.")
    return pack("STRING", device, struct.pack(">HH", enc, len(raw)) + raw, timestamp)


def encode_points(device: str, points: list[PointItem], timestamp: float | None = None) -> bytes:
    body = b"".join(
        _POINT.pack(p.name.encode()[:64], p.group.encode()[:32], *p.rgba,
                    *np.asarray(p.position, dtype=float), p.diameter, p.owner.encode()[:20])
        for p in points)
    return pack("POINT", device, body, timestamp)


def encode_image(device: str, frame: ImageFrame, timestamp: float | None = None) -> bytes:
    px = np.asarray(frame.pixels)
    ncomp = px.shape[3] if px.ndim == 4 else 1
    k, j, i = (px.shape + (1, 1))[:3] if px.ndim >= 3 else (1, *px.shape)
    dtype = px.dtype.newbyteorder(">")
    stype = _NUMPY_TO_SCALAR[dtype]
    size = np.array([i, j, k])
    m = np.asarray(frame.ijk_to_lps, dtype=float)
    centre = m[:3, :3] @ ((size - 1) / 2.0) + m[:3, 3]
    head = _IMAGE_HEADER.pack(1, ncomp, stype, 1, 2, *size, *m[:3, 0], *m[:3, 1], *m[:3, 2],
                              *centre, 0, 0, 0, *size)
    return pack("IMAGE", device, head + px.astype(dtype).tobytes(), timestamp)
