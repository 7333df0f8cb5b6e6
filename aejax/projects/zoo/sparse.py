"""Sparse autoencoders against their plain counterparts (``experiments/ae_sparse.py``).

``sparse.variant`` picks the model (``sparse`` of aejax/models/sparse.py, one hidden layer
784-32-784 as in the Keras blog): :data:`VARIANTS` holds its code activation and penalties.
:func:`apply_variant` is the experiment's ``resolve``; :func:`sparse_after_sweep` writes the
sweep's table and draws ``sparse_tradeoff.png`` (code activation against reconstruction error)
and ``sparse_code_hist.png`` (distribution of code values, from each run's analysis/latents.npy).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from aejax.errors import UserError
from aejax.run.rundir import atomic_write

VARIANTS = {
    "plain": {"latent_activation": "relu", "l1": 0.0, "kl": 0.0},
    "l1": {"latent_activation": "relu", "l1": 1e-4, "kl": 0.0},
    "plain_sigmoid": {"latent_activation": "sigmoid", "l1": 0.0, "kl": 0.0},
    "kl": {"latent_activation": "sigmoid", "l1": 0.0, "kl": 1e-2, "rho": 0.05},
}

METRICS = [("test/code_mean", "mean code activation"), ("test/code_active", "fraction > 0.1"),
           ("test/mse", "test MSE"), ("test/rec", "test BCE"), ("test/sparsity", "penalty"),
           ("epochs_run", "epochs")]


def apply_variant(cfg: Mapping) -> dict:
    """The model section of ``sparse.variant`` (an experiment's ``resolve``)."""
    cfg = dict(cfg)
    variant = cfg["sparse"]["variant"]
    if variant not in VARIANTS:
        raise UserError(f"sparse.variant={variant!r}: expected one of {list(VARIANTS)}")
    cfg["model"] = {"name": "sparse", "hidden": [], "latent_dim": 32, "rho": 0.05, **VARIANTS[variant]}
    return cfg


def sparse_after_sweep(*, sweep_dir, configs, rows) -> None:
    """sweep.md (one line per variant, mean ± std over seeds) and the two sweep figures."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aejax.projects.zoo import figures as F
    from aejax.projects.zoo.zoo import group_stats, seed_table
    sweep_dir = Path(sweep_dir)
    notes = ["Mean code activation = mean over test images and code units (the Keras blog's 7.30 plain vs "
             "3.33 sparse). Mean ± std over seeds (n runs)."]
    atomic_write(sweep_dir / "sweep.md", seed_table(rows, "sparse.variant", METRICS,
                                                   "Sparse autoencoders against plain ones", notes))
    act = group_stats(rows, "sparse.variant", "test/code_mean")
    mse = group_stats(rows, "sparse.variant", "test/mse")
    if not act:
        return
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    for v in act:
        ax.errorbar(mse[v][0], act[v][0], xerr=mse[v][1], yerr=act[v][1], marker="o", capsize=3, label=v)
        ax.annotate(v, (mse[v][0], act[v][0]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("test MSE (reconstruction)")
    ax.set_ylabel("mean code activation (test)")
    ax.set_yscale("log")
    ax.set_title("Sparsity against reconstruction error (mean ± std over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    F._save(fig, sweep_dir / "figures" / "sparse_tradeoff.png")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in sorted(rows, key=lambda r: r["seed"]):
        path = sweep_dir / r["run"] / "analysis" / "latents.npy"
        if r["seed"] != min(x["seed"] for x in rows) or not path.exists():
            continue
        z = np.load(path).ravel()
        ax = axes[0] if VARIANTS[r["sparse.variant"]]["latent_activation"] == "relu" else axes[1]
        ax.hist(z, bins=60, alpha=0.55, density=True, label=f"{r['sparse.variant']} (mean {z.mean():.3g})",
                log=True)
    for ax, t in zip(axes, ("ReLU codes", "sigmoid codes")):
        ax.set_xlabel("code value")
        ax.set_ylabel("density (log)")
        ax.set_title(f"{t}: test code values, lowest seed", fontsize=10)
        ax.legend(fontsize=8)
    F._save(fig, sweep_dir / "figures" / "sparse_code_hist.png")
