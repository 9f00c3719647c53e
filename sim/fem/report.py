"""The stress analysis report (PDF or self-contained HTML): setup, material, supports and
loads, the stress and displacement maps with their legends, reactions and probes.

Views look along the part's thinnest direction (its largest face towards the reader) and
from an oblique corner, never edge-on. Tables wrap their text inside their cells.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv
from matplotlib.backends.backend_pdf import PdfPages

from sim.fem.material_names import display_name
from sim.fem.part_analysis import PartAnalysis
from sim.render.offscreen import offscreen_plotter
from sim.render.report_io import png_base64, report_path, write_report_file
from sim.render.report_table import Page
from sim.render.result_fields import field_title, field_values, legend_args


def view_directions(points: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(camera direction, view-up) pairs: along the thinnest principal axis (the broadest
    side faces the camera) and an oblique view between all three axes."""
    centred = np.asarray(points, float) - np.mean(points, axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)  # rows: longest .. thinnest
    long, mid, thin = axes
    oblique = thin + 0.6 * mid + 0.5 * long
    return [(thin, mid), (oblique / np.linalg.norm(oblique), mid)]


def render_views(grid: pv.DataSet, field: str, warp: float = 0.0,
                 size: tuple[int, int] = (900, 620)) -> list[np.ndarray]:
    """The result coloured by ``field`` with its legend, from :func:`view_directions`."""
    surface = grid.extract_surface(algorithm="dataset_surface")
    shown = surface.copy()
    if warp and "displacement" in surface.point_data:
        shown.points = surface.points + warp * np.asarray(surface.point_data["displacement"])
    shown.point_data["_shown"] = field_values(surface, field)
    images = []
    for direction, up in view_directions(surface.points):
        plotter = offscreen_plotter(size)
        try:
            plotter.set_background("#1d2330", top="#3b4558")
            legend = {**legend_args(field_title(field)), "position_y": 0.04, "height": 0.1,
                      "title_font_size": 22, "label_font_size": 20}
            plotter.add_mesh(shown, scalars="_shown", cmap="turbo", scalar_bar_args=legend)
            plotter.add_mesh(surface, style="wireframe", color="#9aa4b5", opacity=0.12) \
                if warp else None
            centre = np.asarray(shown.center)
            plotter.camera.focal_point = centre
            plotter.camera.position = centre + direction * 1000.0
            plotter.camera.up = up
            plotter.reset_camera()
            plotter.camera.zoom(1.05)
            # the legend takes the bottom fifth: lift the part above it
            plotter.camera.focal_point = np.asarray(plotter.camera.focal_point) - \
                0.12 * _view_height(plotter) * np.asarray(plotter.camera.up)
            plotter.camera.position = np.asarray(plotter.camera.focal_point) + \
                direction * plotter.camera.distance
            images.append(plotter.screenshot(return_img=True))
        finally:
            plotter.close()
    return images


def _view_height(plotter) -> float:
    cam = plotter.camera
    return 2.0 * cam.distance * np.tan(np.radians(cam.view_angle) / 2)


