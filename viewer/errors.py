"""Errors reach the user as a readable dialog (details expandable) and a log entry."""

from __future__ import annotations

import logging
import traceback

from PyQt6.QtWidgets import QMessageBox, QWidget

from sim.errors import TwinsightError

log = logging.getLogger("twinsight.viewer")


def error_text(exc: BaseException) -> str:
    if isinstance(exc, TwinsightError):
        return str(exc)
    return f"Something went wrong: {type(exc).__name__}: {exc}"


def show_error(parent: QWidget | None, title: str, exc: BaseException) -> QMessageBox:
    """Log the error and show it in a non-blocking dialog; returns the dialog."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log.error("%s: %s", title, error_text(exc))
    box = QMessageBox(QMessageBox.Icon.Warning, title, error_text(exc),
                      QMessageBox.StandardButton.Ok, parent)
    box.setDetailedText(details)
    box.setObjectName("errorDialog")
    box.open()
    return box
