"""The rehearsal report's PDF read back (issue #20): metrics, scoring, criteria, trends and
OSATS are text tables whose every character stays inside its cell; pages are filled in
order rather than one table a page."""

from __future__ import annotations

import pytest

from tests.pdf_layout import check_text_in_cells

pytest.importorskip("pypdfium2")


def test_rehearsal_pdf_tables_fit_their_cells(demo_world, good_attempt, tmp_path):
    from sim.rehearsal.report import write_report

    pdf = write_report(demo_world, good_attempt, tmp_path / "r.pdf", history=[good_attempt])
    checked, pages = check_text_in_cells(pdf, "/tmp/shots20b", "rehearsal_report")
    assert checked > 1000
    assert pages <= 6
    import pypdfium2 as pdfium

    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(str(pdf)))
    for heading in ("Metrics (score in brackets)", "How each step scored", "Criteria",
                    "OSATS global rating", "Trends over attempts", "How the score is computed"):
        assert heading in text
