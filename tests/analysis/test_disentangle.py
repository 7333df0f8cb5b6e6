"""aejax.analysis.disentangle: MIG, SAP and DCI against disentanglement_lib's oracles (pure numpy)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aejax.analysis import disentangle


@pytest.fixture(scope="module")
def factors():
    """5 discrete ground-truth factors with 4-10 values each, N = 3000."""
    rng = np.random.default_rng(13)
    return np.stack([rng.integers(0, m, 3000) for m in (4, 6, 8, 10, 10)], axis=1).astype(np.float64)


def test_ground_truth_representation_scores_high(factors):
    rng = np.random.default_rng(14)
    assert disentangle.mig(factors, factors)["mig"] >= 0.9
    # As disentanglement_lib's sap_score_test: integer factors scored as continuous.
    assert disentangle.sap(factors, factors, continuous_factors=True)["sap"] >= 0.9
    res = disentangle.dci(factors, factors, rng)
    assert res["disentanglement"] >= 0.9 and res["completeness"] >= 0.9
    assert res["informativeness_test"] >= 0.9
    assert disentangle.dci(factors, factors, rng, model="lasso")["disentanglement"] >= 0.9
    json.dumps(res)


@pytest.mark.parametrize("kind", ["zeros", "noise"])
def test_uninformative_representation_scores_low(factors, kind):
    rng = np.random.default_rng(15)
    codes = np.zeros_like(factors) if kind == "zeros" else rng.normal(size=factors.shape)
    assert disentangle.mig(codes, factors)["mig"] <= 0.2
    assert disentangle.sap(codes, factors, continuous_factors=True)["sap"] <= 0.2
    assert disentangle.dci(codes, factors, rng)["disentanglement"] <= 0.2


def test_duplicated_latent_space(factors):
    rng = np.random.default_rng(16)
    codes = np.hstack([factors, factors])
    assert disentangle.mig(codes, factors)["mig"] <= 0.1
    assert disentangle.sap(codes, factors, continuous_factors=True)["sap"] <= 0.2
    res = disentangle.dci(codes, factors, rng)
    assert res["disentanglement"] >= 0.9
    assert res["completeness"] == pytest.approx(1 - np.log(2) / np.log(10), abs=0.1)


def test_dci_scores_of_importance_matrices():
    diag = np.diag(5.0 * np.ones(5))
    assert disentangle.dci_disentanglement(diag) == pytest.approx(1.0)
    assert disentangle.dci_completeness(diag) == pytest.approx(1.0)
    assert disentangle.dci_disentanglement(np.zeros((10, 10))) == pytest.approx(0.0)
    assert disentangle.dci_completeness(np.vstack([diag, diag])) == pytest.approx(1 - np.log(2) / np.log(10))
    assert disentangle.dci_disentanglement(np.hstack([diag, diag])) == pytest.approx(1 - np.log(2) / np.log(10))


def test_continuous_factors_and_discrete_sap():
    rng = np.random.default_rng(17)
    f = rng.normal(size=(2000, 3))
    assert not disentangle.factor_is_continuous(f.round().clip(-2, 2)).any()
    assert disentangle.factor_is_continuous(f).all()
    assert disentangle.mig(f, f)["mig"] >= 0.9  # continuous factors binned like the codes
    assert disentangle.sap(f, f)["sap"] >= 0.9
    two = np.stack([rng.integers(0, 2, 2000), rng.integers(0, 3, 2000)], axis=1).astype(float)
    res = disentangle.sap(two, two, rng=rng)  # discrete: one-feature LinearSVC accuracy
    assert np.diag(res["score_matrix"]).min() >= 0.95  # gap is then ~ 1 - chance accuracy
    scaled = disentangle.sap(1e-3 * two + 5.0, two, rng=np.random.default_rng(0))
    assert np.diag(scaled["score_matrix"]).min() >= 0.95  # units are standardised first
    assert disentangle.dci(f, f, rng)["disentanglement"] >= 0.9  # regressors, R^2
