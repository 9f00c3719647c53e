"""The association audit log: who sent or asked for what, and when.

One JSON object per line in ``<store>/audit.jsonl`` (owner-only, appended). What it may
hold: time, direction, our and the peer's AE titles and addresses, result and refusal
reason, instance counts, SOP classes, modalities, Study/Series Instance UIDs (as stored:
after de-identification when that is on) and a *keyed pseudonym* of the patient ID (see
:meth:`sim.dicomnet.store.Store.pseudonym`). What it never holds: patient names, IDs,
birth dates, descriptions (they often hold names) or query values - a query is logged
by the attributes it matched on, not what was typed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.model.atomic import FILE_MODE, make_parents

AUDIT_NAME = "audit.jsonl"
ALLOWED_KEYS = {"time", "event", "result", "reason", "calling_ae", "called_ae", "address",
                "port", "peer", "instances", "failed", "refused", "echoes", "queries", "studies",
                "sop_classes", "modalities", "level", "matched_on", "matches", "duration_s",
                "tls", "operation"}


class AuditLog:
    """Appends audit records; thread-safe (the receiver serves several associations)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []  # shown as they happen

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        unknown = set(fields) - ALLOWED_KEYS
        if unknown:  # a guard: nothing outside the documented fields reaches the file
            raise ValueError(f"audit fields not allowed: {sorted(unknown)}")
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "event": event, **fields}
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        with self._lock:
            make_parents(self.path)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND
                         | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
            try:
                os.fchmod(fd, FILE_MODE)
                os.write(fd, line)
            finally:
                os.close(fd)
        for listener in list(self.listeners):
            listener(record)
        return record

    def records(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out
