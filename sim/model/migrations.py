"""Explicit, step-by-step upgrades of older case manifests to the current schema.

Each step takes the raw manifest dict of version N and returns version N+1. A
manifest is only ever read through these steps; it is never guessed at.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sim.errors import InputError
from sim.geometry import rigid
from sim.model.display import as_display, split_legacy
from sim.model.object_fields import CHECKS, field_json, split_typed
from sim.model.schema import ARRAY_KEY, FORMAT, SCHEMA_VERSION


class MigrationError(ValueError):
    """A manifest cannot be brought to the current schema."""


def _v1_to_v2(old: dict[str, Any], when: datetime) -> dict[str, Any]:
    """Version 1 (the first case folders): case fields at top level, no dates, no checksums."""
    stamp = when.isoformat()
    return {
        "format": FORMAT,
        "schema_version": 2,  # the next step takes it on
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


def _v2_to_v3(old: dict[str, Any], when: datetime) -> dict[str, Any]:
    """Version 2 kept an object's transform and display settings as loose metadata keys;
    version 3 has typed fields. A value that does not fit stays in metadata as
    ``legacy_<key>`` (kept, not used) rather than stopping the case from opening."""
    new = dict(old, schema_version=3)
    objects = []
    for entry in old.get("objects", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("metadata"), dict):
            objects.append(entry)
            continue
        rest, display, transform = split_legacy(entry["metadata"])
        good = {}
        for key, value in display.items():
            try:
                as_display({key: value})
                good[key] = value
            except InputError:
                rest[f"legacy_{key}"] = value
        entry = dict(entry, metadata=rest, display=good)
        if isinstance(transform, list):
            try:
                entry["transform"] = rigid.to_list(rigid.check_rigid(transform))
            except InputError:
                rest["legacy_transform"] = transform
        elif transform is not None:  # stored as an array file: adopted once it is read
            rest["transform"] = transform
        objects.append(entry)
    new["objects"] = objects
    return new


_OLD_KEY = {"label_table": "labels", "trajectory": "trajectory", "live_source": "live",
            "segmentation_of": "segmentation_of"}


def _v3_to_v4(old: dict[str, Any], when: datetime) -> dict[str, Any]:
    """Version 3 kept a label map's names and colours (``labels``), a device's planned
    ``trajectory``, a tracked object's ``tracked_device`` and ``pose``, a live image's
    ``texture``, the live stream that made an object (``live``) and the scan a segmentation
    belongs to (``segmentation_of``) as metadata keys; version 4 has typed fields. A value
    that does not fit stays in metadata as ``legacy_<key>``. A pose stored as an array file
    stays in metadata with its device until the array is read: the object adopts both when
    it is built."""
    new = dict(old, schema_version=4)
    objects = []
    for entry in old.get("objects", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("metadata"), dict):
            objects.append(entry)
            continue
        rest, typed = split_typed(entry["metadata"])
        entry = dict(entry)
        for key, value in typed.items():
            if key == "tracking" and isinstance(value.get("pose"), dict):  # an array file
                rest["tracked_device"], rest["pose"] = value["device"], value["pose"]
                continue
            if key == "texture":
                ref = value.get(ARRAY_KEY) if isinstance(value, dict) else None
                if isinstance(ref, str):
                    entry["texture"] = ref
                elif value is not None:
                    rest["legacy_texture"] = value
                continue
            try:
                checked = CHECKS[key](value)
            except InputError:
                if key == "tracking":
                    rest["legacy_tracked_device"] = value["device"]
                    if value["pose"] is not None:
                        rest["legacy_pose"] = value["pose"]
                else:
                    rest[f"legacy_{_OLD_KEY[key]}"] = value
                continue
            if checked is not None:
                entry[key] = field_json(checked)
        entry["metadata"] = rest
        objects.append(entry)
    new["objects"] = objects
    return new


STEPS: dict[int, Callable[[dict[str, Any], datetime], dict[str, Any]]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


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