def _rows(name: str, setup: PartAnalysis, summary: dict[str, Any]) -> dict[str, list[list[str]]]:
    m = summary["material"]
    mesh = summary["mesh"]
    setup_rows = [["Item", "Value"], ["Part", name],
                  ["Material", f"{display_name(setup.material)}: E = {m['youngs_modulus_mpa']:g} "
                               f"MPa, ν = {m['poisson_ratio']:g}, ρ = "
                               f"{m['density_t_per_mm3'] * 1e9:g} g/cm³ ({summary['law']})"],
                  ["Mesh", f"{mesh.get('elements', '?')} P{mesh.get('order', setup.order)} "
                           f"tetrahedra, {mesh.get('nodes', '?')} nodes, mean edge "
                           f"{mesh.get('mean_edge_mm', 0):.3g} mm"],
                  ["Analysis", f"{summary['analysis'].replace('_', ' ')}, "
                               f"{'converged' if summary['converged'] else 'NOT converged'}, "
                               f"{summary['wall_time_s']:.2f} s"]]
    conditions = [["Name", "Support or load"]] + [[c.name, c.describe()]
                                                   for c in setup.conditions]
    results = [["Quantity", "Value"],
               ["Max displacement", f"{summary['max_displacement_mm']:.4g} mm"],
               ["Max von Mises stress (nodal)", f"{summary['max_von_mises_mpa']:.4g} MPa"],
               ["Max von Mises stress (element)",
                f"{summary['max_element_von_mises_mpa']:.4g} MPa"],
               ["Total applied load", _vec(summary["total_load_n"], "N")]]
    results += [[f"Reaction at '{k}'", _vec(v, "N")] for k, v in summary["reactions_n"].items()]
    for k, p in (summary.get("probes") or {}).items():
        results.append([f"Probe '{k}'", f"u = {_vec(p['displacement_mm'], 'mm')}, "
                                        f"von Mises {p['von_mises_mpa']:.4g} MPa"])
    return {"Setup": setup_rows, "Supports and loads": conditions, "Results": results}


def _vec(v, unit: str) -> str:
    return "[" + ", ".join(f"{c:.4g}" for c in v) + f"] {unit}"


def write_report(path: str | Path, name: str, setup: PartAnalysis, summary: dict[str, Any],
                 grid: pv.DataSet) -> Path:
    """Write the report to ``path`` (.pdf or .html)."""
    path = report_path(path)
    suffix = path.suffix.lower()
    images = {"von Mises stress": render_views(grid, "von_mises"),
              "Displacement": render_views(grid, "displacement")}
    tables = _rows(name, setup, summary)
    title = f"Stress analysis: {name}"
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    if suffix == ".pdf":
        buf = io.BytesIO()
        with PdfPages(buf) as pdf:
            page = Page(lambda fig: pdf.savefig(fig))
            page.text(title, size=16, weight="bold")
            page.text(f"Twinsight, {stamp}. Units: mm, N, MPa.", gap=0.15)
            page.text("Setup", size=11, weight="bold")
            page.table(tables["Setup"], [0.25, 0.75])
            page.text("Supports and loads", size=11, weight="bold")
            page.table(tables["Supports and loads"], [0.3, 0.7])
            for label, imgs in images.items():
                page.text(label, size=11, weight="bold")
                h, w = imgs[0].shape[:2]
                page.images(imgs, height=page.width / len(imgs) * h / w)
            page.text("Results", size=11, weight="bold")
            page.table(tables["Results"], [0.4, 0.6])
            page.finish()
        data = buf.getvalue()
    else:
        data = _html(title, stamp, tables, images).encode("utf-8")
    return write_report_file(path, lambda tmp: tmp.write_bytes(data))


def _html(title: str, stamp: str, tables: dict, images: dict) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;}"
             "table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.5em 0 1.5em}"
             "td,th{border:1px solid #7a8799;padding:4px;overflow-wrap:anywhere;"
             "vertical-align:top;text-align:left}th{background:#e6ebf2}"
             "img{max-width:100%;}</style></head><body>",
             f"<h1>{esc(title)}</h1><p>Twinsight, {esc(stamp)}. Units: mm, N, MPa.</p>"]
    for head in ("Setup", "Supports and loads"):
        parts.append(_html_table(head, tables[head]))
    for label, imgs in images.items():
        parts.append(f"<h2>{esc(label)}</h2>")
        parts += [f"<img alt='{esc(label)}' src='data:image/png;base64,{png_base64(i)}'>" for i in imgs]
    parts.append(_html_table("Results", tables["Results"]))
    return "".join(parts) + "</body></html>"


def _html_table(head: str, rows: list[list[str]]) -> str:
    esc = html.escape
    out = [f"<h2>{esc(head)}</h2><table><tr>"]
    out += [f"<th>{esc(c)}</th>" for c in rows[0]]
    out.append("</tr>")
    for r in rows[1:]:
        out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
    return "".join(out) + "</table>"
