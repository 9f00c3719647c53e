"""Twinsight's headless core: data model, I/O, imaging, simulation and CLI.

Nothing in this package imports Qt or :mod:`viewer`; scripts and the CLI can do
everything the GUI does through it.
"""

__version__ = "0.1.0"
