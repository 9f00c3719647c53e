"""The Twin view: the engineering twin of the live asset (issue #17).

A dock of its own. It follows the workbench's live session (``link_changed``): with a twin
model loaded (the shipped pump bracket, built in the background, or a model file from
``twinsight twin build``) every sensor reading drives load identification, the physics
stress map (the FE model's surface beside the asset, coloured by von Mises), hot-spot
damage and remaining life, and the health test whose findings are the session's alarms.
The what-if slider predicts the remaining life at another pump speed before the command is
sent through the desired/reported path; Calibrate fits the model to the recorded history as
a background job. The model choice and the what-if speed are saved with the case.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim.model.sections import set_section
from viewer.errors import show_error
from viewer.panels.live_widgets import LifeGauge
from viewer.panels.spin import button, row, wrapped_label

log = logging.getLogger(__name__)
SECTION = "twin_view"
MAP_NAME = "twin-stress-map"


class LoadBars(QWidget):
    """Identified loads as bars with their 95 % interval as a whisker."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(90)
        self.items: list[tuple[str, float, float, float, str]] = []  # name, value, lo, hi

    def set_loads(self, items: list[tuple[str, float, float, float, str]]) -> None:
        self.items = items
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#20242c"))
        if not self.items:
            p.setPen(QColor("#ccc"))
            p.drawText(8, 20, "No loads identified yet")
            return
        scale = max(max(abs(lo), abs(hi)) for _, _, lo, hi, _ in self.items) or 1.0
        h = max(12, (self.height() - 8) // len(self.items))
        left, width = 110, self.width() - 200
        mid = left + width // 2
        for i, (name, v, lo, hi, unit) in enumerate(self.items):
            y = 4 + i * h
            p.setPen(QColor("#ccc"))
            p.drawText(6, y + h - 4, name[:14])
            x = int(width / 2 * v / scale)
            p.fillRect(min(mid, mid + x), y + 2, abs(x), h - 4, QColor("#1e88e5"))
            p.setPen(QColor("#ffb300"))
            a, b = mid + int(width / 2 * lo / scale), mid + int(width / 2 * hi / scale)
            p.drawLine(a, y + h // 2, b, y + h // 2)
            p.drawLine(a, y + 3, a, y + h - 3)
            p.drawLine(b, y + 3, b, y + h - 3)
            p.setPen(QColor("#ccc"))
            p.drawText(left + width + 6, y + h - 4, f"{v:.0f} ± {(hi - lo) / 2:.1f} {unit}")


class Trend(QWidget):
    """A small time plot: damage of the worst hot spot since the twin started."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(46)
        self.points: list[tuple[float, float]] = []
        self.label = "Damage trend"

    def add(self, t: float, value: float) -> None:
        if self.points and t <= self.points[-1][0]:
            return
        self.points.append((t, value))
        if len(self.points) > 600:  # bounded: every other point of a long run
            self.points = self.points[::2]
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#20242c"))
        p.setPen(QColor("#ccc"))
        p.drawText(6, 14, self.label)
        if len(self.points) < 2:
            return
        t = np.array([a for a, _ in self.points])
        v = np.array([b for _, b in self.points])
        w, h, top = self.width() - 12, self.height() - 22, 18
        x = 6 + (t - t[0]) / max(t[-1] - t[0], 1e-9) * w
        y = top + h - (v - v.min()) / max(v.max() - v.min(), 1e-30) * h
        p.setPen(QColor("#ef6c00"))
        for i in range(1, len(x)):
            p.drawLine(int(x[i - 1]), int(y[i - 1]), int(x[i]), int(y[i]))


class TwinPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.workbench = window.workbench
        self.model = None
        self.linked = None
        lay = QVBoxLayout(self)
        self.status_label = QLabel("No twin model: build the demo bracket or open a model.")
        self.status_label.setObjectName("twinStatus")
        self.status_label.setWordWrap(True)
        self.demo_button = QPushButton("Demo bracket model")
        self.demo_button.setObjectName("twinDemoModel")
        self.demo_button.setToolTip("Build the shipped pump-bracket twin (FE model, sensors, "
                                    "load channels) in the background")
        self.demo_button.clicked.connect(lambda: self.load_model("demo"))
        self.open_button = button("Open model…", self._open_dialog,
                                  "A model file from 'twinsight twin build'",
                                  name="twinOpenModel")
        self.calibrate_button = button("Calibrate", self.calibrate,
                                       "Fit the modulus and support stiffness to the "
                                       "recorded history (background job)",
                                       name="twinCalibrate")
        self.virtual_button = QPushButton("Virtual gauge")
        self.virtual_button.setObjectName("twinVirtualGauge")
        self.virtual_button.setCheckable(True)
        self.virtual_button.setToolTip("Then click the stress map: a virtual strain gauge "
                                       "there (along the larger principal stress) is recorded "
                                       "in the history like a real one")
        lay.addWidget(row(self.demo_button, self.open_button, self.calibrate_button,
                          self.virtual_button))
        lay.addWidget(self.status_label)
        lay.addWidget(QLabel("Identified loads (95 % interval)"))
        self.loads = LoadBars()
        self.loads.setObjectName("twinLoads")
        lay.addWidget(self.loads)
        self.hot_table = QTableWidget(0, 4)
        self.hot_table.setObjectName("twinHotSpots")
        self.hot_table.setHorizontalHeaderLabels(["Hot spot", "Stress MPa", "Damage",
                                                  "Life (days)"])
        self.hot_table.setMinimumHeight(125)
        self.hot_table.setMaximumHeight(150)
        lay.addWidget(self.hot_table)
        self.gauge = LifeGauge()
        self.gauge.setObjectName("twinLifeGauge")
        lay.addWidget(self.gauge)
        self.trend = Trend()
        self.trend.setObjectName("twinDamageTrend")
        lay.addWidget(self.trend)
        self.findings = QListWidget()
        self.findings.setObjectName("twinFindings")
        self.findings.setMaximumHeight(80)
        self.virtual_label = wrapped_label("twinVirtualValues")
        lay.addWidget(self.virtual_label)
        lay.addWidget(QLabel("Health (model residuals)"))
        lay.addWidget(self.findings)
        form = QFormLayout()
        self.speed_slider = QSlider(Qt.Orientation.Horizontal)
        self.speed_slider.setObjectName("twinWhatIfSpeed")
        self.speed_slider.setRange(50, 150)
        self.speed_slider.setValue(100)
        self.speed_slider.setToolTip("Pump speed relative to now: thrust and side load scale "
                                     "with its square")
        self.speed_slider.valueChanged.connect(self._speed_changed)
        self.whatif_label = wrapped_label("twinWhatIf")
        self.send_button = button("Send speed", self.send_speed,
                                  "Send the speed through the live link's desired value",
                                  name="twinSendSpeed")
        form.addRow("What-if speed", row(self.speed_slider, self.send_button))
        form.addRow(self.whatif_label)
        lay.addLayout(form)
        lay.addStretch(1)
        self.map_actor = None
        self.map_mesh = None
        self.timer = QTimer(self)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.refresh)
        self.workbench.link_changed.connect(self._on_link)
        window.view.click_handlers.append(self._view_clicked)
        self.workbench.case_changed.connect(lambda _case: self.restore())

    # -- model -------------------------------------------------------------------------------
    @property
    def case(self):
        return self.window.case

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open twin model", "",
                                              "Twin model (*.npz);;All files (*)")
        if path:
            self.load_model(path)

    def load_model(self, source: str) -> None:
        """'demo' or a model file; built/read in the background."""
        def work(progress):
            from sim.asset.model import AssetModel, build_model

            if source == "demo":
                from sim.asset.config import demo_asset_config

                return build_model(demo_asset_config(element_size=4), progress=progress)
            return AssetModel.load(source)

        def done(model) -> None:
            self.set_model(model)
            if self.case is not None:
                set_section(self.case, SECTION, {**self.settings(), "model": source},
                            "Change twin model")

        self.window.run_task("Building the twin model", work, done)

    def settings(self) -> dict:
        return dict(self.case.sections.get(SECTION, {})) if self.case is not None else {}

    def set_model(self, model) -> None:
        from sim.asset.identify import LoadIdentifier

        self.model = model
        warnings = LoadIdentifier(model).observability().warnings + list(model.problems)
        self.status_label.setText(f"Model '{model.name}': {len(model.sensors)} sensors, "
                                  f"{len(model.channels)} load channels, "
                                  f"{len(model.points)} nodes"
                                  + (", calibrated" if model.calibration else ", not calibrated")
                                  + "".join(f"\nWarning: {w}" for w in warnings))
        self._remove_map()
        self.trend.points = []
        self._on_link(self.workbench.link)

    # -- live --------------------------------------------------------------------------------
    def _on_link(self, session) -> None:
        if self.linked is not None:
            self.linked.detach()
            self.linked = None
        if session is None or self.model is None:
            self.timer.stop()
            return
        from sim.asset.link import LinkedTwin

        self.linked = LinkedTwin(session, self.model)
        for v in self.settings().get("virtual", []):  # the case's virtual gauges
            try:
                self.linked.twin.add_virtual(v["name"], "strain", v["point"], v["direction"])
            except Exception as exc:  # a gauge of another model: left out, said so
                self.status_label.setText(f"Virtual gauge '{v.get('name')}' left out: {exc}")
        self.timer.start()

    def refresh(self) -> None:
        lt = self.linked
        if lt is None:
            return
        tw = lt.twin
        st = tw.status
        if st.t is None:
            return
        m = tw.model
        if len(st.hot_stress) < len(m.hot_names) or len(st.damage) < len(m.hot_names):
            return  # the twin's first samples are still being processed (another thread)
        self.loads.set_loads([(c, v, v - 1.96 * s, v + 1.96 * s, u) for c, v, s, u in
                              zip(m.channels, st.loads, st.loads_sd, m.channel_units,
                                  strict=True)])
        self.hot_table.setRowCount(len(m.hot_names))
        for k, name in enumerate(m.hot_names):
            life = st.life_days[k] if st.life_days else math.inf
            vals = [name, f"{st.hot_stress[k]:.1f}", f"{st.damage[k]:.3g}",
                    "∞" if not math.isfinite(life) else
                    f"{life:.3g} ({st.life_low_days[k]:.3g}–{st.life_high_days[k]:.3g})"]
            for j, v in enumerate(vals):
                self.hot_table.setItem(k, j, QTableWidgetItem(v))
        lives = [x for x in st.life_days if math.isfinite(x)]
        if lives:
            k = st.life_days.index(min(lives))
            design = float((m.config.get("fatigue") or {}).get("design_life_days", 7300.0))
            self.trend.label = f"Damage at {m.hot_names[k]}: {st.damage[k]:.3g}"
            self.trend.add(st.t, st.damage[k])
            self.gauge.set_life(st.life_days[k], st.life_low_days[k], st.life_high_days[k],
                                maximum=design, unit="days",
                                text=f"{m.hot_names[k]}: remaining life {st.life_days[k]:.3g} "
                                     f"days (90 %: {st.life_low_days[k]:.3g}–"
                                     f"{st.life_high_days[k]:.3g})")
        if st.virtual:
            self.virtual_label.setText("Virtual gauges: " + ", ".join(
                f"{n} {v:.1f} µε" for n, v in st.virtual.items()))
        self.findings.clear()
        for f in tw.findings:
            self.findings.addItem(f"{f.t:.1f}: {f.message()}")
        res = "—" if st.residual_rms is None else f"{st.residual_rms:.2f}"
        self.status_label.setText(f"Model '{m.name}' ({'calibrated' if m.calibration else 'not calibrated'}): "
                                  f"{tw.counters.samples} samples, residual RMS {res} "
                                  "(1 = noise level)")
        self._show_map(tw.stress_field(np.array(st.loads)))

    def _remove_map(self) -> None:
        if self.map_actor is not None:
            self.window.view.plotter.remove_actor(self.map_actor, render=False)
            self.map_actor = self.map_mesh = None

    def _show_map(self, vm: np.ndarray) -> None:
        """The FE surface beside the asset, coloured by physics von Mises (MPa)."""
        import pyvista as pv

        if self.map_mesh is None:
            from sim.mesh.tetmesh import TetMesh

            m = self.linked.twin.model
            corner = TetMesh(m.points, m.cells[:, :4], m.name)
            surf = corner.surface()
            ids = surf.point_data.get("vtkOriginalPointIds")
            self.map_ids = np.asarray(ids) if ids is not None else \
                np.arange(surf.n_points)
            self.map_shift = shift = 1.3 * float(np.ptp(m.points[:, 1])) + 10.0
            self.map_mesh = pv.PolyData(surf.points + [0.0, shift, 0.0], surf.faces)
            self.map_mesh.point_data["von Mises (MPa)"] = vm[self.map_ids]
            self.map_actor = self.window.view.plotter.add_mesh(
                self.map_mesh, scalars="von Mises (MPa)", cmap="turbo", name=MAP_NAME,
                pickable=False, render=False, reset_camera=False, show_scalar_bar=False)
            self.window.view.plotter.reset_camera()  # once: the map must be in sight
        else:
            self.map_mesh.point_data["von Mises (MPa)"] = vm[self.map_ids]
        self.map_actor.GetMapper().SetScalarRange(0.0, max(float(vm.max()), 1e-6))
        self.window.view.plotter.render()

    # -- virtual gauges ------------------------------------------------------------------------
    def _view_clicked(self, x: int, y: int, _modifiers) -> bool:
        """With Virtual gauge armed, a click on the stress map places one there."""
        if not self.virtual_button.isChecked() or self.map_actor is None:
            return False
        from vtkmodules.vtkRenderingCore import vtkCellPicker

        picker = vtkCellPicker()
        picker.SetTolerance(0.002)
        picker.PickFromListOn()
        picker.AddPickList(self.map_actor)
        self.map_actor.PickableOn()  # only for this pick: the view's own picking skips it
        try:
            hit = picker.Pick(x, y, 0, self.window.view.plotter.renderer)
        finally:
            self.map_actor.PickableOff()
        if not hit:
            return False
        point = np.asarray(picker.GetPickPosition()) - [0.0, self.map_shift, 0.0]
        self.virtual_button.setChecked(False)
        try:
            self.add_virtual_gauge(point)
        except Exception as exc:
            self.window.last_error = show_error(self, "Cannot place the virtual gauge", exc)
        return True

    def add_virtual_gauge(self, point) -> str:
        """A virtual strain gauge at ``point`` (model frame, mm), along the larger principal
        stress there under the current loads; saved with the case."""
        tw = self.linked.twin
        m = tw.model
        node = int(np.linalg.norm(m.points - np.asarray(point, float), axis=1).argmin())
        s6 = m.stress[node].astype(float) @ np.asarray(tw.status.loads or m.typical, float)
        t = np.array([[s6[0], s6[3], s6[5]], [s6[3], s6[1], s6[4]], [s6[5], s6[4], s6[2]]])
        w, v = np.linalg.eigh(t)
        direction = v[:, int(np.argmax(np.abs(w)))]
        name = f"V{len(tw.virtual) + 1}"
        tw.add_virtual(name, "strain", point, direction)
        saved = self.settings().get("virtual", [])
        set_section(self.case, SECTION, {**self.settings(), "virtual": saved + [
            {"name": name, "point": [round(float(c), 4) for c in point],
             "direction": [round(float(c), 6) for c in direction]}]}, "Add virtual gauge")
        return name

    # -- what-if and feedback ----------------------------------------------------------------
    def _speed_changed(self, value: int) -> None:
        if self.case is not None:
            set_section(self.case, SECTION, {**self.settings(), "speed_pct": int(value)},
                        "Change what-if speed")
        self.update_whatif()

    def update_whatif(self) -> None:
        lt = self.linked
        if lt is None:
            self.whatif_label.setText("Connect a live session to ask what-if.")
            return
        from sim.asset.whatif import what_if

        t, q = lt.window()
        if len(t) < 10:
            self.whatif_label.setText("Collecting loads…")
            return
        s = (self.speed_slider.value() / 100.0) ** 2
        scales = {c: s for c in ("thrust", "side") if c in lt.twin.model.channels}
        try:
            res = what_if(lt.twin.model, t, q, lt.twin.curve, lt.twin.damage.damage, scales,
                          correction=lt.twin.correction)
        except Exception as exc:
            self.whatif_label.setText(str(exc))
            return
        self.whatif_label.setText(f"At {self.speed_slider.value()} % speed: "
                                  f"{res['message']}")

    def send_speed(self) -> None:
        session = self.workbench.link
        if session is None:
            self.whatif_label.setText("No live session to send to.")
            return
        try:
            prop = session.telemetry.state.properties.get("speed")
            base = prop.reported if prop is not None and prop.reported else 1450.0
            session.telemetry.state.set_desired("speed",
                                                base * self.speed_slider.value() / 100.0)
        except Exception as exc:
            self.window.last_error = show_error(self, "Cannot send the speed", exc)

    # -- calibration ---------------------------------------------------------------------------
    def calibrate(self) -> None:
        session = self.workbench.link
        if self.model is None or session is None or session.history is None:
            self.status_label.setText("Calibration needs a model and a recorded live session.")
            return
        session.history.flush()
        path, model = session.history.path, self.model

        def work(progress):
            from dataclasses import replace

            from sim.asset.calibrate import calibrate
            from sim.asset.model import build_model
            from sim.asset.replay import history_samples

            _, Y, _ = history_samples(model, path)
            res = calibrate(model, Y, progress=progress)
            return replace(res.apply_to(build_model(model.asset_config(), res.params())),
                           calibration=res.to_dict())

        self.window.run_task("Calibrating the twin", work, self.set_model)

    def restore(self) -> None:
        """Re-apply the case's saved choices (called when a case opens)."""
        s = self.settings()
        self.speed_slider.blockSignals(True)
        self.speed_slider.setValue(int(s.get("speed_pct", 100)))
        self.speed_slider.blockSignals(False)
        if s.get("model") and self.model is None:
            self.load_model(str(s["model"]))
