"""A save killed at any moment (SIGKILL, in a subprocess) never damages the previous version."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.model import atomic
from sim.model.bundle import open_bundle
from sim.model.case_io import load_case, save_case
from tests.sim.model.sample import make_case

ROOT = Path(__file__).resolve().parents[3]

# The child saves versions 1, 2, 3 … of a ~1 MB case to one path, forever, announcing each.
SAVER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from tests.sim.model.sample import make_case
from sim.model.case_io import save_case
path, folder, password = sys.argv[2], sys.argv[3] == "folder", sys.argv[4] or None
from sim.model import crypto
crypto.SCRYPT_N = 1 << 10
case = make_case(big=True)
version = int(sys.argv[5])
while True:
    version += 1
    case.description = f"version {version}"
    save_case(case, path, folder=folder, password=password)
    print(version, flush=True)
"""


def _kill_during_saves(tmp_path, form: str, password: str, rounds: int, rng: random.Random):
    path = tmp_path / ("case.twin" if form != "folder" else "case.d")
    save_case(make_case(big=True), path, folder=form == "folder", password=password or None)
    last_good = 0
    kills_mid_save = 0
    for _ in range(rounds):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(ROOT), str(path), form, password, str(last_good)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # imports done and one full save: now saving in a loop
        assert first.strip(), proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        done = [int(x) for x in (first + out).split()]
        case = load_case(path, password=password or None)  # must open, whatever was cut short
        got = int(case.description.split()[1]) if case.description.startswith("version") else 0
        # the file holds the last completed save, or the one that was completing when killed
        assert got in (done[-1], done[-1] + 1), (got, done[-3:])
        kills_mid_save += got == done[-1]
        last_good = got
    return kills_mid_save


@pytest.mark.slow
@pytest.mark.parametrize("form,password", [("archive", ""), ("folder", ""),
                                           ("archive", "pw"), ("folder", "pw")])
def test_sigkill_during_save_leaves_a_good_case(tmp_path, form, password):
    rng = random.Random(hash(form + password) & 0xFFFF)
    _kill_during_saves(tmp_path, form, password, rounds=4, rng=rng)
    leftovers = [p.name for p in tmp_path.iterdir() if atomic.TEMP_MARK in p.name]
    save_case(make_case(), tmp_path / ("case.twin" if form != "folder" else "case.d"),
              folder=form == "folder", password=password or None)
    # a later save sweeps away what the killed saves left behind
    assert not [p for p in tmp_path.iterdir() if atomic.TEMP_MARK in p.name], leftovers


def test_interrupted_folder_swap_without_exchange_is_recovered(tmp_path, monkeypatch):
    """Where renameat2 is unavailable, a crash between the two renames loses nothing."""
    folder = save_case(make_case(0), tmp_path / "c", folder=True)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real_rename = os.rename
    calls = []

    def crash_on_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash between the renames")
        real_rename(src, dst)

    monkeypatch.setattr(atomic.os, "rename", crash_on_second)
    newer = make_case(0)
    newer.description = "newer"
    with pytest.raises(KeyboardInterrupt):
        save_case(newer, folder, folder=True)
    monkeypatch.setattr(atomic.os, "rename", real_rename)
    assert not folder.exists()  # the old version is parked, not lost
    assert load_case(folder).description == "every kind of object"
    assert folder.is_dir() and open_bundle(folder).form == "folder"


def test_exchange_is_used_on_linux(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not atomic._exchange(a, b):
        pytest.skip("renameat2 exchange not supported here")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def fail(fh):
        fh.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic.write_file_atomic(path, fail)
    assert path.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [path]
