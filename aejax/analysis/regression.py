"""Are reduced features useful? Linear regression R² from different feature sets (pure numpy).

The tabular seed reduces California housing to 7 autoencoder features. One
honest check of "useful" is downstream: fit an ordinary least-squares
regression (with intercept) of the held-out target on the features of the
training split, and report R² on the test split. :func:`r2_table` compares

- the autoencoder features (the codes, ``[N, D]``),
- all the scaled inputs (``[N, F]``, the upper reference a linear model gets),
- ``k`` PCA components of the scaled inputs, PCA fitted on the training split
  (the classical linear reduction to the same size as the code).

R² is ``1 - SS_res / SS_tot`` with ``SS_tot`` around the evaluated split's own
mean (scikit-learn's ``r2_score``): 0 means "no better than predicting the
mean", negative is worse than that.
"""
from __future__ import annotations

import numpy as np


def fit_linear(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of ``y ~ x @ w + b``; returns ``[w..., b]`` (shape [F + 1]).

    Rank-deficient ``x`` (dead ReLU code units, constant columns) is fine: the
    minimum-norm solution is taken.
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    xa = np.concatenate([x, np.ones((len(x), 1))], axis=1)  # [N, F + 1]
    coef, *_ = np.linalg.lstsq(xa, np.asarray(y, np.float64), rcond=None)
    return coef


def predict_linear(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x @ w + b`` for coefficients from :func:`fit_linear`. -> [N]."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    return x @ coef[:-1] + coef[-1]


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (nan when y is constant)."""
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0:
        return float("nan")
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot


def pca_fit(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of ``x`` [N, F]: ``(mean [F], components [k, F], explained variance ratio [k])``."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = s ** 2
    k = min(k, vt.shape[0])
    return mean, vt[:k], var[:k] / var.sum()


def pca_transform(mean: np.ndarray, components: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Project ``x`` [N, F] on the components: [N, k]."""
    return (np.asarray(x, np.float64) - mean) @ components.T


def r2_table(codes: dict, inputs: dict, y: dict, *, n_pca: int) -> list[dict]:
    """R² of linear regressions of ``y`` on three feature sets; fitted on 'train', scored on each split.

    ``codes``, ``inputs`` and ``y`` map split names ('train', 'test', ...) to the
    autoencoder codes [N, D], the scaled inputs [N, F] and the target [N].
    Returns one row per feature set: ``{"features": name, "n_features": k,
    "r2/train": ..., "r2/test": ..., ...}``; the PCA row also gives the
    fraction of the inputs' variance its components explain.
    """
    mean, comps, ratio = pca_fit(inputs["train"], n_pca)
    sets = {
        "autoencoder features": codes,
        "scaled inputs": inputs,
        f"PCA ({comps.shape[0]} components)": {s: pca_transform(mean, comps, v) for s, v in inputs.items()},
    }
    rows = []
    for name, feats in sets.items():
        coef = fit_linear(feats["train"], y["train"])
        row = {"features": name, "n_features": int(np.asarray(feats["train"]).reshape(len(y["train"]), -1).shape[1])}
        for split in y:
            row[f"r2/{split}"] = r2_score(y[split], predict_linear(coef, feats[split]))
        if name.startswith("PCA"):
            row["explained_variance"] = float(ratio.sum())
        rows.append(row)
    return rows
