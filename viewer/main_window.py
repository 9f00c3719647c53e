"""The main window: 3D view in the centre, scene tree and properties docked, menus, status bar."""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QT_VERSION_STR, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QWidget,
)
from vtkmodules.vtkCommonCore import vtkVersion

from sim import __version__
from sim.errors import Cancelled, TwinsightError
from sim.io import SUPPORTED_SUFFIXES, load
from sim.model import Case
from sim.model.bundle import sniff
from sim.render import STANDARD_VIEWS
from sim.workbench import Workbench
from viewer import settings as prefs
from viewer.case_session import CaseSession
from viewer.errors import show_error
from viewer.imaging_ui import ImagingUI
from viewer.panels.analysis import AnalysisPanel
from viewer.panels.inspect import InspectPanel
from viewer.panels.live import LivePanel
from viewer.panels.mesh_tools import MeshPanel
from viewer.panels.place import PlacePanel
from viewer.panels.properties import PropertiesPanel
from viewer.panels.rehearse import RehearsePanel
from viewer.panels.scene_tree import SceneTree
from viewer.panels.simulate import SimulatePanel
from viewer.panels.spin import WidgetEvents, open_with
from viewer.panels.twin_view import TwinPanel
from viewer.views.scene_view import SceneView
from viewer.workers import Job, JobManager, QtDispatcher
from viewer.xr.menu import XRMenu

log = logging.getLogger(__name__)

SUPPORTED_FILES = (f"Supported files ({' '.join(f'*{s}' for s in SUPPORTED_SUFFIXES)});;"
                   "All files (*)")  # the open dialogs' filter
