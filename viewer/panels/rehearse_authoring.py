"""The scenario authoring dialog: steps, criteria, structures and scoring as form fields.

Tabs: *Scenario* (name, description, time limit, score weights), *Steps* (ordered list with
add/remove/reorder; per step its title, instructions, optional picture, the objects shown, the
instruments and devices in play, time limit, weight and success criteria with their
parameters), *Structures* (critical structures and their damage thresholds) and *Advanced
(JSON)*, the whole documented file for what the forms leave out (score bands, devices' plans,
the simulation set-up). The tabs share one working copy of the scenario's JSON: leaving a tab
stores its fields into it, entering one loads from it. *Apply* validates it
(:meth:`Scenario.from_dict`) and hands it to the panel; errors show in the dialog.
"""

from __future__ import annotations

import copy
import json

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
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
from sim.rehearsal.scenario import CRITERIA, Scenario, image_bytes, image_data_uri
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
        weights = QGroupBox("Score weights (0 leaves a metric out)")
        wf = QFormLayout(weights)
        self.weight_spins = {}
        for key, m in METRICS.items():
            s = _spin(1.0, "", hi=100.0, off=False)
            wf.addRow(m.label, s)
            self.weight_spins[key] = s
        form.addRow(weights)
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
        if tab == 0:
            self.name_edit.setText(d.get("name", ""))
            self.description_edit.setPlainText(d.get("description", ""))
            self.limit_spin.setValue(d.get("time_limit_s") or 0.0)
            self.body_label.setText(str(d.get("simulation", {}).get("body", "")))
            w = d.get("scoring", {}).get("weights", {})
            for k, s in self.weight_spins.items():
                s.setValue(w.get(k, 1.0))
        elif tab == 1:
            self.step_list.blockSignals(True)
            self.step_list.clear()
            for s in d.get("steps", []):
                self.step_list.addItem(s.get("title") or s.get("id", "?"))
            self.step_list.blockSignals(False)
            self._shown_step = None
            self.step_list.setCurrentRow(0 if self.step_list.count() else -1)
            if not self.step_list.count():
                self._step_selected(-1)
        elif tab == 2:
            self.structure_table.setRowCount(0)
            for s in d.get("structures", []):
                self.add_structure(s)
        else:
            self.editor.setPlainText(json.dumps(d, indent=1))

    def _store(self, tab: int) -> None:
        d = self.data
        if tab == 0:
            d["name"] = self.name_edit.text().strip()
            d["description"] = self.description_edit.toPlainText()
            d["time_limit_s"] = self.limit_spin.value() or None
            d.setdefault("scoring", {})["weights"] = {
                k: s.value() for k, s in self.weight_spins.items() if s.value() != 1.0}
        elif tab == 1:
            self.step_form.store()
        elif tab == 2:
            d["structures"] = [self._structure_row(r)
                               for r in range(self.structure_table.rowCount())]
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
