"""Covariance eigen-spectrum of latent codes, noise floors, and the PCA baseline.

The question this module answers: "my 100-unit code has about 30 covariance
eigenvalues greater than 0 -- do 30 modes matter?" With finite N and float
arithmetic almost every eigenvalue of a sample covariance is > 0, so "> 0" is
not a criterion. Use instead

- the fraction of variance: ``modes_90`` / ``modes_95`` / ``modes_99`` and the
  participation ratio (an effective dimension) from :func:`covariance_spectrum`;
- a noise floor, compared rank by rank with :func:`modes_above_floor`:

  * :func:`shuffle_floor` -- Horn's parallel analysis: permute every unit
    independently across examples. Marginal variances stay, correlations go,
    so the floor is the spectrum a code with *no correlation structure* and
    the same per-unit variances would show. A mode above it is a direction in
    which units co-vary more than chance. (A code whose units are already
    independent -- a diagonal covariance -- has no modes above this floor even
    if every unit carries signal; read it together with the per-unit
    importance in :mod:`aejax.analysis.importance`.)
  * :func:`marchenko_pastur_upper` -- the largest eigenvalue that pure
    isotropic noise of variance ``sigma2`` reaches with N examples in D dims.
  * an untrained encoder: encode the same inputs with the freshly initialised
    model and use its spectrum as the floor::

        floor = covariance_spectrum(z_untrained)["eigenvalues"]
        k = modes_above_floor(covariance_spectrum(z_trained)["eigenvalues"], floor)

    (same N and D; it tells how many modes training added beyond what a
    random projection of the data already has; see the caveat on rank-wise
    comparison in :func:`noise_floor_report`).

  :func:`noise_floor_report` computes all three at once.

Every spectrum and PCA here comes from :func:`pca`, the package's one PCA
(tested against ``sklearn.decomposition.PCA``): the eigen-decomposition of the
[D, D] covariance when D <= N, of the [N, N] Gram matrix of the centred data
when D > N (the same non-zero eigenvalues), so a code of D units on N examples
costs O(N D min(N, D) + min(N, D)^3) and the memory of the smaller matrix;
wide float32 codes are converted to float64 a column block at a time.

Shapes: codes ``z`` are ``[N, D]`` (rows = examples); raw data for the PCA
baseline is ``[N, ...]`` and is flattened to ``[N, P]``. Everything is computed
in float64.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

THRESHOLDS = {"modes_90": 0.90, "modes_95": 0.95, "modes_99": 0.99}


def _as_2d(z, name: str = "z", min_rows: int = 2) -> np.ndarray:
    """``z`` as a finite float64 [N, D] array (raises ValueError otherwise)."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [N, D], got shape {z.shape}")
    if z.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows (examples), got {z.shape[0]}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} contains NaN or inf")
    return z


BLOCK_BYTES = 64 << 20  # float64 bytes of one column block (Gram products, shuffles, projections)


