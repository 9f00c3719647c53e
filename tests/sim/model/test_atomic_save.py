"""A save killed at any moment (SIGKILL, in a subprocess) never damages the previous version."""

from __future__ import annotations

import os
import random
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

# A zygote imports Twinsight and builds a ~1 MB case once; for each round it forks a child that
# saves versions N+1, N+2 ... of the case to one path, forever, appending each number to a file
# once that save is complete. The test SIGKILLs the child at a random moment (the zygote does
# the kill and reaps it, on request): a separate process killed mid-save, without paying the
# interpreter's imports (~1.5 s) every round.
ZYGOTE = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from tests.sim.model.sample import make_case
from sim.model.case_io import save_case
path, folder, password = sys.argv[2], sys.argv[3] == "folder", sys.argv[4] or None
from sim.model import crypto
crypto.SCRYPT_N = 1 << 10
case = make_case(big=True)
for line in sys.stdin:
    cmd, arg, out = (line.split() + [""])[:3]
    if cmd == "kill":
        os.kill(int(arg), signal.SIGKILL)
        os.waitpid(int(arg), 0)
        print("dead", flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        version = int(arg)
        while True:
            version += 1
            case.description = f"version {version}"
            save_case(case, path, folder=folder, password=password)
            os.write(fd, f"{version}\n".encode())
    print(pid, flush=True)
"""


def _kill_during_saves(tmp_path, form: str, password: str, rounds: int, rng: random.Random):
    path = tmp_path / ("case.twin" if form != "folder" else "case.d")
    save_case(make_case(big=True), path, folder=form == "folder", password=password or None)
    last_good = 0
    kills_mid_save = 0
    zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(ROOT), str(path), form, password],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        for n in range(rounds):
            log = tmp_path / f"saved-{n}.txt"
            zygote.stdin.write(f"save {last_good} {log}\n")
            zygote.stdin.flush()
            pid = zygote.stdout.readline().strip()
            assert pid.isdigit(), zygote.stderr.read()
            deadline = time.monotonic() + 60
            while not (log.is_file() and log.read_text().strip()):  # one full save done
                assert time.monotonic() < deadline, "the saver never completed a save"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
            zygote.stdin.write(f"kill {pid}\n")
            zygote.stdin.flush()
            assert zygote.stdout.readline().strip() == "dead"
            done = [int(x) for x in log.read_text().split()]
            log.unlink()
            case = load_case(path, password=password or None)  # must open, whatever was cut short
            got = int(case.description.split()[1]) if case.description.startswith("version") else 0
            # the file holds the last completed save, or the one that was completing when killed
            assert got in (done[-1], done[-1] + 1), (got, done[-3:])
            kills_mid_save += got == done[-1]
            last_good = got
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
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
