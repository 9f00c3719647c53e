"""The Scoring tab: per metric its weight and its [good, bad] band (blank: the default),
a bad band flagged in its row as it is typed."""

from __future__ import annotations

from PyQt6.QtCore import QLocale
from PyQt6.QtGui import QDoubleValidator
from PyQt6.QtWidgets import QGridLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from sim.rehearsal.scoring import METRICS
from viewer.panels.rehearse_authoring.fields import ERROR_STYLE, ExactSpin, fmt, scrolled


class ScoringTab(QWidget):
    """A row per metric: weight, good, bad and what is wrong with the band."""

    def __init__(self) -> None:
        super().__init__()
        v = QVBoxLayout(self)
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
                e.textChanged.connect(lambda _t, k=key: self.check_band(k))
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
        v.addWidget(scrolled(grid_page), 1)

    def load(self, data: dict) -> None:
        scoring = data.get("scoring", {}) if isinstance(data.get("scoring"), dict) else {}
        weights = scoring.get("weights", {}) if isinstance(scoring.get("weights"),
                                                           dict) else {}
        bands = scoring.get("bands", {}) if isinstance(scoring.get("bands"), dict) else {}
        for k, s in self.weight_spins.items():
            w = weights.get(k, 1.0)
            s.load(w if isinstance(w, int | float) and not isinstance(w, bool) else 1.0)
        for k, (good, bad) in self.band_edits.items():
            band = bands.get(k)
            pair = band if isinstance(band, list) and len(band) == 2 else ("", "")
            good.setText(fmt(pair[0]))
            bad.setText(fmt(pair[1]))
            self.check_band(k)

    def store(self, data: dict) -> None:
        scoring = data.get("scoring")
        if not isinstance(scoring, dict):
            scoring = data["scoring"] = {}
        scoring["weights"] = {k: s.exact() for k, s in self.weight_spins.items()
                              if s.exact() != 1.0}
        bands = {}
        for k in METRICS:
            band, _problem = self.band(k)
            if band is not None:
                bands[k] = band  # an invalid one too: Apply reports it, nothing is lost
        scoring["bands"] = bands

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

    def check_band(self, key: str) -> str:
        _band, problem = self.band(key)
        self.band_messages[key].setText(problem)
        style = "border: 1px solid #b3261e;" if problem else ""
        for e in self.band_edits[key]:
            e.setStyleSheet(style)
        return problem
