"""Encryption at rest: AES-256-GCM in authenticated chunks, key from the password by scrypt.

File layout: ``MAGIC``, a 4-byte header length, a JSON header (KDF parameters, salt,
nonce prefix, password check), then the chunks. Each chunk's nonce holds its index
and a last-chunk flag (the STREAM construction), so a reordered, dropped, truncated
or altered chunk fails authentication; the header is authenticated as associated
data. The whole payload is decrypted and checked before anything is parsed.

An encrypted case *folder* stores every file in this same layout, all under one key
(one salt) per save: each header names its file (``member``), so a file renamed,
swapped or mixed in from another save fails, and the manifest inside holds every
file's SHA-256, so the authenticated manifest vouches for the whole folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from pathlib import Path
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
# A header may not ask for more than Twinsight itself writes: a forged header demanding
# the maximum scrypt cost would cost seconds and gigabytes per password attempt.
_MAX_N, _MAX_R, _MAX_P = SCRYPT_N, SCRYPT_R, SCRYPT_P
_MAX_HEADER = 4096


class PasswordError(InputError):
    """A case is encrypted and the password is missing or wrong."""


class PasswordRequired(PasswordError):
    def __init__(self, path: str | Path, hint: str = "") -> None:
        self.path = path
        super().__init__(f"'{path}' is encrypted: a password is needed to open it{hint}.")


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


class Key:
    """Keys derived from a password for one salt and scrypt cost (one scrypt per save/open)."""

    def __init__(self, password: str, salt: bytes | None = None, n: int | None = None,
                 r: int | None = None, p: int | None = None) -> None:
        if not password:
            raise PasswordError("The password must not be empty.")
        self.salt = os.urandom(16) if salt is None else salt
        self.n = SCRYPT_N if n is None else n  # read at call time: tests lower the cost
        self.r, self.p = (SCRYPT_R if r is None else r), (SCRYPT_P if p is None else p)
        key = Scrypt(salt=self.salt, length=64, n=self.n, r=self.r, p=self.p).derive(
            password.encode("utf-8"))
        self.enc, self.check = key[:32], key[32:]

    @property
    def params(self) -> dict:
        return {"kdf": "scrypt", "n": self.n, "r": self.r, "p": self.p,
                "salt": base64.b64encode(self.salt).decode()}

    def matches(self, header: dict) -> bool:
        return all(header.get(k) == v for k, v in self.params.items())


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def encrypt(plaintext: bytes, secret: str | Key, out: BinaryIO, member: str | None = None) -> None:
    """Write ``plaintext`` encrypted with a password (or an already derived key) to ``out``.

    ``member``: the file's name inside an encrypted folder, bound to its ciphertext.
    """
    key = secret if isinstance(secret, Key) else Key(secret)
    prefix = os.urandom(7)
    core = {**key.params, "cipher": "AES-256-GCM", "chunk": CHUNK,
            "nonce_prefix": base64.b64encode(prefix).decode()}
    if member is not None:
        core["member"] = member
    core["check"] = _check(key.check, core)
    header = json.dumps(core, sort_keys=True).encode()
    aad = MAGIC + header
    aes = AESGCM(key.enc)
    out.write(MAGIC + struct.pack(">I", len(header)) + header)
    view = memoryview(plaintext)
    count = max(1, -(-len(view) // CHUNK))
    for i in range(count):
        out.write(aes.encrypt(_nonce(prefix, i, i == count - 1),
                              bytes(view[i * CHUNK:(i + 1) * CHUNK]), aad))


def _check(check_key: bytes, core: dict) -> str:
    body = json.dumps({k: v for k, v in core.items() if k != "check"}, sort_keys=True).encode()
    return hmac.new(check_key, body, hashlib.sha256).hexdigest()


def read_header(blob: bytes, path: str | Path) -> tuple[dict, bytes, int]:
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
        if not isinstance(header.get("member", ""), str):
            raise ValueError("member")
    except (ValueError, KeyError, TypeError, RecursionError):
        raise FileFormatError(path, "its encryption header is damaged") from None
    if (header.get("kdf") != "scrypt" or header.get("cipher") != "AES-256-GCM"
            or not (2 <= n <= _MAX_N and n & (n - 1) == 0) or not 1 <= r <= _MAX_R
            or not 1 <= p <= _MAX_P or not 1 <= chunk <= 64 * CHUNK):
        raise FileFormatError(path, "its encryption header uses unsupported parameters")
    return header, raw, start + size


def decrypt(blob: bytes, password: str | None, path: str | Path) -> bytes:
    """The plaintext of an encrypted case, or an error; never a partial result."""
    return unseal(blob, password, path)[0]


def unseal(blob: bytes, secret: str | Key | None, path: str | Path,
           member: str | None = None) -> tuple[bytes, Key]:
    """(plaintext, key) of one encrypted file; with a ``Key``, the file must use that key.

    ``member``: the name the file must carry (a file of an encrypted folder).
    """
    header, raw, offset = read_header(blob, path)
    where = f"its file '{member}'" if member is not None else "it"
    if header.get("member") != member:
        raise FileFormatError(path, f"{where} does not belong there (it was encrypted as "
                                    f"'{header.get('member', 'a case archive')}')")
    if secret is None:
        raise PasswordRequired(path)
    if isinstance(secret, Key):
        if not secret.matches(header):
            raise FileFormatError(path, f"{where} was not saved together with the rest "
                                        f"of the case (another encryption key)")
        key = secret
    else:
        key = Key(secret, base64.b64decode(header["salt"]), int(header["n"]), int(header["r"]),
                  int(header["p"]))
    if not hmac.compare_digest(_check(key.check, header), str(header["check"])):
        if isinstance(secret, Key):
            raise FileFormatError(path, f"{where} has been modified (authentication failed)")
        raise PasswordError(f"Cannot open '{path}': the password is wrong.")
    prefix = base64.b64decode(header["nonce_prefix"])
    step = int(header["chunk"]) + TAG
    aes, aad = AESGCM(key.enc), MAGIC + raw
    body = memoryview(blob)[offset:]
    if len(body) < TAG:
        raise FileFormatError(path, f"{where} is truncated" if member is not None
                              else "the encrypted file is truncated")
    count = -(-len(body) // step)
    parts = []
    try:
        for i in range(count):
            parts.append(aes.decrypt(_nonce(prefix, i, i == count - 1),
                                     bytes(body[i * step:(i + 1) * step]), aad))
    except InvalidTag:
        raise FileFormatError(path, f"{where} has been modified or damaged since it was saved "
                                    "(authentication failed)") from None
    return b"".join(parts), key