VIEW_NAMES = {"A": "Anterior", "P": "Posterior", "L": "Left", "R": "Right",
              "S": "Superior", "I": "Inferior"}


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Twinsight")
        self.setObjectName("mainWindow")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.case_path: Path | None = None
        self.last_error = None
        # The application model: the case, every background job (loads, saves, panels' work,
        # autosave; events on the GUI thread) and what runs. Panels and the headset are
        # views of it (sim.workbench).
        self.workbench = Workbench(jobs=JobManager(dispatch=QtDispatcher(self)))
        self.jobs = self.workbench.jobs
        self.jobs.submitted.connect(self._show_current_job)
        self.jobs.progressed.connect(self._show_current_job)
        self.jobs.finished.connect(self._show_current_job)

        self.view = SceneView(self)
        self.view.renderer.overlays.set_live(self.workbench.live_overlays)  # markers, banner
        self.setCentralWidget(self.view)
        self.view.object_clicked.connect(self._on_view_click)
        self.view.files_dropped.connect(self.open_dropped)  # devices go to the Place panel
        self.tree = SceneTree()
        self.properties = PropertiesPanel()
        self._dock("Scene", self.tree, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Properties", self.properties, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.live = LivePanel(self)  # tabbed behind Properties: the 3D view keeps its width
        props_dock = self.findChild(QDockWidget, "dockProperties")
        self.tabifyDockWidget(props_dock, self._dock("Live", self.live,
                                                     Qt.DockWidgetArea.LeftDockWidgetArea))
        self.inspect = InspectPanel(self)  # registration and deviation maps, tabbed too
        self.tabifyDockWidget(props_dock, self._dock("Inspect", self.inspect,
                                                     Qt.DockWidgetArea.LeftDockWidgetArea))
        self.simulate = SimulatePanel(self)  # interactive deformation, tabbed too
        self.tabifyDockWidget(props_dock, self._dock("Simulate", self.simulate,
                                                     Qt.DockWidgetArea.LeftDockWidgetArea))
        self.analysis = AnalysisPanel(self)  # stress analysis of a part, tabbed too
        self.tabifyDockWidget(props_dock, self._dock("Analysis", self.analysis,
                                                     Qt.DockWidgetArea.LeftDockWidgetArea))
        self.place = PlacePanel(self)  # device placement, tabbed too
        self.tree.device_dropped.connect(self.place.drop_on_tree)
        self.tabifyDockWidget(props_dock, self._dock("Place", self.place,
                                                     Qt.DockWidgetArea.LeftDockWidgetArea))
        self.rehearse = RehearsePanel(self)  # rehearsal scenarios and attempts, tabbed too
        self.tabifyDockWidget(props_dock, self._dock("Rehearse", self.rehearse,
                                                     Qt.DockWidgetArea.LeftDockWidgetArea))
        self.twin_view = TwinPanel(self)  # the engineering twin of the live asset, tabbed too
        self.tabifyDockWidget(props_dock, self._dock("Twin", self.twin_view,
                                                     Qt.DockWidgetArea.LeftDockWidgetArea))
        props_dock.raise_()
        self.session = CaseSession(self)  # undo, markups, transforms, autosave, passwords
        self.session.add_docks()
        self.mesh_panel = MeshPanel(self)  # units, mesh check and repair, field colouring
        markups_dock = self.findChild(QDockWidget, "dockMarkups")
        self.tabifyDockWidget(markups_dock, self._dock("Mesh", self.mesh_panel,
                                                       Qt.DockWidgetArea.RightDockWidgetArea))
        markups_dock.raise_()
        self._build_status_bar()
        self._build_actions()
        self.imaging = ImagingUI(self)  # Slices and Segment docks, Segment menu
        # The side panels run the full height; the Slices dock sits under the 3D view only,
        # so its minimum height does not stack on top of the tall side panels.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        # Six panels share the left column: tabs down its side keep every name readable.
        self.setTabPosition(Qt.DockWidgetArea.LeftDockWidgetArea, QTabWidget.TabPosition.West)
        self._restore_layout()
        # The wheel over a panel scrolls it (a field it passes keeps its value); table
        # columns are as wide as their content (none cut short in a narrow dock).
        QApplication.instance().installEventFilter(WidgetEvents(self))

    # -- construction ----------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel("Ready")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_task)
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        self._show_busy(False)

    def _action(self, menu, text, slot, shortcut=None, checkable=False, tip=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setCheckable(checkable)
        if tip:
            act.setStatusTip(tip)
        (act.toggled if checkable else act.triggered).connect(slot)
        menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        self.new_action = self._action(file_menu, "&New Case", self.new_case,
                                       QKeySequence.StandardKey.New)
        self.open_action = self._action(file_menu, "&Open…", self.open_dialog,
                                        QKeySequence.StandardKey.Open)
        self.add_action = self._action(
            file_menu, "&Add to Case…", self.add_dialog, "Ctrl+Shift+O",
            tip="Add the objects of a file (a scan, a part, a segmentation) to the open case")
        self._action(file_menu, "Add in &Units…", self.add_with_units_dialog,
                     tip="Add a file saved without units (STL, OBJ, PLY …) in cm, m or inches")
        self._action(file_menu, "&DICOM Browser…", self.dicom_browser,
                     tip="Search a PACS or the local DICOM store, download a series and open "
                         "it; switch the DICOM receiver on or off")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        self.save_action = self._action(file_menu, "&Save", self.save,
                                        QKeySequence.StandardKey.Save)
        self._action(file_menu, "Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self._action(file_menu, "Export &Screenshot…", self.export_screenshot, "Ctrl+E")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.session.build_edit_menu(mb)

        view_menu = mb.addMenu("&View")
        self._action(view_menu, "&Reset Camera", lambda: self.view.renderer.reset_camera(),
                     "Ctrl+0")
        views = view_menu.addMenu("Standard &Views")
        self.view_actions = {}
        for i, key in enumerate(STANDARD_VIEWS):
            self.view_actions[key] = self._action(
                views, f"{VIEW_NAMES[key]} ({key})",
                lambda _=False, k=key: self.view.renderer.set_view(k), f"Ctrl+{i + 1}")
        self.parallel_action = self._action(view_menu, "&Parallel Projection",
                                            self.view.renderer.set_parallel_projection,
                                            "Ctrl+P", checkable=True)
        self.clip_action = self._action(view_menu, "&Clipping Plane", self.view.set_clipping,
                                        "Ctrl+K", checkable=True)
        self.xr_menu = XRMenu(self, view_menu)  # Enter XR, XR Preview
        view_menu.addSeparator()
        self.panels_menu = view_menu.addMenu("Panels")
        for dock in self.findChildren(QDockWidget):
            self.panels_menu.addAction(dock.toggleViewAction())

        rehearse_menu = mb.addMenu("&Rehearse")
        self._action(rehearse_menu, "&Build Scenario from Plan", self.rehearse.build)
        self._action(rehearse_menu, "&Edit Scenario…", self.rehearse.edit)
        self._action(rehearse_menu, "&Start Attempt", self.rehearse.start)
        self._action(rehearse_menu, "&Review Attempts…", self.rehearse.review)

        tools_menu = mb.addMenu("&Tools")
        self._action(tools_menu, "&Sweep…", lambda: self.sweep_dialog(),
                     tip="Uncertainty sweep or cohort of an analysis or placement spec on Dask")
        help_menu = mb.addMenu("&Help")
        self._action(help_menu, "&About Twinsight", self.about)

        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.addAction(self.open_action)
        tb.addAction(self.save_action)
        tb.addSeparator()
        for key in "APLRSI":
            act = QAction(key, self)
            act.setToolTip(f"{VIEW_NAMES[key]} view")
            act.triggered.connect(lambda _=False, k=key: self.view.renderer.set_view(k))
            tb.addAction(act)
        tb.addSeparator()
        tb.addAction(self.parallel_action)
        tb.addAction(self.clip_action)

    # -- layout persistence ------------------------------------------------------------------
    def _restore_layout(self) -> None:
        s = prefs.settings()
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event) -> None:
        if not self.settle_unsaved_changes(self.close):
            event.ignore()
            return
        self.live.shutdown()
        self.simulate.shutdown()
        self.analysis.shutdown()
        self.rehearse.shutdown()
        if getattr(self, "_dicom_browser", None) is not None:
            self._dicom_browser.shutdown()  # the DICOM receiver stops with the window
        self.workbench.shutdown(10.0)  # cancel and wait; nothing is delivered to this window later
        s = prefs.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.sync()
        self.session.close()
        self.imaging.close()
        self.view.close_view()
        super().closeEvent(event)

    # -- background work ---------------------------------------------------------------------
    @property
    def task(self) -> Job | None:
        """The job the status bar shows (None when no foreground job is pending)."""
        return self.jobs.current()

    def _show_busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if not busy:
            self.progress_bar.setValue(0)

    def _show_current_job(self, _job: Job | None = None) -> None:
        job = self.jobs.current()
        self._show_busy(job is not None)
        if job is None:
            return
        waiting = len([j for j in self.jobs.active if not j.background]) - 1
        more = f" (+{waiting} waiting)" if waiting > 0 else ""
        self.progress_bar.setValue(int(job.fraction * 1000))
        self.status_label.setText(f"{job.message or job.title + '…'}{more}")

    def report_progress(self, fraction: float, message: str) -> None:
        """Progress of short work that must stay on the GUI thread (offscreen VTK reports)."""
        self.progress_bar.setVisible(True)
        self.progress_bar.setValue(int(fraction * 1000))
        self.status_label.setText(message)
        if fraction >= 1.0 and self.jobs.current() is None:
            self._show_busy(False)

    def run_task(self, title: str, fn, on_done, *, replaces_case: bool = False,
                 background: bool = False, group: str = "window",
                 on_finished=None) -> Job:
        """Run ``fn(progress)`` in the background; ``on_done(result)`` on the GUI thread.

        The window's jobs run one after another in submission order (a job started while
        another runs waits its turn; nothing is refused). A result that arrives after the
        case was replaced is dropped, unless the job is the one replacing it
        (``replaces_case``).
        """
        case = self.case

        def done(result) -> None:
            if not replaces_case and self.case is not case:
                self.status_label.setText(f"{title} finished for a case that is no longer "
                                          f"open; its result was dropped.")
                return
            on_done(result)

        return self.jobs.submit(title, fn, on_done=done,
                                on_error=lambda exc: self._on_task_failed(title, exc),
                                on_finished=on_finished, group=group, background=background)

    def cancel_task(self) -> None:
        """Cancel the job the status bar shows."""
        job = self.jobs.current()
        if job is not None:
            job.cancel()
            self.status_label.setText(f"Cancelling {job.title.lower()}…")

    def _on_task_failed(self, title: str, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.status_label.setText(str(exc))
            return
        self.last_error = show_error(self, f"{title} failed", exc)
        self.status_label.setText(f"{title} failed.")

    # -- unsaved changes -------------------------------------------------------------------------
    def has_unsaved_changes(self) -> bool:
        return self.case is not None and not self.case.history.is_clean

    def ask_unsaved_changes(self) -> str:
        """'save', 'discard' or 'cancel': what to do with the case's unsaved edits.

        The one place the question is asked (modally); tests replace this method.
        """
        buttons = QMessageBox.StandardButton
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"Save the changes to {self.case.name if self.case else 'the case'}?",
                          buttons.Save | buttons.Discard | buttons.Cancel, self)
        box.setObjectName("unsavedChangesDialog")
        box.setInformativeText("Your edits are lost if you don't save them.")
        box.setDefaultButton(buttons.Save)
        answer = box.exec()
        return {buttons.Save.value: "save", buttons.Discard.value: "discard"}.get(answer,
                                                                                   "cancel")

    def settle_unsaved_changes(self, then) -> bool:
        """True if the case may be closed or replaced now; if it has unsaved edits, ask.

        Discard: True. Cancel: False. Save: False now, and ``then()`` runs once the save
        (in the background, to where the case came from or where the user chooses) is done.
        """
        if not self.has_unsaved_changes():
            return True
        answer = self.ask_unsaved_changes()
        if answer == "discard":
            self.session.discard_changes()
            return True
        if answer == "save":
            self._save(then)
        return False

    # -- files ---------------------------------------------------------------------------------
    def new_case(self) -> None:
        """Start an empty case (after asking about unsaved edits)."""
        if not self.settle_unsaved_changes(self.new_case):
            return
        self.set_case(Case(name="Untitled"))
        self.case_path = None
        self.session.saved(None, None)
        self.status_label.setText("New case")

    def open_demo(self) -> Job | None:
        from sim.demo.cache import demo_case_path

        if not self.settle_unsaved_changes(self.open_demo):
            return None
        return self.run_task("Preparing the demo case",
                             lambda p: load(demo_case_path(p), p), self._case_loaded,
                             replaces_case=True)

    def open_path(self, path: str | Path, password: str | None = None) -> Job | None:
        path = Path(path)
        if not self.settle_unsaved_changes(lambda: self.open_path(path, password)):
            return None
        if password is None:
            try:
                password = self.session.password_for_open(path)
            except Cancelled:
                return None
        return self.run_task(f"Opening {path.name}", lambda p: load(path, p, password=password),
                             lambda case: self._case_loaded(case, path, password),
                             replaces_case=True)

    def _case_loaded(self, case: Case, path: Path | None = None,
                     password: str | None = None) -> None:
        self.set_case(case)
        if path is not None:
            prefs.add_recent_file(str(path))
            self.case_path = Path(path) if sniff(path) else None
        else:
            self.case_path = None
        self.session.saved(self.case_path, password)
        self.status_label.setText(f"Opened {case.name} ({len(case.scene)} objects)")

    @property
    def case(self) -> Case | None:
        return self.workbench.case

    def set_case(self, case: Case) -> None:
        with self.view.renderer.batched():  # every view and panel below draws the 3D view once
            self._set_case(case)

    def _set_case(self, case: Case) -> None:
        self.workbench.set_case(case)
        self.view.set_case(case)
        self.tree.set_case(case)
        self.properties.set_case(case)
        self.live.set_case(case)
        self.simulate.set_case(case)
        self.analysis.set_case(case)
        self.mesh_panel.set_case(case)
        self.place.set_case(case)
        self.rehearse.set_case(case)
        self.inspect.set_case(case)
        self.imaging.set_case(case)
        self.setWindowTitle(f"{case.name} — Twinsight")
        self.session.set_case(case)

    def open_dialog(self) -> None:
        open_with(self, "Open file", SUPPORTED_FILES, self.open_path)

    def add_dialog(self) -> None:
        open_with(self, "Add to case", SUPPORTED_FILES, self.add_path)

    def add_with_units_dialog(self) -> None:
        open_with(self, "Add to case", SUPPORTED_FILES, self._add_asking_units)

    def _add_asking_units(self, path: str) -> None:
        from PyQt6.QtWidgets import QInputDialog

        labels = {"millimetres (mm)": "mm", "centimetres (cm)": "cm", "metres (m)": "m",
                  "inches (in)": "in"}
        label, ok = QInputDialog.getItem(self, "Units", f"{Path(path).name} is in:",
                                         list(labels), 0, False)
        if ok and label:
            self.add_path(path, units=labels[label])

    def add_path(self, path: str | Path, units: str | None = None) -> Job:
        """Read a file in the background and add its objects and markups to the open case
        (one undoable step); with no case open, open it instead. ``units``: the length unit
        of a file that does not say (STL, OBJ …), converted to mm."""
        path = Path(path)
        if self.case is None and units is None:
            return self.open_path(path)
        if self.case is None:
            self.set_case(Case(name="Untitled"))
            self.case_path = None
            self.session.saved(None, None)
        return self.run_task(f"Adding {path.name}", lambda p: load(path, p, units=units),
                             lambda loaded: self._add_loaded(loaded, path))

    def _add_loaded(self, loaded: Case, path: Path) -> None:
        case = self.case
        objects, markups = list(loaded.scene), list(loaded.markups)
        with case.history.macro(f"Add {path.name}"):
            for obj in objects:
                loaded.scene.remove(obj)
                case.scene.add(obj)
            for markup in markups:
                loaded.markups.remove(markup)
                case.markups.add(markup)
        prefs.add_recent_file(str(path))
        self.status_label.setText(f"Added {len(objects)} object(s) from {path.name}")

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = prefs.recent_files()
        if not items:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for path in items:
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))

    def save(self) -> None:
        self._save(None)

    def save_as(self) -> None:
        self._save_as(None)

    def _save(self, then) -> None:
        if self.case_path is None:
            self._save_as(then)
        else:
            self.save_to(self.case_path, then=then)

    def _save_as(self, then) -> None:
        choice = self.session.save_as_dialog()  # .twin, encrypted .twin or folder
        if choice is not None:
            self.save_to(*choice, then=then)

    def save_to(self, path: Path, password: str | None = None, folder: bool | None = None,
                then=None) -> Job | None:
        """Save in the background; ``then()`` runs after a successful save."""
        case = self.case
        if case is None:
            return None
        path = Path(path)
        if password is None and path == self.case_path:
            password = self.session.password  # Save keeps an encrypted case encrypted
        try:
            job = self.session.save_job(case, path, password, folder)
        except TwinsightError as exc:
            self.last_error = show_error(self, "Saving failed", exc)
            return None

        def done(result):
            self.case_path = Path(result)
            prefs.add_recent_file(str(result))
            self.session.saved(self.case_path, password)
            self.status_label.setText(f"Saved {result}")
            saved.append(result)

        saved: list = []
        after = (lambda _job: then() if saved else None) if then is not None else None
        return self.run_task("Saving", job, done, on_finished=after)

    def export_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export screenshot", "twinsight.png",
                                              "PNG images (*.png)")
        if path:
            self.view.screenshot(path)
            self.status_label.setText(f"Screenshot saved to {path}")

    # -- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.open_dropped([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]):
            event.acceptProposedAction()

    def open_dropped(self, paths: list[str]) -> bool:
        """Open the first of the files dropped on the window or the 3D view."""
        if paths:
            self.open_path(paths[0])
        return bool(paths)

    # -- selection -----------------------------------------------------------------------------
    def _on_view_click(self, obj) -> None:
        if self.case is not None:
            self.case.scene.select(obj)

    def dicom_browser(self) -> None:
        from viewer.dicom_browser import show_dicom_browser

        show_dicom_browser(self)

    def sweep_dialog(self, kind: str = "fem", base=None, params=None, qois=None,
                     temporary_base: bool = False):
        """Open the Sweep dialog (Tools > Sweep…, and the Analysis and Place panels)."""
        from viewer.sweep_dialog import open_sweep_dialog

        self.sweep = open_sweep_dialog(self, kind, base, params, qois, temporary_base)
        return self.sweep

    def about(self) -> None:
        QMessageBox.about(self, "About Twinsight", about_text())


def about_text() -> str:
    from sim.fem.linsolve import solver_path  # (says why, when CHOLMOD is not used)

    return (f"<b>Twinsight {__version__}</b><br>Digital-twin workbench for surgical planning, "
            f"rehearsal and engineering inspection.<br><br>VTK {vtkVersion.GetVTKVersion()}"
            f"<br>Qt {QT_VERSION_STR}<br>Sparse solver: {solver_path()}"
            f"<br>Licence: GPL-3.0-or-later")
