"""Child processes that a user can cancel: poll, report progress, and kill the whole group.

Native tools (gmsh, OpenCASCADE, fTetWild) run in child processes so a crash or a hang does
not take the application with it. A thread blocked in ``subprocess.run`` or
``communicate()`` never calls its progress callback, so Cancel could not reach it and the
child ran on. :func:`run_child` waits in a loop instead: every ``poll`` seconds it calls
``progress(fraction, message)`` - which raises :class:`sim.errors.Cancelled` once the user
cancelled - and on Cancelled, on a time limit or on any other exception it kills the child's
whole process group (SIGTERM, then SIGKILL after a short grace) and reaps it, so no process
survives the operation. The child's output is read as it comes: lines are handed to a
``parse`` callback that turns a tool's own log (gmsh's ``[ 40%]``, fTetWild's passes, our
workers' ``@progress`` lines) into a percentage; without one the message shows the time.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sim.progress import Progress

POLL_S = 0.1
GRACE_S = 0.3  # SIGTERM -> SIGKILL
PROGRESS_MARK = "@progress"

Parse = Callable[[str], "tuple[float | None, str | None] | None"]


class ChildTimeout(Exception):
    """The child did not finish within its time limit (it has been killed)."""


@dataclass
class ChildResult:
    returncode: int
    stdout: str
    stderr: str


def report(fraction: float, message: str) -> None:
    """In a worker: tell the parent how far it is (one line on stdout)."""
    print(f"{PROGRESS_MARK} {min(max(float(fraction), 0.0), 1.0):.4f} {message}", flush=True)


def kill_group(proc: subprocess.Popen, grace: float = GRACE_S) -> None:
    """Terminate ``proc`` and every process in its group, then reap ``proc``."""
    if os.name == "posix":
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break  # the whole group is gone already
            try:
                proc.wait(timeout=wait)
                if sig == signal.SIGTERM:  # the leader is gone; make sure its children are
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                break
            except subprocess.TimeoutExpired:
                continue
    else:  # pragma: no cover - Windows: no process groups to signal
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # unkillable (D state): give up
        proc.wait(timeout=5.0)


def _drain(stream, lines: list[str], on_line: Callable[[str], None] | None) -> None:
    for line in iter(stream.readline, ""):
        lines.append(line)
        if on_line is not None:
            with contextlib.suppress(Exception):  # a parser bug must not stall the reader
                on_line(line.rstrip("\n"))
    stream.close()


def run_child(cmd: Sequence[str], progress: Progress, message: str, *,
              timeout: float | None = None, cwd: str | None = None,
              env: dict[str, str] | None = None, parse: Parse | None = None,
              poll: float = POLL_S) -> ChildResult:
    """Run ``cmd`` to the end while reporting progress; stop it (and its children) at once on
    Cancelled, at ``timeout`` seconds (raises :class:`ChildTimeout`) or on any exception."""
    env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
    kwargs: dict = {"start_new_session": True} if os.name == "posix" else {
        "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1,
                            cwd=cwd, env=env, **kwargs)
    state = {"fraction": 0.0, "message": message}
    lock = threading.Lock()

    def on_line(line: str) -> None:
        got = _own_progress(line)
        if got is None and parse is not None:
            got = parse(line)
        if not got:
            return
        fraction, text = got
        with lock:
            if fraction is not None:
                state["fraction"] = max(state["fraction"], min(max(fraction, 0.0), 1.0))
            if text:
                state["message"] = text

    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out, on_line), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err, on_line), daemon=True)]
    for r in readers:
        r.start()
    start = time.monotonic()
    try:
        while True:
            try:
                proc.wait(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - start
            if timeout is not None and elapsed > timeout:
                raise ChildTimeout(f"{cmd[0]} ran longer than {timeout:.0f} s")
            with lock:
                fraction, text = state["fraction"], state["message"]
            progress(fraction, f"{text} - {_clock(elapsed)}")
    except BaseException:
        kill_group(proc)
        for r in readers:
            r.join(timeout=1.0)
        raise
    if os.name == "posix" and _group_alive(proc.pid):
        # done: anything the child left running in its group goes too (no orphans)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    for r in readers:
        r.join(timeout=5.0)
    return ChildResult(proc.returncode, "".join(out), "".join(err))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def _own_progress(line: str) -> tuple[float, str | None] | None:
    if not line.startswith(PROGRESS_MARK):
        return None
    parts = line.split(maxsplit=2)
    try:
        fraction = float(parts[1])
    except (IndexError, ValueError):
        return None
    return fraction, (parts[2] if len(parts) > 2 else None)


_GMSH_STAGE = re.compile(r"Meshing ([123])D\.\.\.")
_GMSH_PERCENT = re.compile(r"\[\s*(\d+)%\]\s*(.*)")


class GmshLog:
    """Turns gmsh's terminal log into a fraction of the window [start, stop] that a worker set
    with :func:`report_window`: 1D meshing is the first 10 % of it, 2D the next 40 %, 3D
    (and optimisation) the rest."""

    WEIGHTS = {1: (0.0, 0.1), 2: (0.1, 0.5), 3: (0.5, 1.0)}

    def __init__(self, start: float = 0.0, stop: float = 1.0, title: str = "gmsh") -> None:
        self.start, self.stop, self.title, self.dim = start, stop, title, 1

    def _at(self, inner: float) -> float:
        return self.start + (self.stop - self.start) * inner

    def __call__(self, line: str) -> tuple[float, str | None] | None:
        if line.startswith(WINDOW_MARK):
            parts = line.split(maxsplit=3)
            self.start, self.stop, self.dim = float(parts[1]), float(parts[2]), 1
            self.title = parts[3] if len(parts) > 3 else self.title
            return self.start, self.title
        m = _GMSH_STAGE.search(line)
        if m:
            self.dim = int(m.group(1))
            return self._at(self.WEIGHTS[self.dim][0]), f"{self.title}, {self.dim}D"
        m = _GMSH_PERCENT.search(line)
        if m:
            lo, hi = self.WEIGHTS[self.dim]
            return self._at(lo + (hi - lo) * int(m.group(1)) / 100.0), None
        if line.startswith("Info") and "Optimizing" in line:
            return self._at(0.9), f"{self.title}, optimising"
        return None


WINDOW_MARK = "@window"


def report_window(start: float, stop: float, title: str) -> None:
    """In a gmsh worker: the next gmsh run covers ``start..stop`` of the whole job."""
    print(f"{WINDOW_MARK} {start:.4f} {stop:.4f} {title}", flush=True)


_TETWILD_PASS = re.compile(r"pass (\d+)")


def tetwild_log(line: str) -> tuple[float, str] | None:
    """fTetWild's log: the optimisation passes (at most 80) after the initial Delaunay mesh."""
    if "Tetrahedralization performed" in line:
        return 0.15, "fTetWild: optimising"
    m = _TETWILD_PASS.search(line)
    if m and "////" in line:
        return 0.2 + 0.75 * min(int(m.group(1)), 80) / 80.0, f"fTetWild: pass {m.group(1)}"
    return None


# A frozen (PyInstaller) bundle has no ``python -m``: its own executable runs the worker when
# called with this flag first (see run_frozen_child, called by the entry point).
FROZEN_CHILD_FLAG = "--twinsight-worker"


def python_child(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args`` with this interpreter."""
    if getattr(sys, "frozen", False):
        return [sys.executable, FROZEN_CHILD_FLAG, module, *args]
    return [sys.executable, "-m", module, *args]


def run_frozen_child(argv: Sequence[str]) -> int | None:
    """In a bundle, run ``argv = [FLAG, module, args...]`` as ``python -m`` would; else None.

    Only Twinsight's own worker modules may be run this way."""
    if len(argv) < 2 or argv[0] != FROZEN_CHILD_FLAG:
        return None
    import runpy

    module = argv[1]
    if not module.startswith("sim.") or not module.endswith("_worker"):
        print(f"twinsight: '{module}' is not a Twinsight worker module.", file=sys.stderr)
        return 2
    sys.argv = [module, *argv[2:]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
