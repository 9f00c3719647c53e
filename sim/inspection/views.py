"""Colours and offscreen 3D views of a deviation map (PyVista, no Qt).

The colour map is banded like inspection software draws it: green inside the
tolerance band, yellow to red above it, cyan to blue below it, so "in or out"
reads at a glance and the shade still tells how far out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyvista as pv

from sim.inspection.callouts import Callout
from sim.inspection.deviation import DeviationResult, Tolerance
from sim.model.display import Display
from sim.render.offscreen import offscreen_plotter

IN_TOLERANCE = "#2ca02c"
_ABOVE = ("#ffe14d", "#d7191c")  # just above -> far above
_BELOW = ("#66d9ff", "#2c3bd9")  # just below -> far below


def colour_range(tol: Tolerance, deviation: np.ndarray | None = None) -> tuple[float, float]:
    """Symmetric display range: three tolerance widths, or the data if it is smaller."""
    span = 3.0 * max(-tol.lower, tol.upper)
    if deviation is not None:
        v = deviation[np.isfinite(deviation)]
        if v.size:
            span = min(span, max(float(np.abs(v).max()), 1.2 * max(-tol.lower, tol.upper)))
    return -span, span


def _mix(a: str, b: str, t: float) -> str:
    ca = np.array([int(a[i:i + 2], 16) for i in (1, 3, 5)], float)
    cb = np.array([int(b[i:i + 2], 16) for i in (1, 3, 5)], float)
    c = np.round(ca + (cb - ca) * t).astype(int)
    return "#" + "".join(f"{x:02x}" for x in c)


def deviation_colours(tol: Tolerance, clim: tuple[float, float], n: int = 255) -> list[str]:
    """``n`` hex colours spanning ``clim``: a list so it can live in JSON metadata."""
    lo, hi = clim
    out = []
    for x in np.linspace(lo, hi, n):
        if x > tol.upper:
            out.append(_mix(*_ABOVE, (x - tol.upper) / max(hi - tol.upper, 1e-12)))
        elif x < tol.lower:
            out.append(_mix(*_BELOW, (tol.lower - x) / max(tol.lower - lo, 1e-12)))
        else:
            out.append(IN_TOLERANCE)
    return out


def display_metadata(result: DeviationResult) -> dict:
    """What the POINTS render adapter needs to draw ``result.as_polydata()`` as a map."""
    clim = colour_range(result.tolerance, result.deviation)
    return {"scalars": "deviation", "clim": list(clim), "n_colors": 255,
            "cmap": deviation_colours(result.tolerance, clim), "point_size": 3.0,
            "tolerance": [result.tolerance.lower, result.tolerance.upper]}


def deviation_display(result: DeviationResult) -> Display:
    """How a deviation map object is drawn (its :attr:`SceneObject.display`)."""
    meta = display_metadata(result)
    return Display(scalars=meta["scalars"], clim=tuple(meta["clim"]), n_colors=meta["n_colors"],
                   cmap=tuple(meta["cmap"]), point_size=meta["point_size"])


def render_deviation_views(result: DeviationResult, nominal: pv.DataSet,
                           callouts: Sequence[Callout] = (), size: tuple[int, int] = (900, 700),
                           views: Sequence[str] = ("iso", "top"), max_points: int = 400_000,
                           ) -> list[np.ndarray]:
    """RGB images of the deviation map over the (faint) nominal surface with a legend."""
    cloud = result.as_polydata()
    if cloud.n_points > max_points:  # beyond this the image does not change, only the time
        keep = np.linspace(0, cloud.n_points - 1, max_points).astype(np.int64)
        cloud = cloud.extract_points(keep, adjacent_cells=False, include_cells=True)
    meta = display_metadata(result)
    images = []
    for view in views:
        p = offscreen_plotter(size)
        try:
            p.set_background("white")
            p.add_mesh(nominal, color="#b0b0b0", opacity=0.25, smooth_shading=True)
            p.add_mesh(cloud, scalars="deviation", cmap=meta["cmap"], clim=meta["clim"],
                       n_colors=meta["n_colors"], point_size=3, render_points_as_spheres=True,
                       nan_color="#888888",
                       scalar_bar_args={"title": "Deviation (mm)", "vertical": True,
                                        "color": "black", "fmt": "%.3f",
                                        "position_x": 0.86, "position_y": 0.1,
                                        "height": 0.8, "width": 0.08})
            if callouts:
                p.add_point_labels(np.array([c.position for c in callouts]),
                                   [f"{c.label}: {c.deviation:+.3f}" for c in callouts],
                                   point_size=10, font_size=14, point_color="black",
                                   text_color="black", shape_color="white", always_visible=True)
            {"iso": p.view_isometric, "top": p.view_xy, "front": p.view_xz,
             "side": p.view_yz}.get(view, p.view_isometric)()
            p.reset_camera()
            images.append(p.screenshot(return_img=True))
        finally:
            p.close()
    return images
