"""Reading files into a case. ``load(path)`` is the one entry point."""

from sim.io.loader import SUPPORTED_SUFFIXES, load

__all__ = ["SUPPORTED_SUFFIXES", "load"]
