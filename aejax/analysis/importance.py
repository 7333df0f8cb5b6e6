"""Which latent units matter: variance, active units and ablation importance.

Variance says how much a unit moves; ablation says how much the decoder needs
it. A unit can vary a lot and still be ignored by the decoder (or be
redundant with another unit), so the ranking to report for "which neurons
learn the important features" is :func:`ablation_importance` +
:func:`rank_units`; variance and active units are the cheap first look.

Shapes: codes ``z`` / posterior means ``mu`` are ``[N, D]`` (rows = examples).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from aejax.analysis.spectrum import _as_2d, column_mean_var


def unit_variance(z) -> np.ndarray:
    """Per-unit variance of codes ``z`` [N, D] over examples (ddof=1) -> [D].

    Equals the diagonal of ``np.cov(z, rowvar=False)``.
    """
    z = _as_2d(z)
    return z.var(axis=0, ddof=1)


def active_units(mu, threshold: float = 0.01) -> dict:
    """Active units in the sense of Burda et al. (2016), IWAE, Sec. 5.2.

    A unit u is active when ``Cov_x(E[u | x]) > threshold``, i.e. when the
    variance over examples of its posterior mean exceeds 0.01. ``mu`` [N, D]
    holds E[z | x] per example (the encoder mean of a VAE, or the code of a
    deterministic autoencoder). The threshold is absolute: it assumes codes on
    the N(0, 1) prior's scale, so for an unregularised autoencoder compare
    units relative to each other as well.

    Returns ``{"count": int, "mask": bool ndarray [D], "variance": ndarray [D]}``
    (the variance uses ddof=1).
    """
    var = unit_variance(mu)
    mask = var > threshold
    return {"count": int(mask.sum()), "mask": mask, "variance": var}


def mse_per_example(x_hat, x) -> np.ndarray:
    """Default ``loss_fn``: squared error averaged over all non-batch axes -> [N].

    Differences are taken in the inputs' dtype, the mean is accumulated in
    float64.
    """
    x_hat, x = np.asarray(x_hat), np.asarray(x)
    err = np.square(x_hat - x)
    return err.reshape(err.shape[0], -1).mean(axis=1, dtype=np.float64)


def _per_example(loss_fn, x_hat, x, n: int) -> np.ndarray:
    loss = np.asarray(loss_fn(x_hat, x), dtype=np.float64)
    if loss.shape != (n,):
        raise ValueError(
            f"loss_fn must return per-example losses of shape ({n},), got {loss.shape}; "
            "reduce over features only, not over the batch")
    return loss


def ablation_importance(z, decode_fn: Callable[[np.ndarray], np.ndarray], x_target,
                        loss_fn: Callable | None = None, directions=None,
                        batch_size: int = 8192, units=None, block_bytes: int = 256 << 20) -> dict:
    """Loss increase when one unit (or one direction) of the code is ablated.

    For each unit d, ``z[:, d]`` is replaced by its mean over the N examples,
    the ablated codes are decoded with ``decode_fn`` and the reconstruction
    loss against ``x_target`` [N, ...] is compared with the unablated one.
    With ``directions`` [D, M] (orthonormal columns, e.g. the covariance
    eigenvectors from :func:`aejax.analysis.spectrum.covariance_spectrum`),
    direction m is ablated instead: the code's coordinate along it is set to
    its mean, ``z - ((z - mean) @ v) v^T`` -- this answers "which modes
    matter" rather than "which units".

    ``decode_fn`` maps a numpy [B, D] array (in ``z``'s dtype) to a numpy
    [B, ...] array (wrap a jitted ``model.apply`` and ``np.asarray``; the last
    call of a pass may have fewer rows, so pad inside ``decode_fn`` if a
    recompile per shape matters). It is called on at most
    ``batch_size`` rows at a time: the D ablated copies of ``z`` are built a
    chunk of units at a time, so memory stays at about ``batch_size`` decoded
    examples and ``block_bytes`` of ablated codes. ``loss_fn(x_hat, x)``
    returns per-example losses [B]; the default is the squared error averaged
    over features. The loss of a configuration is the mean of the per-example
    losses over the N examples. ``units`` (int indices [M]) ablates only those
    units (a wide code's leading units; the rest cost nothing).

    Returns ``{"baseline_loss": float, "ablated_loss": ndarray [M],
    "increase": ndarray [M]}`` with ``increase = ablated_loss - baseline_loss``
    (M = D for all units, ``len(units)`` or the number of directions).
    """
    _as_2d(z)  # validation only: decode in the caller's dtype (float32 for a JAX model)
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    n, d = z.shape
    x_target = np.asarray(x_target)
    if x_target.shape[0] != n:
        raise ValueError(f"x_target has {x_target.shape[0]} examples, z has {n}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    loss_fn = mse_per_example if loss_fn is None else loss_fn
    mean = z.mean(axis=0, dtype=np.float64)  # [D]
    if directions is not None and units is not None:
        raise ValueError("give units or directions, not both")
    if directions is None:
        units = np.arange(d) if units is None else np.asarray(units, dtype=np.int64).reshape(-1)
        if units.size and (units.min() < 0 or units.max() >= d):
            raise ValueError(f"units must be indices in [0, {d}), got {units.min()}..{units.max()}")
        m = units.size
    else:
        directions = np.asarray(directions, dtype=np.float64)
        if directions.ndim != 2 or directions.shape[0] != d:
            raise ValueError(f"directions must be [D={d}, M], got shape {directions.shape}")
        m = directions.shape[1]
        proj = (z - mean) @ directions  # [N, M], float64

    def mean_loss(codes: np.ndarray) -> float:
        """Mean per-example loss of codes [N, D], decoded in row batches."""
        total = 0.0
        for s in range(0, n, batch_size):
            x_hat = np.asarray(decode_fn(codes[s:s + batch_size]))
            total += _per_example(loss_fn, x_hat, x_target[s:s + batch_size],
                                  x_hat.shape[0]).sum()
        return total / n

    baseline = mean_loss(z)
    ablated = np.empty(m)
    units_per_chunk = max(1, min(batch_size // n, block_bytes // max(1, n * d * z.itemsize)))
    for u0 in range(0, m, units_per_chunk):
        idx = np.arange(u0, min(u0 + units_per_chunk, m))
        c = idx.size
        block = np.broadcast_to(z, (c, n, d)).copy()  # [C, N, D], z's dtype
        if directions is None:
            block[np.arange(c), :, units[idx]] = mean[units[idx]][:, None]
        else:
            shift = proj[:, idx].T[:, :, None] * directions[:, idx].T[:, None, :]  # [C, N, D]
            block -= shift.astype(block.dtype)
        if c == 1:
            ablated[idx[0]] = mean_loss(block[0])
            continue
        x_hat = np.asarray(decode_fn(block.reshape(c * n, d)))  # [C*N, ...]
        x_hat = x_hat.reshape((c, n) + x_hat.shape[1:])
        for i in range(c):
            ablated[idx[i]] = _per_example(loss_fn, x_hat[i], x_target, n).mean()
    return {"baseline_loss": float(baseline), "ablated_loss": ablated,
            "increase": ablated - baseline}


def rank_units(importance) -> np.ndarray:
    """Unit indices sorted by importance [D], most important first -> int [D].

    Ties keep index order; NaN importances go last.
    """
    imp = np.asarray(importance, dtype=np.float64)
    key = np.where(np.isnan(imp), np.inf, -imp)
    return np.argsort(key, kind="stable")


def rank_units_then(importance, fallback) -> np.ndarray:
    """Units ranked by ``importance`` [D] where it is known (not NaN), the rest after them ranked
    by ``fallback`` [D] (e.g. the variance, for units that were not ablated) -> int [D]."""
    imp = np.asarray(importance, dtype=np.float64)
    known = ~np.isnan(imp)
    first = np.flatnonzero(known)[rank_units(imp[known])]
    rest = np.flatnonzero(~known)
    return np.concatenate([first, rest[rank_units(np.asarray(fallback, np.float64)[rest])]]).astype(np.int64)


# ---- a run's importance.json -------------------------------------------------------------------

MAX_DIRECTIONS = 128      # eigen-directions ablated one by one (the leading ones)
MAX_UNITS = 512           # units ablated one by one (a wider code: the highest-variance ones)
MIN_WIDE = 64             # a wider code ablates at least this many units and directions


def k_grid(d: int) -> list[int]:
    """Values of k for the keep-top-k curves: 0, then about 16 log-spaced values up to D."""
    ks = np.unique(np.round(np.geomspace(1, d, 16)).astype(int)) if d > 0 else np.array([], int)
    return [0] + [int(k) for k in ks if k < d] + [int(d)]


def importance_report(z: np.ndarray, vecs: np.ndarray, decode: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                      decode_s: float, budget_s: float) -> dict:
    """A run's ``importance.json`` (JSON-able): unit and eigen-direction ablation and keep-top-k curves.

    ``z`` [N, D] codes of the test split, ``vecs`` [D, min(N, D)] their covariance eigenvectors
    (descending), ``decode`` codes [B, D] -> reconstructions of ``x`` [N, ...], ``decode_s`` the modelled
    seconds to decode one example and ``budget_s`` the modelled seconds all the decoding may take: they
    fix the m examples every configuration decodes, and for a code wider than :data:`MAX_UNITS` how
    many units and directions are ablated one by one (the module docstring of
    :mod:`aejax.analysis.run_dir` says how)."""
    n, d = z.shape
    ks = k_grid(d)
    var = column_mean_var(z)[1]
    rank_var = rank_units(var)
    n_dirs = min(vecs.shape[1], MAX_DIRECTIONS)
    n_units = d
    if d > MAX_UNITS:  # a wide code: as many units and directions as the budget allows at 64 examples
        spare = budget_s / (decode_s * min(n, 64)) - 3 * len(ks) - 12
        n_units = int(np.clip(spare / 2, MIN_WIDE, MAX_UNITS))
        n_dirs = int(min(n_dirs, np.clip(spare / 2, MIN_WIDE, MAX_DIRECTIONS)))
    ablated = np.sort(rank_var[:n_units])  # every unit when D <= MAX_UNITS
    n_configs = ablated.size + n_dirs + 3 * len(ks) + 12  # + about 12 bisection steps
    m = int(min(n, max(min(n, 64), budget_s / (decode_s * n_configs))))
    zs, xs = z[:m], x[:m]
    units = ablation_importance(zs, decode, xs, units=ablated)
    increase = np.full(d, np.nan)  # units not ablated (D > MAX_UNITS): NaN
    increase[ablated] = units["increase"]
    dirs = ablation_importance(zs, decode, xs, directions=vecs[:, :n_dirs])
    rank = rank_units_then(increase, var)  # ablated units first, then the rest by variance
    mean = zs.mean(axis=0)
    proj = (zs - mean) @ vecs  # [m, min(N, D)]
    row_bytes = 4 * (d + 3 * int(np.prod(xs.shape[1:])))  # a code, its reconstruction, error, target
    per_call = max(1, (256 << 20) // max(1, m * row_bytes))  # configurations per decode call

    orders = {"directions": None, "units_by_ablation": rank, "units_by_variance": rank_var}
    cache: dict = {}

    def codes_kept(key, k):
        """Codes [m, D] with only the top-k directions / units of ordering ``key`` kept."""
        if orders[key] is None:
            return (mean + proj[:, :k] @ vecs[:, :k].T).astype(zs.dtype)
        c = np.broadcast_to(mean.astype(zs.dtype), zs.shape).copy()
        c[:, orders[key][:k]] = zs[:, orders[key][:k]]
        return c

    def fill(pairs):
        """Test MSE for several (ordering, k) at once: one batched decode, no padding waste."""
        todo = [p for p in dict.fromkeys(pairs) if p not in cache]
        for c0 in range(0, len(todo), per_call):  # at most ~256 MB of codes at a time
            part = todo[c0:c0 + per_call]
            rec = decode(np.concatenate([codes_kept(*p) for p in part]))  # [len(part) * m, ...]
            per = mse_per_example(rec, np.concatenate([xs] * len(part)))  # [len(part) * m]
            for i, p in enumerate(part):
                cache[p] = float(per[i * m:(i + 1) * m].mean())

    def kept(key, k):
        """Test MSE with only the top-k directions / units of ordering ``key`` kept."""
        fill([(key, k)])
        return cache[key, k]

    fill([(key, k) for key in orders for k in ks])
    curves = {"k": ks, **{key: [cache[key, k] for k in ks] for key in orders}}
    out = {
        "loss": "mse (mean over pixels, per example, then over examples; the test/mse convention)",
        "examples": m, "decode_us_model": round(decode_s * 1e6, 2),
        "baseline_loss": units["baseline_loss"],
        "mean_code_loss": curves["directions"][0],
        "unit_variance": var.tolist(),
        "active_units_threshold": 0.01,
        "active_units": int(np.sum(var > 0.01)),
        "unit_ablation_increase": increase.tolist(),
        "units_ablated": int(ablated.size),
        "unit_selection": "every unit" if ablated.size == d else
                          f"the {ablated.size} units of largest variance (D > {MAX_UNITS}: as many as the "
                          f"ablation budget allows at {min(n, 64)} examples, {MIN_WIDE} to {MAX_UNITS}); the "
                          "others' increase is NaN and they rank after them, by variance",
        "unit_rank": rank.tolist(),
        "unit_rank_by_variance": rank_var.tolist(),
        "top_units": rank[:10].tolist(),
        "direction_ablation_increase": dirs["increase"].tolist(),
        "keep_top_k": curves,
    }
    live = (var > 0) & ~np.isnan(increase)
    if live.sum() > 2:
        out["spearman_variance_vs_ablation"] = spearman(var[live], increase[live])
    full, none = curves["directions"][-1], curves["directions"][0]
    for pct in (90, 95, 99):
        for key, name in (("directions", "modes"), ("units_by_ablation", "units")):
            out[f"{name}_for_loss_{pct}"] = smallest_k(lambda k: kept(key, k), ks, none, full, pct / 100)
    return out


def smallest_k(loss_at, ks: list, none: float, full: float, target: float):
    """Smallest k whose loss recovers ``target`` of the reduction ``none - full``.

    Found on the grid ``ks``, then refined by bisection between the bracketing
    grid points (assumes the loss falls monotonically with k there). None when
    the full code is no better than the mean code.
    """
    if not none > full:
        return None
    ok = lambda k: (none - loss_at(k)) / (none - full) >= target - 1e-12
    hit = [i for i, k in enumerate(ks) if ok(k)]
    if not hit:
        return None
    i = hit[0]
    if i == 0:
        return int(ks[0])
    lo, hi = ks[i - 1], ks[i]  # ok(lo) is False, ok(hi) is True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return int(hi)


def spearman(a, b) -> float:
    """Spearman rank correlation of two [M] arrays (ties broken by order; scipy.stats
    costs seconds to import, this costs microseconds)."""
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(np.float64)
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])
