"""Small builders the panels share: the base of a dock panel, the number field of their forms, a button, a
row of widgets, the material chooser, the scrolling body of a panel, following the case's selection, and the wheel
guard that lets the wheel scroll a panel past its fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from sim.model import Case

_GUARDED = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class CasePanel(QWidget):
    """A dock panel of the main window: named ``name`` (tests and styles find it), it keeps the
    window it runs its jobs through and the case it shows (none until ``set_case``)."""

    def __init__(self, window, name: str) -> None:
        super().__init__(window)
        self.setObjectName(name)
        self.window = window
        self.case: Case | None = None


def spin_box(lo: float, hi: float, value: float, step: float, decimals: int,
             suffix: str = "") -> QDoubleSpinBox:
    """A spin box for ``lo``..``hi`` showing ``value`` with ``decimals`` places, ``step`` a click."""
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setDecimals(decimals)
    s.setSingleStep(step)
    s.setValue(value)
    if suffix:
        s.setSuffix(suffix)
    return s


def field_and_warp(changed: Callable[..., Any]) -> tuple[QComboBox, QDoubleSpinBox]:
    """How a result is shown: the field to colour by and the warp factor of the displacement
    (0 shows the part undeformed); a change of either calls ``changed``."""
    combo = QComboBox()
    combo.currentIndexChanged.connect(changed)
    warp = spin_box(0.0, 1e9, 0.0, 10.0, 1, " ×")
    warp.setSpecialValueText("undeformed")
    warp.valueChanged.connect(changed)
    return combo, warp


def button(text: str, slot: Callable[..., Any], tip: str = "", name: str = "") -> QPushButton:
    """A push button that runs ``slot`` when clicked, with its tooltip and object ``name`` (tests
    and styles find it)."""
    b = QPushButton(text)
    if tip:
        b.setToolTip(tip)
    if name:
        b.setObjectName(name)
    b.clicked.connect(slot)
    return b


def wrapped_label(name: str, text: str = "") -> QLabel:
    """A word-wrapped label for messages and readouts, named ``name`` (tests and styles find it)."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


def save_to(parent: QWidget, title: str, name: str, filters: str,
            save: Callable[[str], Any]) -> None:
    """Ask where to save (``name`` proposed), then ``save(path)``; nothing when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, name, filters)
    if path:
        save(path)


def open_with(parent: QWidget, title: str, filters: str, use: Callable[[str], Any]) -> None:
    """Ask for a file to open, then ``use(path)``; nothing when cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, title, "", filters)
    if path:
        use(path)


def refill_objects(combo: QComboBox, objs: Iterable[Any], chosen: str | None,
                   fallback: Callable[[], int | None] | None = None) -> None:
    """Fill ``combo`` again with named objects (scene objects, markups), each holding its uid,
    and choose ``chosen`` if it is still there, else the index ``fallback()`` gives (else the
    first). Refilling is not the user's choice: the combo sends no signal meanwhile."""
    combo.blockSignals(True)
    combo.clear()
    for o in objs:
        combo.addItem(o.name, o.uid)
    index = combo.findData(chosen) if chosen is not None else -1
    if index < 0 and fallback is not None:
        index = fallback()
    if index is not None and index >= 0:
        combo.setCurrentIndex(index)
    combo.blockSignals(False)


def row(*widgets: QWidget) -> QWidget:
    """Widgets side by side in one borderless row (for a form line holding several)."""
    w = QWidget()
    h = QHBoxLayout(w)
    h.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        h.addWidget(x)
    return w


def material_combo(*extra: str) -> QComboBox:
    """The library's materials by the names people read ("Cortical bone"), each holding its
    key (what files store), then the ``extra`` entries as they are."""
    from sim.fem.material_names import display_name
    from sim.fem.materials import library_names

    combo = QComboBox()
    for key in library_names():
        combo.addItem(display_name(key), key)
    for key in extra:
        combo.addItem(key, key)
    return combo


def scroll_body(panel: QWidget, inner: QWidget) -> None:
    """Fill ``panel`` with ``inner`` in a borderless scroll area (a tall panel in a short dock)."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(inner)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)


def follow_selection(panel, case) -> None:
    """Give ``panel`` the case: its ``show_object`` follows the case's selected object from now
    on (and no longer the previous case's)."""
    if panel.case is not None:
        panel.case.scene.selection_changed.disconnect(panel.show_object)
    panel.case = case
    case.scene.selection_changed.connect(panel.show_object)
    panel.show_object(case.scene.selected)


def follow_membership(old: Case | None, new: Case, slot: Callable[..., Any]) -> None:
    """``slot`` runs whenever an object joins or leaves ``new``'s scene, and no longer for
    ``old``'s (a panel's chooser of objects follows the case it is given)."""
    if old is not None:
        old.scene.added.disconnect(slot)
        old.scene.removed.disconnect(slot)
    new.scene.added.connect(slot)
    new.scene.removed.connect(slot)


_WHEEL, _SHOW = QEvent.Type.Wheel, QEvent.Type.Show


class WidgetEvents(QObject):
    """The one application-wide event filter (every event of every widget passes through it,
    so it is one object that looks at the event type once), installed by the main window:

    - The wheel scrolls the panel under the mouse: a spin box, combo box or slider the mouse
      passes over takes the wheel only once it has focus (clicked or tabbed to). It holds for
      every panel and dialog.
    - Table and tree columns are as wide as their content (header included), the last one
      taking what is left: in a narrow dock a column scrolls sideways instead of showing
      "Measuremen". A view is fitted when it is first shown (views over huge models keep
      their own sizing)."""

    MAX_ROWS = 2000  # ResizeToContents measures every row

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind == _WHEEL:
            return self._wheel(watched, event)
        if kind == _SHOW:
            self._shown(watched)
        return False

    @staticmethod
    def _wheel(watched, event) -> bool:
        if not isinstance(watched, _GUARDED) or isinstance(watched, QScrollBar) or \
                watched.hasFocus():
            return False
        if watched.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel does not focus it
        area = watched.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:
            bar = area.verticalScrollBar()
            if bar is not None and bar.isVisible():
                QApplication.sendEvent(bar, event)
        return True  # never the value of a box the wheel only passed over

    def _shown(self, watched) -> None:
        if isinstance(watched, QTabBar) and isinstance(watched.parentWidget(), QMainWindow):
            # The docks' tabs: whole names, with scroll arrows when they do not all fit.
            watched.setElideMode(Qt.TextElideMode.ElideNone)
            watched.setUsesScrollButtons(True)
        if isinstance(watched, QAbstractItemView) and not watched.property("columnsFitted"):
            watched.setProperty("columnsFitted", True)
            header = getattr(watched, "horizontalHeader", None) or getattr(watched, "header",
                                                                            None)
            header = header() if header is not None else None
            model = watched.model()
            if header is not None and model is not None and header.count() > 1 and \
                    model.rowCount() <= self.MAX_ROWS and header.isVisible():
                for k in range(header.count() - 1):
                    if header.sectionResizeMode(k) == QHeaderView.ResizeMode.Interactive:
                        header.setSectionResizeMode(k, QHeaderView.ResizeMode.ResizeToContents)
                header.setStretchLastSection(True)
