"""aejax.data.binarized: the ``binarized:SOURCE`` images (thresholded, same split)."""
import numpy as np
import pytest

from aejax import data as data_lib
from aejax.errors import UserError


def test_binarized_source_thresholds_and_keeps_the_split():
    plain = data_lib.load("digits", seed=3)
    binary = data_lib.load("binarized:digits", seed=3, options={"threshold": 0.5})
    assert set(np.unique(binary.train.x).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(binary.test.y, plain.test.y)
    np.testing.assert_array_equal(binary.train.x, (plain.train.x > 0.5).astype(np.float32))
    assert binary.meta["binarized"] == 0.5
    with pytest.raises(UserError, match="threshold"):
        data_lib.load("binarized:digits", options={"threshold": 2})
    with pytest.raises(UserError, match="not an image source"):
        data_lib.load("binarized:diabetes")
