"""Colouring a mesh by one of its fields (a stress result, a ``.vtu`` from another solver):
which arrays can colour, their names and units, and the mesh as shown (warped by its
displacement times a factor).

The choice lives in the object's typed display settings (:class:`sim.model.display.Display`),
so it is saved with the case and every view (window, offscreen report, headset) draws the
same: ``scalars`` (array name), ``warp_factor`` (0 = undeformed), optional ``clim`` and ``cmap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvista as pv

from sim.model.display import Display

# Known result arrays: (label, unit). Vectors and tensors colour by magnitude, principal
# stresses by the largest.
KNOWN: dict[str, tuple[str, str]] = {
    "von_mises": ("von Mises stress", "MPa"),
    "displacement": ("Displacement", "mm"),
    "principal_stress": ("Max principal stress", "MPa"),
    "stress": ("Stress (magnitude)", "MPa"),
    "strain": ("Strain (magnitude)", ""),
    "deviation": ("Deviation", "mm"),
}
_NOT_FIELDS = {"RGB", "RGBA", "Colors", "Normals", "TCoords", "vtkOriginalPointIds",
               "vtkOriginalCellIds", "inverted"}
DISPLACEMENT = "displacement"
DEFAULT_CMAP = "turbo"


def field_names(data: pv.DataSet) -> list[str]:
    """Point arrays that can colour ``data`` (numeric, one value or a vector per point);
    known result fields first."""
    names = [n for n in list(data.point_data) if n not in _NOT_FIELDS
             and np.issubdtype(np.asarray(data.point_data[n]).dtype, np.number)]
    return sorted(names, key=lambda n: (n not in KNOWN, list(KNOWN).index(n) if n in KNOWN
                                        else 0, n))


def field_title(name: str) -> str:
    """'von Mises stress (MPa)'; unknown arrays keep their own name."""
    label, unit = KNOWN.get(name, (name, ""))
    return f"{label} ({unit})" if unit else label


def field_values(data: pv.DataSet, name: str) -> np.ndarray:
    """One value per point: the array itself, the largest principal stress, or the
    magnitude of a vector/tensor."""
    a = np.asarray(data.point_data[name], dtype=float)
    if a.ndim == 1:
        return a
    if name == "principal_stress":
        return a[:, 0]
    return np.linalg.norm(a.reshape(len(a), -1), axis=1)


def default_field(data: pv.DataSet) -> str | None:
    names = field_names(data)
    return names[0] if names else None


@dataclass
class Shown:
    """What the view draws for a coloured object."""

    mesh: pv.DataSet
    scalars: str
    title: str
    clim: tuple[float, float]
    cmap: str


SHOWN_ARRAY = "_shown"


def shown(data: pv.DataSet, display: Display) -> Shown | None:
    """The coloured mesh for an object's ``display`` settings (None: drawn plain)."""
    name = display.scalars
    if not name or name not in data.point_data or name not in field_names(data):
        return None
    mesh = data.copy(deep=False)
    factor = display.warp_factor
    if factor and DISPLACEMENT in data.point_data and \
            np.asarray(data.point_data[DISPLACEMENT]).shape[1:] == (3,):
        mesh.points = np.asarray(data.points) + factor * np.asarray(data.point_data[DISPLACEMENT])
    values = field_values(data, name)
    mesh.point_data[SHOWN_ARRAY] = values
    clim = display.clim
    if clim is None:
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        clim = (lo, hi if hi > lo else lo + 1e-12)
    return Shown(mesh, SHOWN_ARRAY, field_title(name), (float(clim[0]), float(clim[1])),
                 display.cmap if isinstance(display.cmap, str) else DEFAULT_CMAP)


def legend_args(title: str) -> dict[str, Any]:
    """A horizontal legend along the bottom, above the ruler: its title fits however narrow
    the view (a vertical bar's title, centred on the bar, ran off the right edge)."""
    return {"title": title, "vertical": False, "position_x": 0.15, "position_y": 0.1,
            "width": 0.7, "height": 0.08, "title_font_size": 16, "label_font_size": 14,
            "n_labels": 5, "fmt": "%.3g", "color": "white", "shadow": True}


def style_scalar_bar(bar: Any, title: str | None = None) -> None:
    """Give a raw ``vtkScalarBarActor`` the same readable look as :func:`legend_args`:
    horizontal along the bottom, 5 labels in 3 significant digits, 16/14-pixel white text
    with a shadow (VTK's default is a thin bar with tiny labels at the right edge, under the
    orientation marker)."""
    bar.SetOrientationToHorizontal()
    bar.SetPosition(0.15, 0.1)
    bar.SetWidth(0.7)
    bar.SetHeight(0.08)
    bar.SetNumberOfLabels(5)
    bar.SetLabelFormat("%.3g")
    bar.UnconstrainedFontSizeOn()  # sizes in pixels, not shrunk to the bar
    for prop, size, bold in ((bar.GetTitleTextProperty(), 16, True),
                             (bar.GetLabelTextProperty(), 14, False)):
        prop.SetFontSize(size)
        prop.SetColor(1.0, 1.0, 1.0)
        prop.SetShadow(True)
        prop.SetBold(bold)
        prop.SetItalic(False)
    if title is not None:
        bar.SetTitle(title)
