"""The Simulate panel: push, grab and retract tissue at interactive rates.

Choose a body (any closed surface; tet-meshed through the FE engine, cached), its material,
the fixed region (box, brush on the surface, or a markup), gravity and friction; add
instruments; Start / Pause / Step / Reset. The solver runs on its own thread
(:class:`~sim.interaction.loop.SimulationLoop`); :class:`SimulationDisplay` shows the latest
state at display rate. Simulation and render rates go to the status bar.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim.errors import Cancelled, TwinsightError
from sim.fem.materials import library_material, library_names
from sim.interaction.body_setup import closed_surfaces, world_surface
from sim.interaction.fields import FIELDS, field_info
from sim.interaction.loop import SimulationLoop
from sim.interaction.recording import recording_dict, save_recording
from sim.interaction.session import InteractionSession, SessionSetup
from sim.interaction.tools import KINDS, instrument_from_dict
from sim.model import Case
from sim.workbench import RunningSimulation
from viewer.errors import show_error
from viewer.interaction.pointer import PointerController
from viewer.interaction.sim_display import SimulationDisplay
from viewer.panels.case_settings import CaseSettings
from viewer.panels.spin import CasePanel, button, material_combo, save_to, scroll_body, spin_box

log = logging.getLogger(__name__)
CUSTOM = "Custom…"
FIELD_LABELS = {"": "Plain"} | {k: v.label for k, v in FIELDS.items()}


LABEL_EVERY_TICKS = 6  # rate and force labels at ~5 Hz

OWNER = "simulate"  # the workbench's simulations this panel started


class SimulatePanel(CasePanel):
    def __init__(self, window) -> None:
        super().__init__(window, "simulatePanel")
        self.workbench = window.workbench  # owns the simulation; this panel shows and steers it
        self.display: SimulationDisplay | None = None
        self.brush_points: list[list[float]] = []
        self._hidden: list = []
        self._follow_stamp = None
        self.pointer = PointerController(window.view, self)
        self.pointer.brushed.connect(self._brushed)
        self._build()
        self.rate_label = QLabel("")
        self.rate_label.setObjectName("simRateLabel")
        window.statusBar().addPermanentWidget(self.rate_label)
        self._bind_settings()
        self.ticker = QTimer(self)
        self.ticker.setInterval(33)  # a followed tracked tool at ~30 Hz; labels at ~5 Hz
        self._ticks = 0
        self.ticker.timeout.connect(self._tick)
        self.workbench.simulation_changed.connect(self._simulation_changed)

    # -- the workbench's simulation, when this panel started it ------------------------------------
    @property
    def running(self) -> RunningSimulation | None:
        sim = self.workbench.simulation
        return sim if sim is not None and sim.owner == OWNER else None

    @property
    def loop(self) -> SimulationLoop | None:
        return self.running.loop if self.running is not None else None

    @property
    def session(self) -> InteractionSession | None:
        return self.running.session if self.running is not None else None

    @property
    def body_obj(self):
        return self.running.body if self.running is not None else None

    # -- widgets -----------------------------------------------------------------------------------
    def _build(self) -> None:
        inner = QWidget()
        col = QVBoxLayout(inner)
        body = QGroupBox("Body")
        f = QFormLayout(body)
        self.body_combo = QComboBox()
        self.edge_spin = spin_box(0.0, 100.0, 0.0, 0.5, 1, " mm")
        self.edge_spin.setSpecialValueText("auto")
        self.mesher_combo = QComboBox()
        self.mesher_combo.addItem("Conforming (FE engine, cached)", "engine")
        self.mesher_combo.addItem("Sparse grid (instant)", "sparse")
        self.material_combo = material_combo(CUSTOM)
        self.material_combo.setCurrentIndex(self.material_combo.findData(
            "liver" if "liver" in library_names() else library_names()[0]))
        self.e_spin = spin_box(0.001, 1e9, 6.2, 0.5, 3, " kPa")
        self.nu_spin = spin_box(0.0, 0.499, 0.45, 0.01, 3)
        self.rho_spin = spin_box(0.1, 30.0, 1.08, 0.05, 3, " g/cm³")
        self.material_combo.currentIndexChanged.connect(
            lambda _i: self._material_changed(self.material_combo.currentData()))
        self._material_changed(self.material_combo.currentData())
        f.addRow("Body", self.body_combo)
        f.addRow("Tet size", self.edge_spin)
        f.addRow("Mesher", self.mesher_combo)
        f.addRow("Material", self.material_combo)
        f.addRow("Young's modulus", self.e_spin)
        f.addRow("Poisson ratio", self.nu_spin)
        f.addRow("Density", self.rho_spin)
        col.addWidget(body)

        fixed = QGroupBox("Fixed region")
        f = QFormLayout(fixed)
        self.fix_mode = QComboBox()
        self.fix_mode.addItems(["Box", "Brush", "Markup", "None"])
        self.fix_axis = QComboBox()
        self.fix_axis.addItems(["x min", "x max", "y min", "y max", "z min", "z max"])
        self.fix_axis.setCurrentText("z max")
        self.fix_depth = spin_box(1.0, 100.0, 15.0, 5.0, 0, " %")
        self.markup_combo = QComboBox()
        self.brush_radius = spin_box(0.5, 100.0, 8.0, 1.0, 1, " mm")
        self.brush_label = QLabel("0 brush points")
        clear = button("Clear brush", self._clear_brush)
        f.addRow("By", self.fix_mode)
        f.addRow("Box side", self.fix_axis)
        f.addRow("Box depth", self.fix_depth)
        f.addRow("Markup", self.markup_combo)
        f.addRow("Brush/markup radius", self.brush_radius)
        row = QHBoxLayout()
        row.addWidget(self.brush_label)
        row.addWidget(clear)
        f.addRow(row)
        col.addWidget(fixed)

        run = QGroupBox("Simulation")
        f = QFormLayout(run)
        self.gravity_check = QCheckBox("Gravity")
        self.friction_spin = spin_box(0.0, 5.0, 0.0, 0.1, 2)
        self.rate_spin = spin_box(0.0, 1000.0, 0.0, 10.0, 0, " steps/s")
        self.rate_spin.setSpecialValueText("as fast as possible")
        self.dt_spin = spin_box(1.0, 100.0, 1000.0 / 60.0, 1.0, 1, " ms")
        f.addRow(self.gravity_check)
        f.addRow("Friction", self.friction_spin)
        f.addRow("Time step", self.dt_spin)
        f.addRow("Sim rate limit", self.rate_spin)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.step_button = QPushButton("Step")
        self.reset_button = QPushButton("Reset")
        self.end_button = QPushButton("End")
        for b, slot in ((self.start_button, self.start), (self.pause_button, self.pause),
                        (self.step_button, self.step), (self.reset_button, self.reset),
                        (self.end_button, self.end)):
            b.clicked.connect(slot)
            buttons.addWidget(b)
        f.addRow(buttons)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["Grab and drag", "Brush fixed region", "Camera only"])
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        f.addRow("Mouse", self.mode_combo)
        col.addWidget(run)

        tools = QGroupBox("Instruments")
        f = QFormLayout(tools)
        row = QHBoxLayout()
        self.tool_kind = QComboBox()
        self.tool_kind.addItems(list(KINDS))
        add = button("Add", self._add_clicked)
        row.addWidget(self.tool_kind)
        row.addWidget(add)
        f.addRow("New", row)
        self.active_combo = QComboBox()
        self.active_combo.currentTextChanged.connect(self._active_changed)
        f.addRow("Active", self.active_combo)
        self.follow_combo = QComboBox()
        f.addRow("Follow tracked", self.follow_combo)
        self.force_label = QLabel("–")
        self.force_label.setObjectName("contactForceLabel")
        f.addRow("Contact force", self.force_label)
        f.addRow(QLabel("Ctrl+drag moves, Ctrl+Shift+drag turns, Ctrl+wheel pushes;\n"
                        "keys J/L I/K U/O move, with Shift turn."))
        col.addWidget(tools)

        view = QGroupBox("Colour map and recording")
        f = QFormLayout(view)
        self.field_combo = QComboBox()
        for key, label in FIELD_LABELS.items():
            self.field_combo.addItem(label, key)
        self.damage_spin = spin_box(0.0, 1e6, 20.0, 1.0, 2)
        self.field_combo.currentIndexChanged.connect(self._field_changed)
        self.damage_spin.valueChanged.connect(lambda _v: self._apply_field())
        f.addRow("Colour by", self.field_combo)
        f.addRow("Damage above", self.damage_spin)
        row = QHBoxLayout()
        save = button("Save recording…", self.save_recording_dialog)
        export = button("Export replay…", self.export_dialog)
        row.addWidget(save)
        row.addWidget(export)
        f.addRow(row)
        col.addWidget(view)
        col.addStretch(1)
        scroll_body(self, inner)
        self.instrument_specs: list[dict] = []
        self._update_buttons()

    def _bind_settings(self) -> None:
        """Everything that sets up the simulation is saved with the case (section
        "simulate"). Not saved: the Mouse mode (what a drag does now: a tool choice, like the
        markup type being placed) and the New-instrument kind (a choice for the Add button)."""
        s = self.settings = CaseSettings(self, "simulate", "Change simulation settings")
        s.add("body", self.body_combo, by_uid=True)
        s.add("tet_size_mm", self.edge_spin)
        s.add("mesher", self.mesher_combo)
        s.add("material", self.material_combo, data=True)  # before E, nu, rho (a library one sets them)
        s.add("youngs_modulus_kpa", self.e_spin)
        s.add("poisson_ratio", self.nu_spin)
        s.add("density_g_cm3", self.rho_spin)
        s.add("fixed_by", self.fix_mode)
        s.add("box_side", self.fix_axis)
        s.add("box_depth_percent", self.fix_depth)
        s.add("fixed_markup", self.markup_combo, by_uid=True)
        s.add("radius_mm", self.brush_radius)
        s.add("brush_points", get=lambda: [list(p) for p in self.brush_points],
              put=self._set_brush)
        s.add("gravity", self.gravity_check)
        s.add("friction", self.friction_spin)
        s.add("time_step_ms", self.dt_spin)
        s.add("rate_limit", self.rate_spin)
        s.add("instruments", get=lambda: [dict(x) for x in self.instrument_specs],
              put=self._set_instruments)
        s.add("active_instrument", self.active_combo)
        s.add("follow_tracked", self.follow_combo, by_uid=True)
        s.add("colour_by", self.field_combo)  # before the damage limit (a field sets it)
        s.add("damage_above", self.damage_spin)

    # -- case ------------------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        with self.settings.switching(case):
            self.end()
            self.case = case
            self.body_combo.clear()
            for obj in closed_surfaces(case):
                self.body_combo.addItem(obj.name, obj.uid)
            self.markup_combo.clear()
            for m in case.markups:
                if m.points:
                    self.markup_combo.addItem(m.name, m.uid)
            self._refresh_follow()
        self._update_buttons()

    def _set_brush(self, points) -> None:
        self.brush_points = [[float(v) for v in p] for p in (points or [])]
        self.brush_label.setText(f"{len(self.brush_points)} brush points")

    def _set_instruments(self, specs) -> None:
        self.instrument_specs = [dict(x) for x in (specs or [])]
        self.active_combo.clear()
        self.active_combo.addItems([x["name"] for x in self.instrument_specs])

    def _refresh_follow(self) -> None:
        self.follow_combo.clear()
        self.follow_combo.addItem("(none)", None)
        if self.case is not None:
            for obj in self.case.scene:
                if obj.tracking is not None:
                    self.follow_combo.addItem(obj.name, obj.uid)

    def _material_changed(self, name: str) -> None:
        custom = name == CUSTOM
        for w in (self.e_spin, self.nu_spin, self.rho_spin):
            w.setEnabled(custom)
        if not custom:
            m = library_material(name)
            self.e_spin.setValue(m.youngs_modulus * 1000.0)
            self.nu_spin.setValue(m.poisson_ratio)
            self.rho_spin.setValue(m.density * 1e9)

    def _mode_changed(self, index: int) -> None:
        self.pointer.mode = ("grab", "brush", "none")[index]

    def _active_changed(self, name: str) -> None:
        self.pointer.active_instrument = name or None

    def _brushed(self, point) -> None:
        self.brush_points.append([float(v) for v in point])
        self.brush_label.setText(f"{len(self.brush_points)} brush points")
        self.fix_mode.setCurrentText("Brush")
        self.settings.changed()

    def _clear_brush(self) -> None:
        self.brush_points.clear()
        self.brush_label.setText("0 brush points")
        self.settings.changed()

    # -- set-up ------------------------------------------------------------------------------------
    def _add_clicked(self) -> None:
        kind = self.tool_kind.currentText()
        path = None
        if kind == "mesh":  # any imported closed mesh, in its own tip frame (mm)
            path, _ = QFileDialog.getOpenFileName(self, "Instrument mesh", "",
                                                  "Meshes (*.stl *.obj *.ply *.vtp *.vtk)")
            if not path:
                return
        try:
            self.add_instrument(kind, path)
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot add the instrument", exc)

    def add_instrument(self, kind: str, path: str | None = None) -> str:
        n = sum(1 for s in self.instrument_specs if s["type"] == kind) + 1
        name = f"{kind} {n}"
        spec = {"name": name, "type": kind}
        if path is not None:
            spec["path"] = str(path)
        instrument_from_dict(spec)  # bad files are refused now, not at Start
        if self.body_obj is not None or self.body_combo.count():
            obj = self._body() if self.body_obj is None else self.body_obj
            b = world_surface(obj).bounds
            spec["pose"] = {"position": [0.5 * (b[0] + b[1]), 0.5 * (b[2] + b[3]),
                                         b[5] + 20.0], "direction": [0, 0, 1]}
        self.instrument_specs.append(spec)
        self.active_combo.addItem(name)
        self.active_combo.setCurrentText(name)
        self.settings.changed()
        if self.session is not None:
            self._rebuild_pending = True
            self.window.status_label.setText(f"Added {name}: it appears after Reset.")
        return name

    def _body(self):
        uid = self.body_combo.currentData()
        obj = self.case.scene.find(uid) if (self.case and uid) else None
        if obj is None:
            raise TwinsightError("Choose a closed surface of the case to simulate.")
        return obj

    def setup(self) -> SessionSetup:
        if self.material_combo.currentData() == CUSTOM:
            material = {"name": "custom", "youngs_modulus": self.e_spin.value() / 1000.0,
                        "poisson_ratio": self.nu_spin.value(),
                        "density": self.rho_spin.value() * 1e-9}
        else:
            material = self.material_combo.currentData()
        mode = self.fix_mode.currentText()
        fixed = None
        if mode == "Box":
            obj = self._body()
            b = world_surface(obj).bounds
            axis_side = self.fix_axis.currentText()
            k = "xyz".index(axis_side[0])
            lo, hi = b[2 * k], b[2 * k + 1]
            depth = (hi - lo) * self.fix_depth.value() / 100.0
            box = [None] * 6
            if axis_side.endswith("min"):
                box[2 * k + 1] = lo + depth
            else:
                box[2 * k] = hi - depth
            fixed = {"box": box}
        elif mode == "Brush" and self.brush_points:
            fixed = {"points": self.brush_points, "radius": self.brush_radius.value()}
        elif mode == "Markup" and self.markup_combo.count():
            m = next(m for m in self.case.markups if m.uid == self.markup_combo.currentData())
            fixed = {"points": [list(p) for p in m.points], "radius": self.brush_radius.value()}
        return SessionSetup(material=material, fixed=fixed,
                            gravity=self.gravity_check.isChecked(),
                            dt=self.dt_spin.value() / 1000.0,
                            friction=self.friction_spin.value(),
                            instruments=[dict(s) for s in self.instrument_specs])

    def _build_session(self, progress) -> InteractionSession:
        obj, setup = self._pending
        return self.workbench.prepare_simulation(obj, setup, edge_mm=self.edge_spin.value() or None,
                                                 mesher=self.mesher_combo.currentData(),
                                                 progress=progress)

    # -- controls ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self.loop is not None:
            self.loop.rate_hz = self.rate_spin.value() or None
            self.loop.start()
            self._update_buttons()
            return
        self.prepare(then_start=True)

    def prepare(self, then_start: bool = False):
        try:
            self._pending = (self._body(), self.setup())
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot simulate", exc)
            return None
        return self.window.run_task(
            "Preparing the simulation", self._build_session,
            lambda session: self._session_ready(session, then_start))

    def _session_ready(self, session: InteractionSession, then_start: bool) -> None:
        self._rebuild_pending = False
        self.workbench.run_simulation(session, self._pending[0], owner=OWNER,
                                      rate_hz=self.rate_spin.value() or None, start=then_start)
        self._update_buttons()

    def _simulation_changed(self, running) -> None:
        """The workbench started or stopped a simulation: show ours, drop the display of one
        that ended (whoever ended it: End, a new case, a rehearsal attempt)."""
        self._close_display()
        if running is None or running.owner != OWNER:
            self._update_buttons()
            return
        self.display = SimulationDisplay(self.window.view.plotter, self.loop, parent=self)
        self._apply_field()
        adapter = self.window.view.renderer.adapters.get(self.body_obj.uid)
        self._hidden = [a for a in (adapter.actors if adapter else []) if a.GetVisibility()]
        for a in self._hidden:
            a.SetVisibility(False)
        self.pointer.attach(self.display, self.loop)
        self.pointer.active_instrument = self.active_combo.currentText() or None
        self.ticker.start()
        self.display.refresh(force=True)
        self._update_buttons()
        session = running.session
        self.window.status_label.setText(
            f"Simulating {self.body_obj.name}: {session.mesh.n_elements} tetrahedra, "
            f"{session.visual.n_points if session.visual is not None else 0} visual vertices")

    def pause(self) -> None:
        if self.loop is not None:
            self.loop.pause()
        self._update_buttons()

    def step(self) -> None:
        if self.loop is None:
            self.prepare(then_start=False)
            return
        self.loop.pause()
        self.loop.step_once()

    def reset(self) -> None:
        if self.loop is None:
            return
        if getattr(self, "_rebuild_pending", False):
            self.prepare(then_start=False)
            return
        self.loop.reset()

    def end(self) -> None:
        """Stop the simulation and show the case as it was."""
        if self.running is not None:
            self.workbench.stop_simulation()  # -> _simulation_changed(None) closes the display
        self._close_display()
        self._update_buttons()

    def _close_display(self) -> None:
        self.ticker.stop()
        self.pointer.detach()
        if self.display is not None:
            self.display.close()
            self.display.deleteLater()
        for a in self._hidden:
            a.SetVisibility(True)
        self._hidden = []
        self.display = None
        self.rate_label.setText("")

    def shutdown(self) -> None:
        self.end()

    def _update_buttons(self) -> None:
        live = self.loop is not None
        running = live and self.loop.running
        self.start_button.setEnabled(not running and self.body_combo.count() > 0)
        self.pause_button.setEnabled(running)
        self.step_button.setEnabled(self.body_combo.count() > 0)
        self.reset_button.setEnabled(live)
        self.end_button.setEnabled(live)

    # -- colour map --------------------------------------------------------------------------------
    def _field_changed(self, _index: int) -> None:
        key = self.field_combo.currentData()
        if key:
            info = field_info(key)
            self.damage_spin.blockSignals(True)
            self.damage_spin.setValue(info.damage)
            self.damage_spin.setSuffix(f" {info.unit}")
            self.damage_spin.blockSignals(False)
        self._apply_field()

    def _apply_field(self) -> None:
        if self.display is not None:
            key = self.field_combo.currentData() or None
            self.display.set_field(key, self.damage_spin.value() if key else None)

    # -- live figures --------------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.loop is None or self.display is None:
            return
        self._follow_tracked()
        # The labels only need a human's reading rate; each update repaints widgets, which
        # on software rendering takes CPU from the solver thread.
        self._ticks += 1
        if self._ticks % LABEL_EVERY_TICKS:
            return
        snap = self.loop.latest
        lat = list(self.display.latencies)
        lat_text = f" · latency {1000 * float(np.median(lat)):.0f} ms" if lat else ""
        self.rate_label.setText(f"Sim {self.loop.steps_per_second:.0f} steps/s · "
                                f"Render {self.display.fps:.0f} fps{lat_text}")
        name = self.active_combo.currentText()
        force = snap.forces.get(name)
        if force is not None:
            self.force_label.setText(f"{np.linalg.norm(force):.3f} N  "
                                     f"[{force[0]:.3f}, {force[1]:.3f}, {force[2]:.3f}]")
        if self.loop.error is not None:
            self.window.status_label.setText(f"Simulation paused: {self.loop.error}")
        self._update_buttons()

    def _follow_tracked(self) -> None:
        uid = self.follow_combo.currentData()
        name = self.active_combo.currentText()
        if not uid or not name or self.case is None:
            return
        obj = self.case.scene.find(uid)
        pose = None if obj is None or obj.tracking is None else obj.tracking.matrix
        if pose is None:
            return
        if self._follow_stamp is not None and np.array_equal(self._follow_stamp, pose):
            return
        self._follow_stamp = pose.copy()
        self.loop.post({"type": "pose", "instrument": name, "pose": pose.tolist()})

    # -- recording -----------------------------------------------------------------------------------
    def save_recording_dialog(self) -> None:
        if self.session is not None:
            save_to(self, "Save recording", "interaction.json", "Recordings (*.json)",
                    self.save_recording)

    def save_recording(self, path: str | Path) -> Path:
        self.loop.pause()
        self.loop.wait_for_step(self.loop.latest.step, 1.0)
        return save_recording(self.session, path, body=self.body_obj.name,
                              edge_length=self.edge_spin.value() or None)

    def export_dialog(self) -> None:
        if self.session is not None:
            save_to(self, "Export replay", "replay.mp4",
                    "MP4 video (*.mp4);;PNG frames folder (*)", self.export_replay)

    def export_replay(self, path: str | Path) -> dict | None:
        """Replay the session so far offscreen into a video or PNG frames (with progress)."""
        from sim.interaction.export import export_replay
        from sim.interaction.script import timeline_from_dict

        self.loop.pause()
        timeline = timeline_from_dict(recording_dict(self.session))
        dialog = QProgressDialog("Exporting the replay…", "Cancel", 0, 1000, self)
        dialog.setMinimumDuration(0)

        def progress(fraction: float, message: str) -> None:
            dialog.setValue(int(1000 * fraction))
            dialog.setLabelText(message)
            from PyQt6.QtWidgets import QApplication

            QApplication.processEvents()
            if dialog.wasCanceled():
                raise Cancelled("export")

        key = self.field_combo.currentData() or None
        try:
            return export_replay(timeline, self.session.mesh, path, self.session.visual,
                                 field=key, progress=progress)
        except Cancelled:
            return None
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Export failed", exc)
            return None
        finally:
            dialog.close()
