"""The containers a case is stored in: a folder or a zip archive, each optionally encrypted.

A container is a set of named files (``manifest.json`` plus data files). Reading
one checks its shape before anything is trusted: safe member names, sane sizes (no
zip bombs), and for encrypted archives full authentication of every byte first. An
encrypted folder authenticates its manifest on opening and each file as it is read
(the manifest's checksums then vouch for the set of files).
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

from sim.errors import FileFormatError
from sim.model import atomic, crypto
from sim.model.schema import MANIFEST, check_member_name

ZIP_MAGIC = b"PK\x03\x04"
MAX_MEMBER = 16 << 30  # 16 GiB: larger than any case we can show, small enough to refuse bombs
# Twinsight stores data files as they are (VTK compresses them itself) and deflates only
# JSON, which shrinks 5-20 times: a compressed entry inflating further or to more than
# MAX_INFLATED is a decompression bomb, refused before a byte of it is inflated.
MAX_RATIO = 100  # uncompressed/compressed, for compressed entries over 1 MiB
MAX_INFLATED = 1 << 30  # 1 GiB: the most a compressed entry may inflate to


class Bundle(ABC):
    """Read access to a stored case's files."""

    def __init__(self, path: Path, encrypted: bool = False) -> None:
        self.path = path
        self.encrypted = encrypted

    @property
    def form(self) -> str:
        return "encrypted archive" if self.encrypted else "archive"

    @abstractmethod
    def names(self) -> set[str]:
        """The stored files' names."""

    @abstractmethod
    def read(self, name: str) -> bytes:
        """One stored file's bytes (FileFormatError if missing or damaged)."""

    @abstractmethod
    def size(self, name: str) -> int:
        """A stored file's size in bytes (0 if missing: reading it then reports that)."""

    def close(self) -> None:  # noqa: B027 - a folder holds nothing open
        """Release what the container holds open (nothing, for a folder)."""


class FolderBundle(Bundle):
    def __init__(self, path: Path, key: crypto.Key | None = None) -> None:
        super().__init__(path, encrypted=key is not None)
        self._key = key

    @property
    def form(self) -> str:
        return "encrypted folder" if self.encrypted else "folder"

    def names(self) -> set[str]:
        root = self.path
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}

    def size(self, name: str) -> int:
        target = self.path / name
        try:
            st = target.lstat()
        except (OSError, ValueError):
            return 0
        return st.st_size if stat.S_ISREG(st.st_mode) else 0

    def read(self, name: str) -> bytes:
        try:
            check_member_name(name)
        except ValueError as exc:
            raise FileFormatError(self.path, str(exc)) from None
        target = self.path / name
        parent = target.parent
        while parent != self.path:  # a linked folder on the way could lead anywhere
            if parent.is_symlink():
                raise FileFormatError(self.path, f"its folder '{parent.name}' is a link "
                                                 f"(linked folders are refused)")
            parent = parent.parent
        try:  # no links, no FIFOs or devices: a regular file, opened without blocking
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            raise FileFormatError(self.path, f"its file '{name}' is missing") from None
        try:
            with os.fdopen(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    raise FileFormatError(self.path, f"its file '{name}' is not a regular file")
                blob = fh.read()
        except OSError as exc:
            raise FileFormatError(self.path, f"its file '{name}' cannot be read "
                                             f"({exc.strerror or exc})") from None
        if self._key is None:
            return blob
        if not crypto.is_encrypted(blob):
            raise FileFormatError(self.path, f"its file '{name}' is not encrypted like the rest "
                                             f"of the case")
        return crypto.unseal(blob, self._key, self.path, member=name)[0]


def check_folder_links(path: Path) -> None:
    """Refuse a case folder holding linked folders: ``objects/`` pointing elsewhere would
    make the case read (and a save overwrite) files outside it."""
    for root, dirs, _ in os.walk(path, followlinks=False):
        for d in dirs:
            if os.path.islink(os.path.join(root, d)):
                rel = Path(root, d).relative_to(path).as_posix()
                raise FileFormatError(path, f"its folder '{rel}' is a link to another place "
                                            f"(linked folders are refused)")


def _open_encrypted_folder(path: Path, password: str | None) -> FolderBundle:
    """An encrypted folder, its password checked on the (authenticated) manifest."""
    manifest = path / MANIFEST
    try:
        blob = manifest.read_bytes()
    except OSError as exc:
        raise FileFormatError(path, f"its manifest cannot be read ({exc})") from None
    _, key = crypto.unseal(blob, password, path, member=MANIFEST)
    return FolderBundle(path, key)


def _implausible(info: zipfile.ZipInfo, archive_size: int) -> bool:
    """True if an entry claims more than the archive can hold (see MAX_RATIO)."""
    if info.compress_size > archive_size or info.file_size > MAX_MEMBER:
        return True
    if info.compress_type == zipfile.ZIP_STORED:
        return info.file_size != info.compress_size
    return info.file_size > MAX_INFLATED or (
        info.file_size > (1 << 20) and info.file_size > MAX_RATIO * info.compress_size)


class ZipBundle(Bundle):
    def __init__(self, path: Path, data: bytes | None = None, encrypted: bool = False) -> None:
        super().__init__(path, encrypted)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data) if data is not None else path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise FileFormatError(path, f"it is not a valid case archive ({exc})") from None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = len(data) if data is not None else path.stat().st_size
        for info in infos:
            if info.is_dir():
                continue
            try:
                check_member_name(info.filename)
            except ValueError as exc:
                raise FileFormatError(path, f"it holds an unsafe entry ({exc})") from None
            if _implausible(info, total):
                raise FileFormatError(path, f"its entry '{info.filename}' is implausibly large "
                                            f"({info.file_size} bytes from "
                                            f"{info.compress_size})")
            self._infos[info.filename] = info

    def names(self) -> set[str]:
        return set(self._infos)

    def size(self, name: str) -> int:
        info = self._infos.get(name)
        return info.file_size if info is not None else 0

    def read(self, name: str) -> bytes:
        if name not in self._infos:
            raise FileFormatError(self.path, f"its file '{name}' is missing")
        try:
            return self._zip.read(self._infos[name])
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
                zlib.error, RuntimeError) as exc:  # RuntimeError: zipfile's own encryption
            raise FileFormatError(self.path, f"its file '{name}' is damaged "
                                             f"({str(exc)[:120] or type(exc).__name__})") from None

    def close(self) -> None:
        self._zip.close()


