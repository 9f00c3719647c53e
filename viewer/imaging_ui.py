"""Wires the imaging tools into the main window: the Slices dock (three linked slice views,
window presets, slices and volume rendering in 3D) and the Segment dock and menu."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence

from sim.model import Case, ObjectKind
from viewer.dicom_open import open_dicom_dialog
from viewer.panels.segment import SegmentPanel
from viewer.panels.segment_editor import SegmentEditorPanel
from viewer.views.slice_view import SliceViewer, index_of

MIN_SLICES_HEIGHT = 200  # px: the three slice views plus their controls


class ImagingUI:
    def __init__(self, window) -> None:
        self.window = window
        self.slices = SliceViewer()
        self.segment = SegmentPanel()
        self.slices_dock = window._dock("Slices", self.slices, Qt.DockWidgetArea.BottomDockWidgetArea)
        # Never squeezed to a sliver under the tall side panels (Qt's default for a new dock).
        self.slices.setMinimumHeight(MIN_SLICES_HEIGHT)
        self.segment_dock = window._dock("Segment", self.segment, Qt.DockWidgetArea.RightDockWidgetArea)
        self.slices_dock.hide()  # shown when a scan is opened, or from the menus
        self.segment_dock.hide()
        self.editor = SegmentEditorPanel(window)
        self.editor.attach(self.slices, window.view)
        self.editor_dock = window._dock("Segment Editor", self.editor,
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.editor_dock.hide()
        self.slices.volume_changed.connect(self.editor.set_volume)
        self.slices.attach_3d(window.view.plotter, window.view.renderer.adapters)
        self.slices.volume_changed.connect(self.segment.set_volume)
        self.slices.cursor_changed.connect(self.segment.set_cursor)
        self.segment.preview_changed.connect(self._preview)
        self.segment.run_requested.connect(self.run_segmentation)
        self.segment.labels_requested.connect(self.surfaces_from_labels)
        self.segment.seed_mode_changed.connect(self.slices.set_seed_mode)
        self.segment.seed_changed.connect(self.slices.set_seed)
        self.slices.seed_picked.connect(self._seed_picked)
        self.slices.cursor_picked.connect(window.session.markups.place_from_slice)
        window.view.click_handlers.append(self._seed_click_3d)
        mb = window.menuBar()
        help_action = next((a for a in mb.actions() if a.text() == "&Help"), None)
        menu = mb.addMenu("&Segment") if help_action is None else None
        if menu is None:
            from PyQt6.QtWidgets import QMenu

            menu = QMenu("&Segment", mb)
            mb.insertMenu(help_action, menu)
        self.slices_action = self.slices_dock.toggleViewAction()
        self.slices_action.setText("&Slice Views")
        self.slices_action.setShortcut(QKeySequence("Ctrl+Shift+L"))  # Ctrl+Shift+S: Save As
        self.segment_action = self.segment_dock.toggleViewAction()
        self.segment_action.setText("Segment &Panel")
        self.segment_action.setShortcut(QKeySequence("Ctrl+Shift+G"))
        menu.addAction(self.segment_action)
        self.editor_action = self.editor_dock.toggleViewAction()
        self.editor_action.setText("Segment &Editor (paint, scissors, islands, grow)")
        menu.addAction(self.editor_action)
        menu.addAction(self.slices_action)
        file_menu = next((a.menu() for a in mb.actions() if a.text() == "&File"), None)
        if file_menu is not None:
            self.import_deid_action = QAction("Import DICOM (de-&identified)…", window)
            self.import_deid_action.triggered.connect(self.import_deidentified_dialog)
            anchor = next((a for a in file_menu.actions() if a.menu() is not None), None)
            self.open_dicom_action = QAction("Open &DICOM…", window)  # choose series/volume
            self.open_dicom_action.triggered.connect(lambda: open_dicom_dialog(window))
            file_menu.insertAction(anchor, self.open_dicom_action)
            file_menu.insertAction(anchor, self.import_deid_action)
        if getattr(window, "panels_menu", None) is not None:
            window.panels_menu.addAction(self.slices_action)
            window.panels_menu.addAction(self.segment_action)
            window.panels_menu.addAction(self.editor_action)

    def import_deidentified_dialog(self) -> None:
        from PyQt6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self.window, "DICOM folder to de-identify and open")
        if folder:
            self.import_deidentified(folder)

    def import_deidentified(self, folder):
        from sim.privacy.deidentify import load_deidentified

        return self.window.run_task("Importing de-identified DICOM",
                                    lambda p: load_deidentified(folder, p), self.window.set_case,
                                    replaces_case=True)

    def set_case(self, case: Case) -> None:
        self.editor.set_case(case)
        self.slices.set_case(case)
        self.segment.set_volume(self.slices.obj)
        self.editor.set_volume(self.slices.obj)
        if any(o.kind in ("volume", "labelmap") and o.visible for o in case.scene):
            self.slices_dock.show()

    def _seed_picked(self, world) -> None:
        self.segment_dock.show()  # the seed is for the Segment panel: show it
        self.segment.set_seed(world)

    def _seed_click_3d(self, x: int, y: int, modifiers) -> bool:
        """Shift+click in the 3D view (or any click after 'Pick seed') while the Segment panel
        is open on a scan: the seed goes where the ray under the mouse first meets a slice plane
        shown in 3D or a surface, inside the scan. The crosshair moves there too, so the slice
        views show the seed's ring. True when the click was used."""
        obj = self.slices.obj
        wanted = bool(modifiers & Qt.KeyboardModifier.ShiftModifier) or self.slices.seed_mode
        if (not wanted or obj is None or obj.kind == ObjectKind.LABELMAP
                or not self.segment_dock.isVisible() or self.segment.obj is not obj):
            return False
        world = self.seed_in_3d(x, y)
        if world is None:
            self.window.status_label.setText("No slice or surface of the scan under the mouse "
                                             "for the seed")
            return True
        self.slices.set_cursor(world)
        self._seed_picked(world)
        return True

    def seed_in_3d(self, x: int, y: int):
        """World point for a seed clicked at display pixel (x, y) of the 3D view, or None: the
        nearer of the slice plane hit and the surface hit (moved half a voxel under the surface,
        into the structure it bounds), if that lies inside the scan."""
        view, image = self.window.view, self.slices.obj.data
        origin, direction = view.view_ray(x, y)
        hits = [self.slices.ray_hit(origin, direction)]
        surface = view.pick_surface(x, y)
        if surface is not None:
            _, point, normal = surface  # the normal faces the viewer
            point = point - normal * 0.5 * float(min(image.spacing))
            hits.append((float((point - origin) @ direction), point))
        hits = [h for h in hits if h is not None]
        if not hits:
            return None
        world = min(hits, key=lambda h: h[0])[1]
        ijk = index_of(image, world)
        inside = (ijk >= -0.5).all() and (ijk <= np.asarray(image.dimensions) - 0.5).all()
        return world if inside else None

    def _preview(self, mask) -> None:
        if self.segment_dock.isVisible() or mask is None:
            self.slices.set_preview(mask)

    def run_segmentation(self, recipe) -> None:
        from sim.imaging.pipeline import run

        obj = self.slices.obj
        case = self.window.case
        if obj is None or case is None:
            return
        image = obj.data

        def done(result) -> None:
            case.scene.add(SegmentPanel.surface_object(result, recipe))
            st = result.stats
            self.window.status_label.setText(
                f"Segmented {st['voxels']:,} voxels into {st['triangles']:,} triangles "
                f"in {st['seconds']:.1f} s")

        self.window.run_task("Segmenting", lambda p: run(image, recipe, p), done)

    def surfaces_from_labels(self) -> None:
        from sim.imaging.lut import label_info
        from sim.imaging.surface import labelmap_to_surfaces
        from sim.model import SceneObject

        obj, case = self.slices.obj, self.window.case
        if obj is None or case is None:
            return
        labels = obj.label_table.as_info()
        chosen = set(self.segment.checked_labels())
        if labels and not chosen:
            self.window.status_label.setText("No structure is checked in the Segment panel")
            return
        names = {v: info["name"] for v, info in labels.items() if v in chosen} or None
        target = self.segment.triangles.value() or None
        smooth = self.segment.smooth.value()

        def work(progress):
            surfaces = labelmap_to_surfaces(obj.data, names, progress=progress,
                                            target_triangles=target, smoothing_iterations=smooth)
            info = labels or label_info(list(surfaces))
            return [SceneObject(info.get(v, {"name": f"label {v}"})["name"], ObjectKind.SURFACE, s,
                                color=tuple(info.get(v, {"color": (0.8, 0.8, 0.8)})["color"]),
                                metadata={"label": v}) for v, s in surfaces.items()]

        def done(objects) -> None:
            with self.window.view.renderer.batched():  # one render, not four per surface
                for o in objects:
                    case.scene.add(o)
            self.window.status_label.setText(f"Made {len(objects)} label surfaces")

        self.window.run_task("Making label surfaces", work, done)

    def close(self) -> None:
        self.segment.shutdown()
        self.slices.close_views()
