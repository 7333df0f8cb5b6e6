"""aejax.analysis.importance: unit and direction ablation, ranks, active units (pure numpy)."""
from __future__ import annotations

import numpy as np
import pytest

from aejax.analysis import importance


def _toy_decoder(n_out=6):
    w = np.linspace(1.0, 2.0, n_out)

    def decode(z):
        return z[:, 2:3] * w  # only unit 2 reaches the output: [B, n_out]

    return decode, w


def test_ablation_ranks_informative_unit_first():
    rng = np.random.default_rng(10)
    z = rng.normal(size=(200, 5)) * np.array([5.0, 3.0, 1.0, 2.0, 4.0])  # unit 2 has small variance
    decode, w = _toy_decoder()
    x = decode(z)
    res = importance.ablation_importance(z, decode, x)
    assert res["baseline_loss"] == pytest.approx(0.0)
    assert importance.rank_units(res["increase"])[0] == 2
    np.testing.assert_allclose(res["increase"][[0, 1, 3, 4]], 0.0, atol=1e-12)
    assert res["increase"][2] == pytest.approx(np.var(z[:, 2]) * np.mean(w**2))
    # Chunking (several units per decode call, or rows split) does not change the result.
    for bs in (64, 450, 10000):
        again = importance.ablation_importance(z, decode, x, batch_size=bs)
        np.testing.assert_allclose(again["increase"], res["increase"], atol=1e-12)
    # Direction ablation with the identity basis is unit ablation.
    by_dir = importance.ablation_importance(z, decode, x, directions=np.eye(5), batch_size=450)
    np.testing.assert_allclose(by_dir["increase"], res["increase"], atol=1e-10)
    # Codes are decoded in the caller's dtype (a JAX decoder wants float32).
    seen = []
    z32 = z.astype(np.float32)
    res32 = importance.ablation_importance(z32, lambda c: seen.append(c.dtype) or decode(c), x)
    assert set(seen) == {np.dtype(np.float32)}
    assert importance.rank_units(res32["increase"])[0] == 2
    with pytest.raises(ValueError, match="per-example"):
        importance.ablation_importance(z, decode, x, loss_fn=lambda a, b: np.mean((a - b) ** 2))


def test_rank_units_and_variance():
    np.testing.assert_array_equal(importance.rank_units([0.1, np.nan, 3.0, 0.1]), [2, 0, 3, 1])
    z = np.random.default_rng(11).normal(size=(100, 3))
    np.testing.assert_allclose(importance.unit_variance(z), np.diag(np.cov(z.T)))


def test_active_units():
    rng = np.random.default_rng(12)
    mu = rng.normal(size=(1000, 4)) * np.array([1.0, 0.5, 0.02, 0.0])  # variances 1, .25, 4e-4, 0
    au = importance.active_units(mu)
    assert au["count"] == 2
    np.testing.assert_array_equal(au["mask"], [True, True, False, False])
