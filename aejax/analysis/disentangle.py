"""Disentanglement metrics against known generative factors: MIG, SAP, DCI.

Computed as google-research/disentanglement_lib computes them
(``evaluation/metrics/mig.py``, ``sap_score.py``, ``dci.py``), on arrays:

- MIG (Chen et al., 2018): codes discretised per unit into ``num_bins=20``
  equal-width histogram bins; discrete mutual information I(code_d; factor_k)
  with ``sklearn.metrics.mutual_info_score`` (nats); per factor, the gap
  between the two most informative units divided by the factor's entropy;
  mean over factors.
- SAP (Kumar et al., 2018): score matrix [D, K] of how well each single unit
  predicts each factor -- continuous factors: R^2 of a linear fit (the squared
  correlation); discrete factors: test accuracy of a one-feature
  ``LinearSVC(C=0.01, class_weight="balanced")`` on the standardised unit
  (the library does not standardise); per factor, the gap between
  the two best units; mean over factors.
- DCI (Eastwood & Williams, 2018): importance matrix R [D, K] from one
  predictor per factor; disentanglement = 1 - entropy (base K) of each code's
  row, weighted by the code's share of total importance; completeness = 1 -
  entropy (base D) of each factor's column, weighted likewise;
  informativeness = the predictors' accuracy (discrete) or R^2 (continuous).

Differences from disentanglement_lib, all documented where they apply:
codes and factors are [N, D] / [N, K] with rows = examples (the library uses
the transpose); one sample is split into train / test with an explicit rng
(the library draws two samples); DCI uses a random forest by default (the
library's ``GradientBoostingClassifier`` is available as ``model="gbt"``,
much slower); continuous factors are histogram-discretised into ``num_bins``
bins for MIG; factors with zero entropy are skipped in MIG; D = 1 is allowed
(the runner-up score is then 0).

Which factors are continuous: ``continuous_factors`` is a bool for all, a
sequence of bools per factor, or None to decide per factor: a factor is
discrete when it has at most ``num_bins`` distinct values, or when all its
values are integers and there are at most 100 of them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.stats
from sklearn.metrics import mutual_info_score

from aejax.analysis.spectrum import _as_2d


def _codes_factors(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    codes = _as_2d(codes, "codes")
    factors = _as_2d(factors, "factors")
    if codes.shape[0] != factors.shape[0]:
        raise ValueError(f"codes and factors must have the same rows (examples): "
                         f"{codes.shape[0]} vs {factors.shape[0]}")
    return codes, factors


def factor_is_continuous(factors, continuous_factors: bool | Sequence[bool] | None = None,
                         num_bins: int = 20) -> np.ndarray:
    """Which factor columns of ``factors`` [N, K] are continuous -> bool [K].

    See the module docstring for the rule applied when ``continuous_factors``
    is None.
    """
    factors = np.asarray(factors, dtype=np.float64)
    k = factors.shape[1]
    if continuous_factors is None:
        out = np.empty(k, dtype=bool)
        for j in range(k):
            col = factors[:, j]
            n_unique = np.unique(col).size
            integral = np.all(col == np.round(col))
            out[j] = not (n_unique <= num_bins or (integral and n_unique <= 100))
        return out
    out = np.broadcast_to(np.asarray(continuous_factors, dtype=bool), (k,)).copy()
    return out


def histogram_discretize(x, num_bins: int = 20) -> np.ndarray:
    """Per-column equal-width histogram bins of ``x`` [N, D] -> int [N, D].

    As disentanglement_lib's ``_histogram_discretize``: ``np.digitize`` against
    the left edges of ``np.histogram(column, num_bins)``; labels in 1..num_bins.
    A constant column lands in a single bin.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.int64)
    for i in range(x.shape[1]):
        edges = np.histogram(x[:, i], num_bins)[1][:-1]
        out[:, i] = np.digitize(x[:, i], edges)
    return out


