"""Explicit, step-by-step upgrades of older case manifests to the current schema.

Each step takes the raw manifest dict of version N and returns version N+1. A
manifest is only ever read through these steps; it is never guessed at.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sim.model.schema import FORMAT, SCHEMA_VERSION


class MigrationError(ValueError):
    """A manifest cannot be brought to the current schema."""


def _v1_to_v2(old: dict[str, Any], when: datetime) -> dict[str, Any]:
    """Version 1 (the first case folders): case fields at top level, no dates, no checksums."""
    stamp = when.isoformat()
    return {
        "format": FORMAT,
        "schema_version": 2,
        "app_version": str(old.get("app_version", "unknown")),
        "created": stamp,
        "modified": stamp,
        "case": {"uid": uuid.uuid4().hex, "name": str(old.get("name", "Untitled")),
                 "anatomical": bool(old.get("anatomical", True)),
                 "description": str(old.get("description", ""))},
        "objects": list(old.get("objects", [])),
        "markups": [],
        "files": {},
        "migrated_from": 1,
    }


STEPS: dict[int, Callable[[dict[str, Any], datetime], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(raw: Any, when: datetime | None = None) -> dict[str, Any]:
    """The manifest ``raw`` (any version) as a current-version dict.

    ``when`` stands in for dates older versions did not record (the file's time).
    """
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise MigrationError("it is not a Twinsight case (no case manifest)")
    version = raw.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MigrationError(f"its schema version {version!r} is not valid")
    if version > SCHEMA_VERSION:
        raise MigrationError(f"it was saved by a newer Twinsight (schema {version}, this one "
                             f"reads up to {SCHEMA_VERSION}); please update")
    when = when or datetime.now(UTC)
    first = version
    while version < SCHEMA_VERSION:
        raw = STEPS[version](raw, when)
        version = raw["schema_version"]
    if first < SCHEMA_VERSION:
        raw["migrated_from"] = first
    return raw
