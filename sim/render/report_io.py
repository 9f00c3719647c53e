"""What every report shares: where it may be written, how it is written, how its pictures are
embedded. The inspection, rehearsal, stress-analysis and sweep/credibility reports all use
these, so a report path is checked, a file replaced and a figure encoded in one way only.
(Page layout of PDF tables and text lives in :mod:`sim.render.report_table`.)"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.model.atomic import output_file, write_path_atomic

SUFFIXES = (".pdf", ".html", ".htm")


def report_path(path: str | Path) -> Path:
    """``path``, refused unless it ends in .pdf or .html (.htm) and its folder exists."""
    return output_file(path, SUFFIXES, "Report")


def value_text(v: Any, unit: str = "", spec: str = ".4g") -> str:
    """A value in a report's table: "–" for none, a float formatted by ``spec``, then its unit."""
    if v is None:
        return "–"
    text = format(v, spec) if isinstance(v, float) else str(v)
    return f"{text} {unit}" if unit else text


def write_report_file(path: Path, write_to: Callable[[Path], None]) -> Path:
    """Write a report crash-safely (old or new file, never half of one). A report is meant to
    be shared, so it gets the umask's usual mode, not the owner-only mode of case files."""
    return write_path_atomic(path, write_to, private=False)


def figure_pixels(fig: Figure, dpi: int = 150) -> np.ndarray:
    """A matplotlib figure drawn to an RGBA array."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def png_base64(picture: Figure | np.ndarray, dpi: int = 110) -> str:
    """A figure or an RGB(A) image as base64 PNG, for ``<img src="data:image/png;base64,...">``."""
    buf = io.BytesIO()
    if isinstance(picture, Figure):
        FigureCanvasAgg(picture)
        picture.savefig(buf, format="png", dpi=dpi)
    else:
        from PIL import Image

        Image.fromarray(np.asarray(picture)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def image_figure(images: list[np.ndarray]) -> Figure:
    """Rendered views side by side in one figure."""
    fig = Figure(figsize=(7.5, 3.4))
    for k, img in enumerate(images):
        ax = fig.add_subplot(1, len(images), k + 1)
        ax.imshow(img)
        ax.axis("off")
    fig.tight_layout()
    return fig


def table_figure(title: str, header: list[str], rows: list[list[str]]) -> Figure:
    """A small titled table as a figure (for reports laid out as figures)."""
    fig = Figure(figsize=(7.5, 0.6 + 0.28 * (len(rows) + 1)))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.set_title(title, loc="left", fontsize=11)
    if rows:
        tab = ax.table(cellText=rows, colLabels=header or None, loc="upper left", cellLoc="left")
        tab.auto_set_font_size(False)
        tab.set_fontsize(8)
    return fig
