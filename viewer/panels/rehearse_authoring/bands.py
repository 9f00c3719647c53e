"""Score band rows: per metric a [good, bad] band as two fields, blank to inherit, a bad band
flagged in its row as it is typed. The Scoring tab (the scenario's bands) and the step form (a
step's own bands) both use them."""

from __future__ import annotations

from PyQt6.QtCore import QLocale
from PyQt6.QtGui import QDoubleValidator
from PyQt6.QtWidgets import QGridLayout, QLabel, QLineEdit

from sim.rehearsal.scoring import METRICS
from viewer.panels.rehearse_authoring.fields import ERROR_STYLE, fmt

BAD_FIELD_STYLE = "border: 1px solid #b3261e;"


class BandRow:
    """One metric's band: good and bad fields and what is wrong with them. A blank field
    takes the inherited value (shown as its placeholder)."""

    def __init__(self, key: str, name: str) -> None:
        self.key = key
        self.inherited = METRICS[key].band
        self.edits: tuple[QLineEdit, QLineEdit] = (QLineEdit(), QLineEdit())
        for e in self.edits:
            val = QDoubleValidator(0.0, 1e9, 6, e)
            val.setNotation(QDoubleValidator.Notation.StandardNotation)
            val.setLocale(QLocale.c())
            e.setValidator(val)
            e.setMaximumWidth(130)
            e.textChanged.connect(lambda _t: self.check())
        self.message = QLabel("")
        self.message.setObjectName(f"{name}Message-{key}")
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setToolTip("A metric scores 100 at good and falls to 0 at bad: good < bad.")
        self.inherit(self.inherited, "default")

    def inherit(self, band, source: str) -> None:
        """What a blank field stands for, and where that comes from ("default", "scenario")."""
        self.inherited = tuple(band)
        for e, which, value in zip(self.edits, ("good", "bad"), self.inherited, strict=True):
            e.setPlaceholderText(f"{value:g} ({source})")
            e.setToolTip(f"'{self.key}' band, {which}; blank: {value:g} ({source})")

    def load(self, band) -> None:
        pair = band if isinstance(band, list) and len(band) == 2 else ("", "")
        for e, value in zip(self.edits, pair, strict=True):
            e.setText(fmt(value))
        self.check()

    def band(self) -> tuple[list | None, str]:
        """The band the row sets (None: inherited) and what is wrong with it ("" if nothing).
        A blank good or bad takes the inherited value; an invalid band is still returned (as
        typed) so it is stored and reported, not dropped."""
        texts = [e.text().strip() for e in self.edits]
        if not any(texts):
            return None, ""
        values: list = []
        for text, d in zip(texts, self.inherited, strict=True):
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

    def check(self) -> str:
        _band, problem = self.band()
        self.message.setText(problem)
        for e in self.edits:
            e.setStyleSheet(BAD_FIELD_STYLE if problem else "")
        return problem


class BandRows(dict[str, BandRow]):
    """A :class:`BandRow` per metric, loaded from and stored into a metric: [good, bad] dict
    (``scoring.bands`` or a step's ``bands``)."""

    def __init__(self, name: str) -> None:
        super().__init__((key, BandRow(key, name)) for key in METRICS)

    def place(self, grid: QGridLayout, first_row: int, good_column: int) -> None:
        """Per metric a grid row: its label in column 0, then good, bad and the message from
        ``good_column`` on."""
        for r, (key, row) in enumerate(self.items(), start=first_row):
            m = METRICS[key]
            grid.addWidget(QLabel(m.label + (f" ({m.unit})" if m.unit else "")), r, 0)
            grid.addWidget(row.edits[0], r, good_column)
            grid.addWidget(row.edits[1], r, good_column + 1)
            grid.addWidget(row.message, r, good_column + 2)

    def inherit(self, bands: dict, source: str) -> None:
        """Blank fields stand for ``bands`` (valid ones only), else the scorer's default."""
        for key, row in self.items():
            band = bands.get(key)
            if valid_band(band):
                row.inherit(band, source)
            else:
                row.inherit(METRICS[key].band, "default")

    def load(self, bands) -> None:
        bands = bands if isinstance(bands, dict) else {}
        for key, row in self.items():
            row.load(bands.get(key))

    def stored(self, old):
        """The bands the rows set (an invalid one too: Apply reports it, nothing is lost),
        after what ``old`` names that the rows do not show (Apply reports an unknown metric).
        An ``old`` that is not a dict (typed in the JSON) is kept while no row is set."""
        bands = {k: v for k, v in old.items() if k not in self} if isinstance(old, dict) else {}
        for key, row in self.items():
            band, _problem = row.band()
            if band is not None:
                bands[key] = band
        return old if not bands and old is not None and not isinstance(old, dict) else bands


def valid_band(band) -> bool:
    """Whether ``band`` is a [good, bad] pair of numbers with 0 <= good < bad."""
    return (isinstance(band, list | tuple) and len(band) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in band)
            and 0 <= band[0] < band[1])
