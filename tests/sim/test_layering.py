"""sim is the headless core: importing it must not load Qt or the viewer."""

import subprocess
import sys

CHECK = """
import sys
import sim, sim.cli, sim.io, sim.model, sim.render, sim.demo, sim.imaging.surface
import sim.model.case_io, sim.demo.cache
import importlib, pkgutil, sim.commands
for m in pkgutil.iter_modules(sim.commands.__path__):
    importlib.import_module('sim.commands.' + m.name)
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'PySide6', 'pyvistaqt', 'viewer'))
print(','.join(bad))
"""


def test_importing_sim_loads_no_qt_or_viewer():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"sim pulled in GUI modules: {out.stdout.strip()}"


def test_importing_viewer_package_loads_no_qt():
    code = "import sys, viewer, viewer.launcher; print('PyQt6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_no_module_imports_the_whole_vtk_package():
    """``import vtk`` loads every VTK library (~0.7 s on every start): import by module."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"^\s*(import vtk\b|from vtk import|from vtk\.)", re.MULTILINE)
    offenders = [str(p.relative_to(root)) for folder in ("sim", "viewer")
                 for p in sorted((root / folder).rglob("*.py")) if pattern.search(p.read_text())]
    assert offenders == []
    code = "import sys, sim.model, sim.render.scene_renderer; print('vtk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
