"""The Sweep dialog: uncertain parameters of an analysis or a placement plan, run as a Dask
sweep in the background (progress, Cancel), with the results' histogram and sensitivity chart.

Opened from Tools > Sweep… (any spec file), from the Analysis panel (its current analysis) and
from the Place panel (its current plan). What it runs is written as an ordinary sweep spec
next to the results, so ``twinsight sweep`` reproduces and resumes it, and the dialog's inputs
live in that file rather than in the case.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from sim.errors import InputError, TwinsightError
from sim.sweep.spec import DISTRIBUTIONS, SAMPLERS
from viewer.errors import show_error
from viewer.panels.spin import button, open_with, save_to

COLUMNS = ["Path", "Distribution", "Mean / median / low", "SD / sigma / high or values"]
BASE_KINDS = {"fem": "FE analysis spec", "place": "Placement spec", "python": "Python model"}


def placement_base(case_path: str | Path | None, structures: list, device: Any,
                   trajectory: Any) -> dict | None:
    """A placement spec of the Place panel's plan on the saved case file, or None when the
    case was never saved or the plan lacks a device or trajectory."""
    if trajectory is None or device is None or not case_path:
        return None
    dev = device.device
    return {"case": str(case_path),
            "structures": [{"name": o.name, "object": o.name, "role": role, "margin_mm": float(m)}
                           for o, role, m in structures],
            "device": {"family": dev.family, "size": dict(dev.params)},
            "trajectory": {"entry": [float(x) for x in trajectory[0]],
                           "target": [float(x) for x in trajectory[1]]}, "action": "evaluate"}


def placement_sweep_args(case_path: str | Path | None, structures: list, device: Any,
                         trajectory: Any) -> tuple[str, dict | None, list[dict], list[str]]:
    """The Place panel's plan with its entry point uncertain by 1 mm (SD) in each axis."""
    params = [] if trajectory is None else [
        {"path": f"trajectory.entry[{k}]", "dist": "normal", "a": float(trajectory[0][k]), "b": 1.0}
        for k in range(3)]
    return ("place", placement_base(case_path, structures, device, trajectory), params,
            ["safe", "min_clearance_mm", "breach_mm", "purchase"])