def _discrete_factors(factors, continuous: np.ndarray, num_bins: int) -> np.ndarray:
    """Integer labels [N, K]: discrete factors label-encoded, continuous binned."""
    out = np.empty(factors.shape, dtype=np.int64)
    for j in range(factors.shape[1]):
        if continuous[j]:
            out[:, j] = histogram_discretize(factors[:, j:j + 1], num_bins)[:, 0]
        else:
            out[:, j] = np.unique(factors[:, j], return_inverse=True)[1]
    return out


def discrete_mutual_info(codes_d, factors_d) -> np.ndarray:
    """Mutual information (nats) of discrete codes [N, D] and factors [N, K] -> [D, K]."""
    d, k = codes_d.shape[1], factors_d.shape[1]
    m = np.zeros((d, k))
    for i in range(d):
        for j in range(k):
            m[i, j] = mutual_info_score(factors_d[:, j], codes_d[:, i])
    return m


def discrete_entropy(factors_d) -> np.ndarray:
    """Entropy (nats) of each discrete factor column [N, K] -> [K]."""
    return np.array([mutual_info_score(f, f) for f in factors_d.T])


def mig(codes, factors, num_bins: int = 20,
        continuous_factors: bool | Sequence[bool] | None = None) -> dict:
    """Mutual information gap of codes [N, D] with respect to factors [N, K].

    Per factor k: (I(z_best; v_k) - I(z_second; v_k)) / H(v_k) with codes
    histogram-discretised into ``num_bins`` bins; the score is the mean over
    factors with non-zero entropy. 1 = each factor captured by exactly one
    unit; 0 = no unit informative, or two units equally informative.

    Returns a JSON-able dict: ``mig`` (float), ``mig_per_factor`` (list [K],
    NaN for a constant factor), ``mutual_info`` (list [D][K], nats),
    ``factor_entropy`` (list [K], nats).
    """
    codes, factors = _codes_factors(codes, factors)
    cont = factor_is_continuous(factors, continuous_factors, num_bins)
    fd = _discrete_factors(factors, cont, num_bins)
    m = discrete_mutual_info(histogram_discretize(codes, num_bins), fd)  # [D, K]
    h = discrete_entropy(fd)  # [K]
    s = np.sort(m, axis=0)[::-1]  # descending over codes
    second = s[1] if s.shape[0] > 1 else np.zeros(s.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(h > 0, (s[0] - second) / h, np.nan)
    score = float(np.nanmean(per)) if np.any(h > 0) else 0.0
    return {"mig": score, "mig_per_factor": per.tolist(), "mutual_info": m.tolist(),
            "factor_entropy": h.tolist()}


def _split(n: int, rng: np.random.Generator, test_fraction: float):
    """Random train / test row indices."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    perm = rng.permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    if n - n_test < 1:
        raise ValueError(f"too few examples ({n}) for a train / test split")
    return perm[n_test:], perm[:n_test]


def sap(codes, factors, rng: np.random.Generator | None = None,
        continuous_factors=None, test_fraction: float = 0.5, num_bins: int = 20) -> dict:
    """Separated attribute predictability of codes [N, D] w.r.t. factors [N, K].

    Score matrix S [D, K]: continuous factor k -> squared correlation of unit d
    and factor k over all N examples (0 for a unit with variance <= 1e-12);
    discrete factor k -> test accuracy of ``LinearSVC(C=0.01,
    class_weight="balanced")`` trained on unit d alone, standardised with the
    training rows' mean and std (rows split by ``rng``,
    ``test_fraction`` for testing). SAP = mean over factors of the gap between
    the two largest entries of the factor's column.

    A one-feature linear classifier cannot separate the middle values of a
    many-valued discrete factor, so even a perfect code scores well below 1
    in discrete mode; disentanglement_lib's tests therefore use
    ``continuous_factors=True`` on integer factors, and so should oracles.

    Returns a JSON-able dict: ``sap`` (float), ``sap_per_factor`` (list [K]),
    ``score_matrix`` (list [D][K]).
    """
    codes, factors = _codes_factors(codes, factors)
    n, d = codes.shape
    k = factors.shape[1]
    cont = factor_is_continuous(factors, continuous_factors, num_bins)
    s = np.zeros((d, k))
    if np.any(cont):
        zc = codes - codes.mean(axis=0)
        fc = factors[:, cont] - factors[:, cont].mean(axis=0)
        var_z = np.sum(zc**2, axis=0) / (n - 1)  # [D]
        var_f = np.sum(fc**2, axis=0) / (n - 1)  # [Kc]
        cov = zc.T @ fc / (n - 1)  # [D, Kc]
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = cov**2 / (var_z[:, None] * var_f[None, :])
        r2[(var_z <= 1e-12)[:, None] | (var_f <= 0)[None, :]] = 0.0
        s[:, cont] = r2
    if not np.all(cont):
        from sklearn.svm import LinearSVC

        if rng is None:
            raise ValueError("sap needs an rng for the train / test split of discrete factors")
        tr, te = _split(n, rng, test_fraction)
        for j in np.flatnonzero(~cont):
            y = factors[:, j]
            if np.unique(y[tr]).size < 2:
                continue  # nothing to classify: every unit scores 0
            for i in range(d):
                x = codes[:, i:i + 1]
                # Standardise the unit (train statistics): C=0.01 with liblinear's
                # penalised intercept assumes codes on the N(0, 1) prior's scale;
                # an autoencoder's codes are not, and a 0/1 unit would score chance.
                sd = x[tr].std()
                x = (x - x[tr].mean()) / (sd if sd > 0 else 1.0)
                clf = LinearSVC(C=0.01, class_weight="balanced")
                clf.fit(x[tr], y[tr])
                s[i, j] = np.mean(clf.predict(x[te]) == y[te])
    srt = np.sort(s, axis=0)
    second = srt[-2] if d > 1 else np.zeros(k)
    per = srt[-1] - second
    return {"sap": float(per.mean()), "sap_per_factor": per.tolist(), "score_matrix": s.tolist()}


def dci_disentanglement_per_code(importance) -> np.ndarray:
    """1 - entropy (base K) of each code's importance row [D, K] -> [D]."""
    r = np.asarray(importance, dtype=np.float64)
    if r.shape[1] == 1:
        return np.ones(r.shape[0])
    return 1.0 - scipy.stats.entropy(r.T + 1e-11, base=r.shape[1])


