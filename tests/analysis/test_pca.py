"""The package's one PCA (aejax.analysis.spectrum.pca) against scikit-learn's PCA; the Gram form
of wide codes (D > N) against the covariance form; the wide-code analysis path; scikit-learn's
linear regression in the R² table. Pure numpy / scikit-learn, well under a second in all."""
from __future__ import annotations


import numpy as np
import pytest
from sklearn.decomposition import PCA

from aejax.analysis import importance, regression, run_dir, spectrum, subspace
from helpers import low_rank_codes


def _data(rng, n, p):
    return rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) + rng.normal(size=p)


@pytest.mark.parametrize("n, p", [(300, 20), (20, 300), (40, 40)])
def test_pca_matches_sklearn(n, p):
    rng = np.random.default_rng(n + p)
    x = _data(rng, n, p).astype(np.float32)
    fit = spectrum.pca(x)
    assert fit["form"] == ("gram" if p > n else "covariance")
    ref = PCA(svd_solver="full").fit(x.astype(np.float64))
    r = min(n - 1, p)  # non-zero spectrum (centring removes one dimension when N <= P)
    np.testing.assert_allclose(fit["eigenvalues"][:r], ref.explained_variance_[:r], rtol=1e-9,
                               atol=1e-12 * ref.explained_variance_[0])
    np.testing.assert_allclose(fit["mean"], ref.mean_, rtol=1e-12, atol=1e-12)
    ratio = np.clip(fit["eigenvalues"][:r], 0, None) / fit["total_variance"]
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_[:r], rtol=1e-9, atol=1e-15)
    # Components up to sign; each column's largest entry is positive.
    comp = fit["components"][:, :r]
    cos = np.sum(comp * ref.components_[:r].T, axis=0)
    np.testing.assert_allclose(np.abs(cos), 1.0, atol=1e-9)
    assert np.all(comp[np.argmax(np.abs(comp), axis=0), np.arange(r)] > 0)
    # Scores (transform) equal scikit-learn's up to the same signs.
    np.testing.assert_allclose((x - fit["mean"]) @ comp, ref.transform(x)[:, :r] * np.sign(cos), atol=1e-8)
    assert spectrum.pca(x, 3)["components"].shape == (p, 3)
    with pytest.raises(ValueError, match="k must be"):
        spectrum.pca(x, min(n, p) + 1)


def test_gram_and_covariance_forms_give_the_same_spectrum():
    rng = np.random.default_rng(1)
    for n, p in ((30, 200), (200, 30)):
        x = _data(rng, n, p)
        cov = spectrum.pca(x, form="covariance")
        gram = spectrum.pca(x, form="gram")
        r = min(n - 1, p)
        np.testing.assert_allclose(gram["eigenvalues"][:r], cov["eigenvalues"][:r], rtol=1e-9)
        np.testing.assert_allclose(np.abs(np.sum(gram["components"][:, :r] * cov["components"][:, :r], 0)), 1,
                                   atol=1e-8)
        only = spectrum.pca(x, vectors=False)  # eigenvalues alone: the same numbers
        np.testing.assert_allclose(only["eigenvalues"][:r], cov["eigenvalues"][:r], rtol=1e-9)
    # A wide code's covariance spectrum: the Gram form's N values, then exact zeros to length D.
    z = rng.normal(size=(25, 120)).astype(np.float32)
    s = spectrum.covariance_spectrum(z)
    ref = np.linalg.eigvalsh(np.cov(z, rowvar=False))[::-1]
    assert s["form"] == "gram" and len(s["eigenvalues"]) == 120 and s["eigenvectors"].shape == (120, 25)
    np.testing.assert_allclose(s["eigenvalues"][:24], ref[:24], rtol=1e-9)
    assert s["eigenvalues"][25:] == [0.0] * 95 and abs(s["eigenvalues"][24]) < 1e-12 * ref[0]
    v = s["eigenvectors"][:, :24]
    np.testing.assert_allclose(v.T @ v, np.eye(24), atol=1e-9)
    np.testing.assert_allclose(np.cov(z, rowvar=False) @ v, v * ref[:24], atol=1e-9 * ref[0])
    assert np.all(s["eigenvectors"][:, 24] == 0)  # the centring's null direction: no axis


def test_gram_shuffle_floor_equals_the_covariance_one(monkeypatch):
    """One column block (the whole code): the Gram path's shuffle is the covariance path's shuffle
    drawn from the spawned generator, so the floors agree rank by rank; smaller blocks change the
    draws, not the distribution."""
    z = low_rank_codes(np.random.default_rng(2), n=40, d=150)
    monkeypatch.setattr(spectrum, "BLOCK_BYTES", 1 << 30)
    a = spectrum.shuffle_floor(z, np.random.default_rng(7), n_shuffles=4)
    zs = np.random.default_rng(7).spawn(1)[0].permuted(z, axis=0)  # the first draw, by hand
    ref = np.linalg.eigvalsh(np.cov(zs, rowvar=False))[::-1]
    mean_a = spectrum.shuffle_floor(z, np.random.default_rng(7), n_shuffles=1, quantile=None)
    np.testing.assert_allclose(mean_a[:39], ref[:39], rtol=1e-9)
    assert a.shape == (150,) and np.all(a[40:] == 0)
    monkeypatch.setattr(spectrum, "BLOCK_BYTES", 8 * 40 * 16)  # 16 columns a block
    b = spectrum.shuffle_floor(z, np.random.default_rng(7), n_shuffles=4)
    np.testing.assert_allclose(b[:10], a[:10], rtol=0.3)