class SweepDialog(QDialog):
    """Build, run and look at a sweep."""

    def __init__(self, window: Any, kind: str = "fem", base: str | dict | None = None,
                 params: list[dict] | None = None, qois: list[str] | None = None,
                 parent: Any = None) -> None:
        super().__init__(parent or window)
        self.window = window
        self.setWindowTitle("Sweep")
        self.setObjectName("sweepDialog")
        self.resize(900, 760)
        self.job = None
        self.output: Path | None = None
        self.base_doc = base if isinstance(base, dict) else None
        col = QVBoxLayout(self)
        form = QFormLayout()
        self.kind_combo = QComboBox()
        for k, text in BASE_KINDS.items():
            self.kind_combo.addItem(text, k)
        self.kind_combo.setCurrentIndex(list(BASE_KINDS).index(kind))
        self.base_edit = QLineEdit(base if isinstance(base, str) else "")
        if self.base_doc is not None:
            self.base_edit.setPlaceholderText("the Place panel's current plan")
        row = QHBoxLayout()
        row.addWidget(self.kind_combo)
        row.addWidget(self.base_edit, 1)
        row.addWidget(button("Browse…", self.browse_base))
        form.addRow("Base", row)
        col.addLayout(form)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        for k, w in enumerate((240, 110, 170)):
            self.table.setColumnWidth(k, w)
        col.addWidget(self.table, 1)
        row = QHBoxLayout()
        for text, slot in (("Add parameter", self.add_parameter), ("Remove", self.remove_parameter),
                           ("Open sweep…", self.open_sweep)):
            row.addWidget(button(text, slot))
        row.addStretch(1)
        col.addLayout(row)
        form = QFormLayout()
        self.sampler_combo = QComboBox()
        self.sampler_combo.addItems(SAMPLERS)
        self.sampler_combo.setCurrentText("lhs")
        self.n_spin = QSpinBox()
        self.n_spin.setRange(1, 100000)
        self.n_spin.setValue(16)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        row = QHBoxLayout()
        for w, lbl in ((self.sampler_combo, "Sampler"), (self.n_spin, "n"), (self.seed_spin, "seed")):
            row.addWidget(QLabel(lbl))
            row.addWidget(w)
        form.addRow(row)
        self.qoi_edit = QLineEdit(", ".join(qois or []))
        self.qoi_edit.setToolTip("Paths into each run's result, comma-separated")
        form.addRow("Quantities", self.qoi_edit)
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, 64)
        self.workers_spin.setValue(max(1, min(os.cpu_count() or 1, 8)))
        self.scheduler_edit = QLineEdit()
        self.scheduler_edit.setPlaceholderText("local cluster (or tcp://host:8786)")
        row = QHBoxLayout()
        row.addWidget(QLabel("Workers"))
        row.addWidget(self.workers_spin)
        row.addWidget(QLabel("Scheduler"))
        row.addWidget(self.scheduler_edit, 1)
        form.addRow(row)
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("results folder, e.g. /data/bracket.parquet")
        row = QHBoxLayout()
        row.addWidget(self.output_edit, 1)
        row.addWidget(button("Choose…", self.browse_output))
        form.addRow("Results", row)
        col.addLayout(form)
        row = QHBoxLayout()
        self.run_button = button("Run", self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.report_button = QPushButton("Report…")
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self.report_dialog)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        for w in (self.run_button, self.cancel_button, self.report_button):
            row.addWidget(w)
        row.addWidget(self.progress, 1)
        col.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.status)
        self.qoi_combo = QComboBox()
        self.qoi_combo.currentIndexChanged.connect(lambda _i: self.plot())
        col.addWidget(self.qoi_combo)
        self.figure = Figure(figsize=(8, 3))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(240)
        col.addWidget(self.canvas, 2)
        self.analysis: dict | None = None
        self.results = None
        self.spec = None
        for p in params or []:
            self.add_parameter(p)
        window.jobs.progressed.connect(self._progressed)

    # -- inputs --------------------------------------------------------------------------------
    def add_parameter(self, p: dict | None = None) -> None:
        p = p if isinstance(p, dict) else {"path": "", "dist": "normal", "a": "", "b": ""}
        r = self.table.rowCount()
        self.table.insertRow(r)
        self.table.setItem(r, 0, QTableWidgetItem(str(p.get("path", ""))))
        combo = QComboBox()
        combo.addItems(DISTRIBUTIONS)
        combo.setCurrentText(str(p.get("dist", "normal")))
        self.table.setCellWidget(r, 1, combo)
        self.table.setItem(r, 2, QTableWidgetItem(str(p.get("a", ""))))
        self.table.setItem(r, 3, QTableWidgetItem(str(p.get("b", ""))))

    def remove_parameter(self) -> None:
        r = self.table.currentRow()
        if r >= 0:
            self.table.removeRow(r)

    def browse_base(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Base spec", "", "Specs (*.yaml *.yml *.json)")
        if path:
            self.base_edit.setText(path)
            self.base_doc = None

    def browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Results folder", "", "Parquet results (*.parquet)")
        if path:
            self.output_edit.setText(path if path.endswith(".parquet") else path + ".parquet")

    def open_sweep(self) -> None:
        open_with(self, "Open a sweep spec", "Sweeps (*.yaml *.yml *.json)", self.load_sweep)

    def load_sweep(self, path: str | Path) -> None:
        """Fill the dialog from a sweep spec file (and show its results if they exist)."""
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        base = data.get("base", {})
        kind = next((k for k in BASE_KINDS if k in base), "fem")
        self.kind_combo.setCurrentIndex(list(BASE_KINDS).index(kind))
        target = str(base.get(kind, ""))
        if kind != "python" and target and not Path(target).is_absolute():
            target = str(Path(path).parent / target)
        self.base_edit.setText(target)
        self.base_doc = None
        self.table.setRowCount(0)
        for p in data.get("parameters") or []:
            d = p.get("dist", "normal")
            keys = {"normal": ("mean", "std"), "lognormal": ("median", "sigma"),
                    "uniform": ("low", "high")}.get(d)
            a, b = (p.get(keys[0], ""), p.get(keys[1], "")) if keys else ("", json.dumps(p.get("values", [])))
            self.add_parameter({"path": p["path"], "dist": d, "a": a, "b": b})
        s = data.get("sampler") or {}
        self.sampler_combo.setCurrentText(str(s.get("method", "lhs")))
        self.n_spin.setValue(int(s.get("n", 16)))
        self.seed_spin.setValue(int(s.get("seed", 0)))
        self.qoi_edit.setText(", ".join(q if isinstance(q, str) else q.get("path", "")
                                        for q in data.get("qoi") or []))
        self.output_edit.setText(str(Path(path).with_suffix(".parquet")))

    def _parameters(self) -> list[dict]:
        out = []
        for r in range(self.table.rowCount()):
            path = (self.table.item(r, 0).text() if self.table.item(r, 0) else "").strip()
            if not path:
                continue
            dist = self.table.cellWidget(r, 1).currentText()
            a = self.table.item(r, 2).text().strip() if self.table.item(r, 2) else ""
            b = self.table.item(r, 3).text().strip() if self.table.item(r, 3) else ""
            try:
                if dist == "discrete":
                    values = json.loads(b if b.startswith("[") else f"[{b}]")
                    out.append({"path": path, "dist": dist, "values": values})
                    continue
                keys = {"normal": ("mean", "std"), "lognormal": ("median", "sigma"),
                        "uniform": ("low", "high")}[dist]
                out.append({"path": path, "dist": dist, keys[0]: float(a), keys[1]: float(b)})
            except (ValueError, json.JSONDecodeError):
                raise InputError(f"Parameter '{path}' needs two numbers (or a list of values for "
                                 "a discrete one).") from None
        return out

    def sweep_document(self, output: Path) -> dict:
        """The sweep spec the dialog describes; a plan from the Place panel is written next to
        the results as its base."""
        kind = self.kind_combo.currentData()
        if self.base_doc is not None and not self.base_edit.text().strip():
            import yaml

            from sim.model.atomic import write_file_atomic

            base_path = output.with_name(output.stem + ".base.yaml")
            text = yaml.safe_dump(self.base_doc, sort_keys=False).encode()
            write_file_atomic(base_path, lambda fh: fh.write(text))
            target = str(base_path)
        else:
            target = self.base_edit.text().strip()
        if not target:
            raise InputError("Choose the base: a spec file (or a Python model as module:function).")
        qois = [q.strip() for q in self.qoi_edit.text().split(",") if q.strip()]
        return {"name": output.stem, "base": {kind: target}, "parameters": self._parameters(),
                "sampler": {"method": self.sampler_combo.currentText(), "n": self.n_spin.value(),
                            "seed": self.seed_spin.value()}, "qoi": qois}

    # -- running -------------------------------------------------------------------------------
    def run(self) -> Any:
        from sim.sweep.spec import parse_sweep

        try:
            text = self.output_edit.text().strip()
            if not text:
                raise InputError("Choose a results folder (.parquet).")
            output = Path(text if text.endswith(".parquet") else text + ".parquet")
            if not output.parent.is_dir():
                raise InputError(f"Folder '{output.parent}' does not exist.")
            doc = self.sweep_document(output)
            spec = parse_sweep(doc, output.parent)
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot run the sweep", exc)
            return None
        import yaml

        from sim.model.atomic import write_file_atomic

        text = yaml.safe_dump(doc, sort_keys=False).encode()
        write_file_atomic(output.with_suffix(".yaml"), lambda fh: fh.write(text))
        self.output, self.spec = output, spec
        workers, scheduler = self.workers_spin.value(), self.scheduler_edit.text().strip() or None

        def job(progress):
            from sim.sweep.analysis import analyse
            from sim.sweep.runner import run_sweep
            from sim.sweep.store import read_results

            run = run_sweep(spec, output, workers=workers, scheduler=scheduler, progress=progress)
            df = read_results(output)
            return run, df, analyse(spec, df)

        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText("Starting the sweep…")
        self.job = self.window.run_task("Running the sweep", job, self._done,
                                        group=f"sweep-{id(self)}", on_finished=self._finished)
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling: samples already finished are kept…")

    def _progressed(self, job) -> None:
        if job is self.job:
            self.progress.setValue(int(1000 * job.fraction))
            self.status.setText(job.message)

    def _finished(self, job) -> None:
        self.job = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if job.cancelled:
            self.status.setText("Sweep cancelled; finished samples are kept and Run resumes it.")

    def _done(self, result) -> None:
        run, df, analysis = result
        self.results, self.analysis = df, analysis
        s = analysis["samples"]
        self.progress.setValue(1000)
        self.status.setText(f"{s['ok']} of {s['expected']} samples succeeded, {s['failed']} failed "
                            f"({run.run} run now in {run.wall_time_s:.1f} s on {run.scheduler}); "
                            f"results in {self.output}")
        self.report_button.setEnabled(True)
        self.qoi_combo.blockSignals(True)
        self.qoi_combo.clear()
        self.qoi_combo.addItems(list(analysis["quantities"]))
        self.qoi_combo.blockSignals(False)
        self.plot()

    # -- results -------------------------------------------------------------------------------
    def plot(self) -> None:
        """Histogram and sensitivity of the chosen quantity, drawn into the dialog's figure."""
        self.figure.clear()
        if self.analysis is None or not self.qoi_combo.currentText():
            self.canvas.draw_idle()
            return
        from sim.sweep.report import draw_histogram, draw_tornado

        q = self.qoi_combo.currentText()
        good = self.results[self.results["error"].isna()]
        entry = next((e for e in self.analysis["sensitivity"] if e["qoi"] == q), None)
        draw_histogram(self.figure.add_subplot(1, 2 if entry else 1, 1), good, self.analysis, q)
        if entry is not None and not draw_tornado(self.figure.add_subplot(1, 2, 2), entry):
            self.figure.axes[-1].set_axis_off()
        self.figure.tight_layout()
        self.canvas.draw_idle()

    def report_dialog(self) -> None:
        save_to(self, "Sweep report", "", "Report (*.html *.pdf)", self.write_report)

    def write_report(self, path: str | Path) -> Path | None:
        from sim.sweep.report import write_sweep_report

        try:
            return write_sweep_report(self.spec, self.results, self.analysis, path)
        except TwinsightError as exc:
            self.window.last_error = show_error(self, "Cannot write the report", exc)
            return None


def open_sweep_dialog(window: Any, kind: str = "fem", base: str | dict | None = None,
                      params: list[dict] | None = None, qois: list[str] | None = None,
                      temporary_base: bool = False) -> SweepDialog:
    """Show a (non-modal) Sweep dialog; a ``temporary_base`` file is copied next to the results
    when the sweep runs, so the results keep a base that does not vanish."""
    dlg = SweepDialog(window, kind, base, params, qois)
    if temporary_base and isinstance(base, str):
        dlg.base_edit.setProperty("temporary", True)
        dlg.base_edit.setText(base)
        _keep = dlg.sweep_document

        def keep_base(output: Path) -> dict:
            src = Path(dlg.base_edit.text())
            if dlg.base_edit.property("temporary") and src.parent.is_dir():
                dst = output.with_name(output.stem + ".base")
                if not dst.exists():
                    shutil.copytree(src.parent, dst)
                    os.chmod(dst, 0o700)
                dlg.base_edit.setText(str(dst / src.name))
                dlg.base_edit.setProperty("temporary", False)
            return _keep(output)

        dlg.sweep_document = keep_base  # type: ignore[method-assign]
    dlg.show()
    return dlg


def fem_sweep_base(spec_path: str | Path) -> tuple[str, str, list[dict], list[str]]:
    """An exported analysis spec made ready to sweep (a library material gets an explicit
    Young's modulus to vary) with a first parameter and quantities proposed."""
    from sim.fem.materials import material_from_spec
    from sim.model.atomic import write_file_atomic

    path = Path(spec_path)
    spec = json.loads(path.read_text(encoding="utf-8"))
    mat = material_from_spec(spec["material"], spec.get("law"))
    if isinstance(spec["material"], str):
        spec["material"] = {"library": spec["material"], "youngs_modulus": mat.youngs_modulus}
        text = json.dumps(spec, indent=2).encode()
        write_file_atomic(path, lambda fh: fh.write(text))
    params = [{"path": "material.youngs_modulus", "dist": "lognormal", "a": mat.youngs_modulus,
               "b": 0.1}]
    return "fem", str(path), params, ["max_von_mises_mpa", "max_displacement_mm"]
