"""Are reduced features useful? Linear regression R² from different feature sets (scikit-learn).

The tabular seed reduces California housing to 7 autoencoder features. One
honest check of "useful" is downstream: fit an ordinary least-squares
regression (with intercept, ``sklearn.linear_model.LinearRegression``) of the
held-out target on the features of the training split, and report R²
(``sklearn.metrics.r2_score``) on each split. :func:`r2_table` compares

- the autoencoder features (the codes, ``[N, D]``),
- all the scaled inputs (``[N, F]``, the upper reference a linear model gets),
- ``k`` PCA components of the scaled inputs, PCA fitted on the training split
  (:func:`aejax.analysis.spectrum.pca`: the classical linear reduction to the
  same size as the code).

R² is ``1 - SS_res / SS_tot`` with ``SS_tot`` around the evaluated split's own
mean: 0 means "no better than predicting the mean", negative is worse than
that; NaN when the target is constant on that split. Rank-deficient features
(dead ReLU code units, constant columns) are fine: scikit-learn's least
squares (``scipy.linalg.lstsq``) takes the minimum-norm solution.
"""
from __future__ import annotations

import numpy as np

from aejax.analysis.spectrum import pca


def _features(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x.reshape(len(x), -1)


def r2(y, pred) -> float:
    """R² of predictions ``pred`` [N] of ``y`` [N] (scikit-learn's ``r2_score``; NaN when y is constant)."""
    from sklearn.metrics import r2_score

    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    if np.all(y == y[0]):
        return float("nan")
    return float(r2_score(y, pred))


def pca_fit(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of ``x`` [N, F] (:func:`aejax.analysis.spectrum.pca`): ``(mean [F], components [k, F],
    explained variance ratio [k])``; ``k`` is clipped to min(N, F)."""
    x = _features(x)
    k = max(1, min(int(k), *x.shape))
    fit = pca(x, k)
    ratio = np.clip(fit["eigenvalues"][:k], 0.0, None) / fit["total_variance"]
    return fit["mean"], fit["components"].T, ratio


def pca_transform(mean: np.ndarray, components: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Project ``x`` [N, F] on the components [k, F]: [N, k]."""
    return (_features(x) - mean) @ components.T


def r2_table(codes: dict, inputs: dict, y: dict, *, n_pca: int) -> list[dict]:
    """R² of linear regressions of ``y`` on three feature sets; fitted on 'train', scored on each split.

    ``codes``, ``inputs`` and ``y`` map split names ('train', 'test', ...) to the
    autoencoder codes [N, D], the scaled inputs [N, F] and the target [N].
    Returns one row per feature set: ``{"features": name, "n_features": k,
    "r2/train": ..., "r2/test": ..., ...}``; the PCA row also gives the
    fraction of the inputs' variance its components explain.
    """
    from sklearn.linear_model import LinearRegression

    mean, comps, ratio = pca_fit(inputs["train"], n_pca)
    sets = {
        "autoencoder features": codes,
        "scaled inputs": inputs,
        f"PCA ({comps.shape[0]} components)": {s: pca_transform(mean, comps, v) for s, v in inputs.items()},
    }
    rows = []
    for name, feats in sets.items():
        reg = LinearRegression().fit(_features(feats["train"]), np.asarray(y["train"], np.float64))
        row = {"features": name, "n_features": int(_features(feats["train"]).shape[1])}
        for split in y:
            row[f"r2/{split}"] = r2(y[split], reg.predict(_features(feats[split])))
        if name.startswith("PCA"):
            row["explained_variance"] = float(ratio.sum())
        rows.append(row)
    return rows
