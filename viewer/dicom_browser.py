"""File > DICOM Browser…: search a PACS (or the local store) by patient name, ID, date and
modality, pick a series, download it in the background and open it; switch the DICOM
receiver on or off; and results as DICOM (:mod:`viewer.dicom_results`). Everything it does goes through :mod:`sim.dicomnet` (as the
``twinsight dicom`` commands do); the searches are transient, nothing here is case data."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

LOCAL = "Local store"
MODALITIES = ("", "CT", "MR", "PT", "US", "XA", "CR", "DX", "NM", "SEG", "RTSTRUCT", "DOC")
MAX_STUDIES = 50  # series are listed for this many studies of one search
COLUMNS = ("Patient", "ID", "Date", "Modality", "Description", "Images")
UID_ROLE = Qt.ItemDataRole.UserRole


def search(config: Any, source: str, filters: dict[str, str], progress) -> list[dict]:
    """Studies with their series: [{"study": {...}, "series": [{...}]}], newest first."""
    from sim.dicomnet.store import Store

    if source == LOCAL:
        store = Store(config.store_path())
        patient = filters.get("patient_name") or filters.get("patient_id") or ""
        studies: dict[str, dict] = {}
        for r in store.series(patient=patient, modality=filters.get("modality", ""),
                              date=filters.get("date", "").split("-")[0]):
            s = studies.setdefault(r["study_uid"], {"study": {
                "PatientName": r["patient_name"], "PatientID": r["patient_id"],
                "StudyDate": r["study_date"], "StudyDescription": r["study_description"],
                "StudyInstanceUID": r["study_uid"]}, "series": []})
            s["series"].append({"SeriesInstanceUID": r["series_uid"], "Modality": r["modality"],
                                "SeriesDescription": r["series_description"],
                                "NumberOfSeriesRelatedInstances": str(r["instances"])})
        return list(studies.values())
    from sim.dicomnet.query import find

    peer = config.peer(source)
    found = find(config, peer, "STUDY", filters)[:MAX_STUDIES]
    out = []
    for i, study in enumerate(found):
        progress(i / max(len(found), 1), f"Listing series {i + 1}/{len(found)}")
        series = find(config, peer, "SERIES", {"study_uid": study["StudyInstanceUID"]})
        if filters.get("modality"):
            series = [s for s in series if s["Modality"] == filters["modality"]]
        out.append({"study": study, "series": series})
    return out


class DicomBrowser(QDialog):
    """Search, download and open; the receiver switch. One per window (kept when closed, so
    the receiver keeps running)."""

    received = pyqtSignal(dict)  # from the receiver's threads to the GUI thread

    def __init__(self, window) -> None:
        super().__init__(window)
        from sim.dicomnet.peers import load_config

        self.window = window
        self.setWindowTitle("DICOM Browser")
        self.config = load_config()
        self.receiver = None
        self.received_count = 0
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.source_combo = QComboBox()
        self.source_combo.addItems([*sorted(self.config.peers), LOCAL])
        form.addRow("Search in", self.source_combo)
        self.name_edit = QLineEdit(placeholderText="part of the name")
        self.id_edit = QLineEdit(placeholderText="patient ID")
        self.date_edit = QLineEdit(placeholderText="YYYYMMDD or YYYYMMDD-YYYYMMDD")
        self.modality_combo = QComboBox()
        self.modality_combo.addItems([m or "any" for m in MODALITIES])
        form.addRow("Patient name", self.name_edit)
        form.addRow("Patient ID", self.id_edit)
        form.addRow("Study date", self.date_edit)
        form.addRow("Modality", self.modality_combo)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.start_search)
        self.method_combo = QComboBox()
        self.method_combo.addItems(["C-GET", "C-MOVE"])
        self.method_combo.setToolTip("C-GET downloads over the same connection; C-MOVE asks the "
                                     "PACS to send to this workstation (it must know it)")
        self.deidentify_check = QCheckBox("De-identify on arrival")
        self.deidentify_check.setChecked(self.config.deidentify)
        self.open_button = QPushButton("Download and Open")
        self.open_button.clicked.connect(self.open_selected)
        for w in (self.search_button, self.method_combo, self.deidentify_check):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.open_button)
        layout.addLayout(row)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_selected())
        layout.addWidget(self.tree, 1)
        from viewer.dicom_results import ResultsRow

        self.results = ResultsRow(window, self.config, self._peer, lambda t: self.status.setText(t))
        layout.addWidget(self.results)
        self.status = QLabel(self._hint())
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        rec = QHBoxLayout()
        self.receiver_button = QPushButton()
        self.receiver_button.setCheckable(True)
        self.receiver_button.toggled.connect(self.set_receiving)
        rec.addWidget(self.receiver_button)
        self.receiver_label = QLabel()
        rec.addWidget(self.receiver_label, 1)
        layout.addLayout(rec)
        self.received.connect(self._on_received)
        self.source_combo.currentTextChanged.connect(self._source_changed)
        self._source_changed(self.source_combo.currentText())
        self._show_receiver()
        self.resize(820, 520)

    def _peer(self) -> str | None:
        source = self.source_combo.currentText()
        return None if source == LOCAL or not source else source

    def _source_changed(self, source: str) -> None:
        local = source == LOCAL
        self.open_button.setText("Open" if local else "Download and Open")
        self.method_combo.setEnabled(not local)
        self.tree.clear()

    def _hint(self) -> str:
        if self.config.peers:
            return f"Peers from {self.config.path}; store {self.config.store_path()}."
        return (f"No DICOM peers are configured ({self.config.path}): add one with "
                "'twinsight dicom peer-add NAME --ae-title AE --host HOST --port PORT'. "
                "The local store can still be searched.")

    def filters(self) -> dict[str, str]:
        modality = self.modality_combo.currentText()
        return {"patient_name": self.name_edit.text().strip(),
                "patient_id": self.id_edit.text().strip(),
                "date": self.date_edit.text().strip(),
                "modality": "" if modality == "any" else modality}

    def start_search(self) -> None:
        source, filters = self.source_combo.currentText(), self.filters()
        self.status.setText(f"Searching {source}…")
        self.search_button.setEnabled(False)
        self.window.run_task(f"Searching {source}",
                             lambda p: search(self.config, source, filters, p),
                             self._show_results, background=True, group="dicom",
                             on_finished=lambda _job: self.search_button.setEnabled(True))

    def _show_results(self, studies: list[dict]) -> None:
        self.tree.clear()
        for s in studies:
            st = s["study"]
            item = QTreeWidgetItem([st.get("PatientName", ""), st.get("PatientID", ""),
                                    st.get("StudyDate", ""), st.get("ModalitiesInStudy", ""),
                                    st.get("StudyDescription", ""),
                                    st.get("NumberOfStudyRelatedInstances", "")])
            item.setData(0, UID_ROLE, (st["StudyInstanceUID"], ""))
            for se in s["series"]:
                child = QTreeWidgetItem(["", "", "", se.get("Modality", ""),
                                         se.get("SeriesDescription", "") or "(no description)",
                                         se.get("NumberOfSeriesRelatedInstances", "")])
                child.setData(0, UID_ROLE, (st["StudyInstanceUID"], se["SeriesInstanceUID"]))
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
        for i in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(i)
        n = sum(len(s["series"]) for s in studies)
        self.status.setText(f"{len(studies)} study(ies), {n} series. Pick a series and "
                            "Download and Open.")

    def selected(self) -> tuple[str, str] | None:
        item = self.tree.currentItem()
        data = item.data(0, UID_ROLE) if item is not None else None
        return tuple(data) if data and data[1] else None  # type: ignore[return-value]

    def open_selected(self) -> None:
        chosen = self.selected()
        if chosen is None:
            self.status.setText("Pick a series (a line under a study) first.")
            return
        study, series = chosen
        source = self.source_combo.currentText()
        if source == LOCAL:
            from sim.dicomnet.store import Store

            self.window.open_path(Store(self.config.store_path()).series_folder(series))
            return
        method = self.method_combo.currentText()
        deidentify = self.deidentify_check.isChecked()
        self.status.setText(f"Downloading the series with {method}…")
        self.window.run_task(f"Downloading from {source}",
                             lambda p: self._retrieve(source, method, study, series,
                                                      deidentify, p),
                             self._downloaded, group="dicom")

    def _retrieve(self, source: str, method: str, study: str, series: str,
                  deidentify: bool, progress) -> str:
        from sim.dicomnet.query import get, move
        from sim.dicomnet.store import Store

        config = self.config
        store = Store(config.store_path())
        peer = config.peer(source)
        if method == "C-GET":
            result = get(config, peer, study, series, store, deidentify, progress)
        else:
            config.deidentify = deidentify
            result = move(config, peer, study, series, store, self.receiver, progress)
        uids = list(result["series"]) or [series]
        return str(store.series_folder(uids[0]))

    def _downloaded(self, folder: str) -> None:
        self.status.setText("Downloaded; opening the series.")
        self.window.open_path(folder)

    # -- receiver ------------------------------------------------------------------------
    def _show_receiver(self) -> None:
        on = self.receiver is not None
        self.receiver_button.blockSignals(True)
        self.receiver_button.setChecked(on)
        self.receiver_button.blockSignals(False)
        self.receiver_button.setText("Stop receiving" if on else "Start receiving")
        where = f"{self.config.ae_title} on {self.config.bind}:{self.config.port}"
        self.receiver_label.setText(
            f"Receiver on: {where}; {self.received_count} instance(s) received."
            if on else f"Receiver off (would listen as {where}, configured peers only).")

    def set_receiving(self, on: bool) -> None:
        from sim.dicomnet.receiver import Receiver
        from sim.errors import TwinsightError

        if on and self.receiver is None:
            receiver = Receiver(self.config, deidentify=self.deidentify_check.isChecked(),
                                on_stored=self.received.emit)
            try:
                self.config.port = receiver.start()  # the real port, if 0 asked for any
            except TwinsightError as exc:
                self.receiver_label.setText(str(exc))
                self._show_receiver_failed()
                return
            self.receiver = receiver
        elif not on and self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        self._show_receiver()

    def _show_receiver_failed(self) -> None:
        self.receiver_button.blockSignals(True)
        self.receiver_button.setChecked(False)
        self.receiver_button.blockSignals(False)

    def _on_received(self, info: dict) -> None:
        self.received_count += 1
        self._show_receiver()

    def shutdown(self) -> None:
        """Stop the receiver (the window is closing)."""
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None


def show_dicom_browser(window) -> DicomBrowser:
    """The window's DICOM browser, made on first use, shown and raised."""
    browser = getattr(window, "_dicom_browser", None)
    if browser is None:
        browser = window._dicom_browser = DicomBrowser(window)
    browser.show()
    browser.raise_()
    return browser
