"""The Scoring tab: per metric its weight and its [good, bad] band (blank: the default),
a bad band flagged in its row as it is typed, and the formula that uses them (completion
first: a completed step scores 60-100 by its weighted quality metrics, an unfinished one at
most 40 by partial credit; safety metrics are penalties, their bands set the damage penalty's
scale and their weights are not used)."""

from __future__ import annotations

from PyQt6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from sim.rehearsal.scoring import CAP, COMPLETED_FLOOR, METRICS
from viewer.panels.rehearse_authoring.bands import BandRows
from viewer.panels.rehearse_authoring.fields import ExactSpin, scrolled


class ScoringTab(QWidget):
    """A row per metric: weight, good, bad and what is wrong with the band."""

    def __init__(self) -> None:
        super().__init__()
        v = QVBoxLayout(self)
        text = QLabel("Each metric scores 100 at or below good, 0 at or above bad, linearly "
                      f"between. A completed step (its task criteria met) scores "
                      f"{COMPLETED_FLOOR:g} + {100 - COMPLETED_FLOOR:g} x the weighted mean of "
                      "its quality metrics (weight 0 leaves a metric out); a step whose task is "
                      f"not achieved scores at most {CAP:g}, by partial credit, whatever its "
                      "time or path. Safety metrics (damage, critical contacts) are penalties "
                      "no efficiency offsets: their bands scale the damage penalty, weights do "
                      "not apply. A blank band value uses the default shown in grey; a step's "
                      "own bands (Steps tab) override these.")
        text.setObjectName("scoringFormula")
        text.setWordWrap(True)
        v.addWidget(text)
        grid_page = QWidget()
        grid = QGridLayout(grid_page)
        for c, title in enumerate(("Metric", "Weight", "Good", "Bad", "")):
            head = QLabel(f"<b>{title}</b>")
            grid.addWidget(head, 0, c)
        self.weight_spins: dict[str, ExactSpin] = {}
        for r, key in enumerate(METRICS, start=1):
            w = ExactSpin(1.0, 0.0, 100.0)
            if METRICS[key].kind == "safety":
                w.setToolTip(f"'{key}' is a safety metric: a penalty, not weighted")
                w.setEnabled(False)
            else:
                w.setToolTip(f"Weight of '{key}' in a completed step's quality score")
            grid.addWidget(w, r, 1)
            self.weight_spins[key] = w
        self.bands = BandRows("band")
        self.bands.place(grid, 1, 2)
        grid.setColumnStretch(4, 1)
        grid.setRowStretch(len(METRICS) + 1, 1)
        v.addWidget(scrolled(grid_page), 1)

    def load(self, data: dict) -> None:
        scoring = data.get("scoring", {}) if isinstance(data.get("scoring"), dict) else {}
        weights = scoring.get("weights", {}) if isinstance(scoring.get("weights"),
                                                           dict) else {}
        for k, s in self.weight_spins.items():
            w = weights.get(k, 1.0)
            s.load(w if isinstance(w, int | float) and not isinstance(w, bool) else 1.0)
        self.bands.load(scoring.get("bands"))

    def store(self, data: dict) -> None:
        scoring = data.get("scoring")
        if not isinstance(scoring, dict):
            scoring = data["scoring"] = {}
        scoring["weights"] = {k: s.exact() for k, s in self.weight_spins.items()
                              if s.exact() != 1.0}
        scoring["bands"] = self.bands.stored(scoring.get("bands"))
