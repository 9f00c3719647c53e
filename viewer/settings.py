"""Persistent preferences (window layout, recent files) in one QSettings store.

The store is ``twinsight.ini`` in the user's config folder (platformdirs: ``~/.config/twinsight``
on Linux); ``TWINSIGHT_CONFIG_DIR`` redirects it (tests use a temporary folder).
"""

from __future__ import annotations

import os

from PyQt6.QtCore import QSettings

MAX_RECENT = 10


def settings() -> QSettings:
    from sim.resources import config_dir

    return QSettings(str(config_dir() / "twinsight.ini"), QSettings.Format.IniFormat)


def recent_files() -> list[str]:
    value = settings().value("recent_files", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or [])]


def add_recent_file(path: str) -> list[str]:
    path = os.path.abspath(path)
    items = [p for p in recent_files() if p != path]
    items.insert(0, path)
    items = items[:MAX_RECENT]
    settings().setValue("recent_files", items)
    return items
