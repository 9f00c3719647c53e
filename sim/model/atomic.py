"""Crash-safe writes: a file or folder is replaced all at once or not at all.

Data goes to a temporary sibling, is flushed to disk (fsync), and is then renamed
over the destination. A folder is swapped in with Linux's ``renameat2`` exchange
when available; elsewhere the previous folder is parked as ``.<name>.old`` for the
instant of the swap and :func:`recover_folder` puts it back if the swap was cut short.
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

TEMP_MARK = ".twinsight-tmp"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def temp_sibling(path: Path, suffix: str = "") -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_MARK}{suffix}")


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


def write_file_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` via ``write(fh)`` so a crash leaves either the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
    return path


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
        shutil.rmtree(staged, ignore_errors=True)  # ``staged`` now holds the old version
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


def remove_stale_temps(path: Path) -> None:
    """Delete temporaries a killed save of ``path`` left behind."""
    for p in path.parent.glob(f".{path.name}.*{TEMP_MARK}*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()
