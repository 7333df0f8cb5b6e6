"""Comparing representations: principal angles, linear CKA, CCA, seed agreement.

Two autoencoders trained from different seeds can learn the same information
in different coordinates (any rotation of the code is as good to a dense
decoder), so unit-by-unit comparison across seeds is meaningless. These
measures compare what is invariant: the subspace of example space R^N that
the codes span (principal angles, CCA) and the similarity structure between
examples (CKA).

Shapes: representations ``x`` [N, p], ``y`` [N, q] hold the same N examples
in the same order (rows = examples).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from aejax.analysis.spectrum import _as_2d, pca


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_2d(x, "x", 1), _as_2d(y, "y", 1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same rows (examples): {x.shape[0]} vs {y.shape[0]}")
    return x, y


def principal_angles(a, b) -> np.ndarray:
    """Principal angles between the column spans of ``a`` [N, p] and ``b`` [N, q].

    Orthonormal bases come from QR (the columns must be linearly independent);
    the cosines are the singular values of ``Qa^T Qb``. Small angles are taken
    from the sines instead (singular values of ``Qb - Qa Qa^T Qb``), as in
    Bjorck & Golub (1973), because arccos loses accuracy near 0.

    Returns min(p, q) angles in radians, ascending (0 = shared direction,
    pi/2 = orthogonal).
    """
    a, b = _pair(a, b)
    if a.shape[1] < b.shape[1]:
        a, b = b, a
    qa, _ = np.linalg.qr(a)  # [N, p]
    qb, _ = np.linalg.qr(b)  # [N, q], q <= p
    m = qa.T @ qb  # [p, q]
    cos = np.clip(np.linalg.svd(m, compute_uv=False), 0.0, 1.0)  # descending
    sin = np.clip(np.linalg.svd(qb - qa @ m, compute_uv=False)[::-1], 0.0, 1.0)  # ascending
    angles = np.where(cos**2 >= 0.5, np.arcsin(sin), np.arccos(cos))
    return np.sort(angles)


def linear_cka(x, y) -> float:
    """Linear centred kernel alignment (Kornblith et al., 2019, eq. 2).

    With column-centred ``x`` [N, p] and ``y`` [N, q]:
    ``||y^T x||_F^2 / (||x^T x||_F ||y^T y||_F)``, in [0, 1]. Invariant to
    orthogonal transforms and isotropic scaling of either representation, not
    to arbitrary invertible linear maps. Returns 0.0 when either
    representation is constant.
    """
    x, y = _pair(x, y)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else 0.0


def _inv_sqrt(c: np.ndarray, reg: float) -> np.ndarray:
    """(c + eps I)^(-1/2) for a symmetric PSD c, eps = reg * mean eigenvalue."""
    w, v = np.linalg.eigh(c)
    w = np.clip(w, 0.0, None)
    eps = reg * max(w.mean(), np.finfo(np.float64).tiny)
    return (v / np.sqrt(w + eps)) @ v.T


def canonical_correlations(x, y, reg: float = 1e-6) -> np.ndarray:
    """Canonical correlations between ``x`` [N, p] and ``y`` [N, q], descending.

    Singular values of ``Cxx^(-1/2) Cxy Cyy^(-1/2)`` with a ridge
    ``reg * mean eigenvalue`` added to each auto-covariance, so duplicated or
    dead units (rank-deficient codes) do not make the inverse blow up.
    Returns min(p, q) values in [0, 1].
    """
    x, y = _pair(x, y)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    n = x.shape[0]
    cxx, cyy, cxy = x.T @ x / n, y.T @ y / n, x.T @ y / n
    t = _inv_sqrt(cxx, reg) @ cxy @ _inv_sqrt(cyy, reg)  # [p, q]
    return np.clip(np.linalg.svd(t, compute_uv=False), 0.0, 1.0)


def cca_similarity(x, y, k: int | None = None, reg: float = 1e-6) -> float:
    """Mean of the top-``k`` canonical correlations of ``x`` [N, p], ``y`` [N, q].

    ``k`` defaults to min(p, q). See :func:`canonical_correlations`.
    """
    rho = canonical_correlations(x, y, reg=reg)
    k = rho.size if k is None else int(k)
    if not 1 <= k <= rho.size:
        raise ValueError(f"k must be between 1 and min(p, q) = {rho.size}, got {k}")
    return float(rho[:k].mean())


def top_pc_scores(z, k: int) -> np.ndarray:
    """Scores of the top-``k`` principal components of codes ``z`` [N, D] -> [N, k].

    Column j is the centred code projected on the j-th covariance eigenvector
    (:func:`aejax.analysis.spectrum.pca`; ``U_k S_k`` of the SVD of the centred
    codes, up to the sign of each column).
    """
    z = _as_2d(z)
    if not 1 <= k <= min(z.shape):
        raise ValueError(f"k must be between 1 and min(N, D) = {min(z.shape)}, got {k}")
    fit = pca(z, k)
    return (z - fit["mean"]) @ fit["components"]


def subspace_agreement(codes_by_seed: Sequence, k: int) -> dict:
    """Do models from different seeds learn the same top-k subspace?

    ``codes_by_seed`` is a list of S >= 2 code matrices [N, D_s] of the same
    N test examples in the same order. For each, the top-``k`` principal
    component scores [N, k] are computed; their span in example space R^N is
    what the model's k leading modes represent about these examples, and it
    is invariant to any rotation or isotropic scaling of the code. For every
    pair of models this reports the principal angles between those spans
    (mean and max, radians), their ``overlap`` (mean squared cosine, 1 = same
    subspace, about k/N for unrelated random subspaces), linear CKA of the
    top-k scores and linear CKA of the full codes.

    Returns a JSON-able dict: ``k``, ``n_models``, ``pairs`` (list of dicts
    with ``i``, ``j``, ``mean_angle``, ``max_angle``, ``overlap``,
    ``cka_topk``, ``cka_full``) and the means of those five over pairs
    (``mean_angle``, ``max_angle``, ``overlap``, ``cka_topk``, ``cka_full``).
    """
    codes = [_as_2d(z, f"codes_by_seed[{i}]") for i, z in enumerate(codes_by_seed)]
    if len(codes) < 2:
        raise ValueError(f"need at least 2 code matrices, got {len(codes)}")
    n = codes[0].shape[0]
    for i, z in enumerate(codes):
        if z.shape[0] != n:
            raise ValueError(f"codes_by_seed[{i}] has {z.shape[0]} examples, [0] has {n}")
    scores = [top_pc_scores(z, k) for z in codes]
    pairs = []
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            ang = principal_angles(scores[i], scores[j])
            pairs.append({
                "i": i, "j": j,
                "mean_angle": float(ang.mean()),
                "max_angle": float(ang.max()),
                "overlap": float(np.mean(np.cos(ang) ** 2)),
                "cka_topk": linear_cka(scores[i], scores[j]),
                "cka_full": linear_cka(codes[i], codes[j]),
            })
    out = {"k": int(k), "n_models": len(codes), "pairs": pairs}
    for key in ("mean_angle", "max_angle", "overlap", "cka_topk", "cka_full"):
        out[key] = float(np.mean([p[key] for p in pairs]))
    return out
