"""aejax.data: the source registry and the documented, seed-deterministic split rule."""
import numpy as np
import pytest

from aejax import data
from aejax.errors import UserError


def test_mnist5k_splits_are_deterministic_disjoint_and_shuffled():
    a = data.load("mnist5k", seed=0)
    b = data.load("mnist5k", seed=0)
    c = data.load("mnist5k", seed=1)
    assert (len(a.train), len(a.val), len(a.test)) == (3500, 500, 1000)
    assert a.train.x.dtype == np.float32 and a.train.x.shape[1:] == (28, 28, 1)
    assert 0.0 <= a.train.x.min() and a.train.x.max() <= 1.0
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.array_equal(a.test.x, c.test.x)
    # The source is sorted by label: the split must mix every class into every part.
    assert set(a.test.y[:50]) == set(range(10))
    assert set(a.val.y) == set(range(10))
    # Disjoint: no training image reappears in the test split.
    train_rows = {r.tobytes() for r in a.train.x.reshape(len(a.train), -1)}
    assert not any(r.tobytes() in train_rows for r in a.test.x.reshape(len(a.test), -1))


def test_digits_and_limit():
    d = data.load("digits", seed=0, limit=100)
    assert d.train.x.shape == (100, 8, 8, 1) and len(d.test) == 100
    assert d.train.x.max() <= 1.0


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown data source.*mnist5k"):
        data.load("mnist6k")


def test_unknown_source_option_names_it():
    with pytest.raises(UserError, match="data.options.nn: not an option of source 'digits'"):
        data.load("digits", options={"nn": 3})
