"""Dragging a catalogue device into the scene: its MIME payload, the draggable list, drop help.

A drag carries ``DEVICE_MIME`` (JSON: family id and size parameters), never file URLs, so
the 3D view and the main window tell a device drag from a file drag by MIME type alone.
"""

from __future__ import annotations

import json

from PyQt6.QtCore import QMimeData, Qt
from PyQt6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

DEVICE_MIME = "application/x-twinsight-device"
SIZE_ROLE = Qt.ItemDataRole.UserRole


def device_mime(family_id: str, params: dict[str, float]) -> QMimeData:
    mime = QMimeData()
    payload = {"family": family_id, "params": {k: float(v) for k, v in params.items()}}
    mime.setData(DEVICE_MIME, json.dumps(payload).encode())
    return mime


def device_from_mime(mime: QMimeData | None) -> tuple[str, dict[str, float]] | None:
    """(family id, size parameters) of a device drag, or None for anything else."""
    if mime is None or not mime.hasFormat(DEVICE_MIME):
        return None
    try:
        payload = json.loads(bytes(mime.data(DEVICE_MIME)).decode())
        return str(payload["family"]), {str(k): float(v) for k, v in payload["params"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a foreign or damaged payload is not a device


def local_files(mime: QMimeData | None) -> list[str]:
    """The local file paths a drag carries (a file dropped to be opened)."""
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


class CatalogueList(QListWidget):
    """The sizes of one device family; drag one into the 3D view or the scene tree."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("catalogueList")
        self.family_id: str | None = None
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setToolTip("Drag a device into the 3D view (it lands on the surface under the "
                        "cursor) or onto the scene tree")

    def set_family(self, family_id: str, sizes: list[dict[str, float]]) -> None:
        self.clear()
        self.family_id = family_id
        for params in sizes:
            item = QListWidgetItem(", ".join(f"{k} {v:g}" for k, v in params.items()))
            item.setData(SIZE_ROLE, params)
            self.addItem(item)
        self.setCurrentRow(self.count() // 2)

    def current_size(self) -> dict[str, float] | None:
        item = self.currentItem()
        return None if item is None else item.data(SIZE_ROLE)

    def select_size(self, params: dict[str, float]) -> None:
        for i in range(self.count()):
            if self.item(i).data(SIZE_ROLE) == params:
                self.setCurrentRow(i)
                return
        raise KeyError(params)

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt override
        return [DEVICE_MIME]

    def mimeData(self, items) -> QMimeData | None:  # noqa: N802 - Qt override
        items = list(items)
        if not items or self.family_id is None:
            return None
        return device_mime(self.family_id, items[0].data(SIZE_ROLE))
