"""Where the demo case lives: generated deterministically on first use, then reused."""

from __future__ import annotations

from pathlib import Path

from sim import __version__
from sim.progress import Progress, no_progress


def cache_dir() -> Path:
    """``$TWINSIGHT_CACHE_DIR``, else the user's cache folder (see :mod:`sim.resources`)."""
    from sim.resources import cache_dir as user_cache_dir

    return user_cache_dir()


def write_demo(folder: str | Path, progress: Progress = no_progress) -> Path:
    from sim.demo.phantom import build_demo_case
    from sim.model.case_io import save_case_folder
    from sim.progress import sub_progress

    case = build_demo_case(progress=sub_progress(progress, 0.0, 0.8))
    return save_case_folder(case, folder, progress=sub_progress(progress, 0.8, 1.0))


def demo_case_path(progress: Progress = no_progress) -> Path:
    """The demo case folder, generating it if this version has not made it yet."""
    from sim.demo.phantom import DEMO_REVISION
    from sim.model.case_io import is_case_folder

    folder = cache_dir() / f"demo-{__version__}-r{DEMO_REVISION}"
    if not is_case_folder(folder):
        write_demo(folder, progress)
    return folder
