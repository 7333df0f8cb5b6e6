"""Shared fixtures: small on-disk datasets and a helper to run the CLI in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=None, env_extra=None, timeout=300):
    """Run ``python -m aejax ARGS``; returns the CompletedProcess (text output)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "aejax", *map(str, args)], cwd=cwd or ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


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
