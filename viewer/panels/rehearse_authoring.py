"""The scenario authoring dialog: steps, criteria, structures, devices and scoring as forms.

Tabs: *Scenario* (name, description, time limit), *Steps* (ordered list with
add/remove/reorder; per step its title, instructions, optional picture, the objects shown, the
instruments and devices in play, time limit, weight and success criteria with their
parameters), *Structures* (critical structures and their damage thresholds), *Devices* (the
device plans: entry, target, depth and where the device starts), *Scoring* (per metric its
weight and its [good, bad] band, blank for the default) and *Advanced (JSON)*, the whole
documented file for what the forms leave out (the simulation set-up, a step's own bands, a
custom start pose). The tabs share one working copy of the scenario's JSON: leaving a tab
stores its fields into it, entering one loads from it. *Apply* validates it
(:meth:`Scenario.from_dict`) and hands it to the panel; errors show in the dialog, and the
Scoring and Devices tabs flag a bad band or plan as it is typed.
"""

from __future__ import annotations

import copy
import json

import numpy as np
from PyQt6.QtCore import QLocale, Qt
from PyQt6.QtGui import QDoubleValidator, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.rehearsal.scenario import (
    CRITERIA,
    DevicePlan,
    Scenario,
    image_bytes,
    image_data_uri,
)
from sim.rehearsal.scoring import METRICS

# Per criterion type: its fields (key, label, suffix or None for a name choice) and defaults.
CRITERION_FIELDS = {
    "retraction": [("min_mm", "at least", " mm")],
    "no_damage": [("max_s", "allowed", " s")],
    "no_contact": [("structure", "structure", None)],
    "on_plan": [("device", "device", None), ("max_entry_mm", "entry", " mm"),
                ("max_angle_deg", "angle", "°"), ("max_tip_mm", "tip", " mm")],
    "max_force": [("max_n", "at most", " N")],
    "time": [("max_s", "within", " s")],
}
CRITERION_DEFAULTS = {"retraction": {"min_mm": 15.0}, "no_damage": {},
                      "on_plan": {"max_entry_mm": 2.0, "max_angle_deg": 5.0},
                      "max_force": {"max_n": 2.0}, "time": {"max_s": 60.0}}
CRITERION_LABELS = {"retraction": "Retract by", "no_damage": "No tissue damage",
                    "no_contact": "Do not touch", "on_plan": "Device on plan",
                    "max_force": "Contact force", "time": "Time"}
# Thresholds of a critical structure: key, column title, suffix, maximum.
THRESHOLDS = [("margin_mm", "margin", " mm", 100.0), ("max_contact_force_n", "max force", " N", 1e4),
              ("max_von_mises_kpa", "max stress", " kPa", 1e6),
              ("max_strain_pct", "max strain", " %", 1e4)]
assert set(CRITERION_FIELDS) == set(CRITERIA)  # one form per documented criterion
# The tabs, in order; _load/_store dispatch on these.
TABS = ("scenario", "steps", "structures", "devices", "scoring", "json")
# Device plan table: name, entry x y z, target x y z, depth, start, remove.
DEVICE_COLUMNS = ["device", "entry x", "entry y", "entry z", "target x", "target y", "target z",
                  "depth", "start back", ""]  # all lengths in mm
ERROR_STYLE = "color: #b3261e;"


def _spin(value: float | None, suffix: str, hi: float = 1e5, off: bool = True) -> QDoubleSpinBox:
    """A number field; with ``off``, 0 shows as "–" and means "not set"."""
    s = QDoubleSpinBox()
    s.setRange(0.0, hi)
    s.setDecimals(2)
    s.setSuffix(suffix)
    if off:
        s.setSpecialValueText("–")
    s.setValue(value or 0.0)
    return s


class ExactSpin(QDoubleSpinBox):
    """A number field that gives back the value it was loaded with, unrounded, until it is
    edited (so a plan's 12.3456 mm does not become 12.35 mm by visiting the tab)."""

    def __init__(self, value: float, lo: float, hi: float, suffix: str = "",
                 decimals: int = 2) -> None:
        super().__init__()
        self.setRange(lo, hi)
        self.setDecimals(decimals)
        self.setSuffix(suffix)
        self.load(value)

    def load(self, value: float) -> None:
        self._loaded = float(value)
        self.setValue(self._loaded)
        self._shown = self.value()

    def exact(self) -> float:
        return self._loaded if self.value() == self._shown else self.value()


