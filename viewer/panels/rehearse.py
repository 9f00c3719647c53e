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

import logging
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.model.sections import section_events, set_section
from sim.rehearsal.attempt import (
    ATTEMPTS_SECTION,
    Attempt,
    attempt_from_session,
    attempts_from_case,
    store_attempts,
)
from sim.rehearsal.live_status import status_html, step_status, why_failed
from sim.rehearsal.scenario import SECTION, Scenario, scenario_from_case
from viewer import settings as prefs
from viewer.errors import show_error
from viewer.interaction.pointer import MOVE_MM, PointerController
from viewer.panels.rehearse_authoring import AuthoringDialog
from viewer.panels.rehearse_review import ReviewDialog
from viewer.panels.spin import CasePanel, button, wrapped_label

log = logging.getLogger(__name__)


def _move_mm_preference() -> float:
    try:
        return float(prefs.settings().value("rehearse/move_mm", MOVE_MM))
    except (TypeError, ValueError):
        return MOVE_MM

PLAN_PREFIX = "rehearsal:plan:"  # the overlays of the step being rehearsed


class RehearsePanel(CasePanel):
    def __init__(self, window) -> None:
        super().__init__(window, "rehearsePanel")
        self.scenario: Scenario | None = None
        self.world = None
        self.workbench = window.workbench  # runs the attempt's simulation; the headset shows it
        self.attempt_run = None  # the workbench simulation of the attempt in progress
        self.display = None
        self.attempts: list[Attempt] = []  # kept in the case (section rehearsal_attempts)
        self._storing_attempts = False
        self.trainee = "Trainee"
        self._hidden: list = []  # (scene object, actor) hidden by a step or a replay
        self._stored_scenario = None  # the section document this panel last wrote
        self.author_dialog: AuthoringDialog | None = None
        self.review_dialog: ReviewDialog | None = None
        self.replay_session = self.replay_display = None
        self._replay_attempt = None
        # The trainee's mouse and keys on the 3D view: the Simulate panel's controls, moving
        # whatever the Control list selects (an instrument or a device of the step).
        self.pointer = PointerController(window.view, self)
        self.pointer.mode = "none"  # plain drags turn the camera; Ctrl+drag moves the tool
        inner = QWidget()
        col = QVBoxLayout(inner)
        self.title = QLabel("No scenario: build one from the case's plan.")
        self.title.setWordWrap(True)
        col.addWidget(self.title)
        row = QHBoxLayout()
        self.build_button = button("Build from plan", self.build)
        self.edit_button = button("Edit scenario…", self.edit)
        row.addWidget(self.build_button)
        row.addWidget(self.edit_button)
        col.addLayout(row)
        box = QGroupBox("Attempt")
        bl = QVBoxLayout(box)
        self.step_label = wrapped_label("rehearseStep")
        bl.addWidget(self.step_label)
        self.image_label = QLabel()
        self.image_label.setObjectName("rehearseStepImage")
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.hide()
        bl.addWidget(self.image_label)
        self.metrics_label = wrapped_label("rehearseMetrics")
        bl.addWidget(self.metrics_label)
        self.criteria_label = QLabel("")  # the step's criteria met now or not, time left
        self.criteria_label.setObjectName("rehearseCriteria")
        self.criteria_label.setWordWrap(True)
        bl.addWidget(self.criteria_label)
        form = QFormLayout()
        self.control_combo = QComboBox()
        self.control_combo.setToolTip("What the mouse and keys move in the 3D view")
        self.control_combo.currentTextChanged.connect(self._control_changed)
        form.addRow("Control", self.control_combo)
        self.step_spin = QDoubleSpinBox()
        self.step_spin.setRange(0.1, 20.0)
        # A per-user preference, not a case setting: how far one key press moves the tool
        # is the trainee's taste and hand, the same for every scenario they rehearse.
        self.step_spin.setValue(_move_mm_preference())
        self.pointer.move_mm = self.step_spin.value()
        self.step_spin.setSuffix(" mm")
        self.step_spin.valueChanged.connect(self._step_size_changed)
        form.addRow("Move step", self.step_spin)
        bl.addLayout(form)
        bl.addWidget(QLabel("Along its axis:"))
        axis = QHBoxLayout()
        for text, tip, sign, turn in (("Withdraw", "Back along its axis (Page Up)", -1, False),
                                      ("Advance", "Forward along its axis (Page Down)", 1, False),
                                      ("⟲", "Roll about its axis (Shift+Page Up)", -1, True),
                                      ("⟳", "Roll about its axis (Shift+Page Down)", 1, True)):
            b = button(text, lambda _c, sg=sign, t=turn: self.pointer.slide(sg, t), tip)
            b.setMinimumWidth(40)
            axis.addWidget(b)
        bl.addLayout(axis)
        self.help_label = QLabel(
            "In the 3D view: Ctrl+drag moves, Ctrl+Shift+drag turns, Ctrl+wheel pushes; keys "
            "J/L I/K U/O move (Shift: turn); Page Down/Up advance/withdraw along the axis "
            "(Shift: roll). The dashed line is the planned trajectory.")
        self.help_label.setWordWrap(True)
        self.help_label.setStyleSheet("color: gray")
        bl.addWidget(self.help_label)
        row = QHBoxLayout()
        self.start_button = button("Start attempt", self.start)
        self.next_button = button("Next step", self.next_step)
        self.stop_button = button("Stop", self.stop)
        for b in (self.start_button, self.next_button, self.stop_button):
            row.addWidget(b)
        bl.addLayout(row)
        col.addWidget(box)
        self.review_button = button("Review attempts…", self.review)
        col.addWidget(self.review_button)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # text wraps
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.ticker = QTimer(self)
        self.ticker.setInterval(100)
        self.ticker.timeout.connect(self._tick)
        self.workbench.simulation_changed.connect(self._simulation_changed)
        self._update()

    # -- scenario -------------------------------------------------------------------------------
    def set_case(self, case) -> None:
        self.stop()
        self.end_replay()
        if self.review_dialog is not None:
            self.review_dialog.close()
            self.review_dialog = None
        if self.case is not None:
            section_events(self.case).changed.disconnect(self._section_changed)
        self.case, self.world = case, None
        self.attempts = attempts_from_case(case) if case is not None else []
        if case is not None:
            section_events(case).changed.connect(self._section_changed)
        self._load_scenario()

    def _load_scenario(self) -> None:
        try:
            self.scenario = scenario_from_case(self.case) if self.case is not None else None
        except TwinsightError as exc:
            log.warning("the case's rehearsal scenario is invalid: %s", exc)
            self.scenario = None
        self.world = None
        self._stored_scenario = self.case.sections.get(SECTION) if self.case else None
        self._update()

    def _section_changed(self, name: str) -> None:
        """The case's scenario changed behind this panel (undo, redo, a script)."""
        if name == SECTION and self.case.sections.get(SECTION) is not self._stored_scenario:
            self._load_scenario()
        elif name == ATTEMPTS_SECTION and not self._storing_attempts:
            self.attempts = attempts_from_case(self.case)
            if self.review_dialog is not None:
                self.review_dialog.refresh()

    def keep_attempts(self, text: str) -> None:
        """Store the attempts (with their ratings) in the case: one undoable step."""
        if self.case is None:
            return
        self._storing_attempts = True
        try:
            store_attempts(self.case, self.attempts, text)
        finally:
            self._storing_attempts = False

    def set_scenario(self, scenario: Scenario, text: str = "Edit rehearsal scenario") -> None:
        """Use ``scenario`` and keep it in the case: one undoable step, the case unsaved."""
        self.scenario, self.world = scenario, None
        if self.case is not None:
            doc = scenario.to_dict()
            self._stored_scenario = doc
            set_section(self.case, SECTION, doc, text)
        self._update()

    def build(self) -> Scenario | None:
        from sim.rehearsal.builder import build_scenario

        try:
            sc = build_scenario(self.case)
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot build a scenario", exc)
            return None
        self.set_scenario(sc, "Build scenario from plan")
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
        self.end_replay()
        return self.window.run_task("Preparing the rehearsal", self._world, self._ready)

    @property
    def session(self):
        return self.attempt_run.session if self.attempt_run is not None else None

    @property
    def loop(self):
        return self.attempt_run.loop if self.attempt_run is not None else None

    def _simulation_changed(self, running) -> None:
        """Another simulation replaced the attempt's (or a new case stopped it): the attempt
        ends and is kept, as if Stop had been pressed."""
        if self.attempt_run is not None and running is not self.attempt_run:
            self.stop()

    def _ready(self, world) -> None:
        # Real-time: simulated seconds are the trainee's seconds.
        self.attempt_run = self.workbench.run_simulation(
            world.session(), world.body_obj, owner="rehearsal",
            rate_hz=1.0 / self.scenario.setup.dt, world=world, start=False)
        self.display = self._make_display(self.loop)
        self.pointer.attach(self.display, self.loop)
        self._show_step()
        self.loop.start()
        self.ticker.start()
        self._update()

    def _make_display(self, loop):
        """The simulation display with the scenario's devices drawn at their event poses."""
        from viewer.interaction.sim_display import SimulationDisplay

        display = SimulationDisplay(self.window.view.plotter, loop, parent=self)
        for name, local in self.world.device_meshes.items():
            display.add_device(name, local)
        display.refresh(force=True)
        return display

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
        self.pointer.detach()
        attempt = None
        run, self.attempt_run = self.attempt_run, None
        if run is not None:
            if self.workbench.simulation is run:
                self.workbench.stop_simulation()
            run.stop(5.0)
            attempt = attempt_from_session(run.session, self.trainee)
            self.attempts.append(attempt)
            self.keep_attempts(f"Rehearsal attempt {len(self.attempts)}")
            self.step_label.setText(
                f"Attempt {len(self.attempts)}: {'PASSED' if attempt.scores['passed'] else 'FAILED'}"
                f", score {attempt.scores['score']:.1f}")
            self.image_label.hide()
            self.metrics_label.setText("")
            self.criteria_label.setText("<br>".join(why_failed(attempt.scores)))
        self.control_combo.clear()
        if self.display is not None:
            self.display.close()
            self.display.deleteLater()
        self.display = None
        self._clear_plan_lines()
        self._restore_visibility()
        if self.review_dialog is not None and attempt is not None:
            self.review_dialog.refresh()
        self._update()
        return attempt

    def shutdown(self) -> None:
        self.ticker.stop()
        self.pointer.detach()
        if self.attempt_run is not None:
            self.attempt_run.stop(5.0)

    def _show_step(self) -> None:
        """The step's instructions and picture; only its objects are visible; its
        instruments and devices are what the mouse and keys can move."""
        step = self.session.current_step
        self._show_objects(self.session.step_number, self.display)
        self._shown_step = self.session.step_number
        self.step_label.setText(f"<b>Step {self.session.step_number + 1} of "
                                f"{len(self.scenario.steps)}: {step.title}</b><br>"
                                f"{step.instructions}")
        self._show_image(step.image)
        self.control_combo.blockSignals(True)
        self.control_combo.clear()
        self.control_combo.addItems(step.instruments + step.devices)
        self.control_combo.blockSignals(False)
        self._control_changed(self.control_combo.currentText())
        self._frame_devices(step)
        self.window.view.plotter.render()

    def _frame_devices(self, step) -> None:
        """A device step turns the camera's attention to its plans: the view keeps its
        direction and zooms to the planned trajectories and the devices' start poses."""
        import numpy as np

        pts = []
        for name in step.devices:
            plan = self.scenario.device(name)
            e, t = np.asarray(plan.entry, float), np.asarray(plan.target, float)
            pts += [e - 30.0 * (t - e) / np.linalg.norm(t - e), t]  # the dashed plan line
            pose = self.session.device_poses.get(name)
            if pose is not None:
                pts.append(np.asarray(pose)[:3, 3])
        if not pts:
            return
        lo, hi = np.min(pts, axis=0) - 15.0, np.max(pts, axis=0) + 15.0
        self.window.view.plotter.reset_camera(
            render=False, bounds=[lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]])

    def _show_objects(self, step_number: int, display) -> None:
        """Hide what the step does not show; the body, instruments and devices are drawn by
        the simulation display (devices at their attempt poses, not the plan's)."""
        step = self.scenario.steps[step_number]
        self._restore_visibility()
        adapters = self.window.view.renderer.adapters
        drawn = {self.scenario.body, *self.scenario.instrument_names,
                 *(d.name for d in self.scenario.devices)}
        keep = set(step.objects) - drawn if step.objects else {
            o.name for o in self.case.scene} - drawn
        for obj in self.case.scene:
            if obj.name in keep:
                continue
            adapter = adapters.get(obj.uid)
            for a in (adapter.actors if adapter else []):
                if a.GetVisibility():
                    a.SetVisibility(False)
                    self._hidden.append((obj, a))
        for name, (_local, _mesh, actor) in display.devices.items():
            actor.SetVisibility(name in step.devices or name in step.objects)
        self._set_plan_lines([self.scenario.device(name) for name in step.devices])

    def _set_plan_lines(self, plans) -> None:
        """The step's planned trajectories as dashed lines, from 30 mm before the entry to the
        target: case overlays, so the headset and screenshots show them too. Showing a step is
        not an edit of the case (no undo step)."""
        import numpy as np

        from sim.model import overlays as ov

        if self.case is None:
            return
        lines = []
        for plan in plans:
            e, t = np.asarray(plan.entry, float), np.asarray(plan.target, float)
            start = e - 30.0 * (t - e) / np.linalg.norm(t - e)
            lines.append(ov.PlanLine(id=f"{PLAN_PREFIX}{plan.name}", label=f"Plan of {plan.name}",
                                     points=[tuple(map(float, start)), tuple(map(float, t))],
                                     dashed=True))
        if lines or any(k.startswith(PLAN_PREFIX) for k in ov.overlays(self.case)):
            with self.case.history.paused():
                ov.replace_overlays(self.case, PLAN_PREFIX, lines, "Plan lines")

    def _clear_plan_lines(self) -> None:
        self._set_plan_lines([])

    def _show_image(self, image: str | None) -> None:
        from sim.rehearsal.scenario import image_bytes

        self.image_label.clear()
        self.image_label.setVisible(bool(image))
        if not image:
            return
        base = self.window.case_path if self.window.case_path is not None and \
            self.window.case_path.is_dir() else None
        try:
            data = image_bytes(image, base)
        except TwinsightError as exc:
            self.image_label.setText(f"(picture unavailable: {exc})")
            return
        pix = QPixmap()
        pix.loadFromData(data)
        width = max(self.width() - 40, 160)
        self.image_label.setPixmap(pix.scaled(width, 160,
                                              Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))

    def _control_changed(self, name: str) -> None:
        self.pointer.active_instrument = name or None

    def _step_size_changed(self, mm: float) -> None:
        self.pointer.move_mm = mm
        prefs.settings().setValue("rehearse/move_mm", float(mm))

    def _restore_visibility(self) -> None:
        """Show again what a step or a replay hid, as its object's visibility says now."""
        for obj, a in self._hidden:
            a.SetVisibility(bool(obj.visible))
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
        self.criteria_label.setText(status_html(step_status(s)))
        m = s.tracker.current
        error = f"\nPaused: {self.loop.error}" if self.loop.error is not None else ""
        self.metrics_label.setText(
            f"time {s.time - m.start_s:.1f} s · path {m.path_mm:.0f} mm · moves {m.movements} · "
            f"idle {m.idle_s:.1f} s\nforce peak {m.peak_force_n:.2f} N · tissue moved "
            f"{m.peak_displacement_mm:.1f} mm · damage {m.damage_time_s:.1f} s · critical "
            f"contacts {sum(m.contacts.values())}{self._accuracy_text()}{error}")

    def _accuracy_text(self) -> str:
        """Where the step's devices are now against their plans (the step's accuracy)."""
        from sim.rehearsal.metrics import device_accuracy

        s = self.session
        out = []
        for name in s.current_step.devices:
            a = device_accuracy(self.scenario.device(name), s.device_poses[name],
                                self.world.device_length(name))
            out.append(f"\n{name}: entry {a['entry_mm']:.1f} mm · angle {a['angle_deg']:.1f}° · "
                       f"tip {a['tip_mm']:.1f} mm")
        return "".join(out)

    # -- review ---------------------------------------------------------------------------------
    def review(self) -> ReviewDialog | None:
        if self.scenario is None:
            return None
        if self.review_dialog is not None:  # one review at a time: the old one ends its replay
            self.review_dialog.close()
        self.review_dialog = ReviewDialog(self)
        self.review_dialog.show()
        return self.review_dialog

    def show_replay(self, attempt: Attempt, step: int) -> None:
        """Re-run the attempt's inputs up to ``step`` and draw that state in the 3D view:
        the deformed tissue, the instruments and devices, the objects that step showed.
        Scrubbing forward continues the last replay; going back starts again."""
        from sim.interaction.loop import SimulationLoop
        from sim.rehearsal.attempt import run_events

        if self.loop is not None or self.world is None:
            return
        session = self.replay_session
        if session is None or self._replay_attempt is not attempt or session.step_index > step:
            session = None
        session = run_events(self.world, step, attempt.events_by_step(), session=session)
        self.replay_session, self._replay_attempt = session, attempt
        loop = SimulationLoop(session)  # never started: it only publishes the snapshot
        if self.replay_display is None:
            self.replay_display = self._make_display(loop)
        else:
            self.replay_display.loop = loop
        self._show_objects(min(session.step_number, len(self.scenario.steps) - 1),
                           self.replay_display)
        self.replay_display.refresh(force=True)
        self.window.status_label.setText(
            f"Replay at {session.time:.2f} s: step {session.step_number + 1}, tissue moved "
            f"{float(abs(session.sim.displacement).max()):.1f} mm")

    def end_replay(self) -> None:
        """Back to the case as it is (the review dialog closed): every object shown as its
        visibility says, the replayed tissue, tools and plan lines gone."""
        if self.replay_display is not None:
            self.replay_display.close()
            self.replay_display.deleteLater()
        if self.loop is None:  # (an attempt running keeps its own step's view)
            self._clear_plan_lines()
            self._restore_visibility()
        self.replay_display = self.replay_session = self._replay_attempt = None
        if self.window.view.plotter.render_window is not None:
            self.window.view.plotter.render()

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
        self.control_combo.setEnabled(live)
