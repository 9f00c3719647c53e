"""Patient data on disk: owner-only permissions whatever the umask, no plaintext left next
to ciphertext after a kill, recovery notes of encrypted cases sealed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sim.model.case_io import load_case, save_case
from sim.model.recovery import RecoveryStore
from tests.sim.model.sample import make_case

ROOT = Path(__file__).resolve().parents[3]


def _modes(root: Path) -> dict[str, int]:
    out = {str(root): stat.S_IMODE(root.stat().st_mode)}
    if root.is_dir():
        for p in root.rglob("*"):
            out[str(p)] = stat.S_IMODE(p.lstat().st_mode)
    return out


def _owner_only(root: Path) -> None:
    for path, mode in _modes(root).items():
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_patient_files_are_owner_only(tmp_path, umask, fast_kdf):
    from sim.twin.history import HistoryStore

    old = os.umask(umask)
    try:
        case = make_case()
        _owner_only(save_case(case, tmp_path / "a.twin"))
        _owner_only(save_case(case, tmp_path / "f.case", folder=True))
        _owner_only(save_case(case, tmp_path / "e.case", folder=True, password="pw"))
        _owner_only(save_case(case, tmp_path / "e.twin", password="pw"))
        _owner_only(save_case(case, tmp_path / "new" / "sub" / "n.twin"))
        _owner_only(tmp_path / "new")  # folders created for a save too
        store = RecoveryStore(tmp_path / "state" / "recovery")
        store.save(case, original=tmp_path / "a.twin")
        store.save(make_case(1), password="pw")
        _owner_only(tmp_path / "state")
        h = HistoryStore(tmp_path / "hist" / "live.db")
        h.record("telemetry", "pump/speed", 1.0, 3.0)
        assert h.flush()
        h.close()
        _owner_only(tmp_path / "hist")
    finally:
        os.umask(old)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_mesh_cache_is_owner_only(tmp_path, monkeypatch, umask):
    import pyvista as pv

    from sim.mesh.tetrahedralize import tetrahedralize

    monkeypatch.setenv("TWINSIGHT_CACHE_DIR", str(tmp_path / "cache"))
    old = os.umask(umask)
    try:
        surface = pv.Cube(x_length=10, y_length=10, z_length=10).triangulate().clean()
        _, report = tetrahedralize(surface, edge_length=4.0)
    finally:
        os.umask(old)
    assert not report["cached"]
    files = list((tmp_path / "cache").rglob("*.vtu"))
    assert files
    _owner_only(tmp_path / "cache")


KILLER = r"""
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
from sim.model import atomic, crypto
crypto.SCRYPT_N = 1 << 10
from sim.model.case_io import save_case
from tests.sim.model.sample import make_case
case = make_case()
case.name = "Jane Roe MRN-5512"
save_case(case, sys.argv[2], folder=True)              # the old version, in plaintext
real = shutil.rmtree
def die(path, *a, **k):                                # killed right after the swap
    if atomic.TEMP_MARK in str(path):
        os.kill(os.getpid(), 9)
    real(path, *a, **k)
shutil.rmtree = die
save_case(case, sys.argv[2], folder=True, password="pw")
"""


def _plaintext_files(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_kill_after_folder_swap_leaves_no_plaintext_once_opened(tmp_path, fast_kdf):
    target = tmp_path / "work" / "jane.case"
    out = subprocess.run([sys.executable, "-c", KILLER, str(ROOT), str(target)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == -9, out.stderr
    temps = [p for p in target.parent.iterdir() if p != target]
    # the kill reproduced the hazard: the old plaintext version sits in a hidden temporary
    assert temps and _plaintext_files(target.parent, b"Jane Roe")
    case = load_case(target, password="pw")  # the next open cleans it up
    assert case.name == "Jane Roe MRN-5512"
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert _plaintext_files(target.parent, b"Jane Roe") == []


def test_temporaries_of_live_writers_are_kept_dead_ones_removed(tmp_path):
    from sim.model import atomic

    store = RecoveryStore(tmp_path / "rec")
    store.folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = store.folder / f".x.json.abcd1234-{dead.stdout.strip()}{atomic.TEMP_MARK}"
    stale.write_text('{"name": "Jane Roe"}')
    legacy = store.folder / f".y.json.abcd1234{atomic.TEMP_MARK}"  # before pids were recorded
    legacy.write_text("{}")
    live = store.folder / f".z.json.abcd1234-{os.getppid()}{atomic.TEMP_MARK}"
    live.write_text("{}")  # a process that is still running may still be writing it
    assert store.pending() == []
    assert not stale.exists() and not legacy.exists() and live.exists()


def test_recovery_note_of_encrypted_case_is_sealed(tmp_path, fast_kdf):
    store = RecoveryStore(tmp_path / "rec")
    case = make_case()
    case.name = "Jane Roe MRN-5512"
    original = tmp_path / "Roe_Jane" / "plan.twin"
    store.save(case, original=original, password="pw")
    for f in store.folder.iterdir():
        raw = f.read_bytes()
        assert b"Jane" not in raw and b"Roe" not in raw and b"MRN" not in raw, f
    note = json.loads(next(store.folder.glob("*.json")).read_text())
    assert note["encrypted"] and "name" not in note and "original" not in note
    (entry,) = store.pending(include_running=True)
    assert "an encrypted case" in entry.describe() and "Roe" not in entry.describe()
    assert entry.original is None
    recovered = store.recover(entry, password="pw")
    assert recovered.name == case.name and recovered.source == str(original)
    # a plaintext case keeps its readable note
    store.save(make_case(1), original=tmp_path / "b.twin")
    names = {e.name for e in store.pending(include_running=True)}
    assert "Sample 1" in names
