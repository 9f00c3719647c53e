"""Reading a JSON document from a file with the project's errors: a missing or unreadable
file is an InputError, an oversized or malformed one a FileFormatError naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.errors import FileFormatError, InputError

MAX_BYTES = 50_000_000  # no JSON document of ours comes near this; a bigger file is not one


def read_json(path: str | Path, what: str, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed document in ``path``; ``what`` names it in messages ("scenario", ...)."""
    path = Path(path)
    try:
        if path.stat().st_size > max_bytes:
            raise FileFormatError(path, f"it is too large for a {what} file "
                                        f"({max_bytes // 1_000_000} MB at most)")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot read the {what} '{path}': {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, f"it is not valid JSON ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(path, f"it is not valid JSON ({exc})") from None
