"""Every setting of the Rehearse, Simulate, Inspect and Live panels belongs to the saved case
(or is a named per-user preference or transient control): changing it through its widget
marks the case modified, and after Save and reopening the widget shows the same value."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPushButton,
    QSlider,
    QWidget,
)

INPUTS = (QComboBox, QAbstractSpinBox, QCheckBox, QLineEdit, QSlider)

# Widgets of these panels that are deliberately not case settings, and why (attribute paths).
NOT_SAVED = {
    "rehearse.step_spin": "per-user preference (QSettings rehearse/move_mm)",
    "rehearse.control_combo": "what the mouse moves during an attempt (transient)",
    "simulate.mode_combo": "mouse mode: a tool choice, like the markup type being placed",
    "simulate.tool_kind": "the kind the Add button adds (an action's argument)",
    "inspect.callout_edit": "the point the Add callout button adds (an action's argument)",
    "live.user_edit": "broker user: a person's credentials stay out of shared case files",
    "live.password_edit": "broker password: never written anywhere",
    "live.property_combo": "argument of the Set command",
    "live.desired_spin": "argument of the Set command",
    "live.command_edit": "argument of the command sent to the peer",
    "live.live_check": "following the live data or scrubbing: a moment of the session",
    "live.timeline": "scrub position in the session's history",
    "analysis.kind_combo": "the type of support or load the Add button adds (its argument)",
    "analysis.vx": "value the Add button gives the new support or load",
    "analysis.vy": "value the Add button gives the new support or load",
    "analysis.vz": "value the Add button gives the new support or load",
    "analysis.pressure_spin": "value the Add button gives the new pressure load",
    "analysis.field_combo": "the result object's colouring, saved in its own metadata",
    "analysis.warp_spin": "the result object's warp, saved in its own metadata",
    "inspect.deformable.preop_check": "shows the pre-op organ: saved as that object's visibility",
    "inspect.deformable.follow_check": "live mode, a moment of the session: reopening a case "
                                       "must not start following whatever the tracker streams",
    "inspect.deformable.follow_tool_combo": "a tool seen on the live link now (session state): "
                                            "reopened, the Stylus/Pointer default picks it "
                                            "again, a remembered name could follow the wrong tool",
}
# Saved settings whose value is only offered while a link is connected (no items without it).
NEEDS_LINK = {"live.colour_combo"}


def _named_inputs(win) -> dict[str, QWidget]:
    """Every input widget of the four panels, named "panel.attribute" (the panels' own and
    those of their parts, such as the Inspect panel's landmark registration)."""
    found: dict[str, QWidget] = {}
    for pname in ("rehearse", "simulate", "inspect", "live", "analysis"):
        panel = getattr(win, pname)
        owners = [(pname, panel)] + [(f"{pname}.{k}", v) for k, v in vars(panel).items()
                                     if isinstance(v, QWidget) and not isinstance(v, INPUTS)
                                     and v.findChildren(QWidget)]
        for prefix, owner in owners:
            for attr, w in vars(owner).items():
                if isinstance(w, INPUTS) and w.window() is win:
                    found.setdefault(f"{prefix}.{attr}", w)
    return found


def _value(w):
    if isinstance(w, QComboBox):
        return w.currentText(), w.currentData()
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QLineEdit):
        return w.text()
    return w.value()


TEXTS = {"live.mqtt_edit": "mqtt://broker.example:1884", "live.igtl_edit": "10.1.2.3:18945",
         "live.image_pose_edit": "Image_Reference=ImageToReference",
         "inspect.sections_edit": "z=5; x=12",
         "inspect.landmarks.pointer_combo": "Stylus"}


