"""The Devices tab: the device plans (entry, target, depth and where the device starts), one
table row each, checked as they are typed."""

from __future__ import annotations

import copy

import numpy as np
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.rehearsal.scenario import DevicePlan
from viewer.panels.rehearse_authoring.fields import ERROR_STYLE, ExactSpin
from viewer.panels.spin import button, wrapped_label

# Device plan table: name, entry x y z, target x y z, depth, start (back, aside, tilt), remove.
DEVICE_COLUMNS = ["device", "entry x", "entry y", "entry z", "target x", "target y", "target z",
                  "depth", "held back", "aside (mm)", "tilt (deg)", ""]  # lengths in mm
BACK, ASIDE, TILT, REMOVE = 8, 9, 10, 11


class DevicesTab(QWidget):
    """The device plans as a table; problems show under it as they are typed."""

    def __init__(self, dialog) -> None:
        super().__init__()
        self.dialog = dialog
        v = QVBoxLayout(self)
        text = QLabel("Device plans: the planned trajectory from the entry point to the target "
                      "(all in mm, patient LPS: x to the left, y to the back, z up), the anchor's depth "
                      "past the entry, and where the device starts: held back along the trajectory, "
                      "aside from it and tilted from its axis, so the trainee must steer it onto "
                      "the plan (all 0: on the plan; \"custom\": a start pose set in Advanced, "
                      "kept). "
                      "Renaming a device renames it in the steps.")
        text.setWordWrap(True)
        v.addWidget(text)
        self.table = QTableWidget(0, len(DEVICE_COLUMNS))
        self.table.setObjectName("deviceTable")
        self.table.setHorizontalHeaderLabels(DEVICE_COLUMNS)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for c in (0, len(DEVICE_COLUMNS) - 1):
            head.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        v.addWidget(self.table, 1)
        self.message = wrapped_label("deviceMessage")
        self.message.setStyleSheet(ERROR_STYLE)
        v.addWidget(self.message)
        row = QHBoxLayout()
        add = button("Add device", lambda: self.add_device(),
                     "Plan a device of the case (its trajectory, as Build from plan does)")
        row.addWidget(add)
        row.addStretch(1)
        v.addLayout(row)

    def load(self, data: dict) -> None:
        self.table.setRowCount(0)
        for x in data.get("devices", []):
            self.add_device(x if isinstance(x, dict) else {})
        self.check()

    def add_device(self, plan: dict | None = None) -> int:
        """A row for a device plan; without one, plan the first case device not yet planned
        the way *Build from plan* does. Returns the row."""
        if plan is None:
            plan = self._new_device_plan()
        t = self.table
        r = t.rowCount()
        t.insertRow(r)
        combo = QComboBox()
        combo.setEditable(True)
        names = self.dialog.case_device_names()
        combo.addItems(names)
        name = plan.get("name") if isinstance(plan.get("name"), str) else ""
        if name and name not in names:
            combo.addItem(name)
        combo.setCurrentText(name)
        combo.loaded = plan  # what the row was loaded from (name for renames, start pose)
        combo.currentTextChanged.connect(lambda _t: self.check())
        t.setCellWidget(r, 0, combo)
        for c, key in ((1, "entry"), (4, "target")):
            p = plan.get(key)
            p = p if isinstance(p, list) and len(p) == 3 else [0.0, 0.0, 0.0]
            for i in range(3):
                v = p[i] if isinstance(p[i], int | float) and not isinstance(p[i], bool) else 0
                s = ExactSpin(v, -1e5, 1e5)
                s.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
                s.valueChanged.connect(lambda _v: self.check())
                t.setCellWidget(r, c + i, s)
        depth = plan.get("depth", 0.0)
        depth = ExactSpin(depth if isinstance(depth, int | float) else 0.0, -1000.0, 1000.0)
        depth.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        depth.valueChanged.connect(lambda _v: self.check())
        t.setCellWidget(r, 7, depth)
        back = ExactSpin(0.0, 0.0, 1000.0)
        back.setToolTip("How far back along the planned trajectory the device starts (mm)")
        aside = ExactSpin(0.0, -1000.0, 1000.0)
        aside.setToolTip("How far to the side of the planned trajectory the device starts (mm)")
        tilt = ExactSpin(0.0, -90.0, 90.0)
        tilt.setToolTip("How far the device's axis starts tilted from the planned one "
                        "(degrees, turning its tip further aside)")
        held = start_offsets(plan)
        if held is None:  # a start pose made some other way: keep it
            back.setMinimum(-1.0)
            back.setSpecialValueText("custom")
            back.load(-1.0)
            back.setToolTip("A custom start pose (Advanced); set a distance to start held "
                            "back, aside and tilted instead")
        else:
            back.load(held[0])
            aside.load(held[1])
            tilt.load(held[2])
        for c, spin in ((BACK, back), (ASIDE, aside), (TILT, tilt)):
            spin.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
            spin.valueChanged.connect(lambda _v: self.check())
            t.setCellWidget(r, c, spin)
        remove = button("✕", lambda: self.remove_device(remove), "Remove this device plan")
        t.setCellWidget(r, REMOVE, remove)
        self.check()
        return r

    def _new_device_plan(self) -> dict:
        from sim.rehearsal.builder import device_plan

        planned = {self.table.cellWidget(r, 0).currentText()
                   for r in range(self.table.rowCount())}
        case = self.dialog.panel.case
        for name in self.dialog.case_device_names():
            if name not in planned:
                try:
                    return device_plan(case.scene[name]).to_dict()
                except (TwinsightError, ValueError, KeyError):
                    break
        return {"name": "", "entry": [0.0, 0.0, 0.0], "target": [0.0, 0.0, -50.0], "depth": 0.0}

    def remove_device(self, button: QPushButton) -> None:
        t = self.table
        for r in range(t.rowCount()):
            if t.cellWidget(r, REMOVE) is button:
                t.removeRow(r)
                break
        self.check()

    def _device_row(self, r: int) -> dict:
        t = self.table
        combo = t.cellWidget(r, 0)
        loaded = combo.loaded
        entry = [t.cellWidget(r, c).exact() for c in (1, 2, 3)]
        target = [t.cellWidget(r, c).exact() for c in (4, 5, 6)]
        depth = t.cellWidget(r, 7).exact()
        d = {"name": combo.currentText().strip(), "entry": entry, "target": target,
             "depth": depth}
        back = t.cellWidget(r, BACK)
        offsets = tuple(t.cellWidget(r, c).exact() for c in (BACK, ASIDE, TILT))
        start = loaded.get("start_pose")
        if back.specialValueText() and back.value() == back.minimum():
            d["start_pose"] = start  # custom: kept as it was
        elif (offsets == start_offsets(loaded) and start is not None
              and [entry, target, depth] == [loaded.get(k) for k in ("entry", "target", "depth")]):
            d["start_pose"] = start  # untouched: exactly as loaded
        elif any(offsets) and np.linalg.norm(np.subtract(target, entry)) > 1e-6:
            plan = DevicePlan(d["name"], entry, target, depth)
            d["start_pose"] = plan.start_offset_pose(*offsets).tolist()
        return d

    def store(self, data: dict) -> None:
        """The rows into ``data["devices"]``; the steps follow a renamed device."""
        rows = [self._device_row(r) for r in range(self.table.rowCount())]
        renames = {}
        for r, row in enumerate(rows):
            old = self.table.cellWidget(r, 0).loaded.get("name")
            if isinstance(old, str) and old and row["name"] and old != row["name"]:
                renames[old] = row["name"]
        for step in data.setdefault("steps", []):  # the steps follow a renamed device
            if not isinstance(step, dict):
                continue
            if isinstance(step.get("devices"), list):
                step["devices"] = [renames.get(x, x) for x in step["devices"]]
            for c in step.get("criteria", []) if isinstance(step.get("criteria"), list) else []:
                if isinstance(c, dict) and c.get("type") == "on_plan" \
                        and c.get("device") in renames:
                    c["device"] = renames[c["device"]]
        data["devices"] = rows
        for r, row in enumerate(rows):  # stored: the rows now stand for these plans
            self.table.cellWidget(r, 0).loaded = copy.deepcopy(row)

    def check(self) -> list[str]:
        """Each row checked as Apply will (DevicePlan.from_dict); the problems show under the
        table as they are typed."""
        problems, seen = [], set()
        case_devices = set(self.dialog.case_device_names())
        for r in range(self.table.rowCount()):
            if self.table.cellWidget(r, REMOVE) is None:
                return []  # the row is being built
            row = self._device_row(r)
            try:
                DevicePlan.from_dict(copy.deepcopy(row), f"devices[{r}]")
            except TwinsightError as exc:
                problems.append(f"Row {r + 1}: {exc}")
                continue
            if row["name"] in seen:
                problems.append(f"Row {r + 1}: '{row['name']}' is planned twice.")
            elif case_devices and row["name"] not in case_devices:
                problems.append(f"Row {r + 1}: '{row['name']}' is not a device of the case.")
            seen.add(row["name"])
        self.message.setText("\n".join(problems))
        return problems


def start_offsets(plan: dict) -> tuple[float, float, float] | None:
    """(held back mm, aside mm, tilt degrees) of a plan's start pose (zeros with none), or
    None when the start pose is not one of those (a custom one) or the plan is not valid."""
    if plan.get("start_pose") is None:
        return 0.0, 0.0, 0.0
    try:
        start = np.asarray(plan["start_pose"], float)
        if start.shape != (4, 4):
            return None
        return DevicePlan("device", [float(v) for v in plan["entry"]],
                          [float(v) for v in plan["target"]], float(plan.get("depth", 0.0)),
                          start.tolist()).start_offsets()
    except (TwinsightError, KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
