"""Run the real ``twinsight`` command line on many hostile files, each in its own process.

``python -m tests.sim.fuzz.runner JOBS.json RESULTS.json``: JOBS is a list of
``{"id", "argv", "timeout"}``. This process imports the command line and the readers
once, then forks one child per job (so a job costs milliseconds, not the seconds of a
fresh interpreter); the child runs :func:`viewer.launcher.main` - the ``twinsight``
entry point - with its stdout/stderr in files, under an address-space limit
(RLIMIT_AS) and an alarm, exactly as a separate process would. A segfault, an abort,
the alarm (a hang) or the memory limit shows in the recorded exit status.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time

MEMORY_BUDGET = 1536 << 20  # address space a child may add to what the imports mapped


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(job: dict, out: str, err: str) -> None:
    fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    limit = _vm_size() + MEMORY_BUDGET
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm kills: a hang shows as SIGALRM
    signal.alarm(int(job["timeout"]))
    os.environ.update(job.get("env") or {})
    code = 1
    try:
        from viewer.launcher import main

        argv = [os.fsdecode(a.encode("utf-8", "surrogateescape")) for a in job["argv"]]
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(jobs_file: str, results_file: str) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy  # noqa: F401 - warm up everything a job may need, once
    import pydicom  # noqa: F401
    import pyvista  # noqa: F401
    import vtk  # noqa: F401

    import sim.cli
    import sim.io.loader  # noqa: F401
    import viewer.launcher  # noqa: F401
    from sim.io.registry import readers

    readers()
    sim.cli.build_parser()
    with open(jobs_file) as fh:
        jobs = json.load(fh)
    results = []
    folder = os.path.dirname(os.path.abspath(results_file))
    for n, job in enumerate(jobs):
        out, err = os.path.join(folder, f"{n}.out"), os.path.join(folder, f"{n}.err")
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(job, out, err)
        deadline = start + job["timeout"] + 10
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:  # the alarm did not fire: kill it ourselves
                os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                break
            time.sleep(0.005)
        with open(out, "rb") as fh:
            stdout = fh.read()
        with open(err, "rb") as fh:
            stderr = fh.read()
        os.unlink(out)
        os.unlink(err)
        results.append({
            "id": job["id"], "seconds": round(time.monotonic() - start, 3),
            "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "stdout": stdout.decode("utf-8", "replace"),
            "stderr": stderr.decode("utf-8", "replace"),
            "stdout_utf8": _is_utf8(stdout),
        })
    with open(results_file, "w") as fh:
        json.dump(results, fh)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
