"""A coarse P2 model of the demo bracket, built once per test session (a few seconds)."""

from __future__ import annotations

import pytest

from tests.sim.twin.conftest import broker, broker_factory, wait_until  # noqa: F401


@pytest.fixture(scope="session")
def bracket():
    from sim.asset.config import demo_asset_config
    from sim.asset.influence import FeSystem
    from sim.asset.model import build_model

    cfg = demo_asset_config(element_size=5)
    fe = FeSystem(cfg)
    return cfg, fe, build_model(cfg, fe=fe)


@pytest.fixture(scope="session")
def cracked(bracket):
    from sim.asset.truth import cracked_model

    cfg, _, _ = bracket
    return cracked_model(cfg, "bend", 0.3)
