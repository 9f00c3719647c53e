"""The wheel's package list (pyproject.toml) names every package folder under sim/ and viewer/.

pyproject.toml lists packages instead of finding them, because assets/ installs under another
name (twinsight_assets); a new subpackage missing from that list would be absent from the wheel
and the bundle while every test run from the checkout still passes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Path arithmetic reaching the assets folder: ``... / "assets"``, ``join(..., "assets", ...)``,
# ``"../assets/..."``.
_ASSETS_PATH = re.compile(r"""/\s*["']assets["']|join\([^)]*["']assets["']|["'][./]*assets/""")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_in_the_wheel_list():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = set()
    for top in ("sim", "viewer"):
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
                found.add(".".join(folder.relative_to(ROOT).parts))
    missing = sorted(found - listed)
    assert not missing, (f"add {missing} to [tool.setuptools] packages in pyproject.toml, "
                         "or the wheel and the bundle will not contain them")
    gone = sorted(p for p in listed - found if p != "twinsight_assets")
    assert not gone, f"pyproject.toml lists packages that no longer exist: {gone}"


def test_assets_ship_as_a_package_read_through_importlib_resources():
    cfg = _pyproject()["tool"]["setuptools"]
    assert cfg["package-dir"]["twinsight_assets"] == "assets"
    assert (ROOT / "assets" / "__init__.py").is_file()
    from sim.resources import asset

    for parts in (("materials.json",), ("devices", "catalogue.json"),
                  ("fem_examples", "cantilever.yaml"), ("icons", "twinsight.svg")):
        assert asset(*parts).is_file(), parts


def test_no_code_computes_an_assets_path():
    """One helper (sim.resources) finds shipped data; nothing else walks up to assets/."""
    offenders = []
    for top in ("sim", "viewer"):
        for py in (ROOT / top).rglob("*.py"):
            if py.name == "resources.py" and py.parent.name == "sim":
                continue
            if _ASSETS_PATH.search(py.read_text(encoding="utf-8")):
                offenders.append(str(py.relative_to(ROOT)))
    assert not offenders, f"read shipped data through sim.resources.asset(): {offenders}"


def test_shipped_examples_point_inside_the_package():
    """Every shipped analysis spec is self-contained: no mesh path leaves the package."""
    import yaml

    for spec in (ROOT / "assets" / "fem_examples").glob("*.yaml"):
        raw = yaml.safe_load(spec.read_text(encoding="utf-8"))
        mesh = raw["mesh"]
        path = mesh if isinstance(mesh, str) else mesh.get("path")
        if path is not None:
            target = (spec.parent / path).resolve()
            assert target.is_relative_to(ROOT / "assets"), f"{spec.name} reads {path}"
