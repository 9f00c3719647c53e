"""The application icon, and the window picture an installation's smoke test takes."""

from __future__ import annotations

import logging
import sys

from PyQt6.QtCore import QTimer
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QApplication, QMainWindow

log = logging.getLogger(__name__)
SETTLE_MS = 1500  # after the case is loaded: the 3D view's first frames
GRAB_TIMEOUT_S = 300.0


def app_icon() -> QIcon:
    """Twinsight's icon (assets/icons/twinsight.svg, read through sim.resources)."""
    from sim.resources import asset_path

    try:
        return QIcon(str(asset_path("icons", "twinsight.svg")))
    except Exception as exc:  # a missing icon must never stop the application
        log.warning("No application icon: %s", exc)
        return QIcon()


def grab_when_shown(window: QMainWindow, out: str) -> None:
    """Once no job runs and a case is shown, save the window as on screen to ``out`` and quit.

    The picture comes from the screen (the X server), not from widget painting, so it shows
    what the OpenGL view really drew. Exit code 1 when it times out or the case failed."""
    import time

    start = time.monotonic()
    timer = QTimer(window)

    def check() -> None:
        idle = window.jobs.current() is None and not window.jobs.active
        if idle and getattr(window, "case", None) is not None:
            timer.stop()
            QTimer.singleShot(SETTLE_MS, shoot)
        elif time.monotonic() - start > GRAB_TIMEOUT_S:
            timer.stop()
            print(f"twinsight: the case was not shown within {GRAB_TIMEOUT_S:.0f} s; "
                  "no picture taken.", file=sys.stderr)
            QApplication.exit(1)

    def shoot() -> None:
        window.raise_()
        geo = window.frameGeometry()
        pix = window.screen().grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
        if pix.isNull() or not pix.save(out):
            print(f"twinsight: could not write the window picture to '{out}'.", file=sys.stderr)
            QApplication.exit(1)
            return
        print(f"Wrote {out}")
        window.close()
        QApplication.exit(0)

    timer.timeout.connect(check)
    timer.start(200)
