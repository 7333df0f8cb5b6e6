"""Tests of the pure-numpy latent analysis core (aejax.analysis.*)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aejax.analysis import disentangle, importance, spectrum, subspace


def _codes_with_cov(rng, n, eigenvalues):
    """Codes [n, D] whose sample covariance is exactly diag(eigenvalues)."""
    d = len(eigenvalues)
    g = rng.normal(size=(n, d))
    q, _ = np.linalg.qr(g - g.mean(axis=0))  # centred, orthonormal columns
    return q * np.sqrt((n - 1) * np.asarray(eigenvalues, dtype=np.float64))


def _low_rank_codes(rng, n=3000, d=100, rank=5, noise=0.05):
    """Rank-``rank`` signal embedded in ``d`` dims plus small isotropic noise."""
    basis, _ = np.linalg.qr(rng.normal(size=(d, rank)))  # [d, rank]
    latent = rng.normal(size=(n, rank)) * np.array([3.0, 2.5, 2.0, 1.5, 1.0])[:rank]
    return latent @ basis.T + noise * rng.normal(size=(n, d))


# --- spectrum -------------------------------------------------------------


def test_eigenvalues_match_eigvalsh():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 12)) @ rng.normal(size=(12, 12))
    spec = spectrum.covariance_spectrum(z.astype(np.float32))
    ref = np.sort(np.linalg.eigvalsh(np.cov(z.astype(np.float32).T)))[::-1]
    np.testing.assert_allclose(spec["eigenvalues"], ref, rtol=1e-5)
    assert spec["eigenvalues"] == sorted(spec["eigenvalues"], reverse=True)
    assert abs(sum(spec["explained_variance_ratio"]) - 1.0) < 1e-12
    v, w = spec["eigenvectors"], np.array(spec["eigenvalues"])
    np.testing.assert_allclose(np.cov(z.astype(np.float32).T) @ v, v * w, atol=1e-8 * w[0])
    assert spec["total_variance"] == pytest.approx(sum(spec["eigenvalues"]), rel=1e-10)
    json.dumps(spectrum.jsonable(spec))  # everything but the eigenvectors is JSON-able


def test_modes_on_constructed_spectrum():
    lam = [5.0, 3.0, 1.0, 0.5, 0.4, 0.1]  # cumulative: .5 .8 .9 .95 .99 1.0
    stats = spectrum.spectrum_stats(lam)
    assert (stats["modes_90"], stats["modes_95"], stats["modes_99"]) == (3, 4, 5)
    spec = spectrum.covariance_spectrum(_codes_with_cov(np.random.default_rng(1), 400, lam))
    np.testing.assert_allclose(spec["eigenvalues"], lam, rtol=1e-10)
    assert (spec["modes_90"], spec["modes_95"], spec["modes_99"]) == (3, 4, 5)
    assert spectrum.modes_to_explain([1.0, 0.0, 0.0], 0.99) == 1


def test_zero_variance_spectrum():
    spec = spectrum.covariance_spectrum(np.ones((50, 4)))
    assert spec["explained_variance_ratio"] == [0.0] * 4
    assert (spec["modes_90"], spec["participation_ratio"], spec["total_variance"]) == (0, 0.0, 0.0)


def test_participation_ratio_isotropic():
    z = np.random.default_rng(2).normal(size=(20000, 10))
    assert spectrum.covariance_spectrum(z)["participation_ratio"] == pytest.approx(10, rel=0.01)
    one_mode = spectrum.spectrum_stats([4.0, 0.0, 0.0])
    assert one_mode["participation_ratio"] == pytest.approx(1.0)


def test_shuffle_floor_below_correlated_modes():
    rng = np.random.default_rng(3)
    shared = rng.normal(size=(2000, 1))
    z = shared + 0.1 * rng.normal(size=(2000, 20))  # all units strongly correlated
    floor = spectrum.shuffle_floor(z, rng, n_shuffles=10)
    w = spectrum.covariance_spectrum(z)["eigenvalues"]
    assert floor.shape == (20,)
    assert w[0] > 5 * floor[0]
    assert spectrum.modes_above_floor(w, floor) == 1
    mean_floor = spectrum.shuffle_floor(z, rng, n_shuffles=10, quantile=None)
    assert np.all(mean_floor <= floor + 1e-12)


def test_low_rank_code_has_five_modes_above_floors():
    rng = np.random.default_rng(4)
    z = _low_rank_codes(rng)
    w = spectrum.covariance_spectrum(z)["eigenvalues"]
    assert sum(x > 0 for x in w) == 100  # "eigenvalue > 0" counts every mode
    assert spectrum.modes_above_floor(w, spectrum.shuffle_floor(z, rng, n_shuffles=10)) == 5
    mp = spectrum.marchenko_pastur_upper(3000, 100, 0.05**2)
    assert spectrum.modes_above_floor(w, mp) == 5
    rep = spectrum.noise_floor_report(z, rng, n_shuffles=5, z_reference=0.05 * rng.normal(size=(3000, 100)))
    assert (rep["modes_above_shuffle"], rep["modes_above_mp"], rep["modes_above_reference_max"]) == (5, 5, 5)
    assert rep["modes_above_reference"] >= 5  # rank-wise against a flat reference over-counts
    json.dumps(rep)


def test_modes_above_floor_rules():
    assert spectrum.modes_above_floor([3.0, 2.0, 1.0], 1.0) == 2  # strictly above
    assert spectrum.modes_above_floor([3.0, 2.0, 1.0], [1.0, 2.5, 0.0]) == 1  # stops at rank 2
    assert spectrum.modes_above_floor([3.0, 2.0], [0.0, 0.0]) == 2
    assert spectrum.marchenko_pastur_upper(100, 25, 2.0) == pytest.approx(2.0 * 1.5**2)


def test_pca_baseline_and_reconstruction():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(600, 4, 5)) @ rng.normal(size=(5, 5))  # [N, 4, 5] -> P = 20
    xtr, xte = x[:400], x[400:]
    fit = spectrum.pca_baseline(xtr, k=3)
    assert fit["components"].shape == (20, 3)
    np.testing.assert_allclose(fit["eigenvalues"],
                               spectrum.covariance_spectrum(xtr.reshape(400, -1))["eigenvalues"],
                               rtol=1e-8, atol=1e-12)
    mses = spectrum.pca_reconstruction_mse(xtr, xte, [0, 1, 5, 20])
    assert mses[-1] < 1e-12 * mses[0]  # k = P: exact up to round-off
    assert mses == sorted(mses, reverse=True)
    assert mses[0] == pytest.approx(np.mean((xte - xtr.mean(axis=0)) ** 2))
    # Rank-k reconstruction error equals the directly computed one.
    v = spectrum.pca_baseline(xtr, k=5)["components"]
    c = xte.reshape(200, -1) - xtr.reshape(400, -1).mean(axis=0)
    assert mses[2] == pytest.approx(np.mean((c - c @ v @ v.T) ** 2), rel=1e-9)
    # N < P uses the Gram matrix and gives the same non-zero spectrum.
    wide = rng.normal(size=(15, 40))
    gram = spectrum.pca_baseline(wide)["eigenvalues"]
    ref = np.sort(np.linalg.eigvalsh(np.cov(wide.T)))[::-1][:15]
    np.testing.assert_allclose(gram, ref, atol=1e-10)


# --- subspace -------------------------------------------------------------


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
    z = _low_rank_codes(rng, n=400, d=30, rank=5)
    q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    same = subspace.subspace_agreement([z, 2.0 * z @ q, z + 0.001 * rng.normal(size=z.shape)], k=5)
    assert same["n_models"] == 3 and len(same["pairs"]) == 3
    assert same["max_angle"] < 0.05 and same["overlap"] > 0.99 and same["cka_topk"] > 0.99
    other = subspace.subspace_agreement([z, _low_rank_codes(rng, n=400, d=30, rank=5)], k=5)
    assert other["mean_angle"] > 1.0 and other["overlap"] < 0.2
    json.dumps(same)


# --- importance -----------------------------------------------------------


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


# --- disentanglement ------------------------------------------------------


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
