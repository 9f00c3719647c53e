"""Shipped data is package data: assets/ is the package sim._assets (sim/_assets links to it),
read through one helper (sim.resources), and no shipped example points outside the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Path arithmetic reaching the assets folder: ``... / "assets"``, ``join(..., "assets", ...)``,
# ``"../assets/..."``.
_ASSETS_PATH = re.compile(r"""/\s*["']assets["']|join\([^)]*["']assets["']|["'][./]*assets/""")


def test_assets_ship_as_a_package_read_through_importlib_resources():
    link = ROOT / "sim" / "_assets"
    assert link.is_symlink() and link.resolve() == (ROOT / "assets").resolve()
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert cfg["package-data"]["sim._assets"] == ["**/*"]
    assert "screenshots/*" in cfg["exclude-package-data"]["sim._assets"]
    from sim.resources import asset, asset_path

    for parts in (("materials.json",), ("devices", "catalogue.json"),
                  ("fem_examples", "cantilever.yaml"), ("icons", "twinsight.svg")):
        assert asset(*parts).is_file(), parts
        assert asset_path(*parts).read_bytes() == (ROOT / "assets").joinpath(*parts).read_bytes()


def test_no_code_computes_an_assets_path():
    """One helper (sim.resources) finds shipped data; nothing else walks up to assets/."""
    offenders = []
    for top in ("sim", "viewer"):
        for py in (ROOT / top).rglob("*.py"):
            if py.relative_to(ROOT).parts[:2] == ("sim", "_assets"):
                continue
            if _ASSETS_PATH.search(py.read_text(encoding="utf-8")):
                offenders.append(str(py.relative_to(ROOT)))
    assert not offenders, f"read shipped data through sim.resources.asset(): {offenders}"


def test_shipped_examples_point_inside_the_package():
    """Every shipped analysis spec is self-contained: no mesh path leaves the package."""
    import yaml

    specs = list((ROOT / "assets" / "fem_examples").glob("*.yaml"))
    assert specs
    for spec in specs:
        raw = yaml.safe_load(spec.read_text(encoding="utf-8"))
        mesh = raw["mesh"]
        path = mesh if isinstance(mesh, str) else mesh.get("path")
        if path is not None:
            target = (spec.parent / path).resolve()
            assert target.is_relative_to(ROOT / "assets"), f"{spec.name} reads {path}"