def test_wide_code_analysis_path(monkeypatch):
    """D > N: Gram-form spectrum, floors, eigenvectors [D, N], and the ablation of the largest-variance
    units only (MAX_UNITS and MIN_WIDE made small here), with a linear decoder standing in for a model."""
    rng = np.random.default_rng(3)
    n, d = 60, 400
    z = low_rank_codes(rng, n=n, d=d).astype(np.float32)
    z[:, :7] = 0.0  # dead units
    zu = (0.05 * rng.normal(size=(n, d))).astype(np.float32)
    out, vecs = run_dir._spectrum(z, np.random.default_rng(0), zu)
    assert out["form"] == "gram" and len(out["eigenvalues"]) == d and vecs.shape == (d, n)
    assert out["dead_units"] == 7 and out["modes_above_floor"] == 5 and out["modes_above_untrained_max"] == 5
    assert len(out["noise_floor"]["shuffle_floor"]) == d and len(out["noise_floor"]["reference_floor"]) == d
    assert out["eigenvalues_nonzero"] <= n - 1 and out["modes_90"] <= 5
    monkeypatch.setattr(importance, "MAX_UNITS", 50)
    monkeypatch.setattr(importance, "MIN_WIDE", 20)
    w = rng.normal(size=(d, 12)).astype(np.float32) / np.sqrt(d)
    x = (z @ w).reshape(n, 3, 4)
    decode = lambda c: (np.asarray(c, np.float32) @ w).reshape(len(c), 3, 4)  # noqa: E731
    im = importance.importance_report(z, vecs, decode, x, decode_s=1e-6, budget_s=1.0)
    inc = np.asarray(im["unit_ablation_increase"])
    var = z.var(axis=0, ddof=1)
    assert im["units_ablated"] == 50 and np.isnan(inc).sum() == d - 50
    assert set(np.flatnonzero(~np.isnan(inc))) == set(np.argsort(-var, kind="stable")[:50])
    assert sorted(im["unit_rank"]) == list(range(d)) and not np.isnan(inc[im["unit_rank"][:50]]).any()
    assert im["baseline_loss"] == pytest.approx(0.0, abs=1e-10)
    assert im["keep_top_k"]["directions"][-1] == pytest.approx(0.0, abs=1e-8)  # all N directions: exact
    assert im["modes_for_loss_90"] <= 5
    # a slow decoder: the budget leaves the minimum of units and directions
    slow = importance.importance_report(z, vecs, decode, x, decode_s=1.0, budget_s=1.0)
    assert slow["units_ablated"] == 20 and len(slow["direction_ablation_increase"]) == 20


def test_top_pc_scores_are_the_svd_scores():
    z = low_rank_codes(np.random.default_rng(4), n=50, d=80)
    u, s, _ = np.linalg.svd(z - z.mean(0), full_matrices=False)
    sc = subspace.top_pc_scores(z, 4)
    np.testing.assert_allclose(np.abs(sc), np.abs(u[:, :4] * s[:4]), atol=1e-9)


def test_r2_table_uses_least_squares_and_r2():
    rng = np.random.default_rng(5)
    x = {s: rng.random((n, 6)) for s, n in (("train", 200), ("test", 80))}
    beta = rng.normal(size=6)
    y = {s: v @ beta + 1.5 for s, v in x.items()}
    codes = {s: np.c_[v[:, :3], np.zeros(len(v))] for s, v in x.items()}  # a dead unit: rank-deficient
    rows = {r["features"]: r for r in regression.r2_table(codes, x, y, n_pca=3)}
    assert rows["scaled inputs"]["r2/test"] == pytest.approx(1.0, abs=1e-10)  # exact linear target
    lhs = np.c_[codes["train"], np.ones(200)]
    coef = np.linalg.lstsq(lhs, y["train"], rcond=None)[0]
    pred = np.c_[codes["test"], np.ones(80)] @ coef
    ref = 1 - np.sum((y["test"] - pred) ** 2) / np.sum((y["test"] - y["test"].mean()) ** 2)
    assert rows["autoencoder features"]["r2/test"] == pytest.approx(ref, rel=1e-9)
    pca_row = rows["PCA (3 components)"]
    assert pca_row["explained_variance"] == pytest.approx(
        PCA(3).fit(x["train"]).explained_variance_ratio_.sum(), rel=1e-9)
    assert np.isnan(regression.r2(np.ones(5), np.arange(5.0)))
