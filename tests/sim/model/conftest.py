"""Fixtures of the case-model tests."""

from __future__ import annotations

import pytest

from sim.model import crypto


@pytest.fixture
def fast_kdf(monkeypatch):
    """Cheap scrypt for tests that only need encryption to work (one test checks the default)."""
    monkeypatch.setattr(crypto, "SCRYPT_N", 1 << 10)
