"""Progress reporting and cancellation for long operations.

Every operation that can take more than about half a second accepts a
``progress`` callable ``progress(fraction, message)``. The callable may raise
:class:`sim.errors.Cancelled` to stop the work; operations let it propagate and
leave no partial result behind.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The default callback: report nothing, never cancel."""


def sub_progress(progress: Progress, start: float, stop: float) -> Progress:
    """Map a sub-task's 0..1 onto ``start..stop`` of the parent's progress."""

    def report(fraction: float, message: str) -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report
