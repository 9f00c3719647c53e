"""Reading files into a case. ``load(path)`` is the one entry point."""

from __future__ import annotations

from typing import Any

__all__ = ["SUPPORTED_SUFFIXES", "load"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the readers pull in VTK and pyvista (~1 s), which the CLI's
    # parser (it registers sim.io.dicom_results_cli) and light submodules do not need.
    if name in __all__:
        from sim.io import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'sim.io' has no attribute {name!r}")
