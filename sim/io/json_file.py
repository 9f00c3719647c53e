"""Reading a JSON document from a file with the project's errors: a missing or unreadable
file is an InputError, an oversized or malformed one a FileFormatError naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.errors import FileFormatError, InputError

MAX_BYTES = 50_000_000  # no JSON document of ours comes near this; a bigger file is not one
MAX_DEPTH = 100  # no document of ours nests deeper; deeper ones would exhaust the stack


def _depth_ok(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return False
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return True


def parse_json(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted text: ValueError (never RecursionError) for anything
    malformed, undecodable or nested deeper than ``max_depth`` levels."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"it is nested more than {max_depth} levels deep") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text ({exc.reason})") from None
    if not _depth_ok(data, max_depth):
        raise ValueError(f"it is nested more than {max_depth} levels deep")
    return data


def read_json(path: str | Path, what: str, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed document in ``path``; ``what`` names it in messages ("scenario", ...)."""
    path = Path(path)
    try:
        if not path.is_file():
            raise InputError(f"Cannot read the {what} '{path}': it is not a regular file.")
        if path.stat().st_size > max_bytes:
            raise FileFormatError(path, f"it is too large for a {what} file "
                                        f"({max_bytes // 1_000_000} MB at most)")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot read the {what} '{path}': {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, f"it is not valid JSON ({exc})") from None
    try:
        return parse_json(text)
    except ValueError as exc:
        raise FileFormatError(path, f"it is not valid JSON ({exc})") from None


def check_header(doc: Any, where: str | Path, fmt: str, version: int, what: str) -> dict:
    """``doc`` as a document of our file format ``fmt`` at ``version`` (its "format" and
    "version" keys); else a FileFormatError naming ``where`` and ``what`` ("anomaly model")."""
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise FileFormatError(where, f"it is not a Twinsight {what}")
    if doc.get("version") != version:
        raise FileFormatError(where, f"{what} version {doc.get('version')} is not supported "
                                     f"(expected {version})")
    return doc
