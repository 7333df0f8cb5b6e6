"""The ``shapes`` source and disentanglement scoring against its known factors.

The oracles are disentanglement_lib's: the true factors used as the code
score >= 0.9 on MIG, SAP and DCI; an all-zeros code scores <= 0.2. Here they
run on the real ``shapes`` factors, through :func:`run_dir.disentanglement`
(the function every analysed run with factors goes through).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from aejax import data
from aejax.analysis import run_dir
from aejax.data import shapes
from aejax.errors import UserError


@pytest.fixture(scope="module")
def ds():
    return data.load("shapes", seed=0, options={"n": 3000})


def test_shapes_source(ds):
    assert ds.example_shape == (32, 32, 1)
    assert ds.train.x.dtype == np.float32 and 0.0 <= ds.train.x.min() and ds.train.x.max() <= 1.0
    assert ds.meta["factors"] == list(shapes.FACTORS)
    for k in shapes.FACTORS:
        vals = np.unique(ds.train.extras[k])
        assert set(vals) <= set(shapes.FACTOR_VALUES[k].tolist())
    np.testing.assert_array_equal(ds.train.y, ds.train.extras["shape"].astype(np.int32))
    # Deterministic, and bigger scales cover more pixels.
    again = data.load("shapes", seed=0, options={"n": 3000})
    np.testing.assert_array_equal(again.test.x, ds.test.x)
    area = ds.train.x.reshape(len(ds.train.x), -1).sum(axis=1)
    sc = ds.train.extras["scale"]
    assert area[sc == 1.0].mean() > 2.5 * area[sc == 0.5].mean()
    # The centre of mass follows x and y (columns / rows).
    img = ds.train.x[..., 0]
    cols = (img.sum(axis=1) * np.arange(32)).sum(axis=1) / img.sum(axis=(1, 2))
    assert np.corrcoef(cols, ds.train.extras["x"])[0, 1] > 0.95


def test_shapes_bad_options():
    with pytest.raises(UserError, match="option n"):
        data.load("shapes", options={"n": 0})
    with pytest.raises(UserError, match="supersample"):
        data.load("shapes", options={"supersample": 0})


def test_oracles_on_shapes_factors(ds):
    f = np.stack([ds.test.extras[k] for k in shapes.FACTORS], axis=1).astype(np.float64)  # [N, 5]
    kinds = ds.meta["factor_kinds"]
    truth = run_dir.disentanglement(f, f, list(shapes.FACTORS), kinds, np.random.default_rng(0))
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
        assert truth[key] >= 0.9, (key, truth[key])
    zeros = run_dir.disentanglement(np.zeros_like(f), f, list(shapes.FACTORS), kinds,
                                    np.random.default_rng(0))
    for key in ("mig", "sap", "dci_disentanglement"):
        assert zeros[key] <= 0.2, (key, zeros[key])
    # A rotation of the true factors keeps the information but mixes the units.
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))
    zs = (f - f.mean(0)) / f.std(0)
    mixed = run_dir.disentanglement(zs @ q, f, list(shapes.FACTORS), kinds, np.random.default_rng(0))
    assert mixed["mig"] < truth["mig"] - 0.4 and mixed["dci_disentanglement"] < truth["dci_disentanglement"]
    json.dumps(truth)


def test_analysis_scores_factors_of_a_run(tmp_path):
    """A quick run on shapes gets analysis/disentanglement.json and the factor figure."""
    from aejax import api
    wd = tmp_path / "run"
    api.run("mnist_dense", workdir=wd, quick=True, overrides=[
        "data.name=shapes", "data.options={\"n\": 1500}", "model.hidden=[64]", "model.latent_dim=6",
        "train.progress=false"])
    dis = json.loads((wd / "analysis" / "disentanglement.json").read_text())
    assert dis["factors"] == list(shapes.FACTORS)
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
        assert 0.0 <= dis[key] <= 1.0
    assert (wd / "figures" / "latent_factors.png").exists()
    assert "MIG" in (wd / "analysis" / "summary.md").read_text() or "Disentanglement" in \
        (wd / "analysis" / "summary.md").read_text()
