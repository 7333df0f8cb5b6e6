"""aejax.data.shapes: the ``shapes`` source, images with known generating factors.

(Disentanglement scoring against these factors: tests/analysis/test_run_dir.py.)
"""
from __future__ import annotations

import numpy as np
import pytest

from aejax import data
from aejax.data import shapes
from aejax.errors import UserError


def test_shapes_source(shapes_ds):
    ds = shapes_ds
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
