"""Shared fixtures (the CLI in a subprocess, the data cache, a dataset) and the ``slow`` marker.

Shared helper functions and constants are in helpers.py (``from helpers import ...``).
"""
from __future__ import annotations

import os

import pytest

from helpers import run_cli


@pytest.fixture
def cli():
    """:func:`helpers.run_cli`, as a fixture."""
    return run_cli


@pytest.fixture(scope="session")
def shapes_ds():
    """The ``shapes`` source, 3000 images with their known factors (seed 0)."""
    from aejax import data
    return data.load("shapes", seed=0, options={"n": 3000})


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    """Keep the .npy data cache out of the user's home during tests."""
    monkeypatch.setenv("AEJAX_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``slow`` unless AEJAX_SLOW=1 (pyproject.toml registers the marker)."""
    if os.environ.get("AEJAX_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set AEJAX_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
