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

# Observer tags count up from 1 per object; a view adds far fewer than this in its life.
MAX_TAG = 4096


def close_plotter(plotter) -> None:
    """Remove the Python observers from ``plotter``'s render window, interactor, interactor
    style and renderers, then close it (pyvista only removes the observers it added itself).
    VTK's own (C++) observers stay: the objects still need them to shut down."""
    iren = getattr(getattr(plotter, "iren", None), "interactor", None)
    style = iren.GetInteractorStyle() if iren is not None else None
    window = getattr(plotter, "ren_win", None)
    for vtk_object in (window, iren, style, *getattr(plotter, "renderers", ())):
        if vtk_object is not None:
            remove_python_observers(vtk_object)
    plotter.close()


def remove_python_observers(vtk_object) -> int:
    """Remove every observer of ``vtk_object`` that calls Python; the number removed."""
    removed = 0
    for tag in range(1, MAX_TAG + 1):
        command = vtk_object.GetCommand(tag)
        if command is not None and command.IsA("vtkPythonCommand"):
            vtk_object.RemoveObserver(tag)
            removed += 1
    return removed
