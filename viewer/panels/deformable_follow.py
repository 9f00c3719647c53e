"""*Follow tracked stylus*: the organ model follows the points a tracked stylus touches, live.

The stylus is a tool streaming over the Workbench's live link (OpenIGTLink, Live panel), chosen
in the *Stylus* list (the tools seen on the link; by default the one named Stylus/Pointer, or
the only one). Its tip positions are collected as touched surface points (:class:`StylusTrace`,
one per 2 mm); while new points come, a background job fits the organ to all points so far,
warm-started on the same prepared model (:class:`LiveDeformable`), and also computes what the
view shows (deformed surface, uncertainty, embedded targets: :meth:`LiveDeformable.frame`).
The GUI thread only writes those arrays into the live preview in place (no undo step, no new
object per update) and renders once. Turning the toggle off keeps the last update in the case
as one undoable step (:func:`sim.registration.case_update.apply_update`).

Each update's phases are timed (:attr:`StylusFollower.timings`): waiting for the worker, fit,
view data, delivery to the GUI thread, display (scene update + render), as wall and CPU time.
"""

from __future__ import annotations

import time
from contextlib import nullcontext

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QCheckBox, QComboBox

from sim.errors import InputError
from sim.model import ObjectKind, SceneObject
from sim.model.object_fields import LiveSource
from viewer.errors import show_error

TICK_MS = 100  # how often the loop looks for new points (cheap)
MIN_INTERVAL_S = 0.5  # at most two updates a second: an update takes ~0.2-0.5 s
TOOLS_MS = 500  # how often the tool list looks for tools new on the link
STYLUS_WORDS = ("stylus", "pointer")


def default_tool(names: list[str]) -> str | None:
    """The tool to follow by default: the one named Stylus/Pointer, or the only one."""
    named = [n for n in names if any(k in n.lower() for k in STYLUS_WORDS)]
    if named:
        return named[0]
    return names[0] if len(names) == 1 else None


