"""Shared fixtures: where the third-party data lives, and isolated settings/cache folders."""

from __future__ import annotations

import os
import signal
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TWINSIGHT_SHARED_DATA", ROOT.parent / "shared" / "data"))

if os.environ.get("CI"):
    # In CI every test dependency is installed (the 'test' extra): a real peer or reference
    # library that fails to import is a broken set-up to fail on, not a test to skip.
    _importorskip = pytest.importorskip

    def _import_or_fail(modname: str, *args, **kwargs):
        import importlib

        return importlib.import_module(modname)

    pytest.importorskip = _import_or_fail


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real third-party files (../shared/data); skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party test data not found at {SHARED_DATA} (see shared/data/SOURCES.md)")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_folders(tmp_path_factory):
    """Keep tests away from the user's settings; share one demo cache across the session."""
    os.environ["TWINSIGHT_CONFIG_DIR"] = str(tmp_path_factory.mktemp("config"))
    os.environ.setdefault("TWINSIGHT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield


@pytest.fixture(scope="session")
def demo_case_dir(_isolated_user_folders) -> Path:
    """The demo case folder, generated once per test session."""
    from sim.demo.cache import demo_case_path

    return demo_case_path()


@pytest.fixture(autouse=True)
def _sigpipe_stays_ignored(request):
    """Python ignores SIGPIPE so a closed socket raises BrokenPipeError instead of killing
    the process; a native library that resets it would let one peer's hang-up end the run."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    yield
    if signal.getsignal(signal.SIGPIPE) != signal.SIG_IGN:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        warnings.warn(f"{request.node.nodeid} changed the SIGPIPE handler; restored", stacklevel=1)


@pytest.fixture(autouse=True)
def _fresh_settings(tmp_path_factory, monkeypatch):
    """Each test starts with no saved window layout or recent files: a layout saved by one
    test (a resized window, a hidden dock) must not leak into the next."""
    monkeypatch.setenv("TWINSIGHT_CONFIG_DIR", str(tmp_path_factory.mktemp("settings")))


BENCHMARKS = ROOT / "tests" / "benchmarks"
VIEWER_TESTS = ROOT / "tests" / "viewer"


def pytest_collection_modifyitems(config, items):
    """Benchmarks (tests/benchmarks) run only when named: `pytest tests/benchmarks` or a file
    in it. The default run leaves them out; packaging/run-tests.sh runs them separately in a
    reporting mode, so a noisy machine's clock never fails a correctness run."""
    # One rule for the GUI mark: every test that needs a display (a test under tests/viewer,
    # or one using pytest-qt's qtbot) is `gui`, so `pytest -m "not gui"` is the headless suite.
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(VIEWER_TESTS) or \
                "qtbot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.gui)
    named = any(Path(str(a).split("::")[0]).resolve().is_relative_to(BENCHMARKS)
                for a in config.args)
    if named:
        return
    keep, dropped = [], []
    for item in items:
        (dropped if Path(str(item.fspath)).resolve().is_relative_to(BENCHMARKS)
         else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
