"""Where Twinsight's shipped files and per-user folders are.

Shipped data (material library, device catalogue, worked examples, icons) lives in the
repository's ``assets/`` folder; ``sim/_assets`` is a symbolic link to it, so it is the package
``sim._assets`` in a checkout, and the wheel and the bundle carry it as real files there.
Every reader goes through :func:`asset`, which asks ``importlib.resources``; so a wheel, an
editable install, a plain checkout and a PyInstaller bundle all find the same files.

Per-user folders come from ``platformdirs`` (XDG on Linux), each with a ``TWINSIGHT_*``
environment override that tests and portable set-ups use.
"""

from __future__ import annotations

import importlib.resources
import os
from functools import lru_cache
from importlib.abc import Traversable
from pathlib import Path

ASSETS_PACKAGE = "sim._assets"
APP_NAME = "twinsight"


@lru_cache(maxsize=1)
def assets_root() -> Traversable:
    """The root of the shipped data (``assets/`` in the repository)."""
    try:
        return importlib.resources.files(ASSETS_PACKAGE)
    except ModuleNotFoundError:
        from sim.errors import TwinsightError

        raise TwinsightError(f"Twinsight's data package '{ASSETS_PACKAGE}' is missing from this "
                             "installation; reinstall Twinsight.") from None


def asset(*parts: str) -> Traversable:
    """A shipped file or folder, e.g. ``asset("devices", "catalogue.json")``."""
    node = assets_root()
    for part in parts:
        node = node / part
    return node


def asset_path(*parts: str) -> Path:
    """A shipped file as a real filesystem path (for readers that need one).

    Wheels, editable installs and bundles keep package data as plain files, so this is the
    file itself; a zipped install is not supported (we never build one)."""
    node = asset(*parts)
    path = Path(str(node))
    if not path.exists():
        from sim.errors import TwinsightError

        raise TwinsightError(f"The shipped file '{'/'.join(parts)}' is missing from this "
                             "installation.")
    return path


def _dirs():
    import platformdirs

    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """``$TWINSIGHT_CACHE_DIR``, else the user cache folder (``~/.cache/twinsight`` on Linux)."""
    env = os.environ.get("TWINSIGHT_CACHE_DIR")
    return Path(env) if env else Path(_dirs().user_cache_dir)


def config_dir() -> Path:
    """``$TWINSIGHT_CONFIG_DIR``, else the user config folder (``~/.config/twinsight``)."""
    env = os.environ.get("TWINSIGHT_CONFIG_DIR")
    return Path(env) if env else Path(_dirs().user_config_dir)


def data_dir() -> Path:
    """``$TWINSIGHT_DATA_DIR``, else the user data folder (``~/.local/share/twinsight``)."""
    env = os.environ.get("TWINSIGHT_DATA_DIR")
    return Path(env) if env else Path(_dirs().user_data_dir)


def state_dir() -> Path:
    """The user state folder (``~/.local/state/twinsight``): autosave and crash recovery."""
    return Path(_dirs().user_state_dir)