class StylusFollower:
    """The toggle, the tool list and the live loop of the deformable update box (``box``)."""

    def __init__(self, box) -> None:
        self.box, self.window = box, box.window
        self.check = QCheckBox("Follow tracked stylus")
        self.check.setObjectName("followStylusCheck")
        self.check.setToolTip("Collect the tip of the tracked stylus (Live panel link) as "
                              "touched surface points and update the organ to them, up to "
                              "twice a second; turning it off keeps the last update (undoable)")
        self.check.toggled.connect(self._toggled)
        self.tool_combo = QComboBox()
        self.tool_combo.setObjectName("followToolCombo")
        self.tool_combo.setToolTip("The tracked tool whose tip touches the organ: the tools "
                                   "seen on the Live panel's link")
        self.tool_combo.setPlaceholderText("no tracked tool yet")
        self.tool_combo.currentIndexChanged.connect(self._tool_chosen)  # (refill: blocked)
        self.timer = QTimer(self.check)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.tools_timer = QTimer(self.check)
        self.tools_timer.setInterval(TOOLS_MS)
        self.tools_timer.timeout.connect(self.refresh_tools)
        self.tools_timer.start()
        self.trace = self.live = self.organ = self.tool = None
        self.busy = False
        self.updates = 0
        self.timings: list[dict[str, float]] = []  # one per displayed update, see module doc
        self._chosen: str | None = None  # the tool the user picked in the list
        self._last_submit = 0.0
        self._prepared: dict = {}  # the model the preparing job made (set on its thread)
        self._preview: SceneObject | None = None
        self._targets: SceneObject | None = None

    # -- the tool list --------------------------------------------------------------------
    def _tools(self) -> dict:
        session = self.window.workbench.link
        return dict(session.instruments.tools) if session is not None else {}

    def refresh_tools(self) -> None:
        """List the tools on the link (new ones appear); keep the user's or the default choice."""
        names = list(self._tools())
        combo = self.tool_combo
        if names == [combo.itemText(i) for i in range(combo.count())]:
            return
        current = combo.currentText() or None
        want = self._chosen if self._chosen in names else (
            current if current in names else default_tool(names))
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        combo.setCurrentIndex(names.index(want) if want in names else -1)
        combo.blockSignals(False)

    def _tool_chosen(self, index: int) -> None:
        name = self.tool_combo.itemText(index) if index >= 0 else ""
        self._chosen = name or None
        if self.trace is not None and self.tool is not None and name != self.tool.device:
            self._follow_tool(self._stylus())  # following: the new tool's tip from now on

    def _stylus(self):
        self.refresh_tools()
        tools = self._tools()
        if not tools:
            raise InputError("No tracked tool: connect the Live panel to the tracker first.")
        name = self.tool_combo.currentText()
        if name not in tools:
            raise InputError(f"Several tracked tools ({', '.join(tools)}); choose the stylus "
                             f"in the Stylus list.")
        return tools[name]

    def _follow_tool(self, tool) -> None:
        from sim.registration.live_update import StylusTrace

        if self.trace is not None:
            self.trace.stop()
        self.tool = tool
        self.trace = StylusTrace(tool, spacing_mm=2.0)
        self.box.label.setText(f"Following {tool.obj.name}: touch the organ's surface.")

    # -- on / off -------------------------------------------------------------------------
    def _toggled(self, on: bool) -> None:
        if on:
            try:
                self.start()
            except InputError as exc:
                self.window.last_error = show_error(self.check, "Cannot follow the stylus", exc)
                self.check.blockSignals(True)
                self.check.setChecked(False)
                self.check.blockSignals(False)
        else:
            self.stop()

    def start(self) -> None:
        from sim.interaction.body_setup import world_surface

        organ = self.box._organ()
        if organ is None:
            raise InputError("Choose the organ to update.")
        tool = self._stylus()
        self.organ = organ
        self.surface = world_surface(organ)
        self.live = None
        self.updates = 0
        self.timings = []
        self._last_submit = 0.0
        self._follow_tool(tool)
        self._prepare()
        self.timer.start()

    def _prepare(self) -> None:
        """Prepare the organ's model (tet body, basis) now, while the first points come."""
        from sim.registration.deformable import DeformableModel

        surface, organ, box = self.surface, self.organ, self.box
        key = _model_key(organ, surface)
        if key in box._models:
            return

        def job(_progress):
            model = DeformableModel(surface, name=organ.name)
            self._prepared = {key: model}  # for the next job, which may start before done
            return model

        def done(model) -> None:
            box._models = {key: model}

        # The updates run in the same group, after this: the first one finds the model.
        self.window.run_task(f"Preparing {organ.name} to follow the stylus", job, done,
                             background=True, group="deformable-follow")

    def stop(self) -> None:
        self.timer.stop()
        self._prepared = {}
        if self.trace is not None:
            self.trace.stop()
        live, organ = self.live, self.organ
        self.trace = self.live = self.tool = None
        self._drop_previews()
        if organ is not None and self.box.case is not None:
            with self.box.case.history.paused():  # hidden for the preview, not an edit
                organ.visible = True
        if live is not None and live.latest is not None and organ is not None:
            self.box._apply(organ, live.latest)  # one undoable step with the last update

    def _drop_previews(self) -> None:
        case = self.box.case
        for obj in (self._preview, self._targets):
            if case is not None and obj is not None and case.scene.find(obj.uid) is not None:
                with case.history.paused():
                    case.scene.remove(obj)
        self._preview = self._targets = None

    # -- the loop -------------------------------------------------------------------------
    @property
    def caught_up(self) -> bool:
        """The shown organ was fitted to every point touched so far."""
        return (not self.busy and self.trace is not None and self.live is not None
                and self.live._used == len(self.trace.points))

    def tick(self) -> None:
        """Start an update if the last one is done and new points have come (GUI timer)."""
        from sim.registration.deformable import MIN_POINTS, DeformableSettings

        if self.busy or self.trace is None:
            return
        t0, c0 = time.perf_counter(), time.thread_time()
        if t0 - self._last_submit < MIN_INTERVAL_S:
            return
        points = self.trace.points
        if len(points) < MIN_POINTS or (self.live is not None and len(points) == self.live._used):
            return
        self.busy = True
        self._last_submit = t0
        settings = DeformableSettings(noise_mm=float(self.box.noise_spin.value()),
                                      material_model="linear")
        live, surface, organ, box = self.live, self.surface, self.organ, self.box
        key = _model_key(organ, surface)
        case = box.case
        marks = [m for m in case.markups
                 if m.type.value in ("point", "line", "curve", "closed_curve") and m.points]
        mark_points = [np.asarray(m.points, dtype=float) for m in marks]
        t = {"points": float(len(points)), "collect_s": time.perf_counter() - t0}
        cpu = {"gui": time.thread_time() - c0}

        def job(_progress):
            from sim.registration.deformable import DeformableModel
            from sim.registration.live_update import LiveDeformable

            nonlocal live
            t1, c1 = time.perf_counter(), time.thread_time()
            t["wait_s"] = t1 - t0
            if live is None:  # the model prepared at the start (its job ran before this)
                model = (box._models.get(key) or self._prepared.get(key)
                         or DeformableModel(surface, name=organ.name))
                live = LiveDeformable(model, settings)
            t["prepare_s"] = time.perf_counter() - t1
            live.settings = settings
            c2 = time.thread_time()
            live.step(points)
            t2 = time.perf_counter()
            t["fit_s"] = t2 - t1 - t["prepare_s"]
            t["fit_cpu_s"] = time.thread_time() - c2
            inside = _inside(live, mark_points)
            frame = live.frame(np.vstack([mark_points[i] for i in inside]) if inside else None)
            t["frame_s"] = time.perf_counter() - t2
            cpu["worker"] = time.thread_time() - c1
            t["job_end"] = time.perf_counter()
            return live, frame, [marks[i] for i in inside]

        def done(out) -> None:
            t3, c3 = time.perf_counter(), time.thread_time()
            t["deliver_s"] = t3 - t.pop("job_end")
            self.busy = False
            live_, frame, moved_marks = out
            box._models = {key: live_.model}
            if self.trace is None:  # stopped meanwhile
                return
            self.live = live_
            if frame is None:
                return
            self.updates += 1
            self._show(live_, frame, moved_marks)
            t4 = time.perf_counter()
            t["display_s"] = t4 - t3
            t["total_s"] = t4 - t0
            t["display_cpu_s"] = time.thread_time() - c3
            t["cpu_s"] = cpu["gui"] + cpu.get("worker", 0.0) + t["display_cpu_s"]
            t["shown_at"] = t4
            self.timings.append(t)

        job_ = self.window.run_task(f"Following the stylus on {organ.name}", job, done,
                                    background=True, group="deformable-follow")
        if job_ is None:
            self.busy = False

    def _show(self, live, frame, marks) -> None:
        from sim.registration.case_update import UPDATED_COLOUR

        case = self.box.case
        if case is None or self.trace is None:
            return
        view = getattr(self.window, "view", None)
        batched = view.renderer.batched() if view is not None else nullcontext()
        # The preview is a moment of the session: no undo step, no unsaved change.
        with case.history.paused(), batched:
            if self._preview is None or case.scene.find(self._preview.uid) is None:
                surf = live.model.surface.copy()
                surf.points = frame.surface_points
                surf.point_data["uncertainty_mm"] = frame.uncertainty_mm
                self._preview = case.scene.add(SceneObject(
                    case.scene.unique_name(f"{self.organ.name} (live)"), ObjectKind.SURFACE,
                    surf, color=UPDATED_COLOUR,
                    live_source=LiveSource.DEFORMABLE, metadata={"updated_from": self.organ.uid}))
                self.organ.visible = False
            else:  # in place: the same mesh, new vertex positions
                _set_points(self._preview, frame.surface_points,
                            {"uncertainty_mm": frame.uncertainty_mm})
            if frame.targets is not None:
                if self._targets is None or case.scene.find(self._targets.uid) is None:
                    self._targets = case.scene.add(SceneObject(
                        case.scene.unique_name("targets (live)"), ObjectKind.POINTS,
                        pv.PolyData(frame.targets), color=(0.9, 0.2, 0.2),
                        live_source=LiveSource.DEFORMABLE,
                        metadata={"markups": [m.name for m in marks]}))
                else:
                    _set_points(self._targets, frame.targets)
        s = frame.summary
        self.box.label.setText(
            f"Following {self.tool.obj.name if self.tool else 'the stylus'}: "
            f"{s['points']} points, update {self.updates} ({live.last_step_s:.2f} s); "
            f"residual RMS {s['residual_rms_mm']:.2f} mm, deformation up to "
            f"{s['max_deformation_mm']:.1f} mm.")


def _model_key(organ: SceneObject, surface: pv.PolyData) -> tuple:
    return organ.uid, surface.n_points, float(np.asarray(surface.points).sum())


def _inside(live, mark_points: list[np.ndarray]) -> list[int]:
    """Indices of the markups inside (or on) the pre-op organ: the ones that move with it."""
    from sim.registration.case_update import INSIDE_MM

    ref = live.model.reference
    return [i for i, p in enumerate(mark_points) if (ref.signed_distance(p) <= INSIDE_MM).all()]


def _set_points(obj: SceneObject, points: np.ndarray, fields: dict | None = None) -> None:
    """New vertex positions (same count) for ``obj``'s mesh, and tell the views."""
    data = obj.data
    if data.n_points != len(points):
        obj.data = pv.PolyData(points)
        return
    data.points = points
    for name, values in (fields or {}).items():
        data.point_data[name] = values
    data.Modified()
    obj.events.data.emit(data, data)

