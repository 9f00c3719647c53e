"""The analysis report read back from its PDF (pypdfium2): every character inside a table
cell stays inside that cell's rectangle, even with long names and unbreakable words; text
stays on the page; views are not edge-on; the HTML has the same tables. Pages are rendered
to PNG under /tmp/shots20b for a look."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvista as pv

from sim.fem.part_analysis import Condition, PartAnalysis, run
from sim.fem.report import view_directions, write_report
from tests.pdf_layout import check_text_in_cells

pdfium = pytest.importorskip("pypdfium2")
SHOTS = Path("/tmp/shots20b")
LONG = ("Bracket arm of the left pump mount, revision C, as machined and measured on the "
        "coordinate measuring machine before assembly ")
WORD = "Unbreakable_identifier_" + "X" * 120


@pytest.fixture(scope="module")
def solved():
    bar = pv.Box(bounds=(0, 60, 0, 12, 0, 6), level=1).triangulate().clean()
    setup = PartAnalysis(material="titanium_alloy", edge_length=3.0, conditions=[
        Condition("root " + WORD, "fixed", [[0, 6, 3]]),
        Condition(LONG, "force", [[60, 6, 3]], [0, 0, -200]),
        Condition("own weight", "gravity", value=[0, 0, -9810])])
    return setup, run(setup, bar, "bar")


def test_no_text_leaves_its_cell_or_the_page(solved, tmp_path):
    setup, result = solved
    out = write_report(tmp_path / "r.pdf", LONG + WORD, setup, result.summary, result.grid)
    checked, _ = check_text_in_cells(out, SHOTS, "analysis_report")
    assert checked > 400  # the tables' text was found and checked
    pdf = pdfium.PdfDocument(out)
    text = "".join(pdf[k].get_textpage().get_text_range() for k in range(len(pdf)))
    flat = text.replace("\r", "").replace("\n", "").replace(" ", "")
    assert WORD.replace(" ", "") in flat  # wrapped, not truncated
    assert "Titaniumalloy(Ti-6Al-4V)" in flat and "titanium_alloy" not in flat
    assert len(pdf) <= 3  # the pages are filled, not one table a page


def test_views_face_the_broad_side():
    pts = np.random.default_rng(1).uniform([0, 0, 0], [100, 40, 2], (2000, 3))
    (first, _), (oblique, _) = view_directions(pts)
    assert abs(first[2]) > 0.99  # looking down on the 100 x 40 plate, not at its 2 mm edge
    assert min(abs(oblique)) > 0.2  # the oblique view sees all three sides


def test_html_report_has_the_tables_and_images(solved, tmp_path):
    setup, result = solved
    out = write_report(tmp_path / "r.html", "bar", setup, result.summary, result.grid)
    html = out.read_text()
    assert html.count("<img") == 4 and html.count("<table") == 3
    assert "Reaction at" in html and "table-layout:fixed" in html