def _blocks(n: int, d: int):
    """Column slices of an [N, D] array, each about ``BLOCK_BYTES`` in float64."""
    step = max(1, BLOCK_BYTES // (8 * max(n, 1)))
    return [slice(s, min(s + step, d)) for s in range(0, d, step)]


def column_mean_var(x) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and variance (ddof=1) of ``x`` [N, D] in float64, a column block at a time
    (no float64 copy of a float32 ``x``). -> ([D], [D])."""
    x = np.asarray(x)
    n, d = x.shape
    mean, var = np.empty(d), np.empty(d)
    for b in _blocks(n, d):
        xb = np.asarray(x[:, b], np.float64)
        mean[b] = xb.mean(axis=0)
        var[b] = np.square(xb - mean[b]).sum(axis=0) / (n - 1)
    return mean, var


def gram(x, mean=None, rng: np.random.Generator | None = None, dtype=np.float64) -> np.ndarray:
    """``(x - mean) (x - mean)^T`` [N, N] for ``x`` [N, D], a column block at a time.

    ``mean`` [D] defaults to the column means. With ``rng``, every column is first permuted
    across examples on its own (``rng.permuted(block, axis=0)``; the column means do not change):
    the Gram matrix of a shuffled copy without holding the copy. ``dtype``: the precision of each
    block's product (float32 halves the cost; the blocks are summed in float64).
    """
    x = np.asarray(x)
    n, d = x.shape
    if mean is None:
        mean = column_mean_var(x)[0]
    g = np.zeros((n, n))
    for b in _blocks(n, d):
        xb = x[:, b]
        if rng is not None:
            xb = rng.permuted(xb, axis=0)
        xb = xb.astype(dtype) - mean[b].astype(dtype)
        g += xb @ xb.T
    return g


def _fix_signs(v: np.ndarray) -> np.ndarray:
    """Columns of ``v`` with their largest-magnitude entry made positive (a deterministic sign)."""
    if v.size == 0:
        return v
    idx = np.argmax(np.abs(v), axis=0)
    signs = np.sign(v[idx, np.arange(v.shape[1])])
    signs[signs == 0] = 1.0
    return v * signs


def pca(x, k: int | None = None, *, vectors: bool = True, form: str = "auto") -> dict:
    """Principal component analysis of ``x`` [N, ...] (flattened to [N, P]); the package's one PCA.

    The eigen-decomposition (float64) of whichever of the two symmetric forms is smaller:

    - ``covariance``: ``np.cov(x, rowvar=False)`` [P, P] (ddof=1), ``np.linalg.eigh``; costs
      O(N P^2 + P^3), used when P <= N;
    - ``gram``: the centred Gram matrix ``Xc Xc^T / (N - 1)`` [N, N] (same non-zero eigenvalues);
      costs O(N^2 P + N^3), used when P > N. The axes are ``Xc^T u_i / sqrt((N - 1) lambda_i)``;
      axes of numerically zero variance (lambda_i <= N eps lambda_1, within the round-off of the
      Gram's eigendecomposition, eps = float64's) come out as zero vectors.

    ``form`` forces one of them ('auto': the cheaper). Memory: the matrix of the chosen form plus
    the components; a float32 ``x`` is converted to float64 a column block at a time in the Gram
    form (:data:`BLOCK_BYTES`).

    Matches ``sklearn.decomposition.PCA`` (``explained_variance_``, ``components_`` up to sign;
    tests/analysis/test_pca.py). Returns ``eigenvalues`` (ndarray [min(N, P)], descending, the
    variance along each axis, ddof=1; raw, so round-off can leave tiny negatives), ``mean`` [P],
    ``total_variance`` (sum of per-feature variances), ``n``, ``p``, ``form`` and, with
    ``vectors``, ``components`` [P, k] (orthonormal columns, the top-``k`` axes, each column's
    largest-magnitude entry positive; ``k`` defaults to min(N, P)).
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must be [N, ...] with N examples, got shape {x.shape}")
    x = x.reshape(x.shape[0], -1)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    n, p = x.shape
    if n < 2:
        raise ValueError(f"x needs at least 2 rows (examples), got {n}")
    if form == "auto":
        form = "gram" if p > n else "covariance"
    if form not in ("covariance", "gram"):
        raise ValueError(f"form must be 'auto', 'covariance' or 'gram', got {form!r}")
    kmax = min(n, p)
    k = kmax if k is None else int(k)
    if vectors and not 1 <= k <= kmax:
        raise ValueError(f"k must be between 1 and min(N, P) = {kmax}, got {k}")
    mean, var = column_mean_var(x)
    if not np.all(np.isfinite(var)):
        raise ValueError("x contains NaN or inf")
    out = {"mean": mean, "total_variance": float(var.sum()), "n": int(n), "p": int(p), "form": form}
    if form == "covariance":
        c = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))  # [P, P]
        if not vectors:
            out["eigenvalues"] = np.linalg.eigvalsh(c)[::-1][:kmax]
            return out
        w, v = np.linalg.eigh(c)  # ascending
        w, v = w[::-1][:kmax], v[:, ::-1][:, :k]
    else:
        g = gram(x, mean) / (n - 1)  # [N, N]
        if not vectors:
            out["eigenvalues"] = np.linalg.eigvalsh(g)[::-1][:kmax]
            return out
        w, u = np.linalg.eigh(g)
        w, u = w[::-1][:kmax], u[:, ::-1][:, :k]  # [kmax], [N, k]
        s = np.sqrt(np.clip(w[:k], 0.0, None) * (n - 1))  # singular values of Xc
        # eigh's round-off on G is ~N eps lambda_1, of either sign: below that a direction is noise.
        keep = w[:k] > max(w[0], 0.0) * n * np.finfo(np.float64).eps if k else np.zeros(0, bool)
        v = np.zeros((p, k))
        if keep.any():
            uk = u[:, keep] / s[keep]  # [N, k']
            for b in _blocks(n, p):  # v = Xc^T u / s, a column block at a time
                v[b, np.flatnonzero(keep)] = (np.asarray(x[:, b], np.float64) - mean[b]).T @ uk
    out["eigenvalues"] = w
    out["components"] = np.ascontiguousarray(_fix_signs(v))
    return out


