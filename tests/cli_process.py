"""Run the ``twinsight`` command (or a test's helper script) in a process of its own, forked
from a warm one.

A CLI test wants what a user gets: a separate process, its exit code, its stdout and stderr.
Starting a fresh interpreter pays ~1.5 s of imports (numpy, scipy, VTK, pyvista) per call, so
one helper process (the "zygote") imports them once and forks a child per command. The child
resets what a fresh ``python -m viewer.launcher`` would have: argv, environment, working
folder, standard streams, the default SIGINT handler; it then runs the real entry point
(:func:`viewer.launcher.main`) and exits with its code.

The zygote never starts a thread of its own, renders or opens Qt, so forking it is safe.
Tests that look at the command line or at import-time state (privacy of argv, thread
counts, a frozen bundle) keep spawning a fresh interpreter with :mod:`subprocess`.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ZYGOTE = r"""
import io, json, os, signal, sys, traceback
sys.path.insert(0, sys.argv[1])
# What nearly every command imports; each child gets them for free.
import numpy, scipy.sparse, scipy.spatial, pyvista, pyvista.plotting  # noqa: F401
import sim.cli, sim.model, sim.io.loader, viewer.launcher  # noqa: F401
reply = os.fdopen(int(sys.argv[2]), "w", buffering=1)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid:
        reply.write(f"{pid}\n")
        _, status = os.waitpid(pid, 0)
        reply.write(f"{os.waitstatus_to_exitcode(status)}\n")
        continue
    try:
        os.setsid()
        reply.close()
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        for fd, path, flags in ((0, job["stdin"], os.O_RDONLY), (1, job["out"], os.O_WRONLY),
                                (2, job["err"], os.O_WRONLY)):
            f = os.open(path, flags)
            os.dup2(f, fd)
            os.close(f)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            if job["script"]:
                import runpy
                sys.argv = [job["script"], *job["argv"]]
                runpy.run_path(job["script"], run_name="__main__")
                code = 0
            else:
                sys.argv = ["twinsight", *job["argv"]]
                from viewer.launcher import main
                code = main(job["argv"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, int) and e.code is not None:
                print(e.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
"""


class _Zygote:
    def __init__(self) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(ROOT), str(write)],
                                     stdin=subprocess.PIPE, pass_fds=(write,), text=True)
        os.close(write)
        self.replies = os.fdopen(read, "r", buffering=1)
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _line(self, deadline: float | None) -> str:
        if deadline is not None:
            left = max(0.0, deadline - _now())
            if not select.select([self.replies], [], [], left)[0]:
                raise TimeoutError
        line = self.replies.readline()
        if not line:
            raise RuntimeError("the warm CLI process died")
        return line.strip()

    def run(self, job: dict, timeout: float | None) -> int:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        pid = int(self._line(None))
        deadline = None if timeout is None else _now() + timeout
        try:
            return int(self._line(deadline))
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)  # the command and anything it started
            self._line(None)  # the zygote reaps it
            raise

    def close(self) -> None:
        if self.alive():
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def _now() -> float:
    import time

    return time.monotonic()


_zygote: _Zygote | None = None


def _get_zygote() -> _Zygote:
    global _zygote
    if _zygote is None or not _zygote.alive():
        _zygote = _Zygote()
        atexit.register(_zygote.close)
    return _zygote


def run_cli(*args, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            input: str | None = None, timeout: float | None = 180,
            ) -> subprocess.CompletedProcess:
    """``twinsight ARGS...`` in a process of its own; like ``subprocess.run(...,
    capture_output=True, text=True)``: returncode, stdout, stderr, and
    :class:`subprocess.TimeoutExpired` after ``timeout`` seconds."""
    return _run(None, args, env, cwd, input, timeout)


def run_script(script: str | Path, *args, env: dict[str, str] | None = None,
               cwd: str | Path | None = None, input: str | None = None,
               timeout: float | None = 180) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS...`` in a process of its own, as :func:`run_cli`."""
    return _run(str(script), args, env, cwd, input, timeout)


def _run(script: str | None, args, env, cwd, input, timeout) -> subprocess.CompletedProcess:
    argv = [str(a) for a in args]
    shown = [script or "twinsight", *argv]
    zygote = _get_zygote()
    with zygote.lock, tempfile.TemporaryDirectory(prefix="twinsight-cli-") as tmp:
        stdin, out, err = (os.path.join(tmp, n) for n in ("stdin", "out", "err"))
        Path(stdin).write_text(input or "")
        Path(out).touch(mode=0o600)
        Path(err).touch(mode=0o600)
        job = {"script": script, "argv": argv, "env": dict(os.environ if env is None else env),
               "cwd": str(cwd or os.getcwd()), "stdin": stdin, "out": out, "err": err}
        try:
            code = zygote.run(job, timeout)
        except TimeoutError:
            raise subprocess.TimeoutExpired(shown, timeout, Path(out).read_text(),
                                            Path(err).read_text()) from None
        return subprocess.CompletedProcess(shown, code,
                                           Path(out).read_text(errors="replace"),
                                           Path(err).read_text(errors="replace"))