def _fmt(x) -> str:
    """A number as text, exactly (30.0 -> "30", 0.125 -> "0.125")."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    t = repr(float(x))
    return t[:-2] if t.endswith(".0") else t


def _checklist(names: list[str], checked: list[str]) -> QListWidget:
    w = QListWidget()
    for n in names:
        item = QListWidgetItem(n)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if n in checked else Qt.CheckState.Unchecked)
        w.addItem(item)
    w.setMaximumHeight(22 * min(max(len(names), 2), 6) + 6)
    return w


def _checked(w: QListWidget) -> list[str]:
    return [w.item(i).text() for i in range(w.count())
            if w.item(i).checkState() == Qt.CheckState.Checked]


class CriterionRow(QWidget):
    """One success criterion: a type and that type's parameters as fields."""

    def __init__(self, data: dict, structures: list[str], devices: list[str], on_remove) -> None:
        super().__init__()
        self.structures, self.devices = structures, devices
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.type_combo = QComboBox()
        for kind in CRITERIA:
            self.type_combo.addItem(CRITERION_LABELS[kind], kind)
        self.type_combo.setCurrentIndex(self.type_combo.findData(data.get("type", "retraction")))
        self.row.addWidget(self.type_combo)
        self.fields: dict[str, QWidget] = {}
        self.remove_button = QPushButton("✕")
        self.remove_button.setToolTip("Remove this criterion")
        self.remove_button.setFixedWidth(28)
        self.remove_button.clicked.connect(lambda: on_remove(self))
        self._build_fields(data)
        self.type_combo.currentIndexChanged.connect(
            lambda _i: self._build_fields({"type": self.kind, **CRITERION_DEFAULTS.get(
                self.kind, {})}))

    @property
    def kind(self) -> str:
        return self.type_combo.currentData()

    def _build_fields(self, data: dict) -> None:
        while self.row.count() > 1:  # all but the type: fields, stretch, remove button
            w = self.row.takeAt(1).widget()
            if w is not None and w is not self.remove_button:
                _discard(w)
        self.fields = {}
        for key, label, suffix in CRITERION_FIELDS[self.kind]:
            lab = QLabel(label)
            if suffix is None:
                field = QComboBox()
                names = self.structures if key == "structure" else self.devices
                field.addItems(names)
                if data.get(key) in names:
                    field.setCurrentText(data[key])
                elif data.get(key):
                    field.addItem(data[key])  # keep an unknown name: Apply reports it
                    field.setCurrentText(data[key])
            else:
                field = _spin(data.get(key), suffix,
                              off=key in ("max_s", "max_entry_mm", "max_angle_deg", "max_tip_mm")
                              and self.kind in ("no_damage", "on_plan"))
            field.setMaximumWidth(110 if suffix is not None else 200)
            self.fields[key] = field
            self.row.addWidget(lab)
            self.row.addWidget(field)
        self.row.addStretch(1)
        self.row.addWidget(self.remove_button)

    def to_dict(self) -> dict:
        d = {"type": self.kind}
        for key, f in self.fields.items():
            if isinstance(f, QComboBox):
                if f.currentText():
                    d[key] = f.currentText()
            elif f.value() or f.specialValueText() == "":
                d[key] = f.value()
        return d