def dci_disentanglement(importance) -> float:
    """DCI disentanglement of an importance matrix [D, K] (codes x factors).

    Per-code scores weighted by each code's share of the total importance
    (uniform weights when the matrix is all zeros), as disentanglement_lib.
    """
    r = np.asarray(importance, dtype=np.float64)
    per = dci_disentanglement_per_code(r)
    if r.sum() == 0.0:
        r = np.ones_like(r)
    return float(np.sum(per * r.sum(axis=1) / r.sum()))


def dci_completeness_per_factor(importance) -> np.ndarray:
    """1 - entropy (base D) of each factor's importance column [D, K] -> [K]."""
    r = np.asarray(importance, dtype=np.float64)
    if r.shape[0] == 1:
        return np.ones(r.shape[1])
    return 1.0 - scipy.stats.entropy(r + 1e-11, base=r.shape[0])


def dci_completeness(importance) -> float:
    """DCI completeness of an importance matrix [D, K] (codes x factors)."""
    r = np.asarray(importance, dtype=np.float64)
    per = dci_completeness_per_factor(r)
    if r.sum() == 0.0:
        r = np.ones_like(r)
    return float(np.sum(per * r.sum(axis=0) / r.sum()))


def _dci_predictor(model: str, discrete: bool, seed: int):
    """A fresh scikit-learn predictor for one factor."""
    if model == "forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        # All features at every split (bagged trees): with feature subsampling a
        # split is forced onto an irrelevant unit whenever the right one is not
        # drawn, which leaks importance and biases disentanglement down.
        cls = RandomForestClassifier if discrete else RandomForestRegressor
        return cls(n_estimators=10, max_features=None, max_depth=8, min_samples_leaf=5,
                   random_state=seed, n_jobs=1)
    if model == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

        cls = GradientBoostingClassifier if discrete else GradientBoostingRegressor
        return cls(random_state=seed)
    raise ValueError(f"model must be 'forest', 'gbt' or 'lasso', got {model!r}")


