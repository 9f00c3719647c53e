"""Reading a PDF report back (pypdfium2) to check its layout: every character drawn inside a
table cell stays inside that cell's rectangle, and nothing leaves the page."""

from __future__ import annotations

from pathlib import Path


def check_text_in_cells(path: str | Path, shots: str | Path | None = None,
                        prefix: str = "report") -> tuple[int, int]:
    """Assert the layout; return (characters checked inside cells, pages). Pages are saved as
    PNG under ``shots`` when given."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    checked = 0
    for n, page in enumerate(pdf):
        if shots is not None:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.render(scale=1.2).to_pil().save(Path(shots) / f"{prefix}_p{n + 1}.png")
        w, h = page.get_size()
        rects = [o.get_bounds() for o in page.get_objects() if o.type == 2]
        rects = [r for r in rects if (r[2] - r[0]) < 0.95 * w]  # not the page background
        tp = page.get_textpage()
        for i in range(tp.count_chars()):
            ch = tp.get_text_range(i, 1)
            if not ch.strip():
                continue
            left, bottom, right, top = tp.get_charbox(i)
            assert left >= 0 and right <= w and bottom >= 0 and top <= h, \
                f"'{ch}' leaves page {n + 1}"
            cx, cy = (left + right) / 2, (bottom + top) / 2
            cells = [r for r in rects if r[0] <= cx <= r[2] and r[1] <= cy <= r[3]]
            if not cells:
                continue  # a heading or a caption, outside the tables
            cell = min(cells, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))
            tol = 0.6  # half the border line
            assert cell[0] - tol <= left and right <= cell[2] + tol, \
                f"'{ch}' on page {n + 1} at x {left:.1f}-{right:.1f} leaves its cell " \
                f"{cell[0]:.1f}-{cell[2]:.1f}"
            assert cell[1] - tol <= bottom and top <= cell[3] + tol, \
                f"'{ch}' on page {n + 1} leaves its cell vertically"
            checked += 1
    return checked, len(pdf)
