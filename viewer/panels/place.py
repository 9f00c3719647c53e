"""The Place panel: add a catalogue device, align it to a trajectory, watch live feedback, fit.

A device is added with the button or dragged from the catalogue list: dropped on the 3D view
it lands on the surface point under the cursor, pointing into the surface (or along the
trajectory if one is set); dropped on the scene tree it is added as the button adds it.

A placed device is a DEVICE scene object whose data is the device surface in its anchor
frame and whose transform is its pose, so the Transform panel's 6-DoF manipulator (and
undo) move it like anything else. Every pose change is evaluated at once (milliseconds)
against the structures prepared here; preparing, fitting and sizing run as background
tasks with a percentage and Cancel.

Every setting the panel shows (device family and size, structure roles and margins, the
trajectory, slide and roll, the markup, the overlays, the device being placed and the kept
candidates) is stored in the case's "placement" section: saved with it, restored on reopen,
and each change is an undoable step that marks the case modified.
"""

from __future__ import annotations

import contextlib

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFontDatabase
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim.devices import families, frame_from_axis, make, pose_on_trajectory, sizes
from sim.devices.catalogue import Device
from sim.devices.placed import device_of_object
from sim.errors import InputError
from sim.model import Case, ObjectKind, SceneObject
from sim.workbench import PlacementRun, Workbench, prepare_structures
from viewer.panels.case_settings import CaseSettings
from viewer.panels.device_drag import CatalogueList
from viewer.panels.spin import button, refill_objects, scroll_body, spin_box
from viewer.panels.spin import row as form_row

ROLES = ("ignore", "critical", "host", "other")
SECTION = "placement"
DEFAULT_MARGIN_MM = 2.0
_FEEDBACK = ("structure", "clearance mm", "hit", "depth mm", "volume mm³", "purchase", "breach mm",
             "violation")

MAP_RANGE_MM = 10.0  # clearance colour maps run from red (touching) to green (10 mm)


