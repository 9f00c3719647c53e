"""A report document (headings, paragraphs, tables, matplotlib figures) written as
self-contained HTML or as A4 PDF pages, for reports assembled from sections (sweep analysis,
model credibility). PDF text wraps, long tables continue on the next page with their header;
files are written atomically and refused unless they end in .html or .pdf, like the
inspection report's (whose writers this reuses)."""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from sim.render.report_io import figure_pixels, png_base64, report_path, write_report_file

_STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
          "img{max-width:100%}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}"
          "th{background:#e6ebf2}.note{color:#555}")


@dataclass
class Document:
    title: str
    subtitle: str = ""
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def text(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, head: list[str], rows: list[list[Any]], widths: list[float] | None = None) -> None:
        rows = [[_fmt(c) for c in r] for r in rows]
        self.blocks.append(("t", (list(head), rows, widths)))

    def figure(self, fig: Figure, caption: str = "", height_in: float = 3.4) -> None:
        self.blocks.append(("f", (fig, caption, height_in)))

    def html(self) -> str:
        e = html.escape
        out = [f"<h1>{e(self.title)}</h1>"]
        if self.subtitle:
            out.append(f"<p class='note'>{e(self.subtitle)}</p>")
        for kind, b in self.blocks:
            if kind == "h":
                out.append(f"<h{b[0]}>{e(b[1])}</h{b[0]}>")
            elif kind == "p":
                out.append(f"<p>{e(b)}</p>")
            elif kind == "t":
                head = "".join(f"<th>{e(h)}</th>" for h in b[0])
                body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
                               for r in b[1])
                out.append(f"<table><tr>{head}</tr>{body}</table>")
            else:
                out.append(f'<figure><img alt="{e(b[1])}" src="data:image/png;base64,{png_base64(b[0])}">'
                           f"<figcaption class='note'>{e(b[1])}</figcaption></figure>")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(self.title)}</title>"
                f"<style>{_STYLE}</style></head><body>{''.join(out)}</body></html>")

    def write_pdf(self, path: Path) -> None:
        with PdfPages(path, metadata={"Title": self.title, "Creator": "Twinsight"}) as pdf:
            page = _Page(pdf.savefig)
            page.text(self.title, size=16, weight="bold")
            if self.subtitle:
                page.text(self.subtitle, size=8.5)
            for kind, b in self.blocks:
                if kind == "h":
                    page.need(0.7)
                    page.text(b[1], size=13 if b[0] <= 2 else 11, weight="bold")
                elif kind == "p":
                    page.text(b)
                elif kind == "t":
                    page.table(b[0], b[1], b[2])
                else:
                    page.image(figure_pixels(b[0]), b[2])
                    if b[1]:
                        page.text(b[1], size=7.5)
            page.finish()

    def write(self, path: str | Path) -> Path:
        """Write .html or .pdf (by the suffix), atomically."""
        path = report_path(path)
        if path.suffix.lower() == ".pdf":
            write_report_file(path, self.write_pdf)
        else:
            write_report_file(path, lambda tmp: tmp.write_text(self.html(), encoding="utf-8"))
        return path


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


_A4, _MARGIN = (8.27, 11.69), 0.6  # inches


class _Page:
    """A4 pages filled top to bottom (a cursor in inches from the top)."""

    def __init__(self, emit) -> None:
        self._emit = emit
        self.fig: Figure | None = None
        self.new()

    def new(self) -> None:
        if self.fig is not None:
            self._emit(self.fig)
        self.fig = Figure(figsize=_A4)
        self.y = _MARGIN

    def finish(self) -> None:
        if self.fig is not None:
            self._emit(self.fig)
            self.fig = None

    def need(self, h: float) -> None:
        if self.y + h > _A4[1] - _MARGIN and self.y > _MARGIN:
            self.new()

    def text(self, s: str, size: float = 9.0, weight: str = "normal") -> None:
        width = int((_A4[0] - 2 * _MARGIN) * 72 / (0.55 * size))  # characters per line
        for line in textwrap.wrap(s, width) or [""]:
            h = size * 1.35 / 72
            self.need(h)
            self.fig.text(_MARGIN / _A4[0], 1 - (self.y + h * 0.8) / _A4[1], line,
                          fontsize=size, weight=weight)
            self.y += h
        self.y += 0.06

    def image(self, rgb, height: float) -> None:
        self.need(height)
        ax = self.fig.add_axes([_MARGIN / _A4[0], 1 - (self.y + height) / _A4[1],
                                (_A4[0] - 2 * _MARGIN) / _A4[0], height / _A4[1]])
        ax.imshow(rgb)
        ax.set_axis_off()
        self.y += height + 0.08

    def table(self, head: list[str], rows: list[list[str]], widths: list[float] | None) -> None:
        row_h = 0.22
        n = max(len(head), 1)
        widths = widths or [1.0 / n] * n
        chars = [max(int(w * (_A4[0] - 2 * _MARGIN) * 72 / 4.2), 4) for w in widths]
        cut = [[c if len(c) <= k else c[:k - 1] + "…" for c, k in zip(r, chars, strict=False)]
               for r in rows]
        while True:
            room = int((_A4[1] - _MARGIN - self.y) / row_h) - 1
            if room < 2:
                self.new()
                continue
            chunk, cut = cut[:room], cut[room:]
            h = row_h * (len(chunk) + 1)
            ax = self.fig.add_axes([_MARGIN / _A4[0], 1 - (self.y + h) / _A4[1],
                                    (_A4[0] - 2 * _MARGIN) / _A4[0], h / _A4[1]])
            ax.set_axis_off()
            tab = ax.table(cellText=chunk or [[""] * n], colLabels=head, colWidths=widths,
                           loc="upper left", cellLoc="left", bbox=[0, 0, 1, 1])
            tab.auto_set_font_size(False)
            tab.set_fontsize(7.5)
            for (r, _), cell in tab.get_celld().items():
                cell.set_edgecolor("#9aa5b5")
                if r == 0:
                    cell.set_facecolor("#e6ebf2")
            self.y += h + 0.12
            if not cut:
                return
            self.new()
