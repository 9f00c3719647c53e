"""The review of rehearsal attempts: scores explained, learning curves, cohort, replay,
OSATS rating, saving and reports (opened from the Rehearse panel)."""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.rehearsal.attempt import (
    Attempt,
    save_attempt,
)
from sim.rehearsal.learning import (
    COHORT_COLUMNS,
    Proficiency,
    cohort,
    learning_curve,
    learning_figure,
    trainees,
)
from sim.rehearsal.scoring import FORMULA, FORMULA_LINES, METRICS, OSATS_DOMAINS, what_cost_points
from viewer.errors import show_error
from viewer.panels.spin import button, save_to, wrapped_label

log = logging.getLogger(__name__)


EXPLAIN_COLUMNS = ["Step", "Criterion / metric", "Measured", "Points", "Lost", "Band", "Note"]
EXPLAIN_WIDTHS = (150, 300, 210, 60, 60, 330, 300)  # at most, px: the full text is its tooltip
COHORT_HEADERS = ["Trainee", "Attempts", "First", "Best", "Last", "Trend / attempt",
                  "Proficient", "Attempts to proficiency", "Threshold", "Last attempt"]



class ReviewDialog(QDialog):
    """Attempts side by side; per attempt how its score was computed (every criterion and
    metric with its measured value, band and points gained or lost, and what cost the most);
    the trainee's learning curve against the instructor's proficiency threshold; the cohort
    table (CSV export); replay timeline, OSATS, re-scoring with the current formula, reports."""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.setWindowTitle("Review attempts")
        self.resize(1180, 860)
        col = QVBoxLayout(self)
        self.table = QTableWidget()
        self.table.verticalHeader().hide()
        col.addWidget(self.table, 2)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        mid = QHBoxLayout()
        self.tabs = QTabWidget()
        # Score explained: the selected attempt.
        page = QWidget()
        pl = QVBoxLayout(page)
        self.costs_label = wrapped_label("reviewCosts")
        self.costs_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pl.addWidget(self.costs_label)
        self.explain_table = QTableWidget(0, len(EXPLAIN_COLUMNS))
        self.explain_table.setHorizontalHeaderLabels(EXPLAIN_COLUMNS)
        self.explain_table.verticalHeader().hide()
        self.explain_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.explain_table.setWordWrap(False)
        self.explain_table.verticalHeader().setDefaultSectionSize(22)
        # Its columns are capped (EXPLAIN_WIDTHS) so the points show without scrolling
        # sideways: the application's column fitter must leave them alone.
        self.explain_table.setProperty("columnsFitted", True)
        pl.addWidget(self.explain_table, 1)
        formula = QLabel(" ".join(FORMULA_LINES))
        formula.setWordWrap(True)
        formula.setStyleSheet("color: gray; font-size: 8pt")
        pl.addWidget(formula)
        self.tabs.addTab(page, "Score explained")
        # Learning curve: one trainee.
        page = QWidget()
        pl = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Trainee"))
        self.trainee_combo = QComboBox()
        self.trainee_combo.currentIndexChanged.connect(lambda _i: self._plot())
        row.addWidget(self.trainee_combo, 1)
        row.addWidget(QLabel("Proficient at"))
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 100.0)
        self.threshold_spin.setDecimals(1)
        self.threshold_spin.setSuffix(" / 100")
        self.threshold_spin.setToolTip("The instructor's proficiency threshold: a passed attempt "
                                       "scoring at least this (kept in the scenario)")
        row.addWidget(self.threshold_spin)
        self.runs_spin = QSpinBox()
        self.runs_spin.setRange(1, 20)
        self.runs_spin.setSuffix(" in a row")
        row.addWidget(self.runs_spin)
        for text, slot, tip in (
                ("Apply", self.apply_threshold, "Keep this threshold in the scenario"),
                ("From selected attempt", self.threshold_from_selected,
                 "The selected attempt's score (e.g. an expert's) becomes the threshold")):
            row.addWidget(button(text, slot, tip))
        pl.addLayout(row)
        self.curve_label = wrapped_label("reviewCurve")
        pl.addWidget(self.curve_label)
        self.figure = Figure(figsize=(6, 3.2))
        self.canvas = FigureCanvasQTAgg(self.figure)
        pl.addWidget(self.canvas, 1)
        self.tabs.addTab(page, "Learning curve")
        # Cohort: a row per trainee.
        page = QWidget()
        pl = QVBoxLayout(page)
        self.cohort_table = QTableWidget(0, len(COHORT_HEADERS))
        self.cohort_table.setHorizontalHeaderLabels(COHORT_HEADERS)
        self.cohort_table.verticalHeader().hide()
        self.cohort_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        pl.addWidget(self.cohort_table, 1)
        b = button("Export CSV…", self.cohort_dialog)
        pl.addWidget(b, 0, Qt.AlignmentFlag.AlignRight)
        self.tabs.addTab(page, "Cohort")
        mid.addWidget(self.tabs, 3)
        osats = QGroupBox("OSATS rating of the selected attempt (1-5)")
        of = QFormLayout(osats)
        self.osats_spins = {}
        for d in OSATS_DOMAINS:
            s = QSpinBox()
            s.setRange(0, 5)
            s.setSpecialValueText("–")
            of.addRow(d, s)
            self.osats_spins[d] = s
        mid.addWidget(osats, 1)
        col.addLayout(mid, 5)
        row = QHBoxLayout()
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setToolTip("Replay the selected attempt: the 3D view shows that moment")
        self.timeline_label = QLabel("")
        row.addWidget(QLabel("Replay"))
        row.addWidget(self.timeline, 1)
        row.addWidget(self.timeline_label)
        col.addLayout(row)
        # Replaying re-runs the simulation: do it once the slider rests, not for every tick.
        self._scrub_timer = QTimer(self)
        self._scrub_timer.setSingleShot(True)
        self._scrub_timer.setInterval(150)
        self._scrub_timer.timeout.connect(self._show_moment)
        row = QHBoxLayout()
        self.rescore_button = button("Re-score with the current formula", self.rescore_old,
                                     f"Attempts scored with an older formula are re-scored "
                                     f"with formula {FORMULA} from their recorded metrics")
        row.addWidget(self.rescore_button)
        for text, slot in (("Save rating", self.save_rating), ("Save attempt…", self.save_dialog),
                           ("Report…", self.report_dialog)):
            row.addWidget(button(text, slot))
        col.addLayout(row)
        self.message = wrapped_label("reviewMessage")
        col.addWidget(self.message)
        self.table.currentCellChanged.connect(lambda *_: self._selected())
        self.timeline.valueChanged.connect(self._scrub)
        # However the dialog goes away (its close button, Escape, done()), the 3D view
        # leaves the replay: reject() and done() hide the dialog without a closeEvent.
        self.finished.connect(self._end_replay)
        self.refresh()

    @property
    def attempts(self) -> list[Attempt]:
        return self.panel.attempts

    @property
    def proficiency(self) -> Proficiency:
        return Proficiency.of(self.panel.scenario)

    def selected(self) -> Attempt | None:
        c = self.table.currentColumn()
        return self.attempts[c - 1] if 1 <= c <= len(self.attempts) else (
            self.attempts[-1] if self.attempts else None)

    def select(self, index: int) -> None:
        """Select attempt ``index`` (0-based) as a click on its column would."""
        self.table.setCurrentCell(1, index + 1)

    def refresh(self) -> None:
        atts = self.attempts
        steps = self.panel.scenario.steps
        rows = ["Passed", "Score"] + [f"{s.title}" for s in steps] + [
            m.label for m in METRICS.values()] + ["OSATS total"]
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(atts) + 1)
        self.table.setHorizontalHeaderLabels(["", *[f"#{i + 1} {a.trainee}"
                                                    for i, a in enumerate(atts)]])
        for r, label in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(label))
        for c, a in enumerate(atts, start=1):
            tot = a.metrics.get("total", {})
            sc = a.scores or {}
            old = "" if a.formula == FORMULA else f" (formula {a.formula})"
            cells = ["yes" if sc.get("passed") else "no", f"{sc.get('score', 0.0):.1f}{old}"]
            st = sc.get("steps", [])
            cells += [f"{st[k]['score']:.1f} {'✓' if st[k]['passed'] else '✗'}"
                      if k < len(st) else "–" for k in range(len(steps))]
            cells += ["–" if tot.get(k) is None else f"{tot[k]:.2f}" for k in METRICS]
            cells.append(str(sum(a.osats.values())) if a.osats else "–")
            for r, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        olds = sum(a.formula != FORMULA for a in atts)
        self.rescore_button.setEnabled(olds > 0)
        self.rescore_button.setText(f"Re-score {olds} with the current formula" if olds
                                    else "Re-score with the current formula")
        prof = self.proficiency
        for spin, value in ((self.threshold_spin, prof.score), (self.runs_spin, prof.consecutive)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        names = trainees(atts)
        current = self.trainee_combo.currentData()
        self.trainee_combo.blockSignals(True)
        self.trainee_combo.clear()
        for n in names:
            self.trainee_combo.addItem(n or "(unnamed)", n)
        if current in names:
            self.trainee_combo.setCurrentIndex(names.index(current))
        self.trainee_combo.blockSignals(False)
        self._cohort()
        self._plot()
        self._selected()

    def curve(self):
        """The learning curve of the trainee shown (None without attempts)."""
        if not self.attempts or self.trainee_combo.count() == 0:
            return None
        return learning_curve(self.attempts, self.trainee_combo.currentData() or "",
                              self.proficiency)

    def _plot(self) -> None:
        curve = self.curve()
        if curve is None:
            self.figure.clear()
            self.curve_label.setText("No attempts yet.")
        else:
            learning_figure(curve, self.figure)
            trends = "; ".join(f"{r[0]} {r[3]} per attempt ({r[4]})" for r in curve.trend_rows()
                               if r[4] != "–")
            self.curve_label.setText(f"<b>{curve.summary()}</b><br>{trends}")
        self.canvas.draw_idle()

    def _cohort(self) -> None:
        rows = cohort(self.attempts, self.proficiency)
        self.cohort_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, key in enumerate(COHORT_COLUMNS):
                v = row[key]
                text = ("–" if v is None else "yes" if v is True else "no" if v is False
                        else f"{v:.1f}" if isinstance(v, float) else str(v) or "(unnamed)")
                self.cohort_table.setItem(r, c, QTableWidgetItem(text))
        self.cohort_table.resizeColumnsToContents()

    def _explain(self, a: Attempt | None) -> None:
        self.explain_table.setRowCount(0)
        if a is None:
            self.costs_label.setText("")
            return
        sc = a.scores or {}
        if a.formula != FORMULA:
            self.costs_label.setText(
                f"<b>#{self.attempts.index(a) + 1}</b>: {sc.get('score', 0.0):.1f} / 100 with "
                f"the old scoring formula {a.formula} (before completion gating), which does "
                f"not explain itself: press <i>Re-score</i> for formula {FORMULA}.")
            return
        costs = what_cost_points(sc)
        note = ""
        old = sc.get("rescored_from")
        if old:
            note = (f" Re-scored with formula {FORMULA} (was "
                    f"{old.get('score') or 0.0:.1f} with formula {old.get('formula')}).")
        self.costs_label.setText(
            f"<b>#{self.attempts.index(a) + 1} {a.trainee}: {sc['score']:.1f} / 100, "
            f"{'passed' if sc['passed'] else 'failed'}.</b>{note}<br>What cost the points: "
            + ("; ".join(costs) if costs else "nothing - full marks."))
        rows = []
        for st in sc.get("steps", []):
            for k, r in enumerate(st.get("explain", [])):
                rows.append((st["title"] if k == 0 else "", r["what"], r["measured"],
                             f"{r['points']:+.1f}", f"{-r['lost']:.1f}" if r["lost"] else "0",
                             r["band"], r.get("note", ""), r["kind"]))
            rows.append(("", "Step score", "passed" if st["passed"] else "failed",
                         f"{st['score']:.1f}", "", "", "", "total"))
        self.explain_table.setRowCount(len(rows))
        from PyQt6.QtGui import QBrush, QColor

        red = QBrush(QColor("#b3261e"))
        for i, row in enumerate(rows):
            for j, text in enumerate(row[:-1]):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if row[-1] == "safety" or (j in (3, 4) and text.startswith("-")):
                    item.setForeground(red)
                if row[-1] == "total" or j == 0:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.explain_table.setItem(i, j, item)
        self.explain_table.resizeColumnsToContents()
        for j, most in enumerate(EXPLAIN_WIDTHS):
            if self.explain_table.columnWidth(j) > most:
                self.explain_table.setColumnWidth(j, most)

    def rescore_old(self) -> list[str]:
        """Re-score the attempts scored with an older formula (one undoable case edit) and
        say what changed."""
        from sim.rehearsal.attempt import rescore

        done = []
        for i, a in enumerate(self.attempts):
            if a.formula != FORMULA:
                try:
                    done.append(f"#{i + 1}: {rescore(a, self.panel.scenario)}")
                except TwinsightError as exc:
                    done.append(f"#{i + 1}: not re-scored: {exc}")
        if done:
            self.panel.keep_attempts(f"Re-score {len(done)} attempt(s)")
            self.message.setText("\n".join(done))
            self.panel.window.status_label.setText(
                f"Re-scored {len(done)} attempt(s) with scoring formula {FORMULA}")
        self.refresh()
        return done

    def apply_threshold(self) -> None:
        """Keep the threshold in the scenario (an undoable case edit)."""
        import copy

        sc = copy.deepcopy(self.panel.scenario)
        sc.proficiency = {"score": round(self.threshold_spin.value(), 1),
                          "consecutive": self.runs_spin.value()}
        world = self.panel.world  # the simulation is the same: replays need not rebuild it
        self.panel.set_scenario(sc, "Set the proficiency threshold")
        if world is not None and self.panel.scenario is sc:
            world.scenario = sc
            self.panel.world = world
        self.refresh()

    def threshold_from_selected(self) -> None:
        a = self.selected()
        if a is not None:
            self.threshold_spin.setValue(float(int(10 * (a.scores or {}).get("score", 0)) / 10))
            self.apply_threshold()

    def export_cohort(self, path: str | Path) -> Path:
        from sim.rehearsal.learning import write_cohort_csv

        out = write_cohort_csv(cohort(self.attempts, self.proficiency), path)
        self.message.setText(f"Cohort table saved to {out}")
        return out

    def cohort_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Cohort table", "cohort.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_cohort(path)
            except TwinsightError as exc:
                self.panel.window.last_error = show_error(self, "Cannot save the cohort", exc)

    def _selected(self) -> None:
        a = self.selected()
        self._explain(a)
        for d, s in self.osats_spins.items():
            s.setValue(a.osats.get(d, 0) if a else 0)
        self.timeline.setRange(0, a.steps if a else 0)
        self.timeline.setValue(a.steps if a else 0)

    def _scrub(self, step: int) -> None:
        a = self.selected()
        if a is None:
            return
        self.timeline_label.setText(f"{step * a.dt:.2f} s")
        self._scrub_timer.start()

    def _show_moment(self) -> None:
        """Show the replayed state at the slider's step (re-run from the recorded inputs)."""
        a = self.selected()
        if a is not None and self.isVisible():  # never after the dialog has gone
            self.panel.show_replay(a, self.timeline.value())

    def _end_replay(self, *_args) -> None:
        self._scrub_timer.stop()
        self.panel.end_replay()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._end_replay()
        super().closeEvent(event)

    def save_rating(self) -> None:
        a = self.selected()
        if a is not None:
            a.osats = {d: s.value() for d, s in self.osats_spins.items() if s.value()}
            self.panel.keep_attempts("Rate attempt")
            self.refresh()

    def save_dialog(self) -> None:
        a = self.selected()
        if a is not None:
            save_to(self, "Save attempt", "attempt.json", "Attempts (*.json)",
                    lambda path: save_attempt(a, path))

    def report_dialog(self) -> None:
        a = self.selected()
        if a is not None:
            save_to(self, "Attempt report", "report.html", "HTML (*.html);;PDF (*.pdf)",
                    lambda path: self.panel.write_report(a, path))
