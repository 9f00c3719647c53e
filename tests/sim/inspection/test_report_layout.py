"""The inspection report's PDF read back (issue #20): statistics, callouts and regions are
text tables whose every character stays inside its cell, the pages are filled in order (not
one table a page), and the first view faces the part."""

from __future__ import annotations

import numpy as np
import pytest

from sim.cli import main
from tests.pdf_layout import check_text_in_cells
from tests.sim.idler_riser import sample_surface

pytest.importorskip("pypdfium2")


def test_inspection_pdf_tables_fit_their_cells(tmp_path, idler_riser, capsys):
    idler_riser.save(tmp_path / "nominal.stl")
    pts, nrm = sample_surface(idler_riser, 30_000, seed=2)
    top = np.flatnonzero(nrm[:, 2] > 0.999)
    centre = pts[top[len(top) // 2]].copy()
    r = np.linalg.norm(pts - centre, axis=1)
    pts -= nrm * (0.5 * np.clip(1 - (r / 3.0) ** 2, 0, None))[:, None]
    np.savetxt(tmp_path / "scan.csv", pts, fmt="%.6f", delimiter=",", header="x,y,z",
               comments="")
    pdf = tmp_path / "report.pdf"
    at = ",".join(f"{x:.4f}" for x in centre)
    assert main(["inspect", str(tmp_path / "scan.csv"), str(tmp_path / "nominal.stl"),
                 "--tolerance", "0.2", "--at", at, "--at", at, "--section",
                 f"x={centre[0]:.3f}", "-o", str(pdf)]) == 0
    capsys.readouterr()
    checked, pages = check_text_in_cells(pdf, "/tmp/shots20b", "inspection_report")
    assert checked > 150  # statistics, callouts and regions were found as text in cells
    assert pages <= 3
    import pypdfium2 as pdfium

    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(str(pdf)))
    assert "Within tolerance" in text and "Worst (mm)" in text
