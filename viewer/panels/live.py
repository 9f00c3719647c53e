"""The Live panel: connect the twin to its instruments and sensors, watch, command, scrub.

The link threads update the model (tool poses, sensor readings, alarms); this panel
never touches the model from Qt and never blocks on the network. A 30 Hz timer
copies what changed into the widgets and re-renders once, so a 1 kHz pose stream
costs one render per frame, not one per pose.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import vtk
from PyQt6.QtCore import QObject, QPointF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPen, QPolygonF
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim.model import Case, ObjectKind, SceneObject
from viewer.errors import show_error

log = logging.getLogger(__name__)

STATUS_COLOURS = {"normal": "#2e7d32", "high": "#c62828", "low": "#1565c0", "no data": "#777"}
FIELD_ARRAY = "live_field"


class MainThreadCaller(QObject):
    """Runs callables on the GUI thread: a signal emitted from a link thread is queued."""

    call = pyqtSignal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.call.connect(self._run)

    @staticmethod
    def _run(fn) -> None:
        fn()

    def __call__(self, fn) -> None:
        self.call.emit(fn)


class SparkPlot(QWidget):
    """A small time plot of one sensor with its normal band shaded."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(90)
        self.t = np.zeros(0)
        self.v = np.zeros(0)
        self.band: tuple[float, float] | None = None
        self.title = ""

    def set_data(self, t: np.ndarray, v: np.ndarray, band, title: str) -> None:
        self.t, self.v, self.band, self.title = t, v, band, title
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#20242c"))
        p.setPen(QColor("#ccc"))
        p.drawText(6, 14, self.title)
        if len(self.t) < 2:
            p.end()
            return
        lo = min(self.v.min(), self.band[0] if self.band else self.v.min())
        hi = max(self.v.max(), self.band[1] if self.band else self.v.max())
        hi = hi if hi > lo else lo + 1.0
        t0, t1 = self.t[0], max(self.t[-1], self.t[0] + 1e-6)
        w, h, top = self.width() - 8, self.height() - 24, 20

        def y(val):
            return top + h * (1.0 - (val - lo) / (hi - lo))

        if self.band:
            p.fillRect(4, int(y(self.band[1])), w, int(y(self.band[0]) - y(self.band[1])),
                       QColor(46, 125, 50, 60))
        xs = 4 + w * (self.t - t0) / (t1 - t0)
        p.setPen(QPen(QColor("#4fc3f7"), 1.5))
        p.drawPolyline(QPolygonF([QPointF(float(a), float(y(b))) for a, b in zip(xs, self.v,
                                                                                  strict=True)]))
        p.setPen(QColor("#aaa"))
        p.drawText(6, self.height() - 4, f"{lo:.4g} .. {hi:.4g}   last {self.v[-1]:.4g}")
        p.end()


class LivePanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.setObjectName("livePanel")
        self.window = window
        self.case: Case | None = None
        self.session = None  # kept after disconnecting, for scrubbing its history
        self.connected = False
        self.reader = None
        self.asset: SceneObject | None = None
        self._field = None
        self._scalar_bar: vtk.vtkScalarBarActor | None = None
        self._bound: set[str] = set()
        self._dirty_render = False
        self._stamp: tuple = ()
        self._alarm_view: list = []
        self.main_thread = MainThreadCaller(self)
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self.refresh)

    # -- widgets ----------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()  # a short window must not be forced taller by this panel
        scroll.setWidgetResizable(True)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        lay = QVBoxLayout(body)
        conn = QGroupBox("Connection")
        form = QFormLayout(conn)
        self.mqtt_edit = QLineEdit("mqtt://127.0.0.1:1883")
        self.user_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.igtl_edit = QLineEdit("127.0.0.1:18944")
        self.igtl_mode = QComboBox()
        self.igtl_mode.addItems(["Connect to", "Listen on"])
        self.connect_button = QPushButton("Connect")
        self.connect_button.setObjectName("liveConnect")
        self.connect_button.clicked.connect(self.toggle_connection)
        self.demo_button = QPushButton("Add demo asset")
        self.demo_button.clicked.connect(self.add_demo_asset)
        self.status_label = QLabel("Not connected")
        self.status_label.setWordWrap(True)
        form.addRow("MQTT broker", self.mqtt_edit)
        form.addRow("User / password", self._row(self.user_edit, self.password_edit))
        form.addRow("OpenIGTLink", self._row(self.igtl_mode, self.igtl_edit))
        form.addRow(self._row(self.demo_button, self.connect_button))
        form.addRow(self.status_label)
        lay.addWidget(conn)

        self.sensor_table = QTableWidget(0, 4)
        self.sensor_table.setHorizontalHeaderLabels(["Sensor", "Value", "Unit", "Status"])
        self.sensor_table.verticalHeader().setVisible(False)
        self.sensor_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.sensor_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.sensor_table.itemSelectionChanged.connect(self._update_plot)
        lay.addWidget(self.sensor_table, 2)
        self.colour_combo = QComboBox()
        self.colour_combo.currentTextChanged.connect(self._choose_quantity)
        lay.addWidget(self._row(QLabel("Colour model by"), self.colour_combo))
        self.plot = SparkPlot()
        lay.addWidget(self.plot, 1)

        cmd = QGroupBox("Asset state")
        cl = QHBoxLayout(cmd)
        self.property_combo = QComboBox()
        self.desired_spin = QDoubleSpinBox()
        self.desired_spin.setRange(-1e9, 1e9)
        self.desired_spin.setDecimals(1)
        self.send_button = QPushButton("Set")
        self.send_button.clicked.connect(self.send_desired)
        self.state_label = QLabel("")
        for w in (self.property_combo, self.desired_spin, self.send_button, self.state_label):
            cl.addWidget(w)
        lay.addWidget(cmd)

        igtl = QGroupBox("Instrument peer")
        il = QHBoxLayout(igtl)
        self.target_button = QPushButton("Send selected as target")
        self.target_button.setToolTip("Send the selected object's centre as the planned target "
                                      "(TRANSFORM 'Target'); tip distances follow as STRINGs")
        self.target_button.clicked.connect(self.send_target)
        self.command_edit = QLineEdit()
        self.command_edit.setPlaceholderText("command to the peer (STRING)")
        self.command_edit.returnPressed.connect(self.send_command)
        il.addWidget(self.target_button)
        il.addWidget(self.command_edit)
        lay.addWidget(igtl)

        self.alarm_list = QListWidget()
        self.alarm_list.setObjectName("liveAlarms")
        lay.addWidget(QLabel("Alarms"))
        lay.addWidget(self.alarm_list, 1)
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.clicked.connect(lambda: self._alarm_action("acknowledge"))
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(lambda: self._alarm_action("clear"))
        lay.addWidget(self._row(self.ack_button, self.clear_button))

        self.live_check = QCheckBox("Live")
        self.live_check.setChecked(True)
        self.live_check.toggled.connect(self._live_toggled)
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setObjectName("liveTimeline")
        self.timeline.setRange(0, 1000)
        self.timeline.setValue(1000)
        self.timeline.valueChanged.connect(self._scrub)
        self.time_label = QLabel("")
        lay.addWidget(self._row(self.live_check, self.timeline, self.time_label))

    @staticmethod
    def _row(*widgets) -> QWidget:
        w = QWidget()
        h = QHBoxLayout(w)
        h.setContentsMargins(0, 0, 0, 0)
        for x in widgets:
            h.addWidget(x)
        return w

    # -- case and asset ------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        self.case = case
        self.asset = None
        self._bound.clear()
        self._field = None
        if self.session is not None:
            self.session.instruments.case = case

    def add_demo_asset(self) -> SceneObject:
        """Put the simulator's pump bracket in the scene and use its sensor layout."""
        from sim.twin.simulate import demo_asset_surface

        if self.case is None:
            self.window.set_case(Case(name="Live twin", anatomical=False))
        obj = SceneObject(name="Pump bracket", kind=ObjectKind.PART, data=demo_asset_surface(),
                          color=(0.75, 0.78, 0.82), metadata={"live": "mqtt"})
        self.asset = self.case.scene.add(obj)
        self.window.view.renderer.reset_camera()
        return obj

    # -- connection ------------------------------------------------------------------------------
    def toggle_connection(self) -> None:
        if self.connected:
            self.disconnect_link()
        else:
            self.connect_link()

    def history_path(self) -> Path:
        from sim.demo.cache import cache_dir

        folder = cache_dir() / "live"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / time.strftime("session-%Y%m%d-%H%M%S.db")

    def connect_link(self) -> None:
        from sim.twin.instruments import Endpoint
        from sim.twin.mqtt_link import BrokerConfig
        from sim.twin.session import LiveSession
        from sim.twin.simulate import demo_config

        session = None
        try:
            config = demo_config(object_name=self.asset.name if self.asset else "Pump bracket")
            session = LiveSession(self.case, config, self.history_path(),
                                  dispatch=self.main_thread)
            warnings = []
            if self.igtl_edit.text().strip():
                ep = Endpoint.parse(self.igtl_edit.text().strip())
                endpoint = session.connect_igtl(ep.host, ep.port,
                                                listen=self.igtl_mode.currentIndex() == 1)
                if endpoint.warning:
                    warnings.append(endpoint.warning)
            if self.mqtt_edit.text().strip():
                broker = BrokerConfig.from_url(self.mqtt_edit.text().strip(),
                                               self.user_edit.text() or None,
                                               self.password_edit.text() or None)
                session.connect_mqtt(broker, wait=0)  # never block the GUI on the network
        except Exception as exc:
            if session is not None:
                session.close()
            self.window.last_error = show_error(self, "Cannot start the live link", exc)
            return
        self.shutdown()
        self.session, self.connected = session, True
        self._stamp, self._alarm_view = (), []
        self.reader = session.history.reader() if session.history else None
        self._fill_static()
        self.connect_button.setText("Disconnect")
        self.status_label.setText("Connecting…" + ("\n" + "\n".join(warnings) if warnings
                                                    else ""))
        self.timer.start()

    def disconnect_link(self) -> None:
        self.timer.stop()
        if self.session is not None:
            self.session.close()
        self.connected = False
        self.connect_button.setText("Connect")
        self.status_label.setText("Not connected (the session's history stays scrubbable)")

    def _fill_static(self) -> None:
        tel = self.session.telemetry
        self.sensor_table.setRowCount(len(tel.sensors))
        for row, s in enumerate(tel.sensors.values()):
            self.sensor_table.setItem(row, 0, QTableWidgetItem(s.name))
            self.sensor_table.setItem(row, 2, QTableWidgetItem(s.unit))
        self.colour_combo.blockSignals(True)
        self.colour_combo.clear()
        self.colour_combo.addItems(["(none)", *tel.quantities()])
        self.colour_combo.blockSignals(False)
        self.colour_combo.setCurrentText("temperature" if "temperature" in tel.quantities()
                                         else "(none)")
        self.property_combo.clear()
        self.property_combo.addItems(list(tel.state.properties))

    # -- periodic refresh (GUI thread) -------------------------------------------------------
    def refresh(self) -> None:
        s = self.session
        if s is None:
            return
        st = s.status()
        mq, ig = st["mqtt"], st["igtl"]
        parts = []
        if mq:
            parts.append(f"MQTT {'connected' if mq['connected'] else 'connecting…'} "
                         f"({mq['received']} msgs)" + (f" — {mq['last_error']}"
                                                       if mq["last_error"] else ""))
        if ig:
            parts.append(f"IGTL {ig['peers']} peer(s), {ig['received']} msgs, "
                         f"{ig['rejected_crc'] + ig['rejected_malformed']} rejected")
        for tool in s.instruments.tools.values():
            d = s.instruments.distance_to_target(tool)
            if d is not None:
                parts.append(f"{tool.device}: {d:.1f} mm to target")
        h = st["history"]
        if h:
            parts.append(f"history {h['written']} written, {h['dropped']} dropped")
        self.status_label.setText("\n".join(parts))
        self._update_alarms()
        self._update_state()
        self._bind_live_actors()
        ins = s.instruments
        stamp = (sum(t.updates for t in ins.tools.values()),
                 sum(p.frames for p in ins.images.values()), s.telemetry.counters.accepted)
        if stamp != self._stamp:  # repaint only when the model moved
            self._stamp = stamp
            self._update_sensors()
            self._update_plot()
            if self.live_check.isChecked():
                self._update_colours()
                self._dirty_render = True
        if self._dirty_render:
            self._dirty_render = False
            self.window.view.plotter.render()

    def _update_sensors(self) -> None:
        tel = self.session.telemetry if self.session else None
        if tel is None:
            return
        values = tel.values()
        for row, sensor in enumerate(tel.sensors.values()):
            v = values.get(sensor.id)
            self.sensor_table.setItem(row, 1, QTableWidgetItem("—" if v is None else f"{v:.4g}"))
            status = sensor.status(v)
            item = QTableWidgetItem(status)
            item.setForeground(QColor(STATUS_COLOURS.get(status, "#777")))
            self.sensor_table.setItem(row, 3, item)

    def _update_plot(self) -> None:
        if self.session is None:
            return
        tel = self.session.telemetry
        rows = self.sensor_table.selectionModel().selectedRows()
        ids = list(tel.sensors)
        if not ids:
            return
        sensor = tel.sensors[ids[rows[0].row() if rows else 0]]
        t, v = tel.plot(sensor.id)
        self.plot.set_data(t, v, sensor.normal, f"{sensor.name} ({sensor.unit})")

    def _update_alarms(self) -> None:
        alarms = self.session.telemetry.alarms.open_alarms
        view = [(a.id, a.state) for a in alarms]
        if view == self._alarm_view:
            return
        self._alarm_view = view
        selected = self._selected_alarm()
        self.alarm_list.clear()
        for a in alarms:
            item = QListWidgetItem(f"#{a.id} [{a.state}] {a.message}")
            item.setData(Qt.ItemDataRole.UserRole, a.id)
            item.setForeground(QColor("#c62828" if a.condition_active and not a.acknowledged
                                      else "#e0a000" if a.condition_active else "#777"))
            self.alarm_list.addItem(item)
            if a.id == selected:
                item.setSelected(True)
                self.alarm_list.setCurrentItem(item)

    def _selected_alarm(self) -> int | None:
        item = self.alarm_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _alarm_action(self, action: str) -> None:
        alarm_id = self._selected_alarm()
        if alarm_id is None or self.session is None:
            return
        try:
            getattr(self.session.telemetry.alarms, action)(alarm_id)
        except Exception as exc:
            self.window.last_error = show_error(self, f"Cannot {action} the alarm", exc)
        self._update_alarms()

    def _update_state(self) -> None:
        name = self.property_combo.currentText()
        prop = self.session.telemetry.state.properties.get(name) if self.session else None
        if prop is None:
            return
        rep = "—" if prop.reported is None else f"{prop.reported:g}"
        des = "—" if prop.desired is None else f"{prop.desired:g}"
        self.state_label.setText(f"reported {rep} {prop.unit}, desired {des}: {prop.ack}")

    def send_desired(self) -> None:
        if self.session is None:
            return
        try:
            self.session.telemetry.state.set_desired(self.property_combo.currentText(),
                                                     self.desired_spin.value())
        except Exception as exc:
            self.window.last_error = show_error(self, "Cannot send the command", exc)
        self._update_state()

    def send_target(self) -> None:
        sel = self.case.scene.selected if self.case is not None else None
        if self.session is None or sel is None:
            self.status_label.setText("Select the target object first (and connect).")
            return
        b = sel.data.bounds
        target = np.eye(4)
        target[:3, 3] = ((b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2)
        try:
            sent = self.session.instruments.send_target(target)
        except Exception as exc:
            self.window.last_error = show_error(self, "Cannot send the target", exc)
            return
        self.status_label.setText(f"Target '{sel.name}' sent to {sent} peer(s).")

    def send_command(self) -> None:
        text = self.command_edit.text().strip()
        if self.session is None or not text:
            return
        try:
            self.session.instruments.send_command(text)
        except Exception as exc:
            self.window.last_error = show_error(self, "Cannot send the command", exc)
            return
        self.command_edit.clear()

    # -- the 3D view ------------------------------------------------------------------------------
    def _actor(self, obj: SceneObject):
        adapter = self.window.view.renderer.adapters.get(obj.uid)
        return adapter.actors[0] if adapter is not None and adapter.actors else None

    def _bind_live_actors(self) -> None:
        """Let the live objects' actors draw the model's own (moving, coloured) data.

        The render adapters draw a copy made when the object was added; live tools
        and images change their data in place, so their mapper must read it directly.
        """
        if self.session is None:
            return
        objs = [t.obj for t in self.session.instruments.tools.values()]
        objs += [p.obj for p in self.session.instruments.images.values()]
        if self.asset is not None:
            objs.append(self.asset)
        for obj in objs:
            actor = self._actor(obj)
            if actor is None:
                continue
            if obj.uid not in self._bound:
                actor.GetMapper().SetInputData(obj.data)
                self._bound.add(obj.uid)
                self._dirty_render = True
            tex = obj.metadata.get("texture")
            if tex is not None and obj.metadata.get("texture_shown") is not tex:
                import pyvista as pv

                actor.SetTexture(pv.Texture(np.flipud(tex)))
                actor.GetProperty().SetColor(1, 1, 1)
                obj.metadata["texture_shown"] = tex
                self._dirty_render = True

    def _choose_quantity(self, quantity: str) -> None:
        self._field = None
        if self.session is not None and self.asset is not None and quantity != "(none)":
            self._field = self.session.telemetry.field_for(quantity, self.asset.data.points,
                                                           self.asset.name)
        self._update_colours()

    def _update_colours(self) -> None:
        if self.asset is None or self.session is None:
            return
        actor = self._actor(self.asset)
        if actor is None:
            return
        mapper = actor.GetMapper()
        values = None
        if self._field is not None:
            values = self._field.evaluate(self.session.telemetry.values())
        if values is None:
            mapper.ScalarVisibilityOff()
            if self._scalar_bar is not None:
                self._scalar_bar.SetVisibility(False)
            return
        self.asset.data.point_data[FIELD_ARRAY] = values
        lo, hi = self._field.colour_range(values)
        lut = mapper.GetLookupTable()
        lut.SetHueRange(0.667, 0.0)
        lut.Build()
        mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray(FIELD_ARRAY)
        mapper.SetScalarRange(lo, hi)
        mapper.ScalarVisibilityOn()
        if self._scalar_bar is None:
            self._scalar_bar = vtk.vtkScalarBarActor()
            self._scalar_bar.SetNumberOfLabels(4)
            self._scalar_bar.SetWidth(0.08)
            self._scalar_bar.SetPosition(0.9, 0.1)
            self.window.view.plotter.renderer.AddViewProp(self._scalar_bar)
        self._scalar_bar.SetLookupTable(lut)
        self._scalar_bar.SetTitle(self._field.legend.title)
        self._scalar_bar.SetVisibility(True)
        self.asset.data.Modified()

    # -- timeline -----------------------------------------------------------------------------------
    def _live_toggled(self, live: bool) -> None:
        if live:
            self.timeline.setValue(1000)

    def _scrub(self, position: int) -> None:
        session = self.session
        if session is None or self.reader is None or position >= 1000:
            return
        self.live_check.setChecked(False)
        span = self.reader.time_range()
        if span is None:
            return
        t = span[0] + (span[1] - span[0]) * position / 1000.0
        session.apply_history_state(self.reader, t)
        self.time_label.setText(time.strftime("%H:%M:%S", time.localtime(t))
                                + f".{int((t % 1) * 10)}")
        self._update_sensors()
        self._update_colours()
        self.window.view.plotter.render()

    def shutdown(self) -> None:
        self.timer.stop()
        if self.session is not None:
            self.session.close()
            self.session, self.connected = None, False
        if self.reader is not None:
            self.reader.close()
            self.reader = None
