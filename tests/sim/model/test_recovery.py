"""Autosave and crash recovery: a killed session's edits come back at the next start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.errors import InputError
from sim.model.case_io import load_case, save_case
from sim.model.recovery import Autosaver, RecoveryStore
from tests.sim.model.sample import assert_cases_equal, make_case

ROOT = Path(__file__).resolve().parents[3]

CRASHER = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from sim.model.case_io import load_case
from sim.model.recovery import Autosaver, RecoveryStore
case = load_case(sys.argv[2])
saver = Autosaver(RecoveryStore(sys.argv[3]), interval_s=60)
saver.watch(case, original=sys.argv[2])
case.scene["Liver"].color = (0.0, 0.5, 1.0)
case.scene.remove(case.scene["Bracket"])
saver.tick(force=True)
os.kill(os.getpid(), 9)   # die without any clean-up
"""


def test_killed_session_is_offered_and_recovered(tmp_path):
    original = save_case(make_case(), tmp_path / "work.twin")
    store_dir = tmp_path / "recovery"
    out = subprocess.run([sys.executable, "-c", CRASHER, str(ROOT), str(original),
                          str(store_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == -9, out.stderr
    store = RecoveryStore(store_dir)
    entries = store.pending()
    assert len(entries) == 1 and entries[0].original == str(original)
    assert "Sample 0" in entries[0].describe()
    case = store.recover(entries[0])
    assert case.scene["Liver"].color == (0.0, 0.5, 1.0) and "Bracket" not in [
        o.name for o in case.scene]
    assert case.source == str(original) and not case.history.is_clean
    # the user's own file was never touched by the autosave
    assert load_case(original).scene["Liver"].color == (0.7, 0.2, 0.2)
    store.discard(entries[0].case_uid)
    assert store.pending() == []


def test_autosave_only_when_there_are_unsaved_edits(tmp_path):
    store = RecoveryStore(tmp_path / "rec")
    case = make_case()
    saver = Autosaver(store, interval_s=100)
    saver.watch(case)
    assert saver.tick(force=True) is None  # nothing edited yet
    case.scene["CT"].visible = False
    assert saver.tick(now=0.0) is None  # the interval has not passed
    path = saver.tick(force=True)
    assert path is not None and path.is_file()
    assert saver.tick(force=True) is None  # no new edits since
    assert not case.history.is_clean and case.source is None  # autosave is not a user save
    # this process is alive: its own autosave is not offered to another session
    assert store.pending() == [] and len(store.pending(include_running=True)) == 1
    assert_cases_equal(case, load_case(path))
    saver.close()
    assert store.pending(include_running=True) == []


def test_autosave_of_encrypted_case_is_encrypted(tmp_path, fast_kdf):
    store = RecoveryStore(tmp_path / "rec")
    case = make_case()
    saver = Autosaver(store, interval_s=1)
    saver.watch(case, password="pw")
    case.scene["CT"].opacity = 0.5
    path = saver.tick(force=True)
    assert b"Liver" not in path.read_bytes()
    entry = store.pending(include_running=True)[0]
    assert entry.encrypted
    assert store.recover(entry, password="pw").scene["CT"].opacity == 0.5


def test_damaged_notes_are_skipped_and_bad_interval_refused(tmp_path):
    store = RecoveryStore(tmp_path)
    (tmp_path / "x.json").write_text("{not json")
    (tmp_path / "y.json").write_text('{"case_uid": "y"}')  # no data file
    assert store.pending(include_running=True) == []
    with pytest.raises(InputError):
        Autosaver(store, interval_s=0)


def test_background_autosave_writes_the_snapshot_and_only_what_changed(tmp_path):
    """The snapshot (taken where the case is edited) is what is written, whatever happens to
    the case while the write runs; the next save reuses unchanged objects' serialised data."""
    from sim.model.case_io import BlobCache, dataset_bytes

    store = RecoveryStore(tmp_path / "rec")
    case = make_case(big=True)
    saver = Autosaver(store, interval_s=100)
    saver.watch(case)
    case.scene["Liver"].opacity = 0.6
    snap = saver.snapshot(force=True)
    assert snap is not None and saver.blobs.hits == 0
    # Edits after the snapshot (in place, and evented) do not leak into this autosave.
    ct = case.scene["CT"].data
    ct["HU"][:] = 7
    case.scene["Liver"].opacity = 0.2
    path = saver.write(snap)
    written = load_case(path)
    assert written.scene["Liver"].opacity == 0.6
    assert (written.scene["CT"].data["HU"] != 7).any()
    # Second autosave: every unchanged object reuses its bytes; the edited CT does not.
    snap2 = saver.snapshot(force=True)
    changed = [o.name for o in snap2[0].objects if o.blob is None]
    assert changed == ["CT"] and saver.blobs.hits == len(case.scene) - 1
    path = saver.write(snap2)
    again = load_case(path)
    assert_cases_equal(case, again)
    # The reused bytes are what serialising the live data gives (independent check).
    assert saver.blobs.get(case.scene["Liver"].uid,
                           BlobCache.token(case.scene["Liver"].data))[1] == \
        dataset_bytes(case.scene["Liver"].data)[1]
