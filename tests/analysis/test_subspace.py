"""aejax.analysis.subspace: principal angles, CKA, CCA, agreement between codes (pure numpy)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aejax.analysis import subspace
from helpers import low_rank_codes


def test_principal_angles():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(200, 4))
    np.testing.assert_allclose(subspace.principal_angles(a, a @ rng.normal(size=(4, 4))), 0, atol=1e-7)
    e = np.eye(6)
    np.testing.assert_allclose(subspace.principal_angles(e[:, :2], e[:, 2:5]), np.pi / 2, atol=1e-12)
    t = 0.3
    b = np.cos(t) * e[:, :1] + np.sin(t) * e[:, 1:2]
    np.testing.assert_allclose(subspace.principal_angles(e[:, :1], b), [t], atol=1e-12)
    ang = subspace.principal_angles(a, rng.normal(size=(200, 2)))
    assert ang.shape == (2,) and np.all(np.diff(ang) >= 0)


def test_linear_cka_invariances():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert subspace.linear_cka(x, x) == pytest.approx(1.0)
    assert subspace.linear_cka(x, 3.7 * x @ q + 1.0) == pytest.approx(1.0)
    assert subspace.linear_cka(x, rng.normal(size=(300, 8))) < 0.2
    assert subspace.linear_cka(x, np.zeros((300, 3))) == 0.0


def test_cca_similarity():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(500, 5))
    y = np.hstack([x @ rng.normal(size=(5, 5)), x[:, :1]])  # rank-deficient: 6 columns, rank 5
    assert subspace.cca_similarity(x, y) == pytest.approx(1.0, abs=1e-4)
    assert subspace.cca_similarity(x, rng.normal(size=(500, 5)), k=2) < 0.3


def test_subspace_agreement():
    rng = np.random.default_rng(9)
    z = low_rank_codes(rng, n=400, d=30, rank=5)
    q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    same = subspace.subspace_agreement([z, 2.0 * z @ q, z + 0.001 * rng.normal(size=z.shape)], k=5)
    assert same["n_models"] == 3 and len(same["pairs"]) == 3
    assert same["max_angle"] < 0.05 and same["overlap"] > 0.99 and same["cka_topk"] > 0.99
    other = subspace.subspace_agreement([z, low_rank_codes(rng, n=400, d=30, rank=5)], k=5)
    assert other["mean_angle"] > 1.0 and other["overlap"] < 0.2
    json.dumps(same)
