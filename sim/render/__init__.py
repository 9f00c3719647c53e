"""Turning a case into VTK actors (PyVista), shared by the GUI and offscreen rendering.

This package uses VTK/PyVista only, never Qt: the CLI renders screenshots with it
offscreen and the viewer drives the same renderer inside its Qt widget.
"""

from sim.render.scene_renderer import STANDARD_VIEWS, SceneRenderer, render_case_image

__all__ = ["STANDARD_VIEWS", "SceneRenderer", "render_case_image"]
