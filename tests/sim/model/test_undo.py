"""Undo/redo in the model: every kind of scene edit, made by code, is undoable."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.errors import InputError
from sim.geometry.rigid import from_parts
from sim.markups import Markup
from sim.model import Case, SceneObject
from sim.model import undo as undo_mod
from sim.model.case_io import load_case, save_case
from sim.model.display import Display
from sim.model.transform import harden
from tests.sim.model.sample import make_case


@pytest.fixture
def case():
    c = make_case()
    c.history.clear()
    return c


def test_add_and_remove_restore_position(case):
    h = case.history
    names = [o.name for o in case.scene]
    new = case.scene.add(SceneObject("Probe", "device", pv.Cone()))
    assert h.undo_text == "Add 'Probe'"
    h.undo()
    assert case.scene.find(new.uid) is None
    h.redo()
    assert case.scene.find(new.uid) is new and [o.name for o in case.scene][-1] == "Probe"
    liver = case.scene["Liver"]
    case.scene.remove(liver)
    assert h.undo_text == "Remove 'Liver'"
    h.undo()
    assert [o.name for o in case.scene] == names + ["Probe"]
    assert case.scene["Liver"] is liver


@pytest.mark.parametrize("field,value", [("name", "Hepar"), ("visible", True),
                                         ("color", (0.1, 0.9, 0.1)), ("opacity", 0.3)])
def test_property_edits(case, field, value):
    obj = case.scene["Liver"]
    before = getattr(obj, field)
    setattr(obj, field, value)
    assert case.history.can_undo and not case.history.can_redo
    case.history.undo()
    assert getattr(obj, field) == before
    case.history.redo()
    assert getattr(obj, field) == value


def test_step_texts(case):
    obj = case.scene["Liver"]
    obj.name = "Hepar"
    assert case.history.undo_text == "Rename 'Liver'"
    obj.visible = True
    assert case.history.undo_text == "Show 'Hepar'"
    obj.transform = from_parts((1, 2, 3))
    assert case.history.undo_text == "Transform 'Hepar'"


def test_transform_edit_and_harden(case):
    screw = case.scene["Screw"]
    original_points = np.array(screw.data.points)
    start = screw.transform
    moved = from_parts((5, 0, 0), (0, 0, 45)) @ start
    screw.transform = moved
    assert np.allclose(screw.transform, moved)
    case.history.undo()
    assert np.allclose(screw.transform, start)
    case.history.redo()
    assert harden(screw, case.history)
    assert np.allclose(screw.transform, np.eye(4)) and not screw.has_transform
    expected = original_points @ moved[:3, :3].T + moved[:3, 3]
    assert np.allclose(screw.data.points, expected, atol=1e-4)
    assert case.history.undo_text.startswith("Harden")
    case.history.undo()
    assert np.allclose(screw.data.points, original_points) and np.allclose(screw.transform, moved)
    case.history.redo()
    assert np.allclose(screw.data.points, expected, atol=1e-4)


def test_harden_image_moves_origin_and_direction(case):
    ct = case.scene["CT"]
    m = from_parts((10, 20, 30), (0, 0, 90))
    corner = np.array(ct.data.points[-1])
    ct.transform = m
    harden(ct, case.history)
    assert np.allclose(ct.data.points[-1], m[:3, :3] @ corner + m[:3, 3], atol=1e-4)


def test_markup_edits(case):
    h = case.history
    line = case.markups["Gap"]
    line.move_point(1, (10, 0, 0))
    assert line.measurement()["value"] == pytest.approx(10.0)
    h.undo()
    assert line.points[1] == (3.0, 4.0, 12.0)
    m = case.markups.add(Markup("Tip", "point"))
    m.add_point((1, 1, 1))
    m.add_point((2, 2, 2))  # quick successive edits of one field merge into one step
    assert h.undo_text == "Move points of 'Tip'"
    h.undo()
    assert m.points == ()
    h.undo()
    assert case.markups.find(m.uid) is None
    case.markups.remove(line)
    h.undo()
    assert case.markups.index(line) == 1


def test_drags_merge_but_not_across_undo_or_time(case, monkeypatch):
    obj = case.scene["Liver"]
    for v in (0.9, 0.8, 0.7, 0.6):
        obj.opacity = v
    assert len(case.history) == 1
    case.history.undo()
    assert obj.opacity == 1.0
    case.history.redo()
    obj.opacity = 0.5  # after a redo, a new edit is a new step
    assert len(case.history) == 2
    base = undo_mod.time.monotonic()
    clock = iter([base + 100.0, base + 110.0])
    monkeypatch.setattr(undo_mod.time, "monotonic", lambda: next(clock))
    obj.opacity = 0.4
    obj.opacity = 0.3
    assert len(case.history) == 4


def test_macro_groups_and_new_edit_clears_redo(case):
    h = case.history
    with h.macro("Tidy"):
        for obj in case.scene:
            obj.visible = False
        case.scene["Liver"].name = "L"
    assert h.undo_text == "Tidy" and len(h) == 1
    h.undo()
    assert case.scene["Liver"].visible is False and case.scene["CT"].visible is True
    assert h.can_redo
    case.scene["CT"].opacity = 0.2
    assert not h.can_redo


def test_clean_state_follows_save_and_undo(tmp_path, case):
    h = case.history
    assert h.is_clean
    case.scene["Liver"].color = (0, 0, 1)
    assert not h.is_clean
    save_case(case, tmp_path / "c.twin")
    assert h.is_clean
    h.undo()
    assert not h.is_clean
    h.redo()
    assert h.is_clean


def test_loading_records_nothing_and_limit_holds(tmp_path):
    case = load_case(save_case(make_case(), tmp_path / "c.twin"))
    assert not case.history.can_undo
    case.history.limit = 5
    obj = case.scene["Liver"]
    for i in range(12):
        obj.visible = bool(i % 2)  # visibility toggles never merge
    assert len(case.history) == 5
    while case.history.undo():
        pass
    assert obj.visible is False  # back as far as the limit allows (step 7 of 12)


def test_transform_is_a_typed_evented_field(case):
    """Only an assignment moves an object (so views and undo always follow), and only a
    rigid one: the stored matrix is read-only, a shear or a wrong shape is refused."""
    obj = case.scene["Liver"]
    seen = []
    obj.events.transform.connect(lambda new, old: seen.append((new, old)))
    m = from_parts((1, 2, 3), (0, 90, 0))
    obj.transform = m.tolist()  # nested lists are taken too
    assert len(seen) == 1 and np.allclose(seen[0][0], m) and np.allclose(seen[0][1], np.eye(4))
    obj.transform = m  # the same matrix again: no event, no step
    assert len(seen) == 1 and case.history.undo_text == "Transform 'Liver'"
    with pytest.raises(ValueError):
        obj.transform[0, 3] = 7.0  # in place would bypass the events
    for bad in (np.diag([2.0, 1, 1, 1]), np.eye(3), [[1, 2], [3, 4]]):
        with pytest.raises(InputError):
            obj.transform = bad
    assert np.allclose(obj.transform, m)
    case.history.undo()
    assert not obj.has_transform
    case.history.redo()
    assert np.allclose(obj.transform, m)


def test_display_changes_are_undoable_steps(case):
    obj = case.scene["Liver"]
    seen = []
    obj.events.display.connect(lambda new, old: seen.append(new))
    obj.display = obj.display.replace(scalars="von_mises", clim=[0, 250])
    assert obj.display.clim == (0.0, 250.0) and len(seen) == 1
    assert case.history.undo_text == "Change display of 'Liver'"
    with pytest.raises(InputError, match="display settings"):
        obj.display = obj.display.replace(point_size=-1)
    with pytest.raises(InputError):
        obj.display = {"colour_map": "viridis"}  # not a display setting
    case.history.undo()
    assert obj.display == Display() and obj.display.scalars is None
    case.history.redo()
    assert obj.display.scalars == "von_mises"


def test_old_style_metadata_keys_become_fields():
    """Scripts written for older versions passed transform and display as metadata."""
    m = from_parts((4, 0, 0))
    obj = SceneObject("s", "surface", pv.Sphere(), metadata={
        "transform": m.tolist(), "scalars": "x", "warp_factor": None, "window": [40, 400],
        "texture_shown": None, "source_format": "STL"})
    assert np.allclose(obj.transform, m) and obj.display.scalars == "x"
    assert obj.display.window == (40.0, 400.0) and obj.display.warp_factor == 0.0
    assert obj.metadata == {"source_format": "STL"}


def test_script_can_drive_a_fresh_case():
    case = Case()
    obj = case.scene.add(SceneObject("a", "surface", pv.Sphere()))
    obj.color = (1, 0, 0)
    assert not case.history.can_undo  # history starts when first asked for
    obj.color = (0, 1, 0)
    case.history.undo()
    assert obj.color == (1, 0, 0)


def test_state_token_marks_the_saved_state_even_after_later_edits(case):
    h = case.history
    liver = case.scene["Liver"]
    liver.opacity = 0.5
    token = h.state_token()  # a background save starts here
    liver.opacity = 0.4  # an edit while it runs: a new step, not merged into the saved one
    assert len(h) == 2
    h.set_clean(token)  # the save finishes
    assert not h.is_clean
    h.undo()
    assert h.is_clean and liver.opacity == 0.5
