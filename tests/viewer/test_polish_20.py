"""Small things new users tripped over (issue #20): the wheel over a panel scrolls it instead
of changing the field it passes; the mm ruler is not drawn on an empty scene; materials have
readable names."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QWheelEvent
from PyQt6.QtWidgets import QApplication, QDockWidget

from sim.fem.material_names import display_name
from sim.fem.materials import library_names
from sim.model import Case, ObjectKind, SceneObject

SHOTS = "/tmp/shots20b"


@pytest.fixture
def win(qtbot):
    from viewer.main_window import MainWindow

    w = MainWindow()
    w.resize(1200, 560)  # short: the Analysis panel must scroll
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.task is not None:
        w.task.cancel()
        w.task.wait()


def _wheel(widget, steps: int = -3) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_wheel_scrolls_the_panel_not_the_spin_box_it_passes(win, qtbot):
    case = Case(name="c")
    case.scene.add(SceneObject("Part", ObjectKind.PART, pv.Box().triangulate()))
    win.set_case(case)
    win.findChild(QDockWidget, "dockAnalysis").raise_()
    panel = win.analysis
    qtbot.waitUntil(panel.isVisible, timeout=5000)
    from PyQt6.QtWidgets import QScrollArea

    area = panel.findChild(QScrollArea)
    scroll = area.verticalScrollBar()
    assert scroll.maximum() > 0, "the test needs a panel taller than its dock"
    spin = panel.edge_spin
    before, top = spin.value(), scroll.value()
    _wheel(spin)
    assert spin.value() == before
    assert scroll.value() > top  # the panel scrolled down
    combo = panel.material_combo
    index = combo.currentIndex()
    _wheel(combo, 3)
    assert combo.currentIndex() == index
    # once the user clicked into it, the wheel is the field's again
    win.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    _wheel(spin, 1)
    assert spin.value() != before


def test_no_ruler_on_an_empty_scene(win, qtbot):
    win.set_case(Case(name="empty"))
    ruler = win.view.plotter.actors["scale-bar"]
    assert not ruler.GetVisibility()
    img = win.view.screenshot(f"{SHOTS}/empty_scene.png")
    rgb = img[..., :3].astype(int)
    bottom = rgb[-80:, :]
    # nothing but the background gradient down there: no white tick labels
    assert (bottom.min(axis=2) > 200).sum() == 0
    win.case.scene.add(SceneObject("Part", ObjectKind.PART, pv.Box().triangulate()))
    assert ruler.GetVisibility()


def test_material_names_read_as_words():
    names = [display_name(n) for n in library_names()]
    assert "Cortical bone" in names and "Vessel wall" in names
    assert not any("_" in n for n in names)
    assert all(n[0].isupper() for n in names)
    assert np.unique(names).size == len(names)


def test_simulate_panel_names_materials_for_people(win):
    combo = win.simulate.material_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert "Cortical bone" in texts and "cortical_bone" not in texts
    combo.setCurrentIndex(combo.findText("Cortical bone"))
    assert win.simulate.e_spin.value() == 17000.0 * 1000  # kPa, from the library's entry
    win.simulate.fix_mode.setCurrentText("None")
    assert win.simulate.setup().material == "cortical_bone"  # files keep the key


def test_table_columns_are_not_cut_in_a_narrow_dock(win, qtbot):
    from PyQt6.QtWidgets import QTableWidget

    win.set_case(Case(name="c"))
    dock = win.findChild(QDockWidget, "dockMarkups")
    dock.raise_()
    table = dock.widget().findChild(QTableWidget)
    qtbot.waitUntil(table.isVisible, timeout=5000)
    header = table.horizontalHeader()
    metrics = header.fontMetrics()
    for k in range(header.count() - 1):
        text = table.horizontalHeaderItem(k).text()
        assert header.sectionSize(k) >= metrics.horizontalAdvance(text), text
    last = header.count() - 1
    text = table.horizontalHeaderItem(last).text()
    room = table.viewport().width() - header.sectionPosition(last)
    assert max(room, header.sectionSize(last)) >= metrics.horizontalAdvance(text) or \
        table.horizontalScrollBar().maximum() > 0  # it fits, or the table scrolls to it
    win.grab().save(f"{SHOTS}/markups_columns.png")
    from PyQt6.QtWidgets import QTabBar

    bars = [b for b in win.findChildren(QTabBar) if b.parentWidget() is win and b.isVisible()]
    assert bars and all(b.elideMode() == Qt.TextElideMode.ElideNone for b in bars)


def test_3d_labels_do_not_overlap(win, qtbot):
    from sim.markups import Markup, MarkupType

    case = Case(name="c")
    case.scene.add(SceneObject("Part", ObjectKind.PART, pv.Box(bounds=(0, 40, 0, 40, 0, 40))))
    win.set_case(case)
    for k in range(4):  # four landmarks within 1.5 mm: their labels would pile up
        case.markups.add(Markup(f"Landmark {k + 1}", MarkupType.POINT, ((20.0 + 0.5 * k, 0.0,
                                                                         20.0),)))
    win.view.renderer.set_view("A")
    win.view.plotter.render()
    layer = win.session.markups.layer
    boxes = layer.declutter.boxes()
    assert len(boxes) == 4
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or
                     a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])
            assert apart, (a, b)
    win.view.screenshot(f"{SHOTS}/labels_not_overlapping.png")