def open_bundle(path: str | Path, password: str | None = None) -> Bundle:
    """The container at ``path``; FileFormatError if it is not a case container."""
    path = Path(path)
    if path.is_dir():
        atomic.recover_folder(path)
        # A save killed after its swap leaves the previous version in a hidden temporary
        # (perhaps in plaintext): it goes now, not at the next save.
        atomic.remove_stale_temps(path)
        if not (path / MANIFEST).is_file():
            raise FileFormatError(path, "the folder is not a Twinsight case (no manifest.json)")
        check_folder_links(path)
        if sniff(path) == "encrypted folder":
            return _open_encrypted_folder(path, password)
        return FolderBundle(path)
    if not path.exists():
        atomic.recover_folder(path)
        if path.is_dir():
            return open_bundle(path, password)
        raise FileFormatError(path, "no such file or folder")
    if not path.is_file():
        raise FileFormatError(path, "it is not a regular file")
    atomic.remove_stale_temps(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(crypto.MAGIC))
    except OSError as exc:
        raise FileFormatError(path, f"it cannot be read ({exc})") from None
    if crypto.is_encrypted(head):
        blob = path.read_bytes()
        return ZipBundle(path, crypto.decrypt(blob, password, path), encrypted=True)
    if head.startswith(ZIP_MAGIC):
        return ZipBundle(path)
    if not head:
        raise FileFormatError(path, "the file is empty")
    raise FileFormatError(path, "it is not a Twinsight case (neither a case archive nor "
                                "an encrypted case)")


ENCRYPTED_FORMS = ("encrypted", "encrypted folder")
FOLDER_FORMS = ("folder", "encrypted folder")


def sniff(path: str | Path) -> str | None:
    """'folder', 'archive', 'encrypted' (archive) or 'encrypted folder' if ``path`` looks
    like a case container (see ENCRYPTED_FORMS and FOLDER_FORMS)."""
    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            return None
        try:
            with open(path / MANIFEST, "rb") as fh:
                head = fh.read(len(crypto.MAGIC))
        except OSError:
            return None
        return "encrypted folder" if crypto.is_encrypted(head) else "folder"
    if not path.is_file():  # a FIFO or device would block or never end
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(crypto.MAGIC))
    except OSError:
        return None
    if crypto.is_encrypted(head):
        return "encrypted"
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as zf:
                return "archive" if MANIFEST in zf.namelist() else None
        except (zipfile.BadZipFile, OSError):
            return None
    return None


def _zip_bytes(files: Iterable[tuple[str, bytes]], out) -> None:
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for name, data in files:
            # VTK files are already compressed; JSON is small: store all, deflate JSON only.
            method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o600 << 16
            zf.writestr(info, data)


def write_archive(path: Path, files: list[tuple[str, bytes]], password: str | None) -> None:
    """Write a (possibly encrypted) archive atomically."""
    atomic.remove_stale_temps(path)
    if password is None:
        atomic.write_file_atomic(path, lambda fh: _zip_bytes(files, fh))
        return
    buf = io.BytesIO()
    _zip_bytes(files, buf)
    atomic.write_file_atomic(path, lambda fh: crypto.encrypt(buf.getbuffer().tobytes(),
                                                             password, fh))


def write_folder(path: Path, files: list[tuple[str, bytes]], password: str | None = None) -> None:
    """Write a case folder atomically (staged next to it, fsynced, swapped in).

    ``password`` encrypts every file, all with one key derived for this save.
    """
    key = crypto.Key(password) if password is not None else None
    atomic.recover_folder(path)
    atomic.remove_stale_temps(path)
    atomic.make_parents(path)
    staged = atomic.temp_sibling(path)
    try:
        atomic.private_dir(staged)  # owner-only folders and files, whatever the umask
        for name, data in files:
            target = staged / name
            if not target.parent.exists():
                atomic.private_dir(target.parent)
            with atomic.open_private(target) as fh:
                if key is None:
                    fh.write(data)
                else:
                    crypto.encrypt(data, key, fh, member=name)
        atomic.fsync_tree(staged)
        atomic.replace_folder_atomic(staged, path)
    except BaseException:
        import shutil

        shutil.rmtree(staged, ignore_errors=True)
        raise
    finally:
        atomic.release_temp(staged)
