"""Label lookup tables: label value -> (name, colour).

Reads the colour tables that come with label maps: 3D Slicer ``.ctbl`` and
FreeSurfer LUTs (``value name r g b a``), ITK-SNAP label descriptions
(``value r g b a vis mesh "name"``) and the label table a NIfTI file can carry in a
CIFTI/Caret XML header extension (as TotalSegmentator writes: ``<Label Key="5" Red=..>liver``).
Missing labels get a distinct generated colour.
"""

from __future__ import annotations

import colorsys
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import SupportsInt

LabelTable = dict[int, tuple[str, tuple[float, float, float]]]
SIDE_CAR_SUFFIXES = (".ctbl", ".lut", ".txt", "_lut.txt", ".label.txt")


def default_color(value: int) -> tuple[float, float, float]:
    """A stable, well-separated colour per label (golden-angle hues)."""
    h = (value * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.55, 0.9)
    return (round(r, 4), round(g, 4), round(b, 4))


def parse_lut(text: str) -> LabelTable:
    table: LabelTable = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parts = shlex.split(line)
        except ValueError:
            continue
        try:
            value = int(parts[0])
            if len(parts) >= 8 and all(p.lstrip("-").replace(".", "", 1).isdigit() for p in parts[1:7]):
                rgb = [float(x) for x in parts[1:4]]  # ITK-SNAP: value r g b a vis mesh "name"
                name = " ".join(parts[7:])
            elif len(parts) >= 5:
                name = parts[1]  # Slicer / FreeSurfer: value name r g b [a]
                rgb = [float(x) for x in parts[2:5]]
            else:
                continue
        except ValueError:
            continue
        scale = 255.0 if max(rgb) > 1.0 else 1.0
        table[value] = (name, tuple(min(max(c / scale, 0.0), 1.0) for c in rgb))  # type: ignore[assignment]
    return table


def parse_caret_xml(text: str) -> LabelTable:
    """Labels from a Caret/CIFTI ``<LabelTable>`` (NIfTI extension); {} if there is none."""
    import xml.etree.ElementTree as ET

    if "<LabelTable" not in text or len(text) > 5_000_000:
        return {}
    try:
        root = ET.fromstring(text.strip().strip("\x00").strip())
    except ET.ParseError:
        return {}
    table: LabelTable = {}
    for label in root.iter("Label"):
        try:
            value = int(label.get("Key", ""))
            rgb = tuple(min(max(float(label.get(c, "0.8")), 0.0), 1.0)
                        for c in ("Red", "Green", "Blue"))
        except ValueError:
            continue
        name = (label.text or "").strip() or f"label {value}"
        table[value] = (name, rgb)  # type: ignore[assignment]
    return table


def read_lut(path: str | Path) -> LabelTable:
    try:
        return parse_lut(Path(path).read_text(errors="replace"))
    except OSError:
        return {}


def sidecar_lut(image_path: Path, stem: str) -> LabelTable:
    """The colour table stored next to an image under the same name, if there is one."""
    for suffix in SIDE_CAR_SUFFIXES:
        candidate = image_path.with_name(stem + suffix)
        if candidate.is_file() and candidate.stat().st_size < 10_000_000:
            table = read_lut(candidate)
            if table:
                return table
    return {}


def label_info(values: Iterable[SupportsInt], table: LabelTable | None = None) -> dict[int, dict]:
    """JSON-friendly {value: {"name", "color"}} for the label values present (0 = background)."""
    table = table or {}
    out = {}
    for v in sorted(int(x) for x in values if int(x) != 0):
        name, color = table.get(v, (f"label {v}", default_color(v)))
        out[v] = {"name": name, "color": list(color)}
    return out