def _change(name: str, w, qtbot) -> None:
    """Change ``w`` the way a user would, to a value it did not have."""
    if isinstance(w, QComboBox) and w.isEditable():
        w.setEditText(TEXTS[name])
    elif isinstance(w, QComboBox):
        assert w.count() > 1, f"{name} offers nothing to choose"
        w.setCurrentIndex((w.currentIndex() + 1) % w.count())
    elif isinstance(w, QCheckBox):
        w.click()  # (as a mouse click does; the panel may sit behind another tab)
    elif isinstance(w, QLineEdit):
        w.selectAll()
        qtbot.keyClicks(w, TEXTS[name])
    elif isinstance(w, QSlider):
        w.setValue(w.minimum() + (w.maximum() - w.minimum()) // 3)
    else:
        step = 3 * w.singleStep()
        value = w.value() + step if w.value() + step <= w.maximum() else w.value() - step
        w.setValue(value)


@pytest.fixture
def window(monkeypatch, tmp_path, demo_case_dir, new_window):
    from sim.io import load

    monkeypatch.setenv("TWINSIGHT_RECOVERY_DIR", str(tmp_path / "recovery"))
    win = new_window((1200, 800))
    win.set_case(load(demo_case_dir))
    win.case_path = None
    win.session.saved(None, None)
    yield win
    win.rehearse.shutdown()


def test_every_panel_setting_marks_the_case_and_survives_save_and_reopen(window, qtbot,
                                                                          tmp_path):
    win = window
    assert not win.has_unsaved_changes()
    # Rehearse: Build from plan, then an edit applied in the authoring dialog.
    qtbot.mouseClick(win.rehearse.build_button, Qt.MouseButton.LeftButton)
    assert win.rehearse.scenario is not None and win.has_unsaved_changes()
    assert "Build scenario" in win.case.history.undo_text
    win.case.history.set_clean()
    dialog = win.rehearse.edit()
    dialog.name_edit.selectAll()
    qtbot.keyClicks(dialog.name_edit, "Edited rehearsal")
    dialog.limit_spin.setValue(321.0)
    qtbot.mouseClick(next(b for b in dialog.findChildren(QPushButton) if b.text() == "Apply"),
                     Qt.MouseButton.LeftButton)
    dialog.close()
    assert win.has_unsaved_changes() and win.rehearse.scenario.time_limit_s == 321.0
    # Undo takes the edit back out of the panel too; redo puts it back.
    win.case.history.undo()
    assert win.rehearse.scenario.time_limit_s != 321.0
    win.case.history.redo()
    assert win.rehearse.scenario.name == "Edited rehearsal"

    # A user's preference is not a case edit.
    win.case.history.set_clean()
    win.rehearse.step_spin.setValue(3.5)
    assert not win.has_unsaved_changes()

    # A markup to fix the tissue by, a custom material, so every field is editable.
    win.simulate.material_combo.setCurrentText("Custom…")
    inputs = _named_inputs(win)
    unknown = set(inputs) - set(NOT_SAVED) - NEEDS_LINK
    saved = sorted(n for n in unknown if not inputs[n].property("noSave"))
    assert len(saved) >= 30, saved
    after: dict[str, object] = {}
    for name in saved:
        w = inputs[name]
        if isinstance(w, QComboBox) and not w.isEditable() and w.count() < 2:
            continue  # a choice among the case's things that this case offers only one of
        win.case.history.set_clean()
        before = _value(w)
        _change(name, w, qtbot)
        assert _value(w) != before, name
        assert win.has_unsaved_changes(), f"changing {name} did not mark the case modified"
    for name in saved:
        after[name] = _value(inputs[name])
    assert "simulate.body_combo" in after and "live.frame_combo" in after
    # Save, start afresh (every widget back to its default), reopen.
    path = tmp_path / "work.twin"
    win.save_to(path)
    qtbot.waitUntil(lambda: win.task is None, timeout=60_000)
    assert not win.has_unsaved_changes()
    win.new_case()
    changed_back = [n for n in after if _value(inputs[n]) != after[n]]
    assert changed_back  # a new case shows the defaults, not the last case's settings
    win.open_path(path)
    qtbot.waitUntil(lambda: win.task is None and win.case_path == path, timeout=60_000)
    assert not win.has_unsaved_changes()  # restoring the settings is not an edit
    differ = {n: (_value(inputs[n]), after[n]) for n in after if _value(inputs[n]) != after[n]}
    assert differ == {}
    assert win.rehearse.scenario.name == "Edited rehearsal"
    assert win.rehearse.step_spin.value() == 3.5  # the preference stays the user's
    # Undo of a setting puts the widget back.
    win.simulate.gravity_check.toggle()
    assert win.has_unsaved_changes()
    win.case.history.undo()
    assert win.simulate.gravity_check.isChecked() == after["simulate.gravity_check"]