class StepForm(QWidget):
    """The fields of one step (loaded from and stored into the step's dict)."""

    def __init__(self, dialog) -> None:
        super().__init__()
        self.dialog = dialog
        self.step: dict | None = None
        form = QFormLayout(self)
        self.id_edit = QLineEdit()
        self.title_edit = QLineEdit()
        self.instructions_edit = QPlainTextEdit()
        self.instructions_edit.setPlaceholderText("What the trainee should do in this step")
        self.instructions_edit.setMaximumHeight(90)
        form.addRow("Id", self.id_edit)
        form.addRow("Title", self.title_edit)
        form.addRow("Instructions", self.instructions_edit)
        row = QHBoxLayout()
        self.image_preview = QLabel()
        self.image_preview.setObjectName("stepImagePreview")
        self.image_text = QLabel("none")
        self.image_text.setWordWrap(True)
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_image)
        clear = QPushButton("Remove")
        clear.clicked.connect(lambda: self.set_image(None))
        col = QVBoxLayout()
        col.addWidget(self.image_text)
        buttons = QHBoxLayout()
        buttons.addWidget(choose)
        buttons.addWidget(clear)
        buttons.addStretch(1)
        col.addLayout(buttons)
        row.addWidget(self.image_preview)
        row.addLayout(col, 1)
        form.addRow("Picture", row)
        self.limit_spin = _spin(None, " s")
        self.weight_spin = _spin(1.0, "", hi=1000.0, off=False)
        row = QHBoxLayout()
        row.addWidget(self.limit_spin)
        row.addWidget(QLabel("Weight"))
        row.addWidget(self.weight_spin)
        row.addStretch(1)
        form.addRow("Time limit", row)
        self.lists = QHBoxLayout()
        form.addRow(self.lists)
        self.objects_list = self.instruments_list = self.devices_list = None
        box = QGroupBox("Success criteria")
        self.criteria_col = QVBoxLayout(box)
        add = QPushButton("Add criterion")
        add.clicked.connect(lambda: self.add_criterion({"type": "no_damage"}))
        self.criteria_col.addWidget(add)
        form.addRow(box)
        self.criteria: list[CriterionRow] = []
        self.image: str | None = None

    # -- image --------------------------------------------------------------------------------
    def _choose_image(self) -> None:
        path = self.dialog.choose_image_file()
        if path:
            try:
                self.set_image(image_data_uri(path))
            except TwinsightError as exc:
                self.dialog.message.setText(str(exc))

    def set_image(self, image: str | None) -> None:
        """The step's picture: a data: URI (embedded in the case), a path, or None."""
        self.image = image or None
        self.image_preview.clear()
        if not self.image:
            self.image_text.setText("none")
            return
        try:
            data = image_bytes(self.image, self.dialog.image_base())
        except TwinsightError as exc:
            self.image_text.setText(str(exc))
            return
        pix = QPixmap()
        pix.loadFromData(data)
        self.image_preview.setPixmap(pix.scaled(96, 72, Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))
        where = "embedded" if self.image.startswith("data:") else self.image
        self.image_text.setText(f"{pix.width()}×{pix.height()} px, {len(data) // 1024 + 1} kB "
                                f"({where}); shown to the trainee beside the instructions")

    # -- load / store -------------------------------------------------------------------------
    def load(self, step: dict) -> None:
        self.step = step
        d = self.dialog
        self.id_edit.setText(step.get("id", ""))
        self.title_edit.setText(step.get("title", ""))
        self.instructions_edit.setPlainText(step.get("instructions", ""))
        self.set_image(step.get("image"))
        self.limit_spin.setValue(step.get("time_limit_s") or 0.0)
        self.weight_spin.setValue(step.get("weight", 1.0))
        while self.lists.count():
            w = self.lists.takeAt(0).widget()
            if w is not None:
                _discard(w)
        lists = []
        for title, names, key in (("Objects shown (none: all)", d.object_names(), "objects"),
                                  ("Instruments in play", d.instrument_names(), "instruments"),
                                  ("Devices placed", d.device_names(), "devices")):
            box = QGroupBox(title)
            v = QVBoxLayout(box)
            extra = [n for n in step.get(key, []) if n not in names]  # keep what JSON named
            w = _checklist(names + extra, step.get(key, []))
            v.addWidget(w)
            v.addStretch(1)
            self.lists.addWidget(box)
            lists.append(w)
        self.objects_list, self.instruments_list, self.devices_list = lists
        for r in list(self.criteria):
            self._remove_row(r)
        for c in step.get("criteria", []):
            self.add_criterion(c)

    def store(self) -> None:
        s = self.step
        if s is None:
            return
        s["id"] = self.id_edit.text().strip()
        s["title"] = self.title_edit.text().strip() or s["id"]
        s["instructions"] = self.instructions_edit.toPlainText()
        if self.image:
            s["image"] = self.image
        else:
            s.pop("image", None)
        if self.limit_spin.value():
            s["time_limit_s"] = self.limit_spin.value()
        else:
            s.pop("time_limit_s", None)
        s["weight"] = self.weight_spin.value()
        s["objects"] = _checked(self.objects_list)
        s["instruments"] = _checked(self.instruments_list)
        s["devices"] = _checked(self.devices_list)
        s["criteria"] = [r.to_dict() for r in self.criteria]

    # -- criteria -----------------------------------------------------------------------------
    def add_criterion(self, data: dict) -> CriterionRow:
        row = CriterionRow(data, self.dialog.structure_names(), self.dialog.device_names(),
                           self._remove_row)
        self.criteria_col.insertWidget(len(self.criteria), row)
        self.criteria.append(row)
        return row

    def _remove_row(self, row: CriterionRow) -> None:
        self.criteria.remove(row)
        self.criteria_col.removeWidget(row)
        _discard(row)


