"""aejax.hyper: sweep axes: one at a time, products, unique configurations."""
import pytest

from aejax import hyper


def test_one_at_a_time_product_and_unique():
    base = {"a": 1, "b": "x"}
    configs = hyper.one_at_a_time(base, [hyper.sweep("a", [1, 2, 3]), hyper.sweep("b", ["x", "y"])])
    assert configs == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 3, "b": "x"}, {"a": 1, "b": "y"}]
    with pytest.raises(ValueError, match="'c'"):
        hyper.one_at_a_time(base, [hyper.sweep("c", [1])])
    runs = hyper.product([configs[:2], hyper.sweep("seed", range(3))])
    assert runs == [{**c, "seed": s} for c in configs[:2] for s in range(3)]
    assert hyper.unique([{"a": [1]}, {"a": [1]}, {"a": [2]}]) == [{"a": [1]}, {"a": [2]}]
