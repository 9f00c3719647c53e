"""The Live panel: connect the twin to its instruments and sensors, watch, command, scrub.

The link threads publish tool poses, image frames, sensor readings and alarms; the
meshes the view draws are moved only on the GUI thread (the link hands each tool's
``sync_mesh`` over through ``MainThreadCaller``, coalesced to one pending call), and
this panel never blocks on the network. A 30 Hz timer copies what changed into the
widgets and re-renders once, so a 1 kHz pose stream costs one render per frame.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor
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

from sim.errors import InputError
from sim.model import Case, ObjectKind, SceneObject
from sim.model.object_fields import LiveSource
from sim.model.sections import section_events, set_section
from sim.twin.instruments import parse_image_poses
from sim.workbench.live import live_overlays_of
from viewer.errors import show_error
from viewer.panels.case_settings import CaseSettings
from viewer.panels.live_predict import PredictBox
from viewer.panels.live_view import LiveOverlay
from viewer.panels.live_widgets import MainThreadCaller, SparkPlot
from viewer.panels.spin import CasePanel
from viewer.panels.spin import row as form_row

log = logging.getLogger(__name__)

STATUS_COLOURS = {"normal": "#2e7d32", "high": "#c62828", "low": "#1565c0", "no data": "#777"}


class LivePanel(CasePanel):
    def __init__(self, window) -> None:
        super().__init__(window, "livePanel")
        self.workbench = window.workbench  # owns the live session (kept after disconnecting,
        self.connected = False  # for scrubbing its history); landmarks and XR read it there
        self.reader = None
        self.asset: SceneObject | None = None
        self.overlay = LiveOverlay(window.view)
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
        # ... nor wider: long texts wrap, the side column keeps its width.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll = scroll
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
        self.frame_combo = QComboBox()  # the frame the peer's poses are in
        self.frame_combo.setObjectName("livePeerFrame")
        self.frame_combo.addItem("LPS (as sent)", "lps")
        self.frame_combo.addItem("RAS (3D Slicer)", "ras")
        self.frame_combo.setToolTip("The peer's coordinate frame: RAS poses (3D Slicer) are "
                                    "converted to the scene's LPS, and the target is sent "
                                    "back in RAS. IMAGE headers name their own frame.")
        self.image_pose_edit = QLineEdit()
        self.image_pose_edit.setObjectName("liveImagePoses")
        self.image_pose_edit.setPlaceholderText("IMAGE=TRANSFORM, e.g. "
                                                "Image_Reference=ImageToReference")
        self.image_pose_edit.setToolTip("Images placed by a separate TRANSFORM (as PLUS "
                                        "sends them); comma-separated")
        self.connect_button = QPushButton("Connect")
        self.connect_button.setObjectName("liveConnect")
        self.connect_button.clicked.connect(self.toggle_connection)
        self.demo_button = QPushButton("Add demo asset")
        self.demo_button.clicked.connect(self.add_demo_asset)
        self.status_label = QLabel("Not connected")
        self.status_label.setWordWrap(True)
        self.status_label.setWordWrap(True)
        form.addRow("MQTT broker", self.mqtt_edit)
        form.addRow("User / password", form_row(self.user_edit, self.password_edit))
        form.addRow("OpenIGTLink", form_row(self.igtl_mode, self.igtl_edit))
        form.addRow("Peer frame", self.frame_combo)
        form.addRow("Image pose from", self.image_pose_edit)
        form.addRow(form_row(self.demo_button, self.connect_button))
        form.addRow(self.status_label)
        lay.addWidget(conn)

        self.sensor_table = QTableWidget(0, 5)
        self.sensor_table.setHorizontalHeaderLabels(["Sensor", "Value", "Unit", "Status",
                                                     "Flags"])
        self.sensor_table.verticalHeader().setVisible(False)
        self.sensor_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.sensor_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.sensor_table.itemSelectionChanged.connect(self._update_plot)
        lay.addWidget(self.sensor_table, 2)
        self.colour_combo = QComboBox()
        self.colour_combo.currentTextChanged.connect(self._choose_quantity)
        lay.addWidget(form_row(QLabel("Colour model by"), self.colour_combo))
        self.plot = SparkPlot()
        lay.addWidget(self.plot, 1)
        self.predict = PredictBox(self)  # anomaly / forecast / remaining life (sim.predict)
        lay.addWidget(self.predict)

        cmd = QGroupBox("Asset state")
        cl = QHBoxLayout(cmd)
        self.property_combo = QComboBox()
        self.desired_spin = QDoubleSpinBox()
        self.desired_spin.setRange(-1e9, 1e9)
        self.desired_spin.setDecimals(1)
        self.send_button = QPushButton("Set")
        self.send_button.clicked.connect(self.send_desired)
        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
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
        self.peer_list = QListWidget()  # what the peer sends back: STRINGs and POINT lists
        self.peer_list.setObjectName("livePeerMessages")
        self.peer_list.setMaximumHeight(90)
        lay.addWidget(QLabel("From the instrument peer"))
        lay.addWidget(self.peer_list)
        self._peer_stamp: tuple = ()

        self.alarm_list = QListWidget()
        self.alarm_list.setObjectName("liveAlarms")
        lay.addWidget(QLabel("Alarms"))
        lay.addWidget(self.alarm_list, 1)
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.clicked.connect(lambda: self._alarm_action("acknowledge"))
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(lambda: self._alarm_action("clear"))
        lay.addWidget(form_row(self.ack_button, self.clear_button))

        self.live_check = QCheckBox("Live")
        self.live_check.setChecked(True)
        self.live_check.toggled.connect(self._live_toggled)
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setObjectName("liveTimeline")
        self.timeline.setRange(0, 1000)
        self.timeline.setValue(1000)
        self.timeline.valueChanged.connect(self._scrub)
        self.time_label = QLabel("")
        self.time_label.setWordWrap(True)
        lay.addWidget(form_row(self.live_check, self.timeline, self.time_label))
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play_toggled)
        open_button = QPushButton("Open recording…")
        open_button.clicked.connect(self._open_dialog)
        export_button = QPushButton("Export…")
        export_button.clicked.connect(self._export_dialog)
        self.speed_combo = QComboBox()
        self.speed_combo.addItems(["1x", "2x", "5x", "10x", "50x"])
        lay.addWidget(form_row(self.play_button, self.speed_combo, open_button, export_button))
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(50)
        self.play_timer.timeout.connect(self._play_step)
        self._play_t: float | None = None
        self._bind_settings()

    def _bind_settings(self) -> None:
        """The connection form is saved with the case: where the twin's data comes from
        (section "live") and how the instrument peer's poses are read (section "link", beside
        the registration). Deliberately not saved: the broker user and password (a person's
        credentials, which must not travel with a shared case file), and what is only an
        action's argument or a moment of the session (desired value, command text, Live /
        timeline position)."""
        s = self.settings = CaseSettings(self, "live", "Change live settings")
        s.add("mqtt_url", self.mqtt_edit)
        s.add("igtl_endpoint", self.igtl_edit)
        s.add("igtl_mode", self.igtl_mode)
        s.add("colour_by", get=self.colour_combo.currentText, put=self._put_colour)
        self.colour_combo.currentIndexChanged.connect(lambda _i: s.changed())
        s.add("playback_speed", self.speed_combo)
        s.add("healthy_window_s", self.predict.window_spin)  # how the anomaly model is trained
        s.add("false_alarm_rate", self.predict.rate_combo)
        link = self.link_settings = CaseSettings(self, "link", "Change live link settings")
        link.add("peer_frame", self.frame_combo, data=True)
        link.add("image_poses", get=lambda: parse_image_poses(self.image_pose_edit.text()),
                 put=lambda poses: self.image_pose_edit.setText(", ".join(
                     f"{i}={t}" for i, t in (poses or {}).items())))
        self.image_pose_edit.textChanged.connect(lambda _t: link.changed())

    def _put_colour(self, quantity) -> None:
        """Colour by the stored quantity if the link lists it (else see :meth:`_fill_static`)."""
        index = self.colour_combo.findText(str(quantity or ""))
        if index >= 0:
            self.colour_combo.setCurrentIndex(index)

    # -- case and asset ------------------------------------------------------------------------
    def set_case(self, case: Case) -> None:
        self.settings.detach()
        self.link_settings.detach()
        if self.case is not None:
            section_events(self.case).changed.disconnect(self._section_changed)
        self.case = case
        section_events(case).changed.connect(self._section_changed)
        self.asset = None
        self.overlay.reset()  # (the workbench dropped the live overlays with the old case)
        if self.session is not None:
            self.session.instruments.case = case
        # the connection settings saved with the case (defaults where it has none)
        self.settings.attach(case)
        self.link_settings.attach(case)

    def _section_changed(self, key: str) -> None:
        """The link section changed (a registration, a tip calibration, or their undo): the
        running link follows what the case holds."""
        doc = self.case.sections.get("link") if self.case is not None else None
        if key == "link" and self.session is not None and isinstance(doc, dict):
            try:
                self.session.instruments.apply_settings(doc)
            except InputError as exc:
                self.window.last_error = show_error(self, "Live link settings", exc)

    def set_peer_settings(self, frame: str, image_poses: dict) -> None:
        """Show ``frame`` ("lps"/"ras") and the image-pose mapping in the connect form."""
        index = self.frame_combo.findData(str(frame).lower())
        self.frame_combo.setCurrentIndex(max(index, 0))
        if isinstance(image_poses, dict):
            self.image_pose_edit.setText(", ".join(f"{i}={t}" for i, t in image_poses.items()))

    def add_demo_asset(self) -> SceneObject:
        """Put the simulator's pump bracket in the scene and use its sensor layout."""
        from sim.twin.simulate import demo_asset_surface

        if self.case is None:
            self.window.set_case(Case(name="Live twin", anatomical=False))
        obj = SceneObject(name="Pump bracket", kind=ObjectKind.PART, data=demo_asset_surface(),
                          color=(0.75, 0.78, 0.82), live_source=LiveSource.MQTT)
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
        from sim.model.atomic import private_dir

        folder = private_dir(cache_dir() / "live")  # recorded sessions: owner only
        return folder / time.strftime("session-%Y%m%d-%H%M%S.db")

    def connect_link(self) -> None:
        from sim.twin.instruments import Endpoint, parse_image_poses
        from sim.twin.mqtt_link import BrokerConfig
        from sim.twin.session import LiveSession
        from sim.twin.simulate import demo_config

        session = None
        if self.case is None:  # tools and images need a scene to appear in
            self.window.set_case(Case(name="Live twin", anatomical=False))
        try:
            config = demo_config(object_name=self.asset.name if self.asset else "Pump bracket")
            session = LiveSession(self.case, config, self.history_path(),
                                  dispatch=self.main_thread)
            if "link" in self.case.sections:  # the registration made in an earlier session
                session.instruments.apply_settings(self.case.sections["link"])
            warnings = []
            if self.igtl_edit.text().strip():
                ep = Endpoint.parse(self.igtl_edit.text().strip())
                endpoint = session.connect_igtl(
                    ep.host, ep.port, listen=self.igtl_mode.currentIndex() == 1,
                    peer_frame=self.frame_combo.currentData(),
                    image_poses=parse_image_poses(self.image_pose_edit.text()))
                if endpoint.warning:
                    warnings.append(endpoint.warning)
                self._keep_peer_settings(session.instruments)
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
        self.predict.attach(session, config.asset)
        self._stamp, self._alarm_view, self._peer_stamp = (), [], ()
        self.peer_list.clear()
        self.reader = session.history.reader() if session.history else None
        self._fill_static()
        self.connect_button.setText("Disconnect")
        self.status_label.setText("Connecting…" + ("\n" + "\n".join(warnings) if warnings
                                                    else ""))
        self.timer.start()

    def _keep_peer_settings(self, instruments) -> None:
        """Save the peer frame and image poses with the case (section "link", beside the
        registration), when they differ from what it holds."""
        doc = instruments.settings()
        old = self.case.sections.get("link")
        stored = old if isinstance(old, dict) else {}
        if (stored.get("peer_frame", "lps"), stored.get("image_poses", {})) != (
                doc["peer_frame"], doc["image_poses"]):
            set_section(self.case, "link", {**stored, **doc}, "Change live link settings")

    def disconnect_link(self) -> None:
        self.timer.stop()
        self.predict.detach()
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
        stored = self.settings.stored().get("colour_by")  # the case's choice, if it made one
        with self.settings.quiet():
            self.colour_combo.setCurrentText(
                stored if stored in ("(none)", *tel.quantities()) else
                "temperature" if "temperature" in tel.quantities() else "(none)")
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
        self.predict.refresh()
        self._update_alarms()
        self._update_state()
        self._update_peer_messages()
        self._bind_live_actors()
        ins = s.instruments
        stamp = (sum(t.shown for t in ins.tools.values()),
                 sum(p.shown for p in ins.images.values()), s.telemetry.counters.accepted)
        if stamp != self._stamp and self.live_check.isChecked():  # only when the model moved
            self._stamp = stamp
            self._update_sensors()
            self._update_plot()
            self._dirty_render = not self._update_colours()  # else the overlays rendered
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
            self.sensor_table.setItem(row, 4,
                                      QTableWidgetItem(self.predict.flags_text(sensor.id)))

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
        self.plot.set_predictions(*self.predict.overlays(sensor.id))
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

    def _update_peer_messages(self) -> None:
        ins = self.session.instruments
        points = dict(ins.points)
        stamp = (ins.strings_received, tuple((d, len(p)) for d, p in points.items()))
        if stamp == self._peer_stamp:
            return
        self._peer_stamp = stamp
        self.peer_list.clear()
        for device, items in points.items():
            self.peer_list.addItem(f"POINT {device}: " + "; ".join(
                f"{p.name} ({', '.join(f'{x:.1f}' for x in p.position)})" for p in items[:4])
                + (" …" if len(items) > 4 else ""))
        for t, device, text in reversed(ins.recent_strings(8)):  # newest first
            self.peer_list.addItem(time.strftime("%H:%M:%S ", time.localtime(t))
                                   + f"{device}: {text}")

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
        self._update_colours()  # an acknowledged alarm takes its banner away

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
        return self.overlay.actor(obj)

    def _bind_live_actors(self) -> None:
        if self.session is None:
            return
        ins = self.session.instruments
        objs = [t.obj for t in ins.tools.values()] + [p.obj for p in ins.images.values()]
        if self.asset is not None:
            objs.append(self.asset)
        if self.overlay.bind(objs):
            self._dirty_render = True

    def _choose_quantity(self, quantity: str) -> None:
        self.overlay.field = None
        if self.session is not None and self.asset is not None and quantity != "(none)":
            self.overlay.field = self.session.telemetry.field_for(
                quantity, self.asset.data.points, self.asset.name)
        self._update_colours()

    def _update_colours(self) -> bool:
        """The asset's colours, then the workbench's live overlays (markers, banner, tool
        tips, colour bar), which every view draws; True if they changed (and so the view
        has rendered both)."""
        if self.session is None:
            return False
        legend = self.overlay.colour(self.asset, self.session.telemetry.values())
        return self.workbench.show_live(live_overlays_of(self.session, self.asset, legend))

    # -- timeline -----------------------------------------------------------------------------------
    def _live_toggled(self, live: bool) -> None:
        if live:
            self.timeline.setValue(1000)

    def _scrub(self, position: int) -> None:
        span = self.reader.time_range() if self.reader is not None else None
        if self.session is None or span is None or position >= 1000 and self.connected:
            return
        self.live_check.setChecked(False)
        if self.play_timer.isActive() and self._play_t is not None:
            t = self._play_t  # playing: the exact time, not the slider's rounding
        else:
            t = span[0] + (span[1] - span[0]) * position / 1000.0
            self._play_t = t
        self.show_time(t)

    def show_time(self, t: float) -> None:
        """Put the recorded state at time ``t`` into the scene and the widgets."""
        session = self.session
        if session is None or self.reader is None:
            return
        session.apply_history_state(self.reader, t)
        self.time_label.setText(time.strftime("%H:%M:%S", time.localtime(t))
                                + f".{int((t % 1) * 10)}")
        self._update_sensors()
        if not self._update_colours():  # (if the overlays changed, the view rendered)
            self.window.view.plotter.render()

    def _play_toggled(self, on: bool) -> None:
        span = self.reader.time_range() if self.reader is not None else None
        if not on or span is None:
            self.play_timer.stop()
            self.play_button.setChecked(False)
            return
        if self._play_t is None or self._play_t >= span[1] or self.live_check.isChecked():
            self._play_t = span[0]
        self.live_check.setChecked(False)
        self.play_timer.start()

    def _play_step(self) -> None:
        span = self.reader.time_range() if self.reader is not None else None
        if span is None or self._play_t is None:
            self.play_button.setChecked(False)
            return
        speed = float(self.speed_combo.currentText().rstrip("x"))
        self._play_t = min(self._play_t + speed * self.play_timer.interval() / 1000.0, span[1])
        pos = int(round(999 * (self._play_t - span[0]) / max(span[1] - span[0], 1e-9)))
        self.timeline.blockSignals(True)
        self.timeline.setValue(pos)
        self.timeline.blockSignals(False)
        self.show_time(self._play_t)
        if self._play_t >= span[1]:
            self.play_button.setChecked(False)

    def open_history(self, path: str | Path) -> None:
        """Open a recorded session to scrub and play (no connection needed)."""
        from sim.twin.history import HistoryStore
        from sim.twin.session import LiveSession
        from sim.twin.simulate import demo_config

        reader = HistoryStore.open(path)  # FileFormatError for anything else
        self.shutdown()
        if self.case is None:
            self.window.set_case(Case(name="Recorded twin", anatomical=False))
        self.overlay.reset()
        self.workbench.show_live([])
        name = self.asset.name if self.asset else "Pump bracket"
        self.session = LiveSession(self.case, demo_config(object_name=name),
                                   dispatch=self.main_thread)
        self.reader, self.connected = reader, False
        for c in reader.channels():  # the recorded instruments, adopting those in the scene
            if c["kind"] == "pose":
                self.session.instruments.add_tool(c["channel"])
        self._fill_static()
        self._bind_live_actors()
        self.status_label.setText(f"Recording {Path(path).name}: {reader.count()} events")
        self.timeline.setValue(0)
        self._scrub(0)

    def _open_dialog(self) -> None:
        from PyQt6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Open recording", str(self.history_path()
                                                                          .parent),
                                              "Twinsight history (*.db);;All files (*)")
        if path:
            try:
                self.open_history(path)
            except Exception as exc:
                self.window.last_error = show_error(self, "Cannot open the recording", exc)

    def _export_dialog(self) -> None:
        from PyQt6.QtWidgets import QFileDialog

        if self.reader is None:
            self.status_label.setText("Nothing recorded yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export recording", "session.csv",
                                              "CSV (*.csv);;Parquet (*.parquet)")
        if path:
            try:
                rows = self.reader.export(path)
            except Exception as exc:
                self.window.last_error = show_error(self, "Cannot export", exc)
                return
            self.status_label.setText(f"Exported {rows} events to {path}")

    session = property(lambda self: self.workbench.link,
                       lambda self, value: self.workbench.set_link(value))

    def shutdown(self) -> None:
        self.play_timer.stop()
        self.timer.stop()
        self.predict.detach()
        if self.session is not None:
            self.session.close()
            self.session, self.connected = None, False
        if self.reader is not None:
            self.reader.close()
            self.reader = None
