"""Start the application: ``run_app(path)`` opens the main window on a file, or on the demo."""

from __future__ import annotations

import logging
import sys

from PyQt6.QtWidgets import QApplication

from viewer.main_window import MainWindow


def create_window(path: str | None = None) -> MainWindow:
    window = MainWindow()
    window.show()
    if path:
        window.open_path(path)
    else:
        window.open_demo()
    return window


def run_app(path: str | None = None, grab: str | None = None) -> int:
    """Show the main window; with ``grab``, save a picture of it once the case is on screen
    and quit (a smoke test of an installation: the real window, GL and all)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Twinsight")
    app.setOrganizationName("Twinsight")
    from viewer.app_icon import app_icon

    app.setWindowIcon(app_icon())
    window = create_window(path)
    install_excepthook(window)
    if grab:
        from viewer.app_icon import grab_when_shown

        grab_when_shown(window, grab)
    return app.exec()


def install_excepthook(window) -> None:
    """An unexpected error in a Qt slot becomes a dialog and a log entry, not a console traceback."""
    from viewer.errors import show_error

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        window.last_error = show_error(window, "Unexpected error", exc.with_traceback(tb))

    sys.excepthook = hook
