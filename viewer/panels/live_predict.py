"""The Live panel's prediction box: train the anomaly model on a healthy window, train or
load a remaining-life model, and show the remaining-life gauge and data-quality counts.

Training runs as a background job (``window.run_task``, with progress and Cancel); the
models are stored in the case (:mod:`sim.predict.case_models`) and the live monitor
(:class:`sim.predict.monitor.AssetMonitor`) applies them to every reading.
"""

from __future__ import annotations

import logging

from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
)

from viewer.errors import show_error
from viewer.panels.live_widgets import LifeGauge
from viewer.panels.spin import button, row

log = logging.getLogger(__name__)
RATES = {"1 in 100": 1e-2, "1 in 1,000": 1e-3, "1 in 10,000": 1e-4}


class PredictBox(QGroupBox):
    def __init__(self, panel) -> None:
        super().__init__("Prediction")
        self.setObjectName("livePredict")
        self.panel = panel
        self.monitor = None
        form = QFormLayout(self)
        self.window_spin = QDoubleSpinBox()
        self.window_spin.setObjectName("liveHealthySeconds")
        self.window_spin.setRange(5.0, 86_400.0)
        self.window_spin.setValue(60.0)
        self.window_spin.setSuffix(" s")
        self.window_spin.setToolTip("The last this-many seconds of the session (up to the "
                                    "timeline position when scrubbing) are taken as healthy")
        self.rate_combo = QComboBox()
        self.rate_combo.setObjectName("liveFalseAlarmRate")
        self.rate_combo.addItems(list(RATES))
        self.rate_combo.setCurrentIndex(1)
        self.rate_combo.setToolTip("False-alarm rate per reading and test")
        self.train_button = button("Mark healthy && train", self.train_anomaly,
                                   name="liveTrainAnomaly")
        self.rul_button = button("Train remaining life…", self._rul_dialog,
                                 "Run-to-failure histories of a fleet: C-MAPSS .txt, CSV, "
                                 "Parquet or history databases",
                                 name="liveTrainRul")
        self.model_label = QLabel("No models")
        self.model_label.setWordWrap(True)
        self.quality_label = QLabel("")
        self.quality_label.setObjectName("liveQuality")
        self.quality_label.setWordWrap(True)
        self.gauge = LifeGauge()
        self.gauge.setObjectName("liveLifeGauge")
        form.addRow("Healthy window", row(self.window_spin, self.rate_combo))
        form.addRow(row(self.train_button, self.rul_button))
        form.addRow(self.gauge)
        form.addRow(self.model_label)
        form.addRow(self.quality_label)

    # -- the monitor follows the session -------------------------------------------------------
    def attach(self, session, asset: str) -> None:
        from sim.predict.monitor import AssetMonitor

        self.detach()
        self.monitor = AssetMonitor(session.telemetry, session.history, asset=asset)
        self._apply_case_models()
        self.monitor.start()

    def detach(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None

    def _apply_case_models(self) -> None:
        from sim.predict.case_models import load_models

        case = self.panel.case
        if case is None or self.monitor is None:
            return
        try:
            anomaly, rul = load_models(case)
        except Exception as exc:  # a damaged section: say so, keep monitoring without it
            self.model_label.setText(f"Saved models not used: {exc}")
            return
        self.monitor.set_anomaly_model(anomaly)
        self.monitor.set_rul_model(rul)
        self._show_models()

    def _show_models(self) -> None:
        from sim.predict.case_models import revision

        m, case = self.monitor, self.panel.case
        parts = []
        if m is not None and m.anomaly is not None:
            on = m.anomaly.trained_on
            parts.append(f"Anomaly model r{revision(case, 'anomaly')}: "
                         f"{on.get('readings', 0)} healthy readings "
                         f"({on.get('ignored', 0)} flagged ignored), "
                         f"false alarms {m.anomaly.rate:g}/reading")
        if m is not None and m.rul_model is not None:
            on = m.rul_model.trained_on
            parts.append(f"Remaining life r{revision(case, 'rul')}: {on.get('units')} units of "
                         f"{on.get('source')} (sha256 {str(on.get('sha256', ''))[:8]})")
        self.model_label.setText("\n".join(parts) or "No models")

    # -- training (background jobs) -----------------------------------------------------------
    def healthy_window(self) -> tuple[float, float]:
        reader = self.panel.reader
        span = reader.time_range() if reader is not None else None
        if span is None:
            from sim.errors import InputError

            raise InputError("Nothing is recorded yet: connect and let data arrive first.")
        end = span[1] if self.panel.live_check.isChecked() or self.panel._play_t is None \
            else min(self.panel._play_t, span[1])
        return max(span[0], end - self.window_spin.value()), end

    def train_anomaly(self):
        from sim.predict.monitor import train_from_history

        session, monitor = self.panel.session, self.monitor
        try:
            if session is None or monitor is None:
                from sim.errors import InputError

                raise InputError("Connect the live link first.")
            t0, t1 = self.healthy_window()
        except Exception as exc:
            self.panel.window.last_error = show_error(self, "Cannot train", exc)
            return None
        rate = RATES[self.rate_combo.currentText()]
        history, path = session.history, self.panel.reader.path
        sensors = list(monitor.sensors)

        def work(progress):
            from sim.twin.history import HistoryStore

            if history is not None:
                history.flush()
            with HistoryStore.open(path) as reader:
                return train_from_history(reader, sensors, t0, t1, rate, progress)

        return self.panel.window.run_task("Train anomaly model", work, self._anomaly_done)

    def _anomaly_done(self, result) -> None:
        from sim.predict.case_models import save_model

        model, ignored = result
        if self.monitor is not None:
            self.monitor.set_anomaly_model(model)
        if self.panel.case is not None:
            save_model(self.panel.case, model)
        self._show_models()
        self.panel.status_label.setText(f"Anomaly model trained on "
                                        f"{model.trained_on['readings']} readings "
                                        f"({ignored} flagged ignored).")

    def _rul_dialog(self) -> None:
        from PyQt6.QtWidgets import QFileDialog

        paths, _ = QFileDialog.getOpenFileNames(
            self, "Fleet histories", "", "Fleet (*.txt *.csv *.parquet *.db);;All files (*)")
        if paths:
            self.train_rul(paths)

    def train_rul(self, paths, cap: float | None = None):
        def work(progress):
            from sim.predict.fleet import read_fleet
            from sim.predict.rul import RulModel
            from sim.progress import sub_progress

            fleet = read_fleet(paths, sub_progress(progress, 0.0, 0.1))
            return RulModel.train(fleet, cap=cap, progress=sub_progress(progress, 0.1, 1.0),
                                  where=paths[0] if len(paths) == 1 else "the fleet")

        return self.panel.window.run_task("Train remaining-life model", work, self._rul_done)

    def _rul_done(self, model) -> None:
        from sim.predict.case_models import save_model

        if self.monitor is not None:
            self.monitor.set_rul_model(model)
        if self.panel.case is not None:
            save_model(self.panel.case, model)
        self._show_models()

    # -- periodic (GUI thread) ----------------------------------------------------------------
    def refresh(self) -> None:
        m = self.monitor
        if m is None:
            return
        life = m.life
        if m.rul_model is None:
            self.gauge.set_life(None, text="No remaining-life model")
        elif life is None:
            self.gauge.set_life(None, text="Remaining life: waiting for data…")
        else:
            top = m.rul_model.cap or max(life.high, life.rul + life.age, 1.0)
            unit = str(m.rul_model.trained_on.get("time_unit", "s"))
            self.gauge.set_life(life.rul, life.low, life.high, top, unit)
        ignored = sum(m.ignored.values())
        counts: dict[str, int] = {}
        for q in m.quality.values():
            for f, n in q.counts.items():
                if n:
                    counts[f] = counts.get(f, 0) + n
        self.quality_label.setText(
            "Data quality: " + (", ".join(f"{n} {f.replace('_', ' ')}" for f, n in
                                          sorted(counts.items())) or "no flags")
            + (f"; predictions ignore {ignored} flagged readings" if ignored else ""))

    def flags_text(self, sensor_id: str) -> str:
        """The data-quality flags raised on a sensor's readings so far ("stuck 11, gap 2")."""
        checker = self.monitor.quality.get(sensor_id) if self.monitor is not None else None
        if checker is None:
            return ""
        return ", ".join(f"{f.replace('_', ' ')} {n}" for f, n in sorted(checker.counts.items())
                         if n)

    def overlays(self, sensor_id: str):
        """(forecast, anomaly marks, flag marks) of a sensor for the plot."""
        m = self.monitor
        if m is None or sensor_id not in m.marks:
            return None, [], []
        f = m.forecasts.get(sensor_id)
        fc = None if f is None else (f.t, f.mean, f.lower, f.upper)
        marks = m.marks[sensor_id]
        return (fc, [(t, v) for t, v, _d in list(marks.anomalies)],
                [(t, v) for t, v, _f in list(marks.flags)])
