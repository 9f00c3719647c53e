"""The authoring dialog's shell: the tabs, the working copy of the scenario's JSON they share,
the Scenario and Advanced (JSON) tabs, the names the forms offer, and Apply."""

from __future__ import annotations

import copy
import json

from PyQt6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from sim.errors import TwinsightError
from sim.rehearsal.scenario import Scenario
from viewer.panels.rehearse_authoring.devices import DevicesTab
from viewer.panels.rehearse_authoring.fields import number_field, scrolled
from viewer.panels.rehearse_authoring.scoring import ScoringTab
from viewer.panels.rehearse_authoring.steps import StepsTab
from viewer.panels.rehearse_authoring.structures import StructuresTab
from viewer.panels.spin import button, wrapped_label

# The tabs, in order; _load/_store dispatch on these.
TABS = ("scenario", "steps", "structures", "devices", "scoring", "json")


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
        self.steps_tab = StepsTab(self)
        self.tabs.addTab(self.steps_tab, "Steps")
        self.structures_tab = StructuresTab(self)
        self.tabs.addTab(self.structures_tab, "Structures")
        self.devices_tab = DevicesTab(self)
        self.tabs.addTab(self.devices_tab, "Devices")
        self.scoring_tab = ScoringTab()
        self.tabs.addTab(self.scoring_tab, "Scoring")
        # The form tabs: each loads from and stores into the working copy.
        self.forms = {"steps": self.steps_tab, "structures": self.structures_tab,
                      "devices": self.devices_tab, "scoring": self.scoring_tab}
        self.editor = QPlainTextEdit()
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs.addTab(self.editor, "Advanced (JSON)")
        self.message = wrapped_label("authoringMessage")
        col.addWidget(self.message)
        row = QHBoxLayout()
        apply_ = button("Apply", self.apply)
        close = button("Close", self.close)
        row.addStretch(1)
        row.addWidget(apply_)
        row.addWidget(close)
        col.addLayout(row)
        assert self.tabs.count() == len(TABS)
        self._tab = 0
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
        self.limit_spin = number_field(None, " s")
        self.body_label = QLabel("")
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Time limit", self.limit_spin)
        form.addRow("Simulated body", self.body_label)
        note = QLabel("Score weights and bands: the Scoring tab. Device plans: the Devices tab.")
        note.setEnabled(False)
        form.addRow(note)
        self.tabs.addTab(scrolled(page), "Scenario")

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
        elif key in self.forms:
            self.forms[key].load(d)
        else:
            self.editor.setPlainText(json.dumps(d, indent=1))

    def _store(self, tab: int) -> None:
        d = self.data
        key = TABS[tab]
        if key == "scenario":
            d["name"] = self.name_edit.text().strip()
            d["description"] = self.description_edit.toPlainText()
            d["time_limit_s"] = self.limit_spin.value() or None
        elif key in self.forms:
            self.forms[key].store(d)
        else:
            self.data = json.loads(self.editor.toPlainText())

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
