"""Encryption at rest: AES-256-GCM in authenticated chunks, key from the password by scrypt.

File layout: ``MAGIC``, a 4-byte header length, a JSON header (KDF parameters, salt,
nonce prefix, password check), then the chunks. Each chunk's nonce holds its index
and a last-chunk flag (the STREAM construction), so a reordered, dropped, truncated
or altered chunk fails authentication; the header is authenticated as associated
data. The whole payload is decrypted and checked before anything is parsed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sim.errors import FileFormatError, InputError

MAGIC = b"TWINSIGHT-ENC\x01"
CHUNK = 1 << 20
TAG = 16
# scrypt cost: 2**17 x 8 x 128 B = 128 MiB of memory per guess (OWASP's recommendation).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 17, 8, 1
_MAX_N, _MAX_R, _MAX_P = 1 << 20, 16, 4  # refuse headers asking for absurd memory/time
_MAX_HEADER = 4096


class PasswordError(InputError):
    """A case is encrypted and the password is missing or wrong."""


class PasswordRequired(PasswordError):
    def __init__(self, path, hint: str = "") -> None:
        self.path = path
        super().__init__(f"'{path}' is encrypted: a password is needed to open it{hint}.")


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    if not password:
        raise PasswordError("The password must not be empty.")
    key = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(password.encode("utf-8"))
    return key[:32], key[32:]


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def encrypt(plaintext: bytes, password: str, out: BinaryIO) -> None:
    """Write ``plaintext`` encrypted with ``password`` to ``out``."""
    salt, prefix = os.urandom(16), os.urandom(7)
    enc_key, check_key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    core = {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
            "salt": base64.b64encode(salt).decode(), "cipher": "AES-256-GCM",
            "chunk": CHUNK, "nonce_prefix": base64.b64encode(prefix).decode()}
    core["check"] = _check(check_key, core)
    header = json.dumps(core, sort_keys=True).encode()
    aad = MAGIC + header
    aes = AESGCM(enc_key)
    out.write(MAGIC + struct.pack(">I", len(header)) + header)
    view = memoryview(plaintext)
    count = max(1, -(-len(view) // CHUNK))
    for i in range(count):
        out.write(aes.encrypt(_nonce(prefix, i, i == count - 1),
                              bytes(view[i * CHUNK:(i + 1) * CHUNK]), aad))


def _check(check_key: bytes, core: dict) -> str:
    body = json.dumps({k: v for k, v in core.items() if k != "check"}, sort_keys=True).encode()
    return hmac.new(check_key, body, hashlib.sha256).hexdigest()


def read_header(blob: bytes, path) -> tuple[dict, bytes, int]:
    """(header, the authenticated header bytes, offset of the first chunk)."""
    if not is_encrypted(blob):
        raise FileFormatError(path, "it is not an encrypted Twinsight case")
    start = len(MAGIC) + 4
    if len(blob) < start:
        raise FileFormatError(path, "the encrypted file is truncated")
    (size,) = struct.unpack(">I", blob[len(MAGIC):start])
    if size > _MAX_HEADER or len(blob) < start + size:
        raise FileFormatError(path, "its encryption header is damaged")
    raw = blob[start:start + size]
    try:
        header = json.loads(raw)
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
        base64.b64decode(header["salt"], validate=True)
        if len(base64.b64decode(header["nonce_prefix"], validate=True)) != 7:
            raise ValueError("nonce prefix")
        chunk = int(header["chunk"])
        str(header["check"])
    except (ValueError, KeyError, TypeError):
        raise FileFormatError(path, "its encryption header is damaged") from None
    if (header.get("kdf") != "scrypt" or header.get("cipher") != "AES-256-GCM"
            or not (2 <= n <= _MAX_N and n & (n - 1) == 0) or not 1 <= r <= _MAX_R
            or not 1 <= p <= _MAX_P or not 1 <= chunk <= 64 * CHUNK):
        raise FileFormatError(path, "its encryption header uses unsupported parameters")
    return header, raw, start + size


def decrypt(blob: bytes, password: str | None, path) -> bytes:
    """The plaintext of an encrypted case, or an error; never a partial result."""
    header, raw, offset = read_header(blob, path)
    if password is None:
        raise PasswordRequired(path)
    salt = base64.b64decode(header["salt"])
    enc_key, check_key = _derive(password, salt, int(header["n"]), int(header["r"]),
                                 int(header["p"]))
    if not hmac.compare_digest(_check(check_key, header), str(header["check"])):
        raise PasswordError(f"Cannot open '{path}': the password is wrong.")
    prefix = base64.b64decode(header["nonce_prefix"])
    step = int(header["chunk"]) + TAG
    aes, aad = AESGCM(enc_key), MAGIC + raw
    body = memoryview(blob)[offset:]
    if len(body) < TAG:
        raise FileFormatError(path, "the encrypted file is truncated")
    count = -(-len(body) // step)
    parts = []
    try:
        for i in range(count):
            parts.append(aes.decrypt(_nonce(prefix, i, i == count - 1),
                                     bytes(body[i * step:(i + 1) * step]), aad))
    except InvalidTag:
        raise FileFormatError(path, "it has been modified or damaged since it was saved "
                                    "(authentication failed)") from None
    return b"".join(parts)
