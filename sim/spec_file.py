"""Reading the settings files users write (analysis specs, twin configs, sweep, placement and
credibility specs) with the project's errors: anything missing, unreadable, oversized or
malformed is one FileFormatError naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError


def read_settings_file(path: Path, what: str, max_mb: int) -> Any:
    """The document in a JSON file, or YAML for ``.yaml``/``.yml``; ``what`` names the kind
    of file in messages ("an analysis spec"); a file over ``max_mb`` MB is refused."""
    if not path.is_file():
        raise FileFormatError(path, "no such file")
    if path.stat().st_size > max_mb * 1_000_000:
        raise FileFormatError(path, f"it is over {max_mb} MB, too large for {what}")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:
        raise FileFormatError(path, f"it is not valid {path.suffix.lstrip('.').upper() or 'JSON'} "
                                    f"({str(exc).splitlines()[0]})") from None


def read_yaml_spec(path: Path, what: str | None = None, max_chars: int = 5_000_000) -> Any:
    """The document in a YAML (or JSON) spec file; with ``what`` ("a sweep spec"), a file of
    more than ``max_chars`` characters is refused as too large for one."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(path, f"it cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise FileFormatError(path, "it is not a text file") from None
    if what is not None and len(text) > max_chars:
        raise FileFormatError(path, f"it is too large for {what}")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FileFormatError(path, f"it is not valid YAML/JSON ({str(exc).splitlines()[0]})") from None


def check_settings(data: Any, kind: str, keys: set[str]) -> dict:
    """``data`` as the mapping of settings of a ``kind`` ("placement spec") whose fields are
    all among ``keys``; anything else is one InputError naming the kind."""
    if not isinstance(data, dict):
        raise InputError(f"A {kind} must be a mapping of settings.")
    unknown = set(data) - keys
    if unknown:
        raise InputError(f"Unknown {kind} field(s): {', '.join(sorted(unknown))}.")
    return data


def vector3(value: Any, what: str) -> np.ndarray:
    """A spec's [x, y, z] entry (a force, a point, a direction) as 3 floats; anything else is one
    InputError naming ``what``."""
    try:
        v = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        v = np.zeros(0)
    if v.shape != (3,) or not np.isfinite(v).all():
        raise InputError(f"{what} must be 3 finite numbers [x, y, z].")
    return v
