"""aejax.analysis.spectrum: covariance spectra, modes, noise floors, the PCA baseline (pure numpy)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aejax.analysis import spectrum
from helpers import low_rank_codes


def _codes_with_cov(rng, n, eigenvalues):
    """Codes [n, D] whose sample covariance is exactly diag(eigenvalues)."""
    d = len(eigenvalues)
    g = rng.normal(size=(n, d))
    q, _ = np.linalg.qr(g - g.mean(axis=0))  # centred, orthonormal columns
    return q * np.sqrt((n - 1) * np.asarray(eigenvalues, dtype=np.float64))


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
    z = low_rank_codes(rng)
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
