"""The local DICOM store: received instances organised as patient/study/series, with an index.

Folder and file names are keyed hashes of the UIDs and patient ID (a secret per store), so
nothing in a path names or identifies the patient: ``<root>/P<hash>/S<hash>/E<hash>/<hash>.dcm``.
The index (SQLite, ``index.sqlite``) holds what the browser searches by (name, ID, dates,
descriptions, modality) and is, like every file and folder here, owner-only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import InputError
from sim.model.atomic import private_dir, write_file_atomic

if TYPE_CHECKING:
    from pydicom import Dataset

INDEX = "index.sqlite"
KEY = ".store-key"
COLUMNS = ("sop_uid", "sop_class", "series_uid", "study_uid", "patient_id", "patient_name",
           "birth_date", "study_date", "study_description", "series_description", "modality",
           "series_number", "instance_number", "path", "received", "sender")
_SCHEMA = (f"CREATE TABLE IF NOT EXISTS instances ({', '.join(COLUMNS)}, "
           "PRIMARY KEY (sop_uid))")


def _text(ds: Dataset, keyword: str) -> str:
    try:
        return str(ds.get(keyword, "") or "")
    except Exception:  # a value pydicom cannot decode is indexed as empty
        return ""


class Store:
    """An organised, indexed folder of DICOM instances (thread-safe)."""

    def __init__(self, root: str | Path) -> None:
        self.root = private_dir(Path(root).expanduser())
        self._lock = threading.Lock()
        key_path = self.root / KEY
        if not key_path.exists():
            key = secrets.token_bytes(32)
            write_file_atomic(key_path, lambda fh: fh.write(key))
        self._key = key_path.read_bytes()
        with self._connect() as db:
            db.execute(_SCHEMA)
        (self.root / INDEX).chmod(0o600)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / INDEX, timeout=30)

    def _hash(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:20]

    def keyed_digest(self, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` under the store's secret key."""
        return hmac.new(self._key, value.encode(), hashlib.sha256).digest()

    def pseudonym(self, value: str) -> str:
        """A keyed hash of ``value`` (e.g. a patient ID) for logs: stable per store, and only
        someone holding the store's key can check it against a known ID."""
        return self._hash("pseudonym:" + value)[:12]

    def relative_path(self, ds: Dataset) -> str:
        sop = _text(ds, "SOPInstanceUID")
        if not sop:
            raise InputError("A DICOM instance without a SOP Instance UID cannot be stored.")
        parts = (f"P{self._hash('patient:' + _text(ds, 'PatientID'))}",
                 f"S{self._hash(_text(ds, 'StudyInstanceUID'))}",
                 f"E{self._hash(_text(ds, 'SeriesInstanceUID'))}", f"{self._hash(sop)}.dcm")
        return "/".join(parts)

    def add(self, ds: Dataset, encoded: bytes | None = None, sender: str = "") -> Path:
        """Store one instance (``encoded``: its file bytes as received, else ``ds`` is written)
        and index it; an instance received again replaces the earlier copy."""
        rel = self.relative_path(ds)
        path = self.root / rel
        private_dir(path.parent)
        if encoded is not None:
            write_file_atomic(path, lambda fh: fh.write(encoded))
        else:
            from pydicom import dcmwrite

            write_file_atomic(path, lambda fh: dcmwrite(fh, ds, enforce_file_format=True))
        row = {k: _text(ds, kw) for k, kw in (
            ("sop_uid", "SOPInstanceUID"), ("sop_class", "SOPClassUID"),
            ("series_uid", "SeriesInstanceUID"), ("study_uid", "StudyInstanceUID"),
            ("patient_id", "PatientID"), ("patient_name", "PatientName"),
            ("birth_date", "PatientBirthDate"), ("study_date", "StudyDate"),
            ("study_description", "StudyDescription"),
            ("series_description", "SeriesDescription"), ("modality", "Modality"),
            ("series_number", "SeriesNumber"), ("instance_number", "InstanceNumber"))}
        row.update(path=rel, received=time.strftime("%Y-%m-%dT%H:%M:%S"), sender=sender)
        with self._lock, closing(self._connect()) as db, db:
            db.execute(f"INSERT OR REPLACE INTO instances VALUES ({', '.join('?' * len(COLUMNS))})",
                       [row[c] for c in COLUMNS])
        return path

    def series(self, patient: str = "", modality: str = "", date: str = "",
               study_uid: str = "") -> list[dict[str, Any]]:
        """One row per stored series, newest study first; ``patient`` matches name or ID
        (case-insensitive, part of it), ``date`` a YYYYMMDD prefix."""
        sql = ("SELECT series_uid, study_uid, patient_id, patient_name, study_date, "
               "study_description, series_description, modality, series_number, COUNT(*), "
               "MAX(received) FROM instances WHERE 1=1")
        args: list[str] = []
        if patient:
            sql += " AND (patient_name LIKE ? OR patient_id LIKE ?)"
            args += [f"%{patient}%"] * 2
        if modality:
            sql += " AND modality = ?"
            args.append(modality.upper())
        if date:
            sql += " AND study_date LIKE ?"
            args.append(f"{date}%")
        if study_uid:
            sql += " AND study_uid = ?"
            args.append(study_uid)
        sql += " GROUP BY series_uid ORDER BY study_date DESC, study_uid, series_number"
        with self._lock, closing(self._connect()) as db:
            rows = db.execute(sql, args).fetchall()
        keys = ("series_uid", "study_uid", "patient_id", "patient_name", "study_date",
                "study_description", "series_description", "modality", "series_number",
                "instances", "received")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def rows(self) -> list[dict[str, str]]:
        """Every indexed instance (for matching a C-FIND against the store)."""
        with self._lock, closing(self._connect()) as db:
            rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM instances").fetchall()
        return [dict(zip(COLUMNS, r, strict=True)) for r in rows]

    def files(self, series_uid: str) -> list[Path]:
        """The stored files of one series (that still exist)."""
        with self._lock, closing(self._connect()) as db:
            rows = db.execute("SELECT path FROM instances WHERE series_uid = ? "
                              "ORDER BY CAST(instance_number AS INTEGER), sop_uid",
                              [series_uid]).fetchall()
        return [p for p in (self.root / r[0] for r in rows) if p.is_file()]

    def series_folder(self, series_uid: str) -> Path:
        """The folder holding a stored series (to open it like any DICOM folder)."""
        files = self.files(series_uid)
        if not files:
            raise InputError(f"Series {series_uid} is not in the DICOM store {self.root}.")
        return files[0].parent

    def count(self) -> int:
        with self._lock, closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM instances").fetchone()[0])