class AuthoringDialog(QDialog):
    """Edit a scenario with forms, or as JSON (the Advanced tab)."""

    def __init__(self, panel, scenario: Scenario) -> None:
        super().__init__(panel)
        self.panel = panel
        self.data = copy.deepcopy(scenario.to_dict())
        self.setWindowTitle("Rehearsal scenario")
        self.resize(1040, 760)
        col = QVBoxLayout(self)
        self.tabs = QTabWidget()
        col.addWidget(self.tabs, 1)
        self._build_scenario_tab()
        self._build_steps_tab()
        self._build_structures_tab()
        self._build_devices_tab()
        self._build_scoring_tab()
        self.editor = QPlainTextEdit()
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs.addTab(self.editor, "Advanced (JSON)")
        self.message = QLabel("")
        self.message.setObjectName("authoringMessage")
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
        assert self.tabs.count() == len(TABS)
        self._tab = 0
        self._shown_step: int | None = None
        self._load(0)
        self.tabs.currentChanged.connect(self._tab_changed)

    # -- names the forms offer ----------------------------------------------------------------
    def object_names(self) -> list[str]:
        case = self.panel.case
        return [o.name for o in case.scene] if case is not None else []

    def instrument_names(self) -> list[str]:
        return [i.get("name", "") for i in self.data.get("simulation", {}).get("setup", {})
                .get("instruments", []) if isinstance(i, dict)]

    def device_names(self) -> list[str]:
        return [d.get("name", "") for d in self.data.get("devices", []) if isinstance(d, dict)]

    def case_device_names(self) -> list[str]:
        from sim.model import ObjectKind

        case = self.panel.case
        return [o.name for o in case.scene if o.kind == ObjectKind.DEVICE] \
            if case is not None else []

    def structure_names(self) -> list[str]:
        return [s.get("name", "") for s in self.data.get("structures", [])
                if isinstance(s, dict)]

    def image_base(self):
        path = getattr(self.panel.window, "case_path", None)
        return path if path is not None and path.is_dir() else None

    def choose_image_file(self) -> str:
        """Ask for a picture file (tests replace this: no modal dialog)."""
        path, _ = QFileDialog.getOpenFileName(self, "Instruction picture", "",
                                              "Images (*.png *.jpg *.jpeg)")
        return path

    # -- tabs ---------------------------------------------------------------------------------
    def _build_scenario_tab(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.name_edit = QLineEdit()
        self.description_edit = QPlainTextEdit()
        self.description_edit.setMaximumHeight(70)
        self.limit_spin = _spin(None, " s")
        self.body_label = QLabel("")
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Time limit", self.limit_spin)
        form.addRow("Simulated body", self.body_label)
        note = QLabel("Score weights and bands: the Scoring tab. Device plans: the Devices tab.")
        note.setEnabled(False)
        form.addRow(note)
        self.tabs.addTab(_scrolled(page), "Scenario")

    def _build_steps_tab(self) -> None:
        page = QWidget()
        row = QHBoxLayout(page)
        left = QVBoxLayout()
        self.step_list = QListWidget()
        self.step_list.setObjectName("stepList")
        self.step_list.setMaximumWidth(200)
        left.addWidget(self.step_list, 1)
        buttons = QHBoxLayout()
        for text, tip, slot in (("+", "Add a step after the selected one", self.add_step),
                                ("−", "Remove the selected step", self.remove_step),
                                ("↑", "Move the step up", lambda: self.move_step(-1)),
                                ("↓", "Move the step down", lambda: self.move_step(1))):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setFixedWidth(40)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        left.addLayout(buttons)
        row.addLayout(left)
        self.step_form = StepForm(self)
        scroll = _scrolled(self.step_form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # fit width
        row.addWidget(scroll, 1)
        self.step_list.currentRowChanged.connect(self._step_selected)
        self.tabs.addTab(page, "Steps")

    def _build_structures_tab(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        v.addWidget(QLabel("Critical structures: touching one with contact checked damages it; "
                           "the simulated body is judged by force, stress and strain "
                           "(– : not judged). Damage fails the step it happens in."))
        self.structure_table = QTableWidget(0, 3 + len(THRESHOLDS))
        self.structure_table.setHorizontalHeaderLabels(
            ["structure", "contact", *[t[1] for t in THRESHOLDS], ""])
        v.addWidget(self.structure_table, 1)
        row = QHBoxLayout()
        add = QPushButton("Add structure")
        add.clicked.connect(lambda: self.add_structure({"name": "", "contact": True}))
        row.addWidget(add)
        row.addStretch(1)
        v.addLayout(row)
        self.tabs.addTab(page, "Structures")

    def _build_devices_tab(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        text = QLabel("Device plans: the planned trajectory from the entry point to the target "
                      "(all in mm, patient LPS: x to the left, y to the back, z up), the anchor's depth "
                      "past the entry, and how far back along the trajectory the device starts "
                      "(0: on the plan; \"custom\": a start pose set in Advanced, kept). "
                      "Renaming a device renames it in the steps.")
        text.setWordWrap(True)
        v.addWidget(text)
        self.device_table = QTableWidget(0, len(DEVICE_COLUMNS))
        self.device_table.setObjectName("deviceTable")
        self.device_table.setHorizontalHeaderLabels(DEVICE_COLUMNS)
        head = self.device_table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for c in (0, len(DEVICE_COLUMNS) - 1):
            head.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        v.addWidget(self.device_table, 1)
        self.device_message = QLabel("")
        self.device_message.setObjectName("deviceMessage")
        self.device_message.setWordWrap(True)
        self.device_message.setStyleSheet(ERROR_STYLE)
        v.addWidget(self.device_message)
        row = QHBoxLayout()
        add = QPushButton("Add device")
        add.setToolTip("Plan a device of the case (its trajectory, as Build from plan does)")
        add.clicked.connect(lambda: self.add_device())
        row.addWidget(add)
        row.addStretch(1)
        v.addLayout(row)
        self.tabs.addTab(page, "Devices")

    def _build_scoring_tab(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        text = QLabel("Each metric scores 100 at or below good, 0 at or above bad, linearly "
                      "between; a step's score is the weighted mean of its metrics (weight 0 "
                      "leaves a metric out). A blank band value uses the default shown in grey; "
                      "a step's own bands (Advanced) override these.")
        text.setWordWrap(True)
        v.addWidget(text)
        grid_page = QWidget()
        grid = QGridLayout(grid_page)
        for c, title in enumerate(("Metric", "Weight", "Good", "Bad", "")):
            head = QLabel(f"<b>{title}</b>")
            grid.addWidget(head, 0, c)
        self.weight_spins: dict[str, ExactSpin] = {}
        self.band_edits: dict[str, tuple[QLineEdit, QLineEdit]] = {}
        self.band_messages: dict[str, QLabel] = {}
        for r, (key, m) in enumerate(METRICS.items(), start=1):
            grid.addWidget(QLabel(m.label + (f" ({m.unit})" if m.unit else "")), r, 0)
            w = ExactSpin(1.0, 0.0, 100.0)
            w.setToolTip(f"Weight of '{key}' in a step's score")
            grid.addWidget(w, r, 1)
            self.weight_spins[key] = w
            edits = []
            for c, default in ((2, m.band[0]), (3, m.band[1])):
                e = QLineEdit()
                e.setPlaceholderText(f"{default:g} (default)")
                e.setToolTip(f"'{key}' band, {('good', 'bad')[c - 2]}; blank: {default:g}")
                val = QDoubleValidator(0.0, 1e9, 6, e)
                val.setNotation(QDoubleValidator.Notation.StandardNotation)
                val.setLocale(QLocale.c())
                e.setValidator(val)
                e.setMaximumWidth(130)
                e.textChanged.connect(lambda _t, k=key: self._check_band(k))
                grid.addWidget(e, r, c)
                edits.append(e)
            self.band_edits[key] = (edits[0], edits[1])
            msg = QLabel("")
            msg.setObjectName(f"bandMessage-{key}")
            msg.setStyleSheet(ERROR_STYLE)
            msg.setToolTip("A metric scores 100 at good and falls to 0 at bad: good < bad.")
            grid.addWidget(msg, r, 4)
            self.band_messages[key] = msg
        grid.setColumnStretch(4, 1)
        grid.setRowStretch(len(METRICS) + 1, 1)
        v.addWidget(_scrolled(grid_page), 1)
        self.tabs.addTab(page, "Scoring")

    def _tab_changed(self, index: int) -> None:
        try:
            self._store(self._tab)
        except json.JSONDecodeError as exc:
            self.tabs.blockSignals(True)
            self.tabs.setCurrentIndex(self._tab)  # fix the JSON first
            self.tabs.blockSignals(False)
            self.message.setText(f"Not valid JSON: {exc}")
            return
        self._tab = index
        self._load(index)

    def _load(self, tab: int) -> None:
        d = self.data
        key = TABS[tab]
        if key == "scenario":
            self.name_edit.setText(d.get("name", ""))
            self.description_edit.setPlainText(d.get("description", ""))
            self.limit_spin.setValue(d.get("time_limit_s") or 0.0)
            self.body_label.setText(str(d.get("simulation", {}).get("body", "")))
        elif key == "steps":
            self.step_list.blockSignals(True)
            self.step_list.clear()
            for s in d.get("steps", []):
                self.step_list.addItem(s.get("title") or s.get("id", "?"))
            self.step_list.blockSignals(False)
            self._shown_step = None
            self.step_list.setCurrentRow(0 if self.step_list.count() else -1)
            if not self.step_list.count():
                self._step_selected(-1)
        elif key == "structures":
            self.structure_table.setRowCount(0)
            for s in d.get("structures", []):
                self.add_structure(s)
        elif key == "devices":
            self.device_table.setRowCount(0)
            for x in d.get("devices", []):
                self.add_device(x if isinstance(x, dict) else {})
            self._check_devices()
        elif key == "scoring":
            scoring = d.get("scoring", {}) if isinstance(d.get("scoring"), dict) else {}
            weights = scoring.get("weights", {}) if isinstance(scoring.get("weights"),
                                                               dict) else {}
            bands = scoring.get("bands", {}) if isinstance(scoring.get("bands"), dict) else {}
            for k, s in self.weight_spins.items():
                w = weights.get(k, 1.0)
                s.load(w if isinstance(w, int | float) and not isinstance(w, bool) else 1.0)
            for k, (good, bad) in self.band_edits.items():
                band = bands.get(k)
                pair = band if isinstance(band, list) and len(band) == 2 else ("", "")
                good.setText(_fmt(pair[0]))
                bad.setText(_fmt(pair[1]))
                self._check_band(k)
        else:
            self.editor.setPlainText(json.dumps(d, indent=1))

    def _store(self, tab: int) -> None:
        d = self.data
        key = TABS[tab]
        if key == "scenario":
            d["name"] = self.name_edit.text().strip()
            d["description"] = self.description_edit.toPlainText()
            d["time_limit_s"] = self.limit_spin.value() or None
        elif key == "steps":
            self.step_form.store()
        elif key == "structures":
            d["structures"] = [self._structure_row(r)
                               for r in range(self.structure_table.rowCount())]
        elif key == "devices":
            self._store_devices()
        elif key == "scoring":
            scoring = d.get("scoring")
            if not isinstance(scoring, dict):
                scoring = d["scoring"] = {}
            scoring["weights"] = {k: s.exact() for k, s in self.weight_spins.items()
                                  if s.exact() != 1.0}
            bands = {}
            for k in METRICS:
                band, _problem = self.band(k)
                if band is not None:
                    bands[k] = band  # an invalid one too: Apply reports it, nothing is lost
            scoring["bands"] = bands
        else:
            self.data = json.loads(self.editor.toPlainText())

    # -- steps --------------------------------------------------------------------------------
    @property
    def steps(self) -> list[dict]:
        return self.data.setdefault("steps", [])

    def _step_selected(self, row: int) -> None:
        if self._shown_step is not None and self._shown_step < len(self.steps):
            self.step_form.store()
            item = self.step_list.item(self._shown_step)
            if item is not None:
                s = self.steps[self._shown_step]
                item.setText(s.get("title") or s.get("id", "?"))
        self._shown_step = row if 0 <= row < len(self.steps) else None
        self.step_form.setEnabled(self._shown_step is not None)
        if self._shown_step is not None:
            self.step_form.load(self.steps[row])
        else:
            self.step_form.step = None

    def add_step(self) -> dict:
        self.step_form.store()
        ids = {s.get("id") for s in self.steps}
        n = len(self.steps) + 1
        while f"step-{n}" in ids:
            n += 1
        step = {"id": f"step-{n}", "title": f"Step {n}", "instructions": "", "objects": [],
                "instruments": [], "devices": [], "criteria": [], "weight": 1.0}
        at = self.step_list.currentRow() + 1 if self.steps else 0
        self.steps.insert(at, step)
        self._shown_step = None
        self._load(1)
        self.step_list.setCurrentRow(at)
        return step

    def remove_step(self) -> None:
        row = self.step_list.currentRow()
        if 0 <= row < len(self.steps):
            del self.steps[row]
            self._shown_step = None
            self._load(1)
            if self.steps:
                self.step_list.setCurrentRow(min(row, len(self.steps) - 1))

    def move_step(self, delta: int) -> None:
        row = self.step_list.currentRow()
        to = row + delta
        if 0 <= row < len(self.steps) and 0 <= to < len(self.steps):
            self.step_form.store()
            self.steps[row], self.steps[to] = self.steps[to], self.steps[row]
            self._shown_step = None
            self._load(1)
            self.step_list.setCurrentRow(to)

    # -- structures ---------------------------------------------------------------------------
    def add_structure(self, s: dict) -> None:
        t = self.structure_table
        r = t.rowCount()
        t.insertRow(r)
        combo = QComboBox()
        names = self.object_names()
        combo.addItems(names)
        if s.get("name") and s["name"] not in names:
            combo.addItem(s["name"])
        combo.setCurrentText(s.get("name", ""))
        t.setCellWidget(r, 0, combo)
        check = QCheckBox()
        check.setChecked(bool(s.get("contact", False)))
        t.setCellWidget(r, 1, check)
        for c, (key, _title, suffix, hi) in enumerate(THRESHOLDS, start=2):
            t.setCellWidget(r, c, _spin(s.get(key), suffix, hi=hi, off=key != "margin_mm"))
        remove = QPushButton("✕")
        remove.setToolTip("Remove this structure")
        remove.clicked.connect(lambda: self.remove_structure(remove))
        t.setCellWidget(r, 2 + len(THRESHOLDS), remove)
        t.resizeColumnsToContents()

    def remove_structure(self, button: QPushButton) -> None:
        t = self.structure_table
        for r in range(t.rowCount()):
            if t.cellWidget(r, 2 + len(THRESHOLDS)) is button:
                t.removeRow(r)
                return

    def _structure_row(self, r: int) -> dict:
        t = self.structure_table
        d = {"name": t.cellWidget(r, 0).currentText(), "contact": t.cellWidget(r, 1).isChecked()}
        for c, (key, *_rest) in enumerate(THRESHOLDS, start=2):
            v = t.cellWidget(r, c).value()
            if v or key == "margin_mm":
                d[key] = v
        return d

    # -- devices ------------------------------------------------------------------------------
    def add_device(self, plan: dict | None = None) -> int:
        """A row for a device plan; without one, plan the first case device not yet planned
        the way *Build from plan* does. Returns the row."""
        if plan is None:
            plan = self._new_device_plan()
        t = self.device_table
        r = t.rowCount()
        t.insertRow(r)
        combo = QComboBox()
        combo.setEditable(True)
        names = self.case_device_names()
        combo.addItems(names)
        name = plan.get("name") if isinstance(plan.get("name"), str) else ""
        if name and name not in names:
            combo.addItem(name)
        combo.setCurrentText(name)
        combo.loaded = plan  # what the row was loaded from (name for renames, start pose)
        combo.currentTextChanged.connect(lambda _t: self._check_devices())
        t.setCellWidget(r, 0, combo)
        for c, key in ((1, "entry"), (4, "target")):
            p = plan.get(key)
            p = p if isinstance(p, list) and len(p) == 3 else [0.0, 0.0, 0.0]
            for i in range(3):
                v = p[i] if isinstance(p[i], int | float) and not isinstance(p[i], bool) else 0
                s = ExactSpin(v, -1e5, 1e5)
                s.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
                s.valueChanged.connect(lambda _v: self._check_devices())
                t.setCellWidget(r, c + i, s)
        depth = plan.get("depth", 0.0)
        depth = ExactSpin(depth if isinstance(depth, int | float) else 0.0, -1000.0, 1000.0)
        depth.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        depth.valueChanged.connect(lambda _v: self._check_devices())
        t.setCellWidget(r, 7, depth)
        back = ExactSpin(0.0, 0.0, 1000.0)
        back.setToolTip("How far back along the planned trajectory the device starts "
                        "(0: on the plan)")
        held = _held_back(plan)
        if held is None:  # a start pose that is not on the trajectory: keep it
            back.setMinimum(-1.0)
            back.setSpecialValueText("custom")
            back.load(-1.0)
            back.setToolTip("A custom start pose (Advanced); set a distance to start on the "
                            "trajectory instead")
        else:
            back.load(held)
        t.setCellWidget(r, 8, back)
        remove = QPushButton("✕")
        remove.setToolTip("Remove this device plan")
        remove.clicked.connect(lambda: self.remove_device(remove))
        t.setCellWidget(r, 9, remove)
        self._check_devices()
        return r

    def _new_device_plan(self) -> dict:
        from sim.rehearsal.builder import device_plan

        planned = {self.device_table.cellWidget(r, 0).currentText()
                   for r in range(self.device_table.rowCount())}
        case = self.panel.case
        for name in self.case_device_names():
            if name not in planned:
                try:
                    return device_plan(case.scene[name]).to_dict()
                except (TwinsightError, ValueError, KeyError):
                    break
        return {"name": "", "entry": [0.0, 0.0, 0.0], "target": [0.0, 0.0, -50.0], "depth": 0.0}

    def remove_device(self, button: QPushButton) -> None:
        t = self.device_table
        for r in range(t.rowCount()):
            if t.cellWidget(r, 9) is button:
                t.removeRow(r)
                break
        self._check_devices()

    def _device_row(self, r: int) -> dict:
        t = self.device_table
        combo = t.cellWidget(r, 0)
        loaded = combo.loaded
        entry = [t.cellWidget(r, c).exact() for c in (1, 2, 3)]
        target = [t.cellWidget(r, c).exact() for c in (4, 5, 6)]
        depth = t.cellWidget(r, 7).exact()
        d = {"name": combo.currentText().strip(), "entry": entry, "target": target,
             "depth": depth}
        back = t.cellWidget(r, 8)
        start = loaded.get("start_pose")
        if back.specialValueText() and back.value() == back.minimum():
            d["start_pose"] = start  # custom: kept as it was
        elif (back.exact() == _held_back(loaded) and start is not None
              and [entry, target, depth] == [loaded.get(k) for k in ("entry", "target", "depth")]):
            d["start_pose"] = start  # untouched: exactly as loaded
        elif back.exact() > 0 and np.linalg.norm(np.subtract(target, entry)) > 1e-6:
            from sim.devices import pose_on_trajectory

            pose = pose_on_trajectory(entry, target, depth=depth)
            pose[:3, 3] -= back.exact() * pose[:3, 2]
            d["start_pose"] = pose.tolist()
        return d

    def _store_devices(self) -> None:
        rows = [self._device_row(r) for r in range(self.device_table.rowCount())]
        renames = {}
        for r, row in enumerate(rows):
            old = self.device_table.cellWidget(r, 0).loaded.get("name")
            if isinstance(old, str) and old and row["name"] and old != row["name"]:
                renames[old] = row["name"]
        for step in self.steps:  # the steps follow a renamed device
            if not isinstance(step, dict):
                continue
            if isinstance(step.get("devices"), list):
                step["devices"] = [renames.get(x, x) for x in step["devices"]]
            for c in step.get("criteria", []) if isinstance(step.get("criteria"), list) else []:
                if isinstance(c, dict) and c.get("type") == "on_plan" \
                        and c.get("device") in renames:
                    c["device"] = renames[c["device"]]
        self.data["devices"] = rows
        for r, row in enumerate(rows):  # stored: the rows now stand for these plans
            self.device_table.cellWidget(r, 0).loaded = copy.deepcopy(row)

    def _check_devices(self) -> list[str]:
        """Each row checked as Apply will (DevicePlan.from_dict); the problems show under the
        table as they are typed."""
        problems, seen = [], set()
        case_devices = set(self.case_device_names())
        for r in range(self.device_table.rowCount()):
            if self.device_table.cellWidget(r, 9) is None:
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
        self.device_message.setText("\n".join(problems))
        return problems

    # -- scoring ------------------------------------------------------------------------------
    def band(self, key: str) -> tuple[list | None, str]:
        """The band the Scoring row sets for a metric (None: the default) and what is wrong
        with it ("" if nothing). A blank good or bad takes the default's value; an invalid
        band is still returned (as typed) so it is stored and reported, not dropped."""
        texts = [e.text().strip() for e in self.band_edits[key]]
        if not any(texts):
            return None, ""
        default = METRICS[key].band
        values: list = []
        for text, d in zip(texts, default, strict=True):
            try:
                values.append(float(text) if text else d)
            except ValueError:
                values.append(text)
        bad_text = [t for t, v in zip(texts, values, strict=True) if isinstance(v, str)]
        if bad_text:
            return values, f"'{bad_text[0]}' is not a number."
        good, bad = values
        if good < 0:
            return values, "good must be 0 or more."
        if not good < bad:
            return values, f"good ({good:g}) must be less than bad ({bad:g})."
        return values, ""

    def _check_band(self, key: str) -> str:
        _band, problem = self.band(key)
        self.band_messages[key].setText(problem)
        style = "border: 1px solid #b3261e;" if problem else ""
        for e in self.band_edits[key]:
            e.setStyleSheet(style)
        return problem

    # -- apply --------------------------------------------------------------------------------
    def scenario(self) -> Scenario:
        self._store(self.tabs.currentIndex())
        return Scenario.from_dict(copy.deepcopy(self.data))

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


def _held_back(plan: dict) -> float | None:
    """How far back along its planned trajectory a plan's start pose is (0 with no start
    pose), or None when the start pose is elsewhere (a custom one)."""
    start = plan.get("start_pose")
    if start is None:
        return 0.0
    try:
        from sim.devices import pose_on_trajectory

        start = np.asarray(start, float)
        planned = pose_on_trajectory(plan["entry"], plan["target"], depth=plan.get("depth", 0.0))
        back = round(float((planned[:3, 3] - start[:3, 3]) @ planned[:3, 2]), 6)
        want = planned.copy()
        want[:3, 3] -= back * planned[:3, 2]
        if start.shape == (4, 4) and back >= 0 and np.allclose(start, want, atol=1e-6):
            return back
    except (TwinsightError, KeyError, TypeError, ValueError, IndexError):
        pass
    return None


def _discard(w: QWidget) -> None:
    """Take a widget off screen now (deleteLater alone leaves it drawn until the event loop
    gets back to it)."""
    w.hide()
    w.setParent(None)
    w.deleteLater()


def _scrolled(widget: QWidget) -> QScrollArea:
    s = QScrollArea()
    s.setWidgetResizable(True)
    s.setWidget(widget)
    return s
