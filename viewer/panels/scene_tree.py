"""The scene tree: one row per object with a visibility checkbox and a colour swatch.

A catalogue device dropped on the tree is added to the scene (``device_dropped``).
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import QTreeWidget, QTreeWidgetItem

from sim.model import Case, SceneObject
from viewer.panels.device_drag import device_from_mime

UID_ROLE = Qt.ItemDataRole.UserRole


def color_icon(rgb) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor.fromRgbF(*rgb))
    return QIcon(pix)


class SceneTree(QTreeWidget):
    """Reflects the scene; edits (visibility, selection) go to the model, never to actors."""

    device_dropped = pyqtSignal(object)  # (family id, size params)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("sceneTree")
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setHeaderLabels(["Object", "Kind"])
        self.setColumnWidth(0, 200)
        self.case: Case | None = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._updating = False
        self.itemChanged.connect(self._on_item_changed)
        self.itemSelectionChanged.connect(self._on_selection)

    def set_case(self, case: Case) -> None:
        if self.case is not None:
            self.case.scene.added.disconnect(self._add)
            self.case.scene.removed.disconnect(self._remove)
            self.case.scene.selection_changed.disconnect(self._select)
            for obj in self.case.scene:
                obj.events.disconnect(self._refresh_obj)
        self.clear()
        self._items.clear()
        self.case = case
        case.scene.added.connect(self._add)
        case.scene.removed.connect(self._remove)
        case.scene.selection_changed.connect(self._select)
        for obj in case.scene:
            self._add(obj)

    # -- catalogue drops -------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if device_from_mime(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if device_from_mime(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        device = device_from_mime(event.mimeData())
        if device is None:
            super().dropEvent(event)
            return
        event.acceptProposedAction()
        self.device_dropped.emit(device)

    def item_for(self, obj: SceneObject) -> QTreeWidgetItem:
        return self._items[obj.uid]

    def _add(self, obj: SceneObject) -> None:
        item = QTreeWidgetItem([obj.name, str(obj.kind)])
        item.setData(0, UID_ROLE, obj.uid)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        self._items[obj.uid] = item
        self._fill(item, obj)
        # At the object's place in the scene (undoing a removal puts it back where it was).
        index = self.case.scene.index(obj) if self.case is not None and obj in self.case.scene \
            else self.topLevelItemCount()
        self.insertTopLevelItem(min(index, self.topLevelItemCount()), item)
        obj.events.connect(self._refresh_obj)

    def _fill(self, item: QTreeWidgetItem, obj: SceneObject) -> None:
        self._updating = True
        try:
            item.setText(0, obj.name)
            item.setCheckState(0, Qt.CheckState.Checked if obj.visible else Qt.CheckState.Unchecked)
            item.setIcon(0, color_icon(obj.color))
        finally:
            self._updating = False

    def _refresh_obj(self, *_args) -> None:
        if self.case is None:
            return
        for obj in self.case.scene:
            item = self._items.get(obj.uid)
            if item is not None:
                self._fill(item, obj)

    def _remove(self, obj: SceneObject) -> None:
        obj.events.disconnect(self._refresh_obj)
        item = self._items.pop(obj.uid, None)
        if item is not None:
            self.takeTopLevelItem(self.indexOfTopLevelItem(item))

    def _obj(self, item: QTreeWidgetItem) -> SceneObject | None:
        return self.case.scene.find(item.data(0, UID_ROLE)) if self.case else None

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        obj = self._obj(item)
        if obj is not None:
            obj.visible = item.checkState(0) == Qt.CheckState.Checked

    def _on_selection(self) -> None:
        if self._updating or self.case is None:
            return
        items = self.selectedItems()
        self.case.scene.select(self._obj(items[0]) if items else None)

    def _select(self, obj: SceneObject | None) -> None:
        self._updating = True
        try:
            self.clearSelection()
            if obj is not None and obj.uid in self._items:
                item = self._items[obj.uid]
                item.setSelected(True)
                self.scrollToItem(item)
        finally:
            self._updating = False
