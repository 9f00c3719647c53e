"""What the main window needs to edit, save and protect a case.

One object owns the Edit menu's undo/redo, the markups and transform panels, the
autosave timer and the crash-recovery offer, and the password of an encrypted
case, so the main window only forwards a few calls to it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox

from sim.errors import Cancelled, InputError
from sim.model import Case
from sim.model.bundle import ENCRYPTED_FORMS, sniff
from sim.model.case_io import SUFFIX, save_case, snapshot_case
from sim.model.recovery import DEFAULT_INTERVAL_S, Autosaver, RecoveryEntry, RecoveryStore
from viewer import settings as prefs
from viewer.panels.markups import MarkupsPanel
from viewer.panels.transform import TransformPanel
from viewer.undo import UndoActions

log = logging.getLogger(__name__)

ARCHIVE_FILTER = "Twinsight case (*.twin)"
ENCRYPTED_FILTER = "Encrypted Twinsight case (*.twin)"
FOLDER_FILTER = "Unpacked case folder (*)"
ENCRYPTED_FOLDER_FILTER = "Encrypted case folder (*)"


def autosave_interval_s() -> float:
    """``autosave/minutes`` in the settings (default 3 minutes)."""
    try:
        minutes = float(prefs.settings().value("autosave/minutes", DEFAULT_INTERVAL_S / 60))
    except (TypeError, ValueError):
        minutes = DEFAULT_INTERVAL_S / 60
    return max(minutes, 0.05) * 60.0


class CaseSession(QObject):
    history_changed = pyqtSignal()  # queued to the GUI thread if an edit comes from elsewhere

    def __init__(self, window) -> None:
        super().__init__(window)
        self.history_changed.connect(self._update_title)
        self.window = window
        self.case: Case | None = None
        self.password: str | None = None  # kept in memory only, for Save and autosave
        self.undo = UndoActions(window)
        self.markups = MarkupsPanel(window.view)
        self.transform = TransformPanel(window.view)
        self.store = RecoveryStore()
        self.autosaver = Autosaver(self.store, autosave_interval_s())
        self.timer = QTimer(self)
        self.timer.setInterval(int(self.autosaver.interval_s * 1000))
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        self._recovery_checked = False
        self.recovery_box: QMessageBox | None = None
        self._save_mark: tuple | None = None  # (case, history state) of the save running
        self._autosaving = None  # the autosave job writing, if any
        QTimer.singleShot(0, self._offer_recovery_when_idle)

    # -- window hooks ---------------------------------------------------------------------------
    def add_docks(self) -> None:
        w = self.window
        markups = w._dock("Markups", self.markups, Qt.DockWidgetArea.RightDockWidgetArea)
        # Tabbed together, so the two panels never make the window taller than it was.
        w.tabifyDockWidget(markups, w._dock("Transform", self.transform,
                                            Qt.DockWidgetArea.RightDockWidgetArea))
        markups.raise_()

    def build_edit_menu(self, menubar) -> None:
        edit = menubar.addMenu("&Edit")
        self.undo.install(edit)
        edit.addSeparator()
        self.autosave_action = edit.addAction("Autosave &Interval…", self.autosave_dialog)
        self.edit_menu = edit

    def set_autosave_minutes(self, minutes: float) -> None:
        """Change (and remember) how often unsaved edits are written for crash recovery."""
        if minutes <= 0:
            raise InputError("The autosave interval must be positive.")
        prefs.settings().setValue("autosave/minutes", float(minutes))
        self.autosaver.interval_s = float(minutes) * 60.0
        self.timer.setInterval(int(self.autosaver.interval_s * 1000))

    def autosave_dialog(self) -> None:
        minutes, ok = QInputDialog.getDouble(
            self.window, "Autosave", "Save unsaved edits for crash recovery every (minutes):",
            self.autosaver.interval_s / 60.0, 0.5, 120.0, 1)
        if ok:
            self.set_autosave_minutes(minutes)

    def set_case(self, case: Case, path: Path | None = None, password: str | None = None) -> None:
        if self.case is not None:
            self.case.history.changed.disconnect(self.history_changed.emit)
        self.case, self.password = case, password
        self.undo.set_case(case)
        self.markups.set_case(case)
        self.transform.set_case(case)
        self.autosaver.watch(case, path, password)
        case.history.changed.connect(self.history_changed.emit)
        self._update_title()

    def _update_title(self) -> None:
        if self.case is not None:
            dirty = "" if self.case.history.is_clean else " *"
            self.window.setWindowTitle(f"{self.case.name}{dirty} — Twinsight")

    def discard_changes(self) -> None:
        """The user chose to drop the unsaved edits: no recovery copy is kept of them (only
        of edits made after this)."""
        if self.case is not None:
            self.store.discard(self.case.uid)
            self.autosaver.watch(self.case, self.autosaver.original, self.password)

    def close(self) -> None:
        """On exit keep a recovery copy only if there are unsaved edits (not discarded)."""
        self.timer.stop()
        if self.case is not None and not self.case.history.is_clean:
            try:
                self.autosaver.tick(force=True)
            except Exception:  # never block closing the window on an autosave problem
                log.exception("final autosave failed")
            return
        self.autosaver.close()

    # -- passwords --------------------------------------------------------------------------------
    def ask_password(self, path: Path, new: bool = False) -> str | None:
        title = "Encrypt case" if new else "Encrypted case"
        prompt = (f"Password to encrypt {path.name}:" if new
                  else f"{path.name} is encrypted. Password:")
        text, ok = QInputDialog.getText(self.window, title, prompt, QLineEdit.EchoMode.Password)
        if not ok:
            return None
        if new:
            again, ok = QInputDialog.getText(self.window, title, "Repeat the password:",
                                             QLineEdit.EchoMode.Password)
            if not ok:
                return None
            if again != text:
                QMessageBox.warning(self.window, title, "The passwords differ; nothing saved.")
                return None
        return text or None

    def password_for_open(self, path: Path) -> str | None:
        """The password for ``path`` if it is an encrypted case (Cancelled if refused)."""
        if sniff(path) not in ENCRYPTED_FORMS:
            return None
        password = self.ask_password(path)
        if password is None:
            raise Cancelled("opening")
        return password

    # -- saving ---------------------------------------------------------------------------------
    def save_job(self, case: Case, path: Path, password: str | None = None,
                 folder: bool | None = None):
        """A function for ``run_task`` that saves ``case`` atomically to ``path``."""
        path = Path(path)
        if folder is None:  # .twin -> archive; an existing or other-named path -> folder
            folder = path.is_dir() or path.suffix.lower() != SUFFIX

        # The job runs on a worker thread: it must not emit model events (views would react
        # off the GUI thread), so the case is marked saved in :meth:`saved`, on the GUI thread.
        # It writes a snapshot taken now, so edits made while it writes are not half-saved,
        # and data unchanged since the last save (or autosave) is not serialised again.
        self._save_mark = (case, case.history.state_token())
        blobs = self.autosaver.blobs if case is self.autosaver.case else None
        snap = snapshot_case(case, blobs)

        def job(progress):
            return save_case(snap, path, progress, password=password, folder=folder,
                             mark_saved=False, blobs=blobs)

        return job

    def saved(self, path: Path | None, password: str | None) -> None:
        """A save finished (or a case was opened from ``path``): remember where and how."""
        self.password = password
        case = self.case
        if case is not None:
            mark = self._save_mark
            self._save_mark = None
            if path is not None:
                case.source = str(path)
            case.history.set_clean(mark[1] if mark is not None and mark[0] is case else True)
            self.autosaver.watch(case, path, password)
            self.store.discard(case.uid)
        self._update_title()

    def save_as_dialog(self) -> tuple[Path, str | None, bool] | None:
        """Ask where and how to save: (path, password, folder form) or None."""
        if self.case is None:
            return None
        path, chosen = QFileDialog.getSaveFileName(
            self.window, "Save case", f"{self.case.name}{SUFFIX}",
            f"{ARCHIVE_FILTER};;{ENCRYPTED_FILTER};;{FOLDER_FILTER};;{ENCRYPTED_FOLDER_FILTER}")
        if not path:
            return None
        path = Path(path)
        folder = chosen in (FOLDER_FILTER, ENCRYPTED_FOLDER_FILTER)
        if not folder and path.suffix.lower() != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        password = None
        if chosen in (ENCRYPTED_FILTER, ENCRYPTED_FOLDER_FILTER):
            password = self.ask_password(path, new=True)
            if password is None:
                return None
        return path, password, folder

    # -- autosave and recovery ----------------------------------------------------------------------
    def autosave(self):
        """Write unsaved edits for crash recovery: a snapshot here (cheap), the writing in
        a background job, so the window never stalls; returns that job (or None)."""
        if self._autosaving is not None and not self._autosaving.done:
            return None  # the previous autosave is still writing: next time
        try:
            snap = self.autosaver.snapshot(force=True)
        except Exception as exc:  # an autosave problem must never interrupt the user's work
            log.warning("autosave failed: %s", exc)
            self.window.status_label.setText(f"Autosave failed: {exc}")
            return None
        if snap is None:
            return None
        case = self.case

        def done(_path) -> None:
            if case is not None and case.history.is_clean:  # saved by the user meanwhile
                self.store.discard(case.uid)
            self.window.status_label.setText("Autosaved for crash recovery.")

        def failed(exc) -> None:
            log.warning("autosave failed: %s", exc)
            self.window.status_label.setText(f"Autosave failed: {exc}")

        self._autosaving = self.window.jobs.submit(
            "Autosaving", lambda p: self.autosaver.write(snap, p), on_done=done,
            on_error=failed, group="autosave", background=True)
        return self._autosaving

    def _offer_recovery_when_idle(self) -> None:
        if self._recovery_checked:
            return
        if self.window.task is not None:  # let the start-up load finish first
            QTimer.singleShot(500, self._offer_recovery_when_idle)
            return
        self._recovery_checked = True
        entries = self.store.pending()
        if entries:
            self.offer_recovery(entries[0])

    def offer_recovery(self, entry: RecoveryEntry) -> QMessageBox:
        """Ask (without blocking the event loop) whether to recover ``entry``."""
        box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved work?",
                          f"Twinsight did not close normally. Recover {entry.describe()}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self.window)
        box.setObjectName("recoveryDialog")

        def answered(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes.value:
                self.recover(entry)
            else:
                self.store.discard(entry.case_uid)

        box.finished.connect(answered)
        box.open()
        self.recovery_box = box
        return box

    def recover(self, entry: RecoveryEntry, password: str | None = None) -> bool:
        if entry.encrypted and password is None:
            password = self.ask_password(entry.path)
            if password is None:
                return False
        w = self.window

        def done(case: Case) -> None:
            # an encrypted entry's origin is sealed: the store restores it as the source
            original = Path(case.source) if case.source else None
            w.set_case(case)
            w.case_path = original
            self.password = password
            self.autosaver.watch(case, original, password)
            w.status_label.setText(f"Recovered {case.name}; save it to keep it.")
            self._update_title()

        w.run_task("Recovering", lambda p: self.store.recover(entry, password, p), done,
                   replaces_case=True)
        return True
