"""A closed view leaves no Python callable on a VTK object that outlives it.

Such an observer forms a cycle with its object's wrapper; when the garbage collector frees the
cycle while C++ still owns the object, the next event calls a cleared callable and the process
dies with SIGSEGV (seen as a rare crash at the end of the GUI tests). Each case runs in a
process of its own, so a regression shows as that process's crash, not the suite's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.cli_process import run_script

SCRIPT = r'''
import functools, gc, sys
import pyvista as pv
from vtkmodules.vtkCommonCore import vtkCollection, vtkObject

case = sys.argv[1]
if case == "hazard":  # the mechanism alone, on a plain vtkObject: this one must crash
    keep = vtkCollection()
    def make():
        o = vtkObject()
        o.AddObserver("ModifiedEvent", functools.partial(lambda *a: o))
        keep.AddItem(o)
    make()
    gc.collect()
    keep.GetItemAsObject(0).Modified()
    sys.exit(0)

from PyQt6.QtWidgets import QApplication
app = QApplication([])
from pyvistaqt import QtInteractor
from viewer.views.teardown import close_plotter

keep = vtkCollection()
def make():
    plotter = QtInteractor(None, auto_update=False)
    plotter.add_mesh(pv.Sphere())
    iren = plotter.iren.interactor
    iren.AddObserver("ModifiedEvent", functools.partial(lambda *a: iren))  # a view's own
    plotter.renderer.AddObserver("ModifiedEvent", functools.partial(lambda *a: plotter))
    keep.AddItem(iren)  # C++ keeps the interactor and renderer past their wrappers
    keep.AddItem(plotter.renderer)
    close_plotter(plotter)
make()
gc.collect()
for i in range(keep.GetNumberOfItems()):
    keep.GetItemAsObject(i).Modified()
print("survived")
'''


def _run(tmp_path: Path, case: str):
    script = tmp_path / "teardown_case.py"
    script.write_text(SCRIPT)
    return run_script(script, case, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def test_the_hazard_is_real(tmp_path):
    """Without the teardown, the collector's cleared observer crashes the process."""
    out = _run(tmp_path, "hazard")
    assert out.returncode == -signal.SIGSEGV, (out.returncode, out.stderr[-2000:])


def test_a_closed_plotter_leaves_nothing_to_crash_on(tmp_path):
    out = _run(tmp_path, "closed")
    assert out.returncode == 0 and "survived" in out.stdout, out.stderr[-2000:]
