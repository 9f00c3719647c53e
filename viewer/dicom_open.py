"""File > Open DICOM…: scan a folder (or a file's own folder), show what it holds (series,
volumes of a multi-volume series, time series and their time points, as
``twinsight dicom list`` does) and open the one chosen."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from sim.io.dicom_series import Choice

EXPANDED_UP_TO = 40  # time points listed open; a longer series starts folded
COLUMNS = ("Handle", "Series", "Volume", "Size (voxels)", "Spacing (mm)", "Files")


def _row(summary: dict) -> list[str]:
    size = "x".join(str(n) for n in summary["size"])
    if summary.get("time_points"):
        size += f" x {summary['time_points']} t"
    spacing = " x ".join("?" if v is None else f"{float(v):.3g}" for v in summary["spacing_mm"])
    what = f"{summary['modality'] or '?'} {summary['description'] or '(no description)'}"
    return [summary["id"], what, summary.get("volume") or "", size, spacing, str(summary["files"])]


class DicomChooser(QDialog):
    """A list of what a DICOM scan holds; a time series shows its time points under it (open
    the time series as one 4D volume, or one time point alone)."""

    def __init__(self, choices: list[Choice], where: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open DICOM series")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Found in {where}: {len(choices)} series or volume(s). A time "
                                "series opens as one 4D volume; choose one of its time points "
                                "to open that alone."))
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        for c in choices:
            item = QTreeWidgetItem(_row(c.summary()))
            self.tree.addTopLevelItem(item)
            if c.time_series:
                times = c.times()
                for t, v in enumerate(c.volumes):
                    label = v.volume + (f", t = {times[t]:g} s" if times else "")
                    item.addChild(QTreeWidgetItem([v.id, "", label, "", "", str(len(v.files))]))
                item.setExpanded(len(c.volumes) <= EXPANDED_UP_TO)
        for i in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(i)
        if choices:
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self.tree.itemDoubleClicked.connect(lambda *_: self.accept())
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)
        self.resize(760, 360)

    def chosen(self) -> str | None:
        """The handle of the selected entry ("2", "3.4"), or None."""
        item = self.tree.currentItem()
        return item.text(0) if item is not None else None


def open_dicom_dialog(window) -> None:
    """Ask for a DICOM folder, then scan it and offer its series."""
    from PyQt6.QtWidgets import QFileDialog

    folder = QFileDialog.getExistingDirectory(window, "DICOM folder to open")
    if folder:
        scan_and_choose(window, Path(folder))


def scan_and_choose(window, path: Path):
    """Scan ``path`` (a folder, or a file: its own series) in the background; with several
    things to open, let the user choose; then open it (replacing the case)."""
    from sim.io.dicom_scan import scan_folder
    from sim.io.dicom_series import choices

    def scan(progress):
        if path.is_file():
            from sim.io.readers.dicom import file_choices

            return file_choices(path, progress)[1]
        return choices(scan_folder(path, progress))

    def done(found: list[Choice]) -> None:
        if not found:
            window.status_label.setText(f"No DICOM image series in {path.name}")
            return
        wanted = found[0].id
        if len(found) > 1 or found[0].time_series:
            dialog = DicomChooser(found, f"'{path.name}'", window)
            if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen() is None:
                return
            wanted = dialog.chosen()
        open_series(window, path, wanted)

    return window.run_task(f"Scanning {path.name}", scan, done)


def open_series(window, path: Path, series: str):
    """Open series/volume ``series`` (a ``dicom list`` handle) of the scan at ``path``."""
    from sim.io import load

    if not window.settle_unsaved_changes(lambda: open_series(window, path, series)):
        return None
    return window.run_task(f"Opening series {series} of {path.name}",
                           lambda p: load(path, p, series=series),
                           lambda case: window._case_loaded(case, path), replaces_case=True)
