"""Crash-safe writes: a file or folder is replaced all at once or not at all.

Data goes to a temporary sibling, is flushed to disk (fsync), and is then renamed
over the destination. A folder is swapped in with Linux's ``renameat2`` exchange
when available; elsewhere the previous folder is parked as ``.<name>.old`` for the
instant of the swap and :func:`recover_folder` puts it back if the swap was cut short.

Everything written here is owner-only (files 0600, folders 0700) whatever the umask:
cases, recovery files and caches hold patient data. A temporary carries the id of the
process writing it, so a later open or save can remove what a killed process left
(which may hold a previous version of the case) without touching a save in progress.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sim.errors import InputError

TEMP_MARK = ".twinsight-tmp"
FILE_MODE, DIR_MODE = 0o600, 0o700
_active: set[str] = set()  # temporaries this process is writing right now
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def output_file(path: str | Path, suffixes: tuple[str, ...], what: str = "Output") -> Path:
    """``path`` for a file about to be written, checked before any slow work: InputError
    unless it ends in one of ``suffixes`` (lower case) and its folder exists."""
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise InputError(f"{what} '{out.name}' must end in {' or '.join(suffixes)}.")
    if not out.parent.is_dir():
        raise InputError(f"Folder '{out.parent}' does not exist.")
    return out


def temp_sibling(path: Path, suffix: str = "") -> Path:
    """A fresh hidden temporary next to ``path``, marked with this process's id."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}-{os.getpid()}{TEMP_MARK}{suffix}")
    _active.add(str(tmp))
    return tmp


def release_temp(tmp: Path) -> None:
    _active.discard(str(tmp))


def private_dir(folder: str | Path) -> Path:
    """Create ``folder`` (and missing parents) owner-only; an existing ``folder`` is
    made owner-only too (use for folders Twinsight owns, never the user's own folders)."""
    folder = Path(folder)
    missing = []
    p = folder
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=DIR_MODE)
    with contextlib.suppress(OSError):
        if folder.is_dir() and not folder.is_symlink():
            os.chmod(folder, DIR_MODE)
    return folder


def make_parents(path: Path) -> None:
    """Create the missing parents of ``path`` owner-only (existing ones are left alone)."""
    if not path.parent.exists():
        private_dir(path.parent)


def open_private(path: str | Path) -> BinaryIO:
    """A new file opened for writing, owner-only (0600) whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace_via_temp(path: Path, fill: Callable[[Path], None], suffix: str = "") -> Path:
    """Let ``fill(temporary)`` write and fsync a hidden sibling of ``path``, then rename it
    over ``path``: a crash leaves the old or the new file, a failed write no temporary."""
    make_parents(path)
    tmp = temp_sibling(path, suffix)
    try:
        fill(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        release_temp(tmp)
    fsync_dir(path.parent)
    return path


def write_file_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` via ``write(fh)`` so a crash leaves either the old or the new file."""
    def fill(tmp: Path) -> None:
        with open_private(tmp) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    return _replace_via_temp(Path(path), fill)


def write_path_atomic(path: str | Path, write_to: Callable[[Path], None], *,
                      private: bool = True) -> Path:
    """Write ``path`` by letting ``write_to(temporary path)`` write a hidden sibling (for
    writers that want a path: PDF, Parquet, CSV, meshes), then fsync and rename it over
    ``path``: a crash leaves the old or the new file, and a failed write leaves no temporary.
    ``private`` files are owner-only; a report meant to be shared (``private=False``) gets the
    umask's usual mode."""
    def fill(tmp: Path) -> None:
        write_to(tmp)
        if private:
            os.chmod(tmp, FILE_MODE)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    path = Path(path)
    return _replace_via_temp(path, fill, path.suffix)


def write_text_atomic(path: str | Path, text: str, *, private: bool = True) -> Path:
    """Write UTF-8 ``text`` to ``path`` crash-safely (see :func:`write_path_atomic`)."""
    return write_path_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"),
                             private=private)


def fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
        elif p.is_dir():
            fsync_dir(p)
    fsync_dir(root)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def _parked(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.old")


def replace_folder_atomic(staged: Path, folder: Path) -> None:
    """Put the fully written, fsynced folder ``staged`` in place of ``folder``."""
    if not folder.exists():
        os.rename(staged, folder)
    elif _exchange(staged, folder):
        # ``staged`` now holds the old version (perhaps a plaintext one the user has just
        # encrypted): gone at once, and if this process dies first, the next open or save
        # of ``folder`` removes it (remove_stale_temps).
        shutil.rmtree(staged, ignore_errors=True)
    else:
        parked = _parked(folder)
        shutil.rmtree(parked, ignore_errors=True)
        os.rename(folder, parked)
        os.rename(staged, folder)
        shutil.rmtree(parked, ignore_errors=True)
    fsync_dir(folder.parent)


def recover_folder(folder: Path) -> None:
    """If a folder swap was interrupted between its two renames, restore the old folder."""
    parked = _parked(folder)
    if not folder.exists() and parked.is_dir():
        os.rename(parked, folder)
    elif parked.is_dir() and not parked.is_symlink():
        shutil.rmtree(parked, ignore_errors=True)  # the swap completed: the old version goes


def _writer_alive(temp: Path) -> bool:
    """Whether the process that made ``temp`` may still be writing it."""
    stem = temp.name.split(TEMP_MARK, 1)[0]
    pid_text = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    if not pid_text.isdigit():
        return False  # an older temporary without a process id
    pid = int(pid_text)
    if pid == os.getpid():
        return str(temp) in _active
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def remove_stale_temps(path: Path) -> None:
    """Delete temporaries a killed save of ``path`` left behind (never one being written)."""
    with contextlib.suppress(OSError):
        for p in path.parent.glob(f".{glob_escape(path.name)}.*{TEMP_MARK}*"):
            if not _writer_alive(p):
                _remove(p)


def remove_stale_temps_in(folder: Path) -> None:
    """Delete every temporary a killed process left in ``folder``."""
    with contextlib.suppress(OSError):
        for p in Path(folder).glob(f".*{TEMP_MARK}*"):
            if not _writer_alive(p):
                _remove(p)


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)
