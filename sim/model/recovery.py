"""Autosave and crash recovery.

While a case is open, :class:`Autosaver` writes it every few minutes (when it has
unsaved edits) to a recovery file; a clean close discards it. If the program dies,
the next start finds the recovery file in :class:`RecoveryStore` and offers it.
Recovery files of encrypted cases are encrypted with the same password, and so is the
part of their note that identifies the case (its name and where it was saved): until the
password is given, such an entry is only "an encrypted case". The recovery folder and its
files are owner-only; temporaries of killed writes are removed when the folder is read.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from sim.errors import InputError
from sim.model import atomic
from sim.model.case_io import BlobCache, CaseSnapshot, load_case, save_case, snapshot_case
from sim.model.scene import Case
from sim.progress import Progress, no_progress

DEFAULT_INTERVAL_S = 180.0


def default_folder() -> Path:
    """``$TWINSIGHT_RECOVERY_DIR``, else the user's state folder (platformdirs, XDG)."""
    env = os.environ.get("TWINSIGHT_RECOVERY_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("TWINSIGHT_CACHE_DIR")
    if cache:
        return Path(cache) / "recovery"
    from sim.resources import state_dir

    return state_dir() / "recovery"


@dataclass(frozen=True)
class RecoveryEntry:
    case_uid: str
    name: str
    path: Path  # the recovery .twin
    original: str | None  # where the case was saved by the user, if anywhere
    saved_at: float
    encrypted: bool

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        if self.encrypted:  # its name and origin are sealed with the case's password
            return f"an encrypted case autosaved {when}"
        where = f" (from {self.original})" if self.original else ""
        return f"'{self.name}' autosaved {when}{where}"


def _alive(pid: int, host: str) -> bool:
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RecoveryStore:
    """The folder of recovery files: one ``<case uid>.twin`` plus ``.json`` per case."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()

    def _paths(self, uid: str) -> tuple[Path, Path]:
        safe = "".join(c for c in uid if c.isalnum() or c in "-_")[:64] or "case"
        return self.folder / f"{safe}.twin", self.folder / f"{safe}.json"

    def save(self, case: Case | CaseSnapshot, original: str | Path | None = None,
             password: str | None = None, progress: Progress = no_progress,
             blobs: BlobCache | None = None) -> Path:
        """Write the recovery copy of ``case`` (atomically; the user's file is untouched)."""
        atomic.private_dir(self.folder)
        atomic.remove_stale_temps_in(self.folder)
        data, info = self._paths(case.uid)
        # An autosave is not a user save: the case keeps its origin and unsaved state.
        save_case(case, data, progress, password=password, folder=False, mark_saved=False,
                  blobs=blobs)
        who = {"name": case.name, "original": str(original) if original else None}
        meta = {"case_uid": case.uid, "saved_at": time.time(),
                "encrypted": password is not None, "pid": os.getpid(),
                "host": socket.gethostname()}
        if password is None:
            meta.update(who)
        else:  # never the name or the path of an encrypted case in plaintext
            from sim.model import crypto

            buf = io.BytesIO()
            crypto.encrypt(json.dumps(who).encode(), password, buf)
            meta["sealed"] = base64.b64encode(buf.getvalue()).decode("ascii")
        atomic.write_file_atomic(info, lambda fh: fh.write(json.dumps(meta).encode()))
        return data

    def discard(self, case_uid: str) -> None:
        for p in self._paths(case_uid):
            with contextlib.suppress(OSError):
                p.unlink()

    def pending(self, include_running: bool = False) -> list[RecoveryEntry]:
        """Recovery files left by sessions that did not close cleanly (newest first)."""
        out = []
        if not self.folder.is_dir():
            return out
        atomic.remove_stale_temps_in(self.folder)
        for info in self.folder.glob("*.json"):
            try:
                meta = json.loads(info.read_text())
                data = info.with_suffix(".twin")
                if not data.is_file():
                    continue
                if not include_running and _alive(int(meta.get("pid", -1)), meta.get("host", "")):
                    continue  # that session is still running: not ours to recover
                encrypted = bool(meta.get("encrypted", False))
                name = "an encrypted case" if encrypted else str(meta.get("name", "?"))
                original = None if encrypted else meta.get("original")
                out.append(RecoveryEntry(str(meta["case_uid"]), name, data, original,
                                         float(meta.get("saved_at", 0)), encrypted))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged note is skipped, never fatal at start-up
        return sorted(out, key=lambda e: e.saved_at, reverse=True)

    def recover(self, entry: RecoveryEntry, password: str | None = None,
                progress: Progress = no_progress) -> Case:
        """The recovered case; it keeps its original path as source and counts as unsaved."""
        case = load_case(entry.path, progress, password=password)
        case.source = entry.original
        if entry.encrypted and password is not None:
            case.source = self._sealed_original(entry, password)
        case.history.clear()
        case.history.set_dirty()  # recovered edits are not saved anywhere yet
        return case

    def _sealed_original(self, entry: RecoveryEntry, password: str) -> str | None:
        """Where an encrypted case was saved, from its sealed note (None if unreadable)."""
        from sim.errors import TwinsightError
        from sim.model import crypto

        info = entry.path.with_suffix(".json")
        try:
            sealed = base64.b64decode(json.loads(info.read_text())["sealed"], validate=True)
            who = json.loads(crypto.decrypt(sealed, password, info))
            return str(who["original"]) if who.get("original") else None
        except (OSError, ValueError, KeyError, TypeError, TwinsightError):
            return None


class Autosaver:
    """Saves a case's unsaved edits to the recovery store.

    In a GUI, :meth:`snapshot` runs on the GUI thread (cheap: unchanged data is neither
    copied nor serialised again, see :class:`BlobCache`) and :meth:`write` in the
    background; :meth:`tick` does both at once for scripts and for the final save on exit.
    """

    def __init__(self, store: RecoveryStore, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if interval_s <= 0:
            raise InputError("The autosave interval must be positive.")
        self.store, self.interval_s = store, float(interval_s)
        self.case: Case | None = None
        self.original: str | None = None
        self.password: str | None = None
        self.blobs = BlobCache()  # shared with the user's saves of the same case
        self._saved_revision: int | None = None
        self._last = time.monotonic()

    def watch(self, case: Case | None, original: str | Path | None = None,
              password: str | None = None) -> None:
        """Follow ``case`` from now on (the previous case's recovery file is discarded)."""
        if self.case is not None and self.case is not case:
            self.store.discard(self.case.uid)
            self.blobs = BlobCache()
        self.case, self.password = case, password
        self.original = str(original) if original else None
        self._saved_revision = case.history.revision if case is not None else None
        self._last = time.monotonic()

    def needs_save(self) -> bool:
        c = self.case
        return c is not None and not c.history.is_clean and c.history.revision != self._saved_revision

    def snapshot(self, now: float | None = None,
                 force: bool = False) -> tuple[CaseSnapshot, int] | None:
        """(snapshot, revision) to write if the interval has passed (or ``force``) and there
        are unsaved edits not autosaved yet; else None."""
        now = time.monotonic() if now is None else now
        if not force and now - self._last < self.interval_s:
            return None
        self._last = now
        if not self.needs_save():
            return None
        assert self.case is not None
        return snapshot_case(self.case, self.blobs), self.case.history.revision

    def write(self, snapshot: tuple[CaseSnapshot, int],
              progress: Progress = no_progress) -> Path:
        """Write a :meth:`snapshot` to the recovery store (any thread)."""
        snap, revision = snapshot
        path = self.store.save(snap, self.original, self.password, progress, self.blobs)
        if self.case is not None and self.case.uid == snap.uid:
            self._saved_revision = revision
        return path

    def tick(self, now: float | None = None, force: bool = False) -> Path | None:
        """Autosave now, on this thread, if :meth:`snapshot` says so."""
        snap = self.snapshot(now, force)
        return None if snap is None else self.write(snap)

    def close(self) -> None:
        """A clean close: the recovery file is no longer needed."""
        if self.case is not None:
            self.store.discard(self.case.uid)
        self.case = None
