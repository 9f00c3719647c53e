"""Data shipped with Twinsight, installed as the package ``sim._assets``.

``sim/_assets`` is a symbolic link to this folder, so the wheel, an editable install and the
bundle carry it inside ``sim``. Read it through :mod:`sim.resources` (importlib.resources),
never by path arithmetic.
"""