def _lasso_importance(ztr, zte, ytr, yte, discrete: bool, alpha: float):
    """Importance [D] and train / test score of a lasso on standardised codes."""
    from sklearn.linear_model import Lasso

    mu, sd = ztr.mean(axis=0), ztr.std(axis=0)
    sd[sd == 0] = 1.0
    xtr, xte = (ztr - mu) / sd, (zte - mu) / sd
    if discrete:
        classes, ytr_i = np.unique(ytr, return_inverse=True)
        target = np.eye(classes.size)[ytr_i]  # one-hot [N, C]
        reg = Lasso(alpha=alpha).fit(xtr, target)
        imp = np.abs(np.atleast_2d(reg.coef_)).mean(axis=0)
        acc = [np.mean(classes[np.argmax(reg.predict(x).reshape(len(x), -1), axis=1)] == y)
               for x, y in ((xtr, ytr), (xte, yte))]
        return imp, acc[0], acc[1]
    reg = Lasso(alpha=alpha).fit(xtr, ytr)
    return np.abs(reg.coef_), reg.score(xtr, ytr), reg.score(xte, yte)


def dci(codes, factors, rng: np.random.Generator, model: str = "forest",
        continuous_factors=None, test_fraction: float = 0.3, num_bins: int = 20,
        lasso_alpha: float = 0.01) -> dict:
    """Disentanglement, completeness and informativeness of codes [N, D].

    One predictor per factor (rows split into train / test by ``rng``):
    ``model="forest"`` (default; random forest, 10 bagged trees of depth <= 8,
    importance = impurity decrease), ``"gbt"`` (scikit-learn gradient boosting
    with default settings, as disentanglement_lib; slow) or ``"lasso"`` (L1
    linear model on standardised codes, importance = |coefficient|; a
    discrete factor is regressed one-hot and predicted by argmax, as Eastwood
    & Williams' lasso variant). Discrete factors use classifiers and report
    accuracy; continuous factors use regressors and report R^2.

    Read disentanglement and completeness together with informativeness:
    both are computed from the normalised importance matrix, so a code that
    predicts nothing can still look disentangled when a few tiny importances
    survive. The lasso variant shows this on pure-noise codes (disentanglement
    about 0.75 with informativeness at chance); the forest spreads noise
    importance evenly and scores about 0.

    Returns a JSON-able dict: ``disentanglement``, ``completeness``,
    ``informativeness_train``, ``informativeness_test`` (floats; the
    informativeness is the mean over factors), ``disentanglement_per_code``
    (list [D]), ``completeness_per_factor`` (list [K]),
    ``informativeness_per_factor`` (test, list [K]), ``importance_matrix``
    (list [D][K]), ``model``.
    """
    codes, factors = _codes_factors(codes, factors)
    d, k = codes.shape[1], factors.shape[1]
    cont = factor_is_continuous(factors, continuous_factors, num_bins)
    tr, te = _split(codes.shape[0], rng, test_fraction)
    r = np.zeros((d, k))
    info_tr, info_te = np.zeros(k), np.zeros(k)
    for j in range(k):
        ytr, yte = factors[tr, j], factors[te, j]
        discrete = not cont[j]
        if model == "lasso":
            r[:, j], info_tr[j], info_te[j] = _lasso_importance(
                codes[tr], codes[te], ytr, yte, discrete, lasso_alpha)
            continue
        pred = _dci_predictor(model, discrete, int(rng.integers(2**31 - 1)))
        pred.fit(codes[tr], ytr)
        r[:, j] = np.abs(np.nan_to_num(pred.feature_importances_))
        info_tr[j] = pred.score(codes[tr], ytr)  # accuracy or R^2
        info_te[j] = pred.score(codes[te], yte)
    return {
        "disentanglement": dci_disentanglement(r),
        "completeness": dci_completeness(r),
        "informativeness_train": float(info_tr.mean()),
        "informativeness_test": float(info_te.mean()),
        "disentanglement_per_code": dci_disentanglement_per_code(r).tolist(),
        "completeness_per_factor": dci_completeness_per_factor(r).tolist(),
        "informativeness_per_factor": info_te.tolist(),
        "importance_matrix": r.tolist(),
        "model": model,
    }
