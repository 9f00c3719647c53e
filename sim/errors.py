"""One error hierarchy for everything Twinsight reports to a user.

A ``TwinsightError`` message is one plain sentence a user can act on. The CLI
maps :class:`InputError` (bad file, bad argument) to exit code 2 and any other
``TwinsightError`` to exit code 1.
"""

from __future__ import annotations

from pathlib import Path


class TwinsightError(Exception):
    """Base class of every error Twinsight raises on purpose."""


class InputError(TwinsightError):
    """The user gave us something we cannot use (a file, an argument, a value)."""


class FileFormatError(InputError):
    """A file is missing, unreadable, of an unknown format, corrupt or hostile."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot read '{path}': {reason}.")


class Cancelled(TwinsightError):
    """The user cancelled a long operation; nothing was changed."""

    def __init__(self, what: str = "operation") -> None:
        super().__init__(f"The {what} was cancelled.")
