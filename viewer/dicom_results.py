"""The DICOM browser's results row: import a SEG or RTSTRUCT into the case, export the case's
label map as a SEG of its series, put a PDF report into the patient's study, and send files
to the chosen peer. The work is done by :mod:`sim.io.dicom_seg`, :mod:`sim.io.dicom_rtstruct`,
:mod:`sim.io.dicom_pdf` and :mod:`sim.dicomnet.send`, in the background."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QWidget

from viewer.panels.spin import button, open_with


def _first_grid(case):
    """The grid of the case's first scan (SEG and RTSTRUCT are placed on it), or None."""
    if case is None:
        return None
    vol = next((o for o in case.scene if o.kind == "volume"), None)
    return vol.data if vol is not None else None


class ResultsRow(QWidget):
    """Buttons for DICOM results; ``peer_name()`` is the browser's chosen peer (or None)."""

    def __init__(self, window, config, peer_name: Callable[[], str | None],
                 say: Callable[[str], None]) -> None:
        super().__init__()
        self.window, self.config, self.peer_name, self.say = window, config, peer_name, say
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Results:"))
        self.import_button = button("Import SEG/RTSTRUCT…", self.import_dialog,
                                    "Add a DICOM SEG or RT Structure Set to the case (label "
                                    "map; RTSTRUCT also as surfaces) on the scan's grid")
        self.export_button = button("Export SEG…", self.export_seg_dialog,
                                    "The selected (or first) label map as a DICOM SEG "
                                    "referencing the series it was made on")
        self.pdf_button = button("PDF into Study…", self.pdf_dialog,
                                 "A PDF report (plan, inspection, rehearsal) as an "
                                 "Encapsulated PDF in the patient's study")
        self.send_button = button("Send Files…", self.send_dialog,
                                  "C-STORE DICOM files to the peer chosen above")
        for b in (self.import_button, self.export_button, self.pdf_button, self.send_button):
            row.addWidget(b)
        row.addStretch(1)

    def _case_folder(self) -> str:
        case = self.window.case
        source = Path(case.source) if case is not None and case.source else None
        if source is not None and source.is_file():
            source = source.parent
        return str(source) if source is not None and source.is_dir() else ""

    # -- import --------------------------------------------------------------------------
    def import_dialog(self) -> None:
        open_with(self, "Import DICOM SEG or RTSTRUCT", "DICOM (*.dcm *);;All files (*)",
                  self.import_file)

    def import_file(self, path: str) -> None:
        from sim.io.dicom_rtstruct import rtstruct_case
        from sim.io.dicom_seg import is_seg, seg_case

        grid = _first_grid(self.window.case)

        def work(progress):
            return seg_case(path, grid, progress) if is_seg(path) else \
                rtstruct_case(path, grid, progress=progress)

        if self.window.case is None:  # nothing open: the import becomes the case
            self.window.run_task(f"Importing {Path(path).name}", work,
                                 lambda case: self.window._case_loaded(case), replaces_case=True)
            return
        self.window.run_task(f"Importing {Path(path).name}", work,
                             lambda case: self.window._add_loaded(case, Path(path)))

    # -- export --------------------------------------------------------------------------
    def _labelmap(self):
        case = self.window.case
        if case is None:
            return None
        chosen = case.scene.selected
        if chosen is not None and chosen.kind == "labelmap":
            return chosen
        return next((o for o in case.scene if o.kind == "labelmap"), None)

    def export_seg_dialog(self) -> None:
        obj = self._labelmap()
        if obj is None:
            self.say("The case holds no label map to export.")
            return
        source = QFileDialog.getExistingDirectory(self, "DICOM series the label map was made "
                                                  "on", self._case_folder())
        if not source:
            return
        out, _ = QFileDialog.getSaveFileName(self, "Save DICOM SEG", "segmentation.dcm",
                                             "DICOM (*.dcm)")
        if out:
            self.export_seg(obj, source, out)

    def export_seg(self, obj, source: str, out: str) -> None:
        from sim.io.dicom_seg import export_seg

        labels = obj.label_table.as_info()
        self.window.run_task("Exporting SEG",
                             lambda p: export_seg(obj.data, labels, source, out, obj.name, p),
                             lambda info: self.say(f"Wrote {info['output']}: "
                                                   f"{len(info['segments'])} segment(s)."))

    def pdf_dialog(self) -> None:
        pdf, _ = QFileDialog.getOpenFileName(self, "PDF report", "", "PDF (*.pdf)")
        if not pdf:
            return
        study = QFileDialog.getExistingDirectory(self, "A DICOM series of the patient's study",
                                                 self._case_folder())
        if not study:
            return
        out, _ = QFileDialog.getSaveFileName(self, "Save Encapsulated PDF",
                                             str(Path(pdf).with_suffix(".dcm")), "DICOM (*.dcm)")
        if out:
            from sim.io.dicom_pdf import encapsulate_pdf

            self.window.run_task("Writing the report as DICOM",
                                 lambda p: encapsulate_pdf(pdf, study, out, Path(pdf).stem),
                                 lambda info: self.say(f"Wrote {info['output']} in study "
                                                       f"{info['study_uid']}."))

    # -- send ----------------------------------------------------------------------------
    def send_dialog(self) -> None:
        peer = self.peer_name()
        if not peer:
            self.say("Choose a peer (not the local store) to send to.")
            return
        files, _ = QFileDialog.getOpenFileNames(self, f"DICOM files to send to {peer}", "",
                                                "DICOM (*.dcm *);;All files (*)")
        if files:
            self.send(peer, files)

    def send(self, peer: str, files: list[str]) -> None:
        from sim.dicomnet.send import send

        config = self.config
        self.window.run_task(f"Sending to {peer}",
                             lambda p: send(config, config.peer(peer), files, p),
                             lambda r: self.say(f"Sent {r.sent} instance(s) to {peer}; "
                                                f"{r.failed} failed."), group="dicom")
