"""Closing a plotter so no Python callable stays attached to a VTK object that outlives it.

A Python observer on a VTK object (pyvista's ``functools.partial`` callbacks, our bound
methods and closures) forms a reference cycle with the object's Python wrapper, and VTK lets
the garbage collector see it. When the collector frees such a cycle while the C++ object is
still owned by other C++ objects (an interactor kept by its render window), it clears the
callable but the observer stays: the next event calls a cleared ``partial`` and the process
dies with SIGSEGV (in ``partial_vectorcall``). Reproduced alone: an observer on a
``vtkObject`` kept by a ``vtkCollection``, ``gc.collect()``, then ``Modified()``.
So every view closes its plotter here, which detaches all observers first.
"""

from __future__ import annotations


def close_plotter(plotter) -> None:
    """Remove every observer from ``plotter``'s render window, interactor, interactor style
    and renderers, then close it (pyvista only removes the observers it added itself)."""
    iren = getattr(getattr(plotter, "iren", None), "interactor", None)
    style = iren.GetInteractorStyle() if iren is not None else None
    window = getattr(plotter, "ren_win", None)
    for vtk_object in (window, iren, style, *getattr(plotter, "renderers", ())):
        if vtk_object is not None:
            vtk_object.RemoveAllObservers()
    plotter.close()
