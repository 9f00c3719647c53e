"""Encryption at rest: round trip, wrong password, and detection of any modified byte."""

from __future__ import annotations

import json
import struct
import time

import pytest

from sim.errors import FileFormatError
from sim.io import load
from sim.model import crypto
from sim.model.case_io import is_case, load_case, read_manifest, save_case
from sim.model.crypto import PasswordError, PasswordRequired
from tests.sim.model.sample import assert_cases_equal, make_case

PASSWORD = "correct horse battery staple"


def test_encrypted_round_trip_with_default_cost(tmp_path):
    case = make_case()
    path = tmp_path / "secret.twin"
    t0 = time.perf_counter()
    save_case(case, path, password=PASSWORD)
    t_save = time.perf_counter() - t0
    blob = path.read_bytes()
    assert blob.startswith(crypto.MAGIC) and b"manifest" not in blob and b"Liver" not in blob
    header, _, _ = crypto.read_header(blob, path)
    assert header["kdf"] == "scrypt" and header["n"] >= 1 << 17 and header["r"] >= 8
    assert header["cipher"] == "AES-256-GCM"
    t0 = time.perf_counter()
    back = load_case(path, password=PASSWORD)
    print(f"\nencrypted save {t_save:.2f} s, open {time.perf_counter() - t0:.2f} s (scrypt N=2^17)")
    assert_cases_equal(case, back)
    assert is_case(path)


def test_missing_and_wrong_password(tmp_path, fast_kdf):
    path = save_case(make_case(), tmp_path / "s.twin", password=PASSWORD)
    with pytest.raises(PasswordRequired, match="encrypted"):
        load_case(path)
    with pytest.raises(PasswordError, match="password is wrong"):
        load_case(path, password="Correct horse battery staple")
    with pytest.raises(PasswordRequired):
        load(path)
    assert load(path, password=PASSWORD).name == "Sample 0"
    with pytest.raises(PasswordError):
        save_case(make_case(), tmp_path / "e.twin", password="")


def _flip(path, index):
    blob = bytearray(path.read_bytes())
    blob[index] ^= 0x01
    path.write_bytes(bytes(blob))


def test_every_modified_byte_is_detected(tmp_path, fast_kdf, monkeypatch):
    monkeypatch.setattr(crypto, "CHUNK", 4096)  # several chunks, so order and ends matter
    path = save_case(make_case(1), tmp_path / "s.twin", password=PASSWORD)
    good = path.read_bytes()
    _, _, offset = crypto.read_header(good, path)
    positions = sorted({len(crypto.MAGIC) + 10, offset - 5, offset, offset + 100, offset + 5000,
                        len(good) // 2, len(good) - 17, len(good) - 1})
    for i in positions:
        path.write_bytes(good)
        _flip(path, i)
        with pytest.raises((FileFormatError, PasswordError)):
            load_case(path, password=PASSWORD)
    # a reordered pair of chunks, a dropped last chunk, a truncation, trailing bytes
    step = 4096 + crypto.TAG
    body = good[offset:]
    variants = {
        "swapped": good[:offset] + body[step:2 * step] + body[:step] + body[2 * step:],
        "dropped-last": good[:offset] + body[: (len(body) - 1) // step * step],
        "truncated": good[:-100], "appended": good + b"\0" * 32,
        "header-only": good[:offset],
    }
    for name, blob in variants.items():
        path.write_bytes(blob)
        with pytest.raises(FileFormatError, match="modified|truncated"):
            load_case(path, password=PASSWORD)
        assert name


def test_tampered_header_parameters_are_refused(tmp_path, fast_kdf):
    path = save_case(make_case(), tmp_path / "s.twin", password=PASSWORD)
    blob = path.read_bytes()
    header, raw, offset = crypto.read_header(blob, path)
    for change in ({"n": 1 << 40}, {"r": 999}, {"kdf": "none"}, {"cipher": "ROT13"},
                   {"chunk": -1}, {"nonce_prefix": "!!"}):
        evil = json.dumps({**header, **change}).encode()
        path.write_bytes(crypto.MAGIC + struct.pack(">I", len(evil)) + evil + blob[offset:])
        t0 = time.perf_counter()
        with pytest.raises(FileFormatError):
            load_case(path, password=PASSWORD)
        assert time.perf_counter() - t0 < 2.0  # refused before any expensive key derivation
    # a header changed within the allowed range fails the password check
    evil = json.dumps({**header, "n": 1 << 11}).encode()
    path.write_bytes(crypto.MAGIC + struct.pack(">I", len(evil)) + evil + blob[offset:])
    with pytest.raises(PasswordError):
        load_case(path, password=PASSWORD)
    path.write_bytes(crypto.MAGIC + b"\xff\xff\xff\xff")
    with pytest.raises(FileFormatError, match="damaged"):
        load_case(path, password=PASSWORD)


def test_reading_the_manifest_also_needs_the_password(tmp_path, fast_kdf):
    path = save_case(make_case(), tmp_path / "s.twin", password=PASSWORD)
    with pytest.raises(PasswordRequired):
        read_manifest(path)
    manifest, form = read_manifest(path, PASSWORD)
    assert form == "encrypted archive" and manifest.case.name == "Sample 0"


def test_resaving_without_password_decrypts_and_with_changes_key(tmp_path, fast_kdf):
    path = tmp_path / "s.twin"
    case = make_case()
    save_case(case, path, password=PASSWORD)
    first = path.read_bytes()
    save_case(case, path, password=PASSWORD)
    assert path.read_bytes()[:200] != first[:200]  # fresh salt and nonces every save
    save_case(case, path)
    assert not path.read_bytes().startswith(crypto.MAGIC)
    assert_cases_equal(case, load_case(path))