class PlacePanel(QWidget):
    def __init__(self, window=None, parent=None) -> None:
        super().__init__(parent)
        self.window = window
        self.case: Case | None = None
        # The placement (prepared structures, the device placed, its last evaluation) is the
        # workbench's: scripts and other views see what this panel runs.
        self.workbench = window.workbench if window is not None else Workbench()
        self.device_obj: SceneObject | None = None
        # Everything scrolls, so the dock never forces a minimum height on the main window.
        inner = QWidget()
        scroll_body(self, inner)
        layout = QVBoxLayout(inner)

        box = QGroupBox("Catalogue")
        form = QFormLayout(box)
        self.family_combo = QComboBox()
        for fid, fam in families().items():
            self.family_combo.addItem(fam["name"], fid)
        self.family_combo.currentIndexChanged.connect(self._fill_sizes)
        self.catalogue = CatalogueList()  # the family's sizes; drag one into the scene
        self.catalogue.setMaximumHeight(140)
        self.catalogue.currentRowChanged.connect(lambda _r: self._setting_changed())
        # clicked(bool) would hand its `checked` flag to add_device as the device.
        self.add_button = button("Add to scene", lambda: self.add_device())
        form.addRow("Device", self.family_combo)
        form.addRow("Size", self.catalogue)
        self.user_button = button("Add your own (STL/STEP…)", self.add_user_device_dialog)
        form.addRow(form_row(self.add_button, self.user_button))
        layout.addWidget(box)

        box = QGroupBox("Structures")
        v = QVBoxLayout(box)
        self.structure_table = QTableWidget(0, 3)
        self.structure_table.setHorizontalHeaderLabels(["structure", "role", "margin mm"])
        v.addWidget(self.structure_table)
        self.prepare_button = button("Prepare structures", self.prepare)
        v.addWidget(self.prepare_button)
        layout.addWidget(box)

        box = QGroupBox("Trajectory (LPS mm)")
        form = QFormLayout(box)
        self.entry = [spin_box(-2000.0, 2000.0, 0.0, 1.0, 1) for _ in range(3)]
        self.target = [spin_box(-2000.0, 2000.0, 0.0, 1.0, 1) for _ in range(3)]
        for s in self.entry + self.target:
            s.valueChanged.connect(lambda _v: self._setting_changed())
        for label, spins in (("Entry", self.entry), ("Target", self.target)):
            row = QHBoxLayout()
            for s in spins:
                row.addWidget(s)
            form.addRow(label, row)
        self.depth_spin = spin_box(-100, 100, 0.0, 0.5, 1)
        self.roll_spin = spin_box(-180, 180, 0.0, 5.0, 1)
        self.depth_spin.valueChanged.connect(self.align)
        self.roll_spin.valueChanged.connect(self.align)
        form.addRow("Slide along (mm)", self.depth_spin)
        form.addRow("Roll about (deg)", self.roll_spin)
        self.align_button = button("Align device to trajectory", self.align)
        self.markup_combo = QComboBox()
        self.markup_button = button("Use markup", self.use_markup)
        row = QHBoxLayout()
        row.addWidget(self.markup_combo, 1)
        row.addWidget(self.markup_button)
        form.addRow("From markup", row)
        self.snap_button = button("Snap to host surface", self.snap,
                                  "Put the anchor on the nearest point of the host (or first) "
                                  "structure, pointing into it")
        form.addRow(form_row(self.align_button, self.snap_button))
        layout.addWidget(box)

        self.feedback = QTableWidget(0, len(_FEEDBACK))
        self.feedback.setHorizontalHeaderLabels(list(_FEEDBACK))
        layout.addWidget(self.feedback)
        self.show_closest = QCheckBox("Draw closest points")
        self.show_closest.setChecked(True)
        self.show_map = QCheckBox("Distance colour map on critical surfaces")
        self.show_closest.toggled.connect(self.evaluate_now)
        self.show_map.toggled.connect(self.evaluate_now)
        layout.addWidget(self.show_closest)
        layout.addWidget(self.show_map)
        self.verdict = QLabel("Add a device and prepare the structures.")
        self.verdict.setWordWrap(True)
        layout.addWidget(self.verdict)
        row = QHBoxLayout()
        self.fit_button = button("Fit", self.fit,
                                 "Optimise the pose near the trajectory: in bone, clear of "
                                 "critical structures, most bone purchase")
        self.size_button = button("Recommend screw size", self.recommend)
        row.addWidget(self.fit_button)
        row.addWidget(self.size_button)
        layout.addLayout(row)
        self.reasons = QLabel("")
        self.reasons.setWordWrap(True)
        layout.addWidget(self.reasons)
        self.keep_button = button("Keep as candidate", self.keep_candidate)
        self.clear_button = button("Clear candidates", self.clear_candidates)
        self.sweep_button = button("Sweep…", self.sweep,
                                   "This plan over uncertain inputs or a cohort, on Dask")
        row = QHBoxLayout()
        row.addWidget(self.keep_button)
        row.addWidget(self.clear_button)
        row.addWidget(self.sweep_button)
        layout.addLayout(row)
        self.comparison = QPlainTextEdit()
        self.comparison.setReadOnly(True)
        self.comparison.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.comparison.setMinimumHeight(120)
        layout.addWidget(self.comparison)
        self.candidates: list[tuple[str, object]] = []
        layout.addStretch(1)
        self._fill_sizes()
        self._bind_settings()
        if window is not None:
            window.view.device_dropped.connect(self.drop_on_view)  # (the window connects the
            # scene tree's drops: a panel does not reach into a sibling dock)

    # -- catalogue ---------------------------------------------------------------------------
    def _fill_sizes(self, *_args) -> None:
        fid = self.family_combo.currentData()
        self.catalogue.set_family(fid, sizes(fid))

    # -- settings kept in the case ---------------------------------------------------------
    def _bind_settings(self) -> None:
        """Every setting shown here lives in the case's "placement" section (see the module
        docstring). The feedback table, verdict and reasons are results, not settings."""
        s = self.settings = CaseSettings(self, SECTION, "Change placement settings")
        s.add("family", self.family_combo, data=True)  # before the size (it refills them)
        s.add("size", get=self.catalogue.current_size, put=self._put_size)
        s.add("structures", get=self._structure_roles, put=self._put_structure_roles)
        s.add("entry", get=lambda: [s.value() for s in self.entry],
              put=lambda v: self.set_trajectory(v, [s.value() for s in self.target]))
        s.add("target", get=lambda: [s.value() for s in self.target],
              put=lambda v: self.set_trajectory([s.value() for s in self.entry], v))
        s.add("depth_mm", self.depth_spin)
        s.add("roll_deg", self.roll_spin)
        s.add("markup", self.markup_combo, by_uid=True)
        s.add("show_closest", self.show_closest)
        s.add("show_map", self.show_map)
        s.add("device", get=lambda: None if self.device_obj is None else self.device_obj.uid,
              put=self._put_device)
        s.add("candidates", get=self._candidate_docs, put=self._put_candidates)

    def _setting_changed(self) -> None:
        if getattr(self, "settings", None) is not None:
            self.settings.changed()
            self._sync_map_overlays()

    def _put_size(self, params) -> None:
        if isinstance(params, dict):
            with contextlib.suppress(KeyError, TypeError):
                self.catalogue.select_size({str(k): float(v) for k, v in params.items()})

    def _structure_roles(self) -> dict[str, dict]:
        out = {}
        for r in range(self.structure_table.rowCount()):
            uid = self.structure_table.item(r, 0).data(Qt.ItemDataRole.UserRole)
            out[uid] = {"role": self.structure_table.cellWidget(r, 1).currentText(),
                        "margin_mm": float(self.structure_table.cellWidget(r, 2).value())}
        return out

    def _put_structure_roles(self, value) -> None:
        value = value if isinstance(value, dict) else {}
        for r in range(self.structure_table.rowCount()):
            uid = self.structure_table.item(r, 0).data(Qt.ItemDataRole.UserRole)
            entry = value.get(uid) if isinstance(value.get(uid), dict) else {}
            role = entry.get("role", "ignore")
            self.structure_table.cellWidget(r, 1).setCurrentText(role if role in ROLES else "ignore")
            margin = entry.get("margin_mm", DEFAULT_MARGIN_MM)
            self.structure_table.cellWidget(r, 2).setValue(
                float(margin) if isinstance(margin, int | float) else DEFAULT_MARGIN_MM)

    # -- the workbench's placement ------------------------------------------------------------
    @property
    def run(self) -> PlacementRun | None:
        run = self.workbench.placement
        return run if run is not None and run.case is self.case else None

    @property
    def scene(self):
        """The prepared structures (sim.placement.PlacementScene), None until prepared."""
        return self.run.scene if self.run is not None else None

    @property
    def rigid(self):
        run = self.run
        return run.rigid if run is not None and run.device is self.device_obj else None

    @property
    def last(self):
        """The last Evaluation of the device's pose."""
        return self.run.last if self.run is not None else None

    def _set_device(self, obj: SceneObject | None) -> None:
        """Place ``obj`` from now on (watch its pose), or nothing."""
        if self.device_obj is not None and obj is not self.device_obj:
            self._unwatch()
        watch = obj is not None and obj is not self.device_obj
        self.device_obj = obj
        if self.run is not None:
            self.run.set_device(obj)
        if watch:
            obj.events.transform.connect(self._pose_changed)

    def _put_device(self, uid) -> None:
        """Watch the device object ``uid`` (the one being placed), or none."""
        obj = self.case.scene.find(uid) if (self.case is not None and uid) else None
        if obj is self.device_obj:
            return
        self._set_device(None)
        if obj is None or obj.kind != ObjectKind.DEVICE:
            return
        try:
            device_of_object(obj)
        except InputError as exc:
            self.verdict.setText(str(exc))
            return
        self._set_device(obj)
        self._sync_map_overlays()

    def _candidate_docs(self) -> list[dict]:
        return [{"label": label, "evaluation": ev.to_dict()} for label, ev in self.candidates]

    def _put_candidates(self, docs) -> None:
        from sim.placement.report import Evaluation, comparison_table

        self.candidates = []
        for d in docs if isinstance(docs, list) else []:
            try:
                self.candidates.append((str(d["label"]), Evaluation.from_dict(d["evaluation"])))
            except (KeyError, TypeError, ValueError):
                continue  # a damaged entry is left out, the rest is shown
        self.comparison.setPlainText(comparison_table(
            [c[1] for c in self.candidates], [c[0] for c in self.candidates])
            if self.candidates else "")

    def set_case(self, case: Case) -> None:
        with self.settings.switching(case):
            if self.device_obj is not None:
                self._unwatch()
            if self.case is not None:
                self.case.scene.added.disconnect(self._object_added)
                self.case.scene.removed.disconnect(self._object_removed)
                self.case.markups.added.disconnect(self.refresh_markups)
                self.case.markups.removed.disconnect(self.refresh_markups)
            self.case, self.device_obj = case, None  # (the workbench dropped its placement)
            self.structure_table.setRowCount(0)
            for obj in case.scene:
                if obj.kind in (ObjectKind.SURFACE, ObjectKind.PART):
                    self._add_structure_row(obj)
            self.feedback.setRowCount(0)
            self.reasons.setText("")
            self.verdict.setText("Add a device and prepare the structures.")
            case.scene.added.connect(self._object_added)
            case.scene.removed.connect(self._object_removed)
            case.markups.added.connect(self.refresh_markups)
            case.markups.removed.connect(self.refresh_markups)
            self.refresh_markups()
            self.candidates = []
            self.comparison.setPlainText("")

    def refresh_markups(self, *_args) -> None:
        refill_objects(self.markup_combo, self.case.markups if self.case is not None else [],
                       self.markup_combo.currentData())

    def _object_added(self, obj: SceneObject) -> None:
        if obj.kind in (ObjectKind.SURFACE, ObjectKind.PART):
            self._add_structure_row(obj)
            stored = self.settings.stored().get("structures")
            if isinstance(stored, dict) and obj.uid in stored:  # back by undo: its role too
                with self.settings.quiet():
                    self._put_structure_roles({**self._structure_roles(), obj.uid: stored[obj.uid]})

    def _object_removed(self, obj: SceneObject) -> None:
        for r in range(self.structure_table.rowCount()):
            if self.structure_table.item(r, 0).data(Qt.ItemDataRole.UserRole) == obj.uid:
                self.structure_table.removeRow(r)
                break
        if obj is self.device_obj:
            self._set_device(None)
            self._sync_map_overlays()

    def _add_structure_row(self, obj: SceneObject) -> None:
        r = self.structure_table.rowCount()
        self.structure_table.insertRow(r)
        item = QTableWidgetItem(obj.name)
        item.setData(Qt.ItemDataRole.UserRole, obj.uid)
        self.structure_table.setItem(r, 0, item)
        combo = QComboBox()
        combo.addItems(ROLES)
        combo.currentIndexChanged.connect(lambda _i: self._setting_changed())
        self.structure_table.setCellWidget(r, 1, combo)
        margin = spin_box(0, 50, DEFAULT_MARGIN_MM, 0.5, 1)
        margin.valueChanged.connect(lambda _v: self._setting_changed())
        self.structure_table.setCellWidget(r, 2, margin)

    def set_role(self, name: str, role: str, margin: float | None = None) -> None:
        """Choose a structure's role (and margin) by name, as the user does in the table."""
        for r in range(self.structure_table.rowCount()):
            if self.structure_table.item(r, 0).text() == name:
                self.structure_table.cellWidget(r, 1).setCurrentText(role)
                if margin is not None:
                    self.structure_table.cellWidget(r, 2).setValue(margin)
                return
        raise KeyError(name)

    def add_device(self, device=None, pose=None) -> SceneObject | None:
        """Add a device (the catalogue choice by default) to the scene and watch its pose.

        It gets ``pose``, or sits on the trajectory if one is set; either way the pose is
        set before the device enters the scene, so adding it is one undo step.
        """

        if self.case is None:
            return None
        if device is None:
            device = make(self.family_combo.currentData(), **self.catalogue.current_size())
        if pose is None and self._trajectory() is not None:
            pose = self._aligned_pose()
        if not isinstance(device, Device):
            raise TypeError(f"add_device takes a Device, not {type(device).__name__}")
        obj = SceneObject(device.label, ObjectKind.DEVICE, device.mesh.copy(), color=(0.72, 0.74, 0.78),
                          metadata=device.metadata())
        if pose is not None:
            obj.transform = pose
        # One undo step: the device enters the scene and becomes the one being placed.
        with self.case.history.macro(f"Add '{device.label}'"):
            self.case.scene.add(obj)
            self._set_device(obj)
            self._setting_changed()
        self.case.scene.select(obj)  # ready for the Transform panel's manipulator
        self.evaluate_now()
        return obj

    # -- drag and drop from the catalogue ----------------------------------------------------
    def _dropped_device(self, spec):
        family_id, params = spec
        try:
            return make(family_id, **params)
        except InputError as exc:
            self.verdict.setText(str(exc))
            return None

    def pose_at(self, point, normal) -> np.ndarray:
        """Anchor on ``point``; insertion axis along the trajectory if one is set (rolled by
        the roll spin box), else into the surface (against its outward ``normal``)."""
        traj = self._trajectory()
        if traj is not None:
            return pose_on_trajectory(point, np.asarray(point) + (traj[1] - traj[0]),
                                      roll_deg=self.roll_spin.value())
        return frame_from_axis(point, -np.asarray(normal, float))

    def drop_on_view(self, spec, display_xy) -> SceneObject | None:
        """A catalogue device dropped on the 3D view at display pixel ``display_xy``: on the
        surface there, or on the focal plane facing the camera if no surface is under it."""
        view = getattr(self.window, "view", None)
        if self.case is None or view is None:
            return None
        device = self._dropped_device(spec)
        if device is None:
            return None
        hit = view.pick_surface(*display_xy)
        if hit is not None:
            _obj, point, normal = hit
        else:
            point, normal = view.focal_plane_point(*display_xy), -view.view_ray(*display_xy)[1]
        return self.add_device(device, pose=self.pose_at(point, normal))

    def drop_on_tree(self, spec) -> SceneObject | None:
        device = self._dropped_device(spec)
        return None if device is None else self.add_device(device)

    def add_user_device_dialog(self) -> None:
        from sim.devices import load_user_device
        from viewer.errors import show_error

        path, _ = QFileDialog.getOpenFileName(self, "Device surface", "",
                                              "Meshes and CAD (*.stl *.obj *.ply *.step *.stp *.off *.vtp)")
        if not path:
            return
        try:
            self.add_device(load_user_device(path))
        except Exception as exc:  # noqa: BLE001 - shown to the user as a dialog
            show_error(self, "Adding the device failed", exc)

    def _unwatch(self) -> None:
        if self.device_obj is None:
            return
        with contextlib.suppress(TypeError, ValueError, RuntimeError):
            self.device_obj.events.transform.disconnect(self._pose_changed)

    # -- structures ----------------------------------------------------------------------------
    def _chosen_structures(self) -> list[tuple[SceneObject, str, float]]:
        out = []
        for r in range(self.structure_table.rowCount()):
            role = self.structure_table.cellWidget(r, 1).currentText()
            if role == "ignore":
                continue
            obj = self.case.scene.find(self.structure_table.item(r, 0).data(Qt.ItemDataRole.UserRole))
            if obj is not None:
                out.append((obj, role, self.structure_table.cellWidget(r, 2).value()))
        return out

    def prepare(self):
        """Build the placement scene (trees and distance grids) as a background task; the
        result becomes the workbench's placement."""
        chosen = self._chosen_structures()
        if not chosen or self.window is None:
            self.verdict.setText("Give at least one structure a role first.")
            return None
        traj = self._trajectory()
        case = self.case

        def job(progress):
            # A host's margin is its tolerated breach; a critical one's, its clearance.
            return prepare_structures(chosen, around=traj, reach=60.0, progress=progress)

        def done(scene):
            if case is not self.case:
                return
            self.workbench.set_placement(PlacementRun(case, scene, {o.name: o for o, _r, _m in chosen},
                                                      self.device_obj))
            self.evaluate_now()

        return self.window.run_task("Preparing structures", job, done)

    # -- pose ----------------------------------------------------------------------------------
    def _trajectory(self):
        e = np.array([s.value() for s in self.entry])
        t = np.array([s.value() for s in self.target])
        return None if np.linalg.norm(t - e) < 1e-6 else np.array([e, t])

    def set_trajectory(self, entry, target) -> None:
        """Entry and target (LPS mm) as the user types them: one settings change."""
        for spins, p in ((self.entry, entry), (self.target, target)):
            for s, v in zip(spins, p, strict=True):
                s.blockSignals(True)
                s.setValue(float(v))
                s.blockSignals(False)
        self._setting_changed()

    def _aligned_pose(self) -> np.ndarray:
        traj = self._trajectory()
        return pose_on_trajectory(traj[0], traj[1], depth=self.depth_spin.value(),
                                  roll_deg=self.roll_spin.value())

    def align(self, *_args) -> None:
        """Put the device on the trajectory, slid and rolled by the spin boxes."""
        if self._trajectory() is None or self.device_obj is None or self.settings.loading:
            return  # (showing stored settings never moves the device)
        self.device_obj.transform = self._aligned_pose()

    def use_markup(self) -> None:
        from sim.placement.trajectory import trajectory_from_markup

        uid = self.markup_combo.currentData()
        markup = self.case.markups.find(uid) if (self.case and uid) else None
        if markup is None:
            self.verdict.setText("Place a line markup (entry, then target) first.")
            return
        try:
            entry, target = trajectory_from_markup(markup)
        except InputError as exc:
            self.verdict.setText(str(exc))
            return
        self.set_trajectory(entry, target)
        self.align()

    def snap(self) -> None:
        from sim.placement.trajectory import snap_to_surface

        if self.scene is None or self.device_obj is None or not self.scene.structures:
            self.verdict.setText("Snapping needs a device and prepared structures.")
            return
        host = next((s for s in self.scene.structures if s.role == "host"), self.scene.structures[0])
        self.device_obj.transform = snap_to_surface(host.field, self.device_obj.transform[:3, 3])

    def keep_candidate(self) -> None:
        from sim.placement.report import comparison_table

        if self.last is None:
            return
        self.candidates.append((f"#{len(self.candidates) + 1} {self.last.device.split(' ')[-1]}",
                                self.last))
        labels = [c[0] for c in self.candidates]
        self.comparison.setPlainText(comparison_table([c[1] for c in self.candidates], labels))
        self._setting_changed()

    def clear_candidates(self) -> None:
        self.candidates = []
        self.comparison.setPlainText("")
        self._setting_changed()

    def _pose_changed(self, *_args) -> None:
        self.evaluate_now()

    def evaluate_now(self, *_args):
        self._sync_map_overlays()
        if self.scene is None or self.rigid is None or self.device_obj is None:
            return None
        ev = self.run.evaluate()
        self._show(ev)
        return ev

    def _show(self, ev) -> None:
        self.feedback.setRowCount(len(ev.structures))
        for r, s in enumerate(ev.structures):
            cells = (s.name, f"{s.clearance_mm:.2f}", "yes" if s.collision else "no",
                     f"{s.penetration_mm:.2f}", f"{s.intersected_volume_mm3:.1f}",
                     "" if s.purchase is None else f"{100 * s.purchase:.0f} %",
                     "" if s.breach_mm is None else f"{s.breach_mm:.2f}", s.violation or "")
            for c, text in enumerate(cells):
                self.feedback.setItem(r, c, QTableWidgetItem(text))
        self.verdict.setText("Safe." if ev.safe else "Violations: " + "; ".join(ev.violations))
        self._draw(ev)

    def _draw(self, ev) -> None:
        """Closest-point segments in the 3D view (the live feedback of this panel; the colour
        maps are case overlays, see :meth:`_sync_map_overlays`)."""
        import pyvista as pv

        view = getattr(self.window, "view", None)
        plotter = getattr(view, "plotter", None)
        if plotter is None:
            return
        segs = [(s.device_point, s.structure_point) for s in ev.structures
                if s.role == "critical" and np.isfinite(s.device_point).all()
                and np.isfinite(s.structure_point).all()]
        if self.show_closest.isChecked() and segs:
            pts = np.array([p for seg in segs for p in seg])
            lines = np.hstack([[2, 2 * i, 2 * i + 1] for i in range(len(segs))])
            plotter.add_mesh(pv.PolyData(pts, lines=lines), name="place-closest", color="yellow",
                             line_width=4, render_points_as_spheres=True, point_size=10,
                             render=False)
        else:
            plotter.remove_actor("place-closest", render=False)
        plotter.render()

    def _sync_map_overlays(self) -> None:
        """The clearance maps follow the 'Distance colour map' setting, the device and the
        structures' roles. They are case overlays (saved, drawn in screenshots and the headset,
        following the device as it moves), but not an undo step of their own: the setting
        that asked for them is that step, and undoing it takes them away again."""
        from sim.model import overlays as ov
        from sim.workbench.placement import PREFIX, clearance_overlays

        if self.case is None:
            return
        critical = [o for uid, e in self._structure_roles().items() if e["role"] == "critical"
                    for o in [self.case.scene.find(uid)] if o is not None]
        new = clearance_overlays(self.device_obj if self.show_map.isChecked() else None, critical,
                                 MAP_RANGE_MM)
        if not new and not any(k.startswith(PREFIX) for k in ov.overlays(self.case)):
            return  # nothing to draw or take away (and the case's history is not touched)
        with self.case.history.paused():
            ov.replace_overlays(self.case, PREFIX, new, "Distance colour map")

    def sweep(self):
        """This plan (on the saved case) in the Sweep dialog."""
        from viewer.sweep_dialog import placement_sweep_args

        if self.window is None:
            return None
        structures = self._chosen_structures() if self.case is not None else []
        return self.window.sweep_dialog(*placement_sweep_args(
            self.window.case_path, structures, self.rigid, self._trajectory()))

    # -- fitting and sizing ----------------------------------------------------------------------
    def fit(self):
        from sim.placement.fit import fit_on_trajectory

        traj = self._trajectory()
        if self.scene is None or self.rigid is None or traj is None or self.window is None:
            self.verdict.setText("Fitting needs a device, prepared structures and a trajectory.")
            return None
        scene, rigid = self.scene, self.rigid

        device_obj = self.device_obj

        def done(result):
            device_obj.transform = result.pose
            self.reasons.setText("\n".join(result.reasons))

        return self.window.run_task("Fitting the device",
                                    lambda p: fit_on_trajectory(scene, rigid, traj[0], traj[1], progress=p),
                                    done)

    def recommend(self):
        from sim.placement.sizing import recommend_screw

        traj = self._trajectory()
        if self.scene is None or traj is None or self.window is None:
            self.verdict.setText("Sizing needs prepared structures and a trajectory.")
            return None
        scene = self.scene

        def done(rec):
            self.reasons.setText("\n".join(rec.reasons))
            if rec.diameter is None:
                return
            self.family_combo.setCurrentIndex(self.family_combo.findData("pedicle_screw"))
            self.catalogue.select_size({"diameter": rec.diameter, "length": rec.length})
            self.add_device(pose=rec.fit.pose)

        return self.window.run_task("Choosing a screw size",
                                    lambda p: recommend_screw(scene, traj[0], traj[1], progress=p), done)
