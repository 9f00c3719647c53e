"""The one way to make an offscreen plotter (screenshots, reports, video frames).

On a worker thread under X it renders through EGL, not GLX: Xlib used from two threads at
once (the GUI's event loop and a worker's GLX window) aborts the process ("Fatal Python error:
Aborted" while a report was written during a GUI test). EGL needs no X connection.
"""

from __future__ import annotations

import os
import threading

import pyvista as pv


def offscreen_plotter(size: tuple[int, int]) -> pv.Plotter:
    plotter = pv.Plotter(off_screen=True, window_size=list(size))
    if threading.current_thread() is threading.main_thread() or not os.environ.get("DISPLAY"):
        return plotter  # no X connection to share (without DISPLAY VTK already uses EGL)
    if plotter.ren_win.GetClassName() != "vtkXOpenGLRenderWindow":
        return plotter
    from vtkmodules.vtkRenderingOpenGL2 import vtkEGLRenderWindow

    old = plotter.ren_win
    egl = vtkEGLRenderWindow()
    egl.SetOffScreenRendering(1)
    egl.SetSize(*size)
    egl.SetMultiSamples(old.GetMultiSamples())
    for renderer in plotter.renderers:
        old.RemoveRenderer(renderer)
        egl.AddRenderer(renderer)
    interactor = old.GetInteractor()
    if interactor is not None:
        interactor.SetRenderWindow(egl)
        egl.SetInteractor(interactor)
    plotter.ren_win = egl
    return plotter