def modes_to_explain(ratio, threshold: float) -> int:
    """Smallest k whose cumulative explained-variance ratio is >= ``threshold``.

    ``ratio`` is [D], sorted descending, non-negative. Returns 0 when the total
    is zero (no variance to explain). A relative tolerance of 1e-12 absorbs
    float round-off in the cumulative sum (0.5 + 0.3 + 0.1 counts as 0.9).
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    c = np.cumsum(ratio)
    if c.size == 0 or c[-1] <= 0:
        return 0
    target = threshold * c[-1] * (1.0 - 1e-12)
    k = int(np.searchsorted(c, target, side="left")) + 1
    return min(k, c.size)


def spectrum_stats(eigenvalues) -> dict:
    """Derived quantities of a spectrum; all values JSON-able.

    ``eigenvalues`` [D], sorted descending (raw, may hold tiny negatives from
    round-off). Negatives are clipped to 0 for the derived quantities only.

    Returns keys ``eigenvalues`` (raw, list), ``explained_variance_ratio``
    (list [D], clipped eigenvalues over their sum; sums to 1, all zeros when
    there is no variance), ``modes_90``, ``modes_95``, ``modes_99`` (int),
    ``participation_ratio`` ((sum lam)^2 / sum lam^2, between 1 and D; 0 when
    there is no variance).
    """
    w = np.asarray(eigenvalues, dtype=np.float64)
    wc = np.clip(w, 0.0, None)
    total = wc.sum()
    ratio = wc / total if total > 0 else np.zeros_like(wc)
    out = {
        "eigenvalues": w.tolist(),
        "explained_variance_ratio": ratio.tolist(),
    }
    for key, t in THRESHOLDS.items():
        out[key] = modes_to_explain(ratio, t)
    sq = float(np.sum(wc**2))
    out["participation_ratio"] = float(total**2 / sq) if sq > 0 else 0.0
    return out


def covariance_spectrum(z) -> dict:
    """Eigen-spectrum of the sample covariance of codes ``z`` [N, D] (ddof=1).

    Computed by :func:`pca`: from ``np.cov(z, rowvar=False)`` [D, D] with
    ``np.linalg.eigh`` (real eigenvalues, orthonormal eigenvectors;
    ``np.linalg.eig`` can return complex, unsorted values for the same
    matrix) when D <= N, from the [N, N] Gram matrix of the centred codes
    when D > N: it has the same non-zero eigenvalues, and the other D - N + 1
    (at least) are exactly 0 (listed as 0.0).

    Returns a dict. JSON-able keys: ``eigenvalues`` (list [D], descending, raw),
    ``explained_variance_ratio``, ``modes_90``, ``modes_95``, ``modes_99``,
    ``participation_ratio`` (see :func:`spectrum_stats`), ``total_variance``
    (trace of the covariance = sum of per-unit variances), ``n``, ``d``,
    ``form`` ('covariance' or 'gram'). ndarray key (drop it before
    ``json.dump``; see :func:`jsonable`): ``eigenvectors`` [D, min(N, D)],
    column i belongs to eigenvalue i, each column's sign fixed so that its
    largest-magnitude entry is positive (for D > N the eigenvectors of the
    zero eigenvalues are left out: any orthonormal basis of the rest would
    do; columns of numerically zero variance are zero vectors).
    """
    z = _as_2d(z)
    n, d = z.shape
    fit = pca(z)
    w = np.concatenate([fit["eigenvalues"], np.zeros(d - fit["eigenvalues"].size)])
    out = spectrum_stats(w)
    out["total_variance"] = fit["total_variance"]
    out["n"], out["d"], out["form"] = int(n), int(d), fit["form"]
    out["eigenvectors"] = fit["components"]
    return out


def jsonable(result: dict) -> dict:
    """``result`` without its ndarray values (for ``json.dump``)."""
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}


def shuffle_floor(z, rng: np.random.Generator, n_shuffles: int = 20,
                  quantile: float | None = 0.95) -> np.ndarray:
    """Per-rank noise floor from codes whose units were shuffled independently.

    Each of ``n_shuffles`` times, every column of ``z`` [N, D] is permuted
    across examples on its own (``rng.permuted(z, axis=0)``): per-unit
    variances are kept, correlations between units are destroyed. The
    covariance eigenvalues of each shuffled copy are sorted descending.
    When D > N they come from the [N, N] Gram matrix of the shuffled copy,
    built a column block at a time (:func:`gram`; the copy is never held
    whole) with float32 products for a float32 ``z`` (a floor needs no more:
    the error is ~1e-6 of the largest eigenvalue), and the other D - N
    eigenvalues are 0; the random stream then differs from the D <= N path
    (a block at a time, one generator per shuffle from ``rng.spawn``), not
    its distribution; these shuffles run in parallel, one per core.

    Returns [D]: for each rank, the ``quantile`` (default the 95th percentile)
    of the shuffled eigenvalues over the shuffles, or their mean when
    ``quantile`` is None. Compare with :func:`modes_above_floor`.
    """
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"z must be a 2-D array [N >= 2, D], got shape {z.shape}")
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be >= 1, got {n_shuffles}")
    n, d = z.shape
    spectra = np.zeros((n_shuffles, d))
    if d <= n:
        z = _as_2d(z)
        for s in range(n_shuffles):
            zs = rng.permuted(z, axis=0)
            spectra[s] = np.linalg.eigvalsh(np.atleast_2d(np.cov(zs, rowvar=False)))[::-1]
    else:
        mean, var = column_mean_var(z)
        if not np.all(np.isfinite(var)):
            raise ValueError("z contains NaN or inf")
        dtype = np.float32 if z.dtype == np.float32 else np.float64

        def one(r: np.random.Generator) -> np.ndarray:
            return np.linalg.eigvalsh(gram(z, mean, r, dtype) / (n - 1))[::-1]

        # One generator per shuffle (rng.spawn: the same floor whatever the number of workers),
        # the shuffles spread over the cores (numpy's BLAS and LAPACK release the GIL).
        gens = rng.spawn(n_shuffles)
        workers = min(n_shuffles, os.cpu_count() or 1)
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                spectra[:, :n] = np.stack(list(pool.map(one, gens)))
        else:
            spectra[:, :n] = np.stack([one(g) for g in gens])
    if quantile is None:
        return spectra.mean(axis=0)
    return np.quantile(spectra, quantile, axis=0)


def marchenko_pastur_upper(n: int, d: int, sigma2: float = 1.0) -> float:
    """Upper edge of the Marchenko-Pastur law: ``(1 + sqrt(d / n))**2 * sigma2``.

    The largest sample-covariance eigenvalue that i.i.d. noise of variance
    ``sigma2`` in ``d`` dimensions reaches (for large n, d) with ``n``
    examples. A scalar floor for :func:`modes_above_floor`.
    """
    if n <= 0 or d <= 0:
        raise ValueError(f"n and d must be positive, got n={n}, d={d}")
    return float((1.0 + np.sqrt(d / n)) ** 2 * sigma2)


def modes_above_floor(eigenvalues, floor) -> int:
    """Number of leading modes whose eigenvalue is strictly above the floor.

    ``eigenvalues`` [D], sorted descending. ``floor`` is a scalar (compare every
    eigenvalue with it) or an array [D] (compare rank by rank, eigenvalue i
    with floor i, as in parallel analysis). Counting stops at the first rank
    that is not above its floor, so the result is "the first k modes stand out
    of the noise"; for a scalar floor this equals ``sum(eigenvalues > floor)``.
    """
    w = np.asarray(eigenvalues, dtype=np.float64)
    f = np.broadcast_to(np.asarray(floor, dtype=np.float64), w.shape)
    below = np.flatnonzero(~(w > f))
    return int(below[0]) if below.size else int(w.size)


def noise_floor_report(z, rng: np.random.Generator, n_shuffles: int = 20,
                       quantile: float = 0.95, z_reference=None,
                       sigma2: float | None = None, eigenvalues=None) -> dict:
    """How many modes of codes ``z`` [N, D] stand above each noise floor.

    Floors: the shuffle floor (:func:`shuffle_floor`), the Marchenko-Pastur
    edge with noise variance ``sigma2`` (default: the median eigenvalue, a
    heuristic that holds when fewer than half the modes carry signal) and,
    when ``z_reference`` [N', D] is given (e.g. the untrained encoder's codes
    of the same inputs), that code's spectrum rank by rank.

    Returns a JSON-able dict: ``modes_above_shuffle``, ``shuffle_floor`` (list
    [D]), ``modes_above_mp``, ``mp_floor``, ``mp_sigma2``, and, with a
    reference, ``modes_above_reference`` (rank by rank),
    ``modes_above_reference_max`` (above the reference's largest eigenvalue)
    and ``reference_floor`` (list [D]).

    Rank-by-rank comparison with a reference spectrum over-counts when the
    reference has no dominant modes of its own: once the k signal modes are
    passed, rank k + i of ``z`` meets the i-th noise mode but is compared
    with the reference's (smaller) rank k + i. The shuffle floor avoids this
    because shuffling keeps the total variance; for a reference, read the
    rank-wise count as an upper and ``modes_above_reference_max`` as a lower
    bound.

    ``eigenvalues`` [D]: the spectrum of ``z`` when the caller has it (not
    recomputed). Every spectrum here costs the smaller of the covariance and
    Gram forms (:func:`pca`).
    """
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"z must be a 2-D array [N >= 2, D], got shape {z.shape}")
    n, d = z.shape
    if eigenvalues is None:
        w = np.asarray(covariance_spectrum(z)["eigenvalues"])
    else:
        w = np.asarray(eigenvalues, np.float64)
        if w.shape != (d,):
            raise ValueError(f"eigenvalues has shape {w.shape}, z has {d} units")
    sf = shuffle_floor(z, rng, n_shuffles=n_shuffles, quantile=quantile)
    if sigma2 is None:
        sigma2 = float(np.median(np.clip(w, 0.0, None)))
    mp = marchenko_pastur_upper(n, d, sigma2)
    out = {
        "modes_above_shuffle": modes_above_floor(w, sf),
        "shuffle_floor": sf.tolist(),
        "shuffle_quantile": quantile,
        "n_shuffles": int(n_shuffles),
        "modes_above_mp": modes_above_floor(w, mp),
        "mp_floor": mp,
        "mp_sigma2": float(sigma2),
    }
    if z_reference is not None:
        fit = pca(z_reference, vectors=False)
        ref = np.concatenate([fit["eigenvalues"], np.zeros(max(fit["p"] - fit["eigenvalues"].size, 0))])
        if ref.shape != w.shape:
            raise ValueError(f"z_reference has {ref.size} units, z has {w.size}")
        out["modes_above_reference"] = modes_above_floor(w, ref)
        out["modes_above_reference_max"] = modes_above_floor(w, ref[0])
        out["reference_floor"] = ref.tolist()
    return out


def _flatten(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"{name} must be [N, ...] with N examples, got shape {x.shape}")
    x = x.reshape(x.shape[0], -1)  # [N, P]
    return _as_2d(x, name)


def pca_baseline(x, k: int | None = None) -> dict:
    """PCA of raw data ``x`` [N, ...] (flattened to [N, P]) with its spectrum's statistics.

    :func:`pca` (the covariance form when N >= P, else the [N, N] Gram
    matrix) plus :func:`spectrum_stats`. Returns the keys of
    :func:`spectrum_stats` (``eigenvalues`` has min(N, P) entries,
    descending) plus ``total_variance``, ``n``, ``p`` (JSON-able) and the
    ndarrays ``mean`` [P] and ``components`` [P, k] (the top-``k`` principal
    axes as orthonormal columns; all min(N, P) when ``k`` is None).
    """
    x = _flatten(x, "x")
    fit = pca(x, k)
    out = spectrum_stats(fit["eigenvalues"])
    out["total_variance"] = fit["total_variance"]
    out["n"], out["p"] = fit["n"], fit["p"]
    out["mean"] = fit["mean"]
    out["components"] = fit["components"]
    return out


def pca_reconstruction_mse(x_train, x_test, k: int | Sequence[int]):
    """Test MSE of the rank-k PCA reconstruction fitted on ``x_train``.

    PCA (mean and axes) is fitted on ``x_train`` [N, ...]; each example of
    ``x_test`` [M, ...] is reconstructed as ``mean + V_k V_k^T (x - mean)``.
    MSE = mean over features and examples of the squared error, on the data's
    own scale (the ``test/mse`` convention). ``k`` an int gives a float; a
    sequence of ints gives a list of floats (one fit for all). ``k = 0`` is
    the mean-only reconstruction.
    """
    xtr = _flatten(x_train, "x_train")
    xte = _flatten(x_test, "x_test")
    if xte.shape[1] != xtr.shape[1]:
        raise ValueError(f"x_test has {xte.shape[1]} features, x_train {xtr.shape[1]}")
    ks = [int(k)] if np.isscalar(k) else [int(i) for i in k]
    if min(ks) < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    fit = pca_baseline(xtr, k=max(max(ks), 1))
    xc = xte - fit["mean"]  # [M, P]
    scores = xc @ fit["components"]  # [M, kmax]
    captured = np.concatenate([[0.0], np.cumsum(np.sum(scores**2, axis=0))])
    total = float(np.sum(xc**2))
    mses = [max(total - captured[i], 0.0) / xc.size for i in ks]
    return mses[0] if np.isscalar(k) else mses
