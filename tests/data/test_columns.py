"""aejax.data.columns: images <-> their columns (one example per image column)."""
from __future__ import annotations

import numpy as np
import pytest

from aejax.data.columns import columns_to_images, images_to_columns
from aejax.data.seismic import seismic_synth
from aejax.errors import UserError


def test_columns_round_trip_seismic():
    x = seismic_synth(seed=0, n=200).train.x                     # [N, 101, 101, 1]
    cols = images_to_columns(x)
    assert cols.shape == (len(x) * 101, 101)
    assert np.array_equal(cols[3 * 101 + 7], x[3, :, 7, 0])     # column j of image i at i*W + j
    back = columns_to_images(cols, 101)
    assert back.shape == x.shape and back.dtype == x.dtype
    assert np.array_equal(back, x)


def test_columns_round_trip_28x28():
    x = np.random.default_rng(1).random((5, 28, 28, 1)).astype(np.float32)
    cols = images_to_columns(x)
    assert cols.shape == (5 * 28, 28)
    assert np.array_equal(cols[2 * 28 + 27], x[2, :, 27, 0])
    assert np.array_equal(columns_to_images(cols, 28), x)
    assert np.array_equal(images_to_columns(x[..., 0]), cols)   # [N, H, W] works too


def test_columns_bad_shape():
    with pytest.raises(UserError):
        columns_to_images(np.zeros((10, 28)), 3)
    with pytest.raises(UserError):
        images_to_columns(np.zeros((2, 4, 4, 3)))
