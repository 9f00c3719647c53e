"""Data shipped with Twinsight, installed as the package ``twinsight_assets``.

Read it through :mod:`sim.resources` (importlib.resources), never by path arithmetic.
"""
