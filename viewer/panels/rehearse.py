"""The Rehearse panel: author a scenario from the plan, walk a trainee through it, review.

Instructor: *Build from plan* makes a first scenario (stored in the case, saved with it);
*Edit scenario…* opens the authoring dialog (every field of the documented JSON format, with
the weights and the time limit as form fields; validated on Apply). Trainee: *Start attempt*
runs the case's simulation with only the step's objects shown and only its instruments and
devices movable; *Next step* ends a step; live metrics show beside the instructions.
Review: every finished attempt is listed side by side, with the progress plot, the OSATS
rating, saving, replay and HTML/PDF reports. Dialogs are non-modal (``show()``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.rehearsal.attempt import Attempt, attempt_from_session, save_attempt
from sim.rehearsal.scenario import Scenario, scenario_from_case, store_in_case
from sim.rehearsal.scoring import METRICS, OSATS_DOMAINS
from viewer.errors import show_error

log = logging.getLogger(__name__)


class AuthoringDialog(QDialog):
    """Edit a scenario: name, time limit and weights as fields, everything else as JSON."""

    def __init__(self, panel, scenario: Scenario) -> None:
        super().__init__(panel)
        self.panel = panel
        self.setWindowTitle("Rehearsal scenario")
        self.resize(760, 720)
        col = QVBoxLayout(self)
        form = QFormLayout()
        self.limit_spin = QDoubleSpinBox()
        self.limit_spin.setRange(0, 1e5)
        self.limit_spin.setSpecialValueText("none")
        self.limit_spin.setSuffix(" s")
        self.limit_spin.setValue(scenario.time_limit_s or 0.0)
        form.addRow("Time limit", self.limit_spin)
        col.addLayout(form)
        weights = QGroupBox("Score weights (0 leaves a metric out)")
        wf = QFormLayout(weights)
        self.weight_spins = {}
        for key, m in METRICS.items():
            s = QDoubleSpinBox()
            s.setRange(0, 100)
            s.setValue(scenario.weights.get(key, 1.0))
            wf.addRow(m.label, s)
            self.weight_spins[key] = s
        col.addWidget(weights)
        col.addWidget(QLabel("Steps (instructions, objects, instruments, criteria, time limits, "
                             "bands), structures (thresholds) and devices:"))
        self.editor = QPlainTextEdit(json.dumps(scenario.to_dict(), indent=1))
        col.addWidget(self.editor, 1)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        col.addWidget(self.message)
        row = QHBoxLayout()
        apply_ = QPushButton("Apply")
        apply_.clicked.connect(self.apply)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        row.addStretch(1)
        row.addWidget(apply_)
        row.addWidget(close)
        col.addLayout(row)

    def scenario(self) -> Scenario:
        data = json.loads(self.editor.toPlainText())
        data["time_limit_s"] = self.limit_spin.value() or None
        scoring = data.setdefault("scoring", {})
        scoring["weights"] = {k: s.value() for k, s in self.weight_spins.items()
                              if s.value() != 1.0}
        return Scenario.from_dict(data)

    def apply(self) -> Scenario | None:
        try:
            sc = self.scenario()
        except json.JSONDecodeError as exc:
            self.message.setText(f"Not valid JSON: {exc}")
            return None
        except TwinsightError as exc:
            self.message.setText(str(exc))
            return None
        self.panel.set_scenario(sc)
        self.message.setText("Applied and stored in the case (saved with it).")
        return sc


class ReviewDialog(QDialog):
    """Attempts side by side, progress over attempts, replay timeline, OSATS, reports."""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.setWindowTitle("Review attempts")
        self.resize(900, 700)
        col = QVBoxLayout(self)
        self.table = QTableWidget()
        col.addWidget(self.table, 1)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, 2.4))
        self.canvas = FigureCanvasQTAgg(self.figure)
        col.addWidget(self.canvas, 1)
        osats = QGroupBox("OSATS global rating of the selected attempt (1-5)")
        of = QFormLayout(osats)
        self.osats_spins = {}
        for d in OSATS_DOMAINS:
            s = QSpinBox()
            s.setRange(0, 5)
            s.setSpecialValueText("–")
            of.addRow(d, s)
            self.osats_spins[d] = s
        col.addWidget(osats)
        row = QHBoxLayout()
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline_label = QLabel("")
        row.addWidget(QLabel("Replay"))
        row.addWidget(self.timeline, 1)
        row.addWidget(self.timeline_label)
        col.addLayout(row)
        row = QHBoxLayout()
        for text, slot in (("Save rating", self.save_rating), ("Save attempt…", self.save_dialog),
                           ("Report…", self.report_dialog)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        col.addLayout(row)
        self.table.currentCellChanged.connect(lambda *_: self._selected())
        self.timeline.valueChanged.connect(self._scrub)
        self.refresh()

    @property
    def attempts(self) -> list[Attempt]:
        return self.panel.attempts

    def selected(self) -> Attempt | None:
        c = self.table.currentColumn()
        return self.attempts[c - 1] if 1 <= c <= len(self.attempts) else (
            self.attempts[-1] if self.attempts else None)

    def refresh(self) -> None:
        atts = self.attempts
        rows = ["Passed", "Score"] + [f"{s.title}" for s in self.panel.scenario.steps] + [
            m.label for m in METRICS.values()] + ["OSATS total"]
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(atts) + 1)
        self.table.setHorizontalHeaderLabels(["", *[f"#{i + 1} {a.trainee}"
                                                    for i, a in enumerate(atts)]])
        for r, label in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(label))
        for c, a in enumerate(atts, start=1):
            tot = a.metrics["total"]
            cells = ["yes" if a.scores["passed"] else "no", f"{a.scores['score']:.1f}"]
            cells += [f"{s['score']:.1f} {'✓' if s['passed'] else '✗'}" for s in a.scores["steps"]]
            cells += ["–" if tot.get(k) is None else f"{tot[k]:.2f}" for k in METRICS]
            cells.append(str(sum(a.osats.values())) if a.osats else "–")
            for r, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._plot()
        self._selected()

    def _plot(self) -> None:
        self.figure.clear()
        ax = self.figure.add_subplot()
        xs = list(range(1, len(self.attempts) + 1))
        ax.plot(xs, [a.scores["score"] for a in self.attempts], "o-", label="overall")
        for k, s in enumerate(self.panel.scenario.steps):
            ax.plot(xs, [a.scores["steps"][k]["score"] for a in self.attempts], ".--", label=s.id)
        ax.set_xticks(xs)
        ax.set_ylim(0, 105)
        ax.set_xlabel("Attempt")
        ax.set_ylabel("Score")
        ax.legend(fontsize=7)
        self.figure.tight_layout()
        self.canvas.draw_idle()

    def _selected(self) -> None:
        a = self.selected()
        for d, s in self.osats_spins.items():
            s.setValue(a.osats.get(d, 0) if a else 0)
        self.timeline.setRange(0, a.steps if a else 0)
        self.timeline.setValue(a.steps if a else 0)

    def _scrub(self, step: int) -> None:
        """Show the replayed state at ``step`` (re-run from the recorded inputs)."""
        a = self.selected()
        if a is None:
            return
        self.timeline_label.setText(f"{step * a.dt:.2f} s")
        self.panel.show_replay(a, step)

    def save_rating(self) -> None:
        a = self.selected()
        if a is not None:
            a.osats = {d: s.value() for d, s in self.osats_spins.items() if s.value()}
            self.refresh()

    def save_dialog(self) -> None:
        a = self.selected()
        if a is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save attempt", "attempt.json",
                                              "Attempts (*.json)")
        if path:
            save_attempt(a, path)

    def report_dialog(self) -> None:
        a = self.selected()
        if a is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Attempt report", "report.html",
                                              "HTML (*.html);;PDF (*.pdf)")
        if path:
            self.panel.write_report(a, path)


class RehearsePanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.setObjectName("rehearsePanel")
        self.window = window
        self.case = None
        self.scenario: Scenario | None = None
        self.world = None
        self.session = self.loop = self.display = None
        self.attempts: list[Attempt] = []
        self.trainee = "Trainee"
        self._hidden: list = []
        self.author_dialog: AuthoringDialog | None = None
        self.review_dialog: ReviewDialog | None = None
        col = QVBoxLayout(self)
        self.title = QLabel("No scenario: build one from the case's plan.")
        self.title.setWordWrap(True)
        col.addWidget(self.title)
        row = QHBoxLayout()
        self.build_button = QPushButton("Build from plan")
        self.build_button.clicked.connect(self.build)
        self.edit_button = QPushButton("Edit scenario…")
        self.edit_button.clicked.connect(self.edit)
        row.addWidget(self.build_button)
        row.addWidget(self.edit_button)
        col.addLayout(row)
        box = QGroupBox("Attempt")
        bl = QVBoxLayout(box)
        self.step_label = QLabel("")
        self.step_label.setObjectName("rehearseStep")
        self.step_label.setWordWrap(True)
        bl.addWidget(self.step_label)
        self.metrics_label = QLabel("")
        self.metrics_label.setObjectName("rehearseMetrics")
        bl.addWidget(self.metrics_label)
        row = QHBoxLayout()
        self.start_button = QPushButton("Start attempt")
        self.start_button.clicked.connect(self.start)
        self.next_button = QPushButton("Next step")
        self.next_button.clicked.connect(self.next_step)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        for b in (self.start_button, self.next_button, self.stop_button):
            row.addWidget(b)
        bl.addLayout(row)
        col.addWidget(box)
        self.review_button = QPushButton("Review attempts…")
        self.review_button.clicked.connect(self.review)
        col.addWidget(self.review_button)
        col.addStretch(1)
        self.ticker = QTimer(self)
        self.ticker.setInterval(100)
        self.ticker.timeout.connect(self._tick)
        self._update()

    # -- scenario -------------------------------------------------------------------------------
    def set_case(self, case) -> None:
        self.stop()
        self.case, self.world, self.attempts = case, None, []
        try:
            self.scenario = scenario_from_case(case)
        except TwinsightError as exc:
            log.warning("the case's rehearsal scenario is invalid: %s", exc)
            self.scenario = None
        self._update()

    def set_scenario(self, scenario: Scenario) -> None:
        self.scenario, self.world = scenario, None
        if self.case is not None:
            store_in_case(self.case, scenario)
        self._update()

    def build(self) -> Scenario | None:
        from sim.rehearsal.builder import build_scenario

        try:
            sc = build_scenario(self.case)
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot build a scenario", exc)
            return None
        self.set_scenario(sc)
        return sc

    def edit(self) -> AuthoringDialog | None:
        if self.scenario is None:
            return None
        self.author_dialog = AuthoringDialog(self, self.scenario)
        self.author_dialog.show()
        return self.author_dialog

    # -- attempt --------------------------------------------------------------------------------
    def _world(self, progress):
        from sim.rehearsal.session import RehearsalWorld

        if self.world is None or self.world.scenario is not self.scenario:
            self.world = RehearsalWorld(self.scenario, self.case, progress)
        return self.world

    def start(self):
        if self.scenario is None or self.case is None:
            return None
        self.stop()
        return self.window.run_task("Preparing the rehearsal", self._world, self._ready)

    def _ready(self, world) -> None:
        from sim.interaction.loop import SimulationLoop
        from viewer.interaction.sim_display import SimulationDisplay

        self.session = world.session()
        # Real-time: simulated seconds are the trainee's seconds.
        self.loop = SimulationLoop(self.session, 1.0 / self.scenario.setup.dt)
        self.display = SimulationDisplay(self.window.view.plotter, self.loop, parent=self)
        self.display.refresh(force=True)
        self._show_step()
        self.loop.start()
        self.ticker.start()
        self._update()

    def post(self, event: dict) -> None:
        """An input from the trainee (instrument or device pose, grab ...), applied in order."""
        if self.loop is not None:
            self.loop.post(event)

    def next_step(self) -> None:
        if self.loop is None:
            return
        self.loop.post({"type": "next"})

    def stop(self) -> Attempt | None:
        """End the attempt (finished or not) and keep it for review."""
        self.ticker.stop()
        attempt = None
        if self.loop is not None:
            self.loop.stop(5.0)
            attempt = attempt_from_session(self.session, self.trainee)
            self.attempts.append(attempt)
            self.step_label.setText(
                f"Attempt {len(self.attempts)}: {'PASSED' if attempt.scores['passed'] else 'FAILED'}"
                f", score {attempt.scores['score']:.1f}")
        if self.display is not None:
            self.display.close()
            self.display.deleteLater()
        self.loop = self.display = self.session = None
        self._restore_visibility()
        if self.review_dialog is not None and attempt is not None:
            self.review_dialog.refresh()
        self._update()
        return attempt

    def shutdown(self) -> None:
        self.ticker.stop()
        if self.loop is not None:
            self.loop.stop(5.0)

    def _show_step(self) -> None:
        """Only the step's objects are visible (the simulated body is drawn by the display)."""
        step = self.session.current_step
        self._restore_visibility()
        adapters = self.window.view.renderer.adapters
        keep = set(step.objects) - {self.scenario.body}
        for obj in self.case.scene:
            if (obj.name in keep and obj.name not in self.scenario.instrument_names):
                continue
            adapter = adapters.get(obj.uid)
            for a in (adapter.actors if adapter else []):
                if a.GetVisibility():
                    a.SetVisibility(False)
                    self._hidden.append(a)
        self._shown_step = self.session.step_number
        self.step_label.setText(f"<b>Step {self.session.step_number + 1} of "
                                f"{len(self.scenario.steps)}: {step.title}</b><br>"
                                f"{step.instructions}")
        self.window.view.plotter.render()

    def _restore_visibility(self) -> None:
        for a in self._hidden:
            a.SetVisibility(True)
        self._hidden = []

    def _tick(self) -> None:
        s = self.session
        if s is None:
            return
        if s.finished:
            self.stop()
            return
        if s.step_number != getattr(self, "_shown_step", -1):
            self._show_step()
        m = s.tracker.current
        self.metrics_label.setText(
            f"time {s.time - m.start_s:.1f} s · path {m.path_mm:.0f} mm · moves {m.movements} · "
            f"idle {m.idle_s:.1f} s\nforce peak {m.peak_force_n:.2f} N · tissue moved "
            f"{m.peak_displacement_mm:.1f} mm · damage {m.damage_time_s:.1f} s · critical "
            f"contacts {sum(m.contacts.values())}")

    # -- review ---------------------------------------------------------------------------------
    def review(self) -> ReviewDialog | None:
        if self.scenario is None:
            return None
        self.review_dialog = ReviewDialog(self)
        self.review_dialog.show()
        return self.review_dialog

    def show_replay(self, attempt: Attempt, step: int) -> None:
        """Re-run the attempt's inputs up to ``step`` and show that state in the view."""
        from sim.rehearsal.attempt import run_events

        if self.loop is not None or self.world is None:
            return
        session = run_events(self.world, step, attempt.events_by_step())
        self.replay_session = session
        pts = session.visual_points()
        if pts is not None:
            self.window.status_label.setText(
                f"Replay at {session.time:.2f} s: step {session.step_number + 1}, tissue moved "
                f"{float(abs(session.sim.displacement).max()):.1f} mm")

    def write_report(self, attempt: Attempt, path: str | Path):
        from sim.rehearsal.report import write_report

        history = [a for a in self.attempts if a is not attempt and a.trainee == attempt.trainee]
        world = self.world
        return self.window.run_task("Writing the report",
                                    lambda p: write_report(world, attempt, path, history, p),
                                    lambda out: self.window.status_label.setText(
                                        f"Report saved to {out}"))

    def _update(self) -> None:
        has = self.scenario is not None
        live = self.loop is not None
        if has:
            self.title.setText(f"<b>{self.scenario.name}</b>: {len(self.scenario.steps)} steps"
                               + (f", {self.scenario.time_limit_s:g} s limit"
                                  if self.scenario.time_limit_s else ""))
        self.build_button.setEnabled(self.case is not None and not live)
        self.edit_button.setEnabled(has and not live)
        self.start_button.setEnabled(has and not live)
        self.next_button.setEnabled(live)
        self.stop_button.setEnabled(live)
        self.review_button.setEnabled(has)
