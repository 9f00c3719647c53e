"""The form of one step: its fields, its success criteria (one :class:`CriterionRow` each)
and its own score bands (band rows, blank: the scenario's), loaded from and stored into the
step's dict."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.rehearsal.scenario import CRITERIA, image_bytes, image_data_uri
from viewer.panels.rehearse_authoring.bands import BandRows
from viewer.panels.rehearse_authoring.fields import (
    checked_names,
    checklist,
    discard,
    number_field,
)
from viewer.panels.spin import button

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
assert set(CRITERION_FIELDS) == set(CRITERIA)  # one form per documented criterion


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
                discard(w)
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
                field = number_field(data.get(key), suffix,
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
        choose = button("Choose…", self._choose_image)
        clear = button("Remove", lambda: self.set_image(None))
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
        self.limit_spin = number_field(None, " s")
        self.weight_spin = number_field(1.0, "", hi=1000.0, off=False)
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
        add = button("Add criterion", lambda: self.add_criterion({"type": "no_damage"}))
        self.criteria_col.addWidget(add)
        form.addRow(box)
        self.criteria: list[CriterionRow] = []
        box = QGroupBox("Score bands for this step (blank: the scenario's, shown in grey)")
        grid = QGridLayout(box)
        grid.setVerticalSpacing(2)
        for c, title in ((1, "Good"), (2, "Bad")):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, c)
        self.bands = BandRows("stepBand")
        self.bands.place(grid, 1, 1)
        grid.setColumnStretch(3, 1)
        form.addRow(box)
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
                discard(w)
        lists = []
        for title, names, key in (("Objects shown (none: all)", d.object_names(), "objects"),
                                  ("Instruments in play", d.instrument_names(), "instruments"),
                                  ("Devices placed", d.device_names(), "devices")):
            box = QGroupBox(title)
            v = QVBoxLayout(box)
            extra = [n for n in step.get(key, []) if n not in names]  # keep what JSON named
            w = checklist(names + extra, step.get(key, []))
            v.addWidget(w)
            v.addStretch(1)
            self.lists.addWidget(box)
            lists.append(w)
        self.objects_list, self.instruments_list, self.devices_list = lists
        for r in list(self.criteria):
            self._remove_row(r)
        for c in step.get("criteria", []):
            self.add_criterion(c)
        scoring = self.dialog.data.get("scoring")
        scenario_bands = scoring.get("bands") if isinstance(scoring, dict) else None
        self.bands.inherit(scenario_bands if isinstance(scenario_bands, dict) else {},
                           "scenario")
        self.bands.load(step.get("bands"))

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
        s["objects"] = checked_names(self.objects_list)
        s["instruments"] = checked_names(self.instruments_list)
        s["devices"] = checked_names(self.devices_list)
        s["criteria"] = [r.to_dict() for r in self.criteria]
        bands = self.bands.stored(s.get("bands"))
        if bands:
            s["bands"] = bands
        else:
            s.pop("bands", None)

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
        discard(row)
