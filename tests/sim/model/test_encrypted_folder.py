"""Encrypted case folders: every file sealed under one key, the manifest vouching for the set."""

from __future__ import annotations

import shutil

import pytest

from sim.errors import FileFormatError
from sim.model import crypto
from sim.model.bundle import sniff
from sim.model.case_io import is_case, load_case, read_manifest, save_case, validate_case
from sim.model.crypto import PasswordError, PasswordRequired
from tests.sim.model.sample import assert_cases_equal, make_case

PASSWORD = "correct horse battery staple"


@pytest.fixture
def sealed(tmp_path, fast_kdf):
    case = make_case()
    return case, save_case(case, tmp_path / "secret.case", folder=True, password=PASSWORD)


def _data_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")


def test_round_trip_and_nothing_in_the_clear(sealed):
    case, folder = sealed
    assert folder.is_dir() and sniff(folder) == "encrypted folder" and is_case(folder)
    files = [folder / "manifest.json", *_data_files(folder)]
    assert len(files) > 5
    for f in files:
        blob = f.read_bytes()
        assert blob.startswith(crypto.MAGIC), f
        assert b"Liver" not in blob and b"VTKFile" not in blob and b"NUMPY" not in blob
        header, _, _ = crypto.read_header(blob, f)
        assert header["member"] == f.relative_to(folder).as_posix()
    salts = {crypto.read_header(f.read_bytes(), f)[0]["salt"] for f in files}
    assert len(salts) == 1  # one key derivation per save, not one per file
    assert_cases_equal(case, load_case(folder, password=PASSWORD))
    report = validate_case(folder, password=PASSWORD)
    assert report["form"] == "encrypted folder" and report["valid"]
    manifest, form = read_manifest(folder, PASSWORD)
    assert form == "encrypted folder" and manifest.case.name == case.name


def test_missing_and_wrong_password(sealed):
    _, folder = sealed
    with pytest.raises(PasswordRequired, match="password is needed"):
        load_case(folder)
    with pytest.raises(PasswordError, match="password is wrong"):
        load_case(folder, password=PASSWORD.upper())
    with pytest.raises(PasswordRequired):
        read_manifest(folder)


def _flip(path, index):
    blob = bytearray(path.read_bytes())
    blob[index] ^= 0x01
    path.write_bytes(bytes(blob))


def test_any_modified_byte_in_any_file_is_detected(sealed, tmp_path):
    _, folder = sealed
    for victim in (folder / "manifest.json", *_data_files(folder)[:3]):
        size = victim.stat().st_size
        for index in (len(crypto.MAGIC) + 8, size // 2, size - 1):
            work = tmp_path / "work"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(folder, work)
            _flip(work / victim.relative_to(folder), index)
            with pytest.raises((FileFormatError, PasswordError)):
                load_case(work, password=PASSWORD)


def test_swapped_stale_missing_and_plain_files_are_refused(sealed, tmp_path):
    case, folder = sealed
    a, b = _data_files(folder)[:2]
    work = tmp_path / "swapped"
    shutil.copytree(folder, work)
    ra, rb = work / a.relative_to(folder), work / b.relative_to(folder)
    ra_bytes = ra.read_bytes()
    ra.write_bytes(rb.read_bytes())
    rb.write_bytes(ra_bytes)
    with pytest.raises(FileFormatError, match="does not belong there"):
        load_case(work, password=PASSWORD)

    # a file from an earlier save with the same password (a rollback of one file)
    old = tmp_path / "old.case"
    case.description = "earlier"
    save_case(case, old, folder=True, password=PASSWORD)
    case.description = "later"
    save_case(case, folder, password=PASSWORD)  # an existing folder stays a folder
    work = tmp_path / "mixed"
    shutil.copytree(folder, work)
    stale = _data_files(old)[0]
    shutil.copyfile(stale, work / stale.relative_to(old))
    with pytest.raises(FileFormatError, match="not saved together"):
        load_case(work, password=PASSWORD)
    shutil.copyfile(old / "manifest.json", work / "manifest.json")  # old manifest, new files
    with pytest.raises(FileFormatError):
        load_case(work, password=PASSWORD)

    work = tmp_path / "missing"
    shutil.copytree(folder, work)
    (work / _data_files(folder)[0].relative_to(folder)).unlink()
    with pytest.raises(FileFormatError, match="missing"):
        load_case(work, password=PASSWORD)

    plain = save_case(make_case(), tmp_path / "plain.case", folder=True)
    work = tmp_path / "plain-in-sealed"
    shutil.copytree(folder, work)
    victim = _data_files(work)[0]
    victim.write_bytes(_data_files(plain)[0].read_bytes())  # readable data, not sealed
    with pytest.raises(FileFormatError, match="not encrypted"):
        load_case(work, password=PASSWORD)
    assert load_case(folder, password=PASSWORD).description == "later"


def test_resaving_changes_key_and_can_decrypt(sealed):
    case, folder = sealed
    salt = crypto.read_header((folder / "manifest.json").read_bytes(), folder)[0]["salt"]
    save_case(case, folder, password=PASSWORD)
    assert crypto.read_header((folder / "manifest.json").read_bytes(), folder)[0]["salt"] != salt
    save_case(case, folder)  # no password: the folder is written in the clear again
    assert sniff(folder) == "folder"
    assert_cases_equal(case, load_case(folder))
