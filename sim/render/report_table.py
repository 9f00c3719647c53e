"""Tables for PDF reports drawn with matplotlib: every cell a rectangle, text wrapped to the
column's width (measured with the renderer, not guessed), rows as tall as their text, and a
table that does not fit the page continues on the next one with its header repeated.

Used by the analysis report; the layout is checked in tests by reading the PDF back and
verifying that no character leaves its cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

A4 = (8.27, 11.69)  # inches
MARGIN = 0.6  # inches
FONT = 8.5  # points
PAD = 3.0  # points inside a cell
LINE = 1.3  # line height in font sizes


class Page:
    """One A4 figure with a cursor running down it (in inches from the top)."""

    def __init__(self, new_page: Callable[[Figure], None]) -> None:
        self._emit = new_page
        self.fig: Figure | None = None
        self.y = 0.0
        self.new()

    @property
    def width(self) -> float:
        return A4[0] - 2 * MARGIN

    def new(self) -> None:
        if self.fig is not None:
            self._emit(self.fig)
        self.fig = Figure(figsize=A4)
        FigureCanvasAgg(self.fig)
        self.y = MARGIN

    def finish(self) -> None:
        if self.fig is not None:
            self._emit(self.fig)
            self.fig = None

    def room(self) -> float:
        return A4[1] - MARGIN - self.y

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` inches still fit on this one."""
        if height > self.room() and self.y > MARGIN + 1e-6:
            self.new()

    def _fy(self, y_in: float) -> float:
        return 1.0 - y_in / A4[1]

    def text(self, s: str, size: float = FONT, weight: str = "normal", gap: float = 0.08) -> None:
        lines = wrap(self.fig, s, self.width * 72 - 2, size)
        height = len(lines) * size * LINE / 72
        self.need(height)
        for k, line in enumerate(lines):
            self.fig.text(MARGIN / A4[0], self._fy(self.y + (k + 0.8) * size * LINE / 72), line,
                          fontsize=size, weight=weight, va="baseline")
        self.y += height + gap

    def images(self, rgbs: Sequence[Any], height: float, gap: float = 0.1) -> None:
        """Images side by side in a row ``height`` inches tall (each keeps its aspect)."""
        self.need(height)
        w = self.width / len(rgbs)
        for k, rgb in enumerate(rgbs):
            ax = self.fig.add_axes([(MARGIN + k * w) / A4[0], self._fy(self.y + height),
                                    (w - 0.05) / A4[0], height / A4[1]])
            ax.imshow(rgb)
            ax.set_axis_off()
        self.y += height + gap

    def table(self, rows: Sequence[Sequence[str]], widths: Sequence[float],
              header: bool = True, gap: float = 0.15) -> None:
        """``rows`` of strings; ``widths`` are fractions of the text width."""
        col_w = [w * self.width for w in widths]
        wrapped = [[wrap(self.fig, str(c), w * 72 - 2 * PAD, FONT) for c, w in zip(r, col_w,
                                                                               strict=True)]
                   for r in rows]
        heights = [(max(len(c) for c in r) * FONT * LINE + 2 * PAD) / 72 for r in wrapped]
        head = (wrapped[0], heights[0]) if header and rows else None
        start = 1 if head else 0
        self.need(heights[0] + (heights[1] if len(heights) > 1 else 0))
        if head:
            self._row(*head, col_w, bold=True)
        for cells, h in zip(wrapped[start:], heights[start:], strict=True):
            if h > self.room():
                self.new()
                if head:
                    self._row(*head, col_w, bold=True)
            self._row(cells, h, col_w, bold=False)
        self.y += gap

    def _row(self, cells, h: float, col_w: Sequence[float], bold: bool) -> None:
        x = MARGIN
        for lines, w in zip(cells, col_w, strict=True):
            self.fig.add_artist(Rectangle((x / A4[0], self._fy(self.y + h)), w / A4[0], h / A4[1],
                                          transform=self.fig.transFigure, linewidth=0.5,
                                          edgecolor="#7a8799",
                                          facecolor="#e6ebf2" if bold else "white"))
            for k, line in enumerate(lines):
                base = self.y + (PAD + (k + 0.8) * FONT * LINE) / 72
                self.fig.text((x + PAD / 72) / A4[0], self._fy(base), line, fontsize=FONT,
                              weight="bold" if bold else "normal", va="baseline")
            x += w
        self.y += h


def text_width(fig: Figure, s: str, size: float, weight: str = "bold") -> float:
    """Width of ``s`` in points as the figure's renderer draws it (bold: the wider case)."""
    renderer = fig.canvas.get_renderer()
    t = fig.text(0, 0, s, fontsize=size, weight=weight)
    try:
        return t.get_window_extent(renderer).width * 72.0 / fig.dpi
    finally:
        t.remove()


def wrap(fig: Figure, s: str, width_pt: float, size: float) -> list[str]:
    """Lines of ``s`` no wider than ``width_pt``; words longer than a line are split."""
    out: list[str] = []
    for para in s.split("\n"):
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if text_width(fig, trial, size) <= width_pt:
                line = trial
                continue
            if line:
                out.append(line)
            while text_width(fig, word, size) > width_pt and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and text_width(fig, word[:cut], size) > width_pt:
                    cut -= 1
                out.append(word[:cut])
                word = word[cut:]
            line = word
        out.append(line)
    return out or [""]
