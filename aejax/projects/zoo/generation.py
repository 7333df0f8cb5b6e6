"""Generation with a trained VAE: samples, latent traversals, the 2-D manifold grid,
plus its likelihood numbers (importance-sampled NLL, k-sample -ELBO) and active units.

:func:`vae_artifacts` is an ``after_training`` hook: it writes
``analysis/generation.npz`` (samples, traversals, manifold, test posterior means
and labels) and ``analysis/vae.json`` (numbers), then :func:`vae_figures` draws
``figures/vae_samples.png``, ``vae_traversals.png``, ``vae_manifold.png`` and
``vae_latents.png`` from those files.

- samples: decoder means at z ~ N(0, I) (means, not Bernoulli draws: the usual
  way to show MNIST samples);
- traversals: start from the posterior mean of one test image and move one
  unit at a time over [-3, 3] (prior standard deviations), the others fixed;
  rows are the most active units (largest variance of E[z|x] over the test set);
- manifold: a 2-D VAE's grid of decoded z at the prior's quantiles 0.05..0.95
  (Kingma & Welling, Fig. 4); with more latent units, the grid spans the two
  most active units with every other unit at 0.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from aejax.run.rundir import atomic_write, save_npz


def vae_config(latent_dim: int, **model) -> dict:
    """The dense Bernoulli VAE on ``binarized:mnist5k`` of Kingma & Welling (784-500-``latent_dim``,
    beta 1), Adam 1e-3, batch 128, 100 epochs; ``vae.iwae_k`` samples for the NLL; ``model``
    overrides model keys."""
    from aejax.config import base_config
    cfg = base_config()
    cfg["data"]["name"] = "binarized:mnist5k"
    cfg["model"] = {"name": "vae", "latent_dim": latent_dim, "hidden": [500], "likelihood": "bernoulli",
                    "beta": 1.0, **model}
    cfg["train"].update(epochs=100, batch_size=128, learning_rate=1e-3)
    cfg["vae"] = {"iwae_k": 1000}
    return cfg


def vae_quick(cfg: dict) -> dict:
    """``--quick`` for :func:`vae_config` experiments: 256 examples, 2 epochs, 20 IW samples, no latent analysis."""
    from aejax.run.resolve import quick_config
    cfg = quick_config(cfg, limit=256, analysis=False, progress=False)
    cfg["vae"]["iwae_k"] = 20
    return cfg


def _decode(trainer, params, z: np.ndarray) -> np.ndarray:
    return np.asarray(trainer.predict(params, np.asarray(z, np.float32), method="decode"))


def vae_artifacts(*, cfg, workdir, trainer, params, data, arrays, k_iw: int = 1000, n_samples: int = 64,
                  n_units: int = 8, n_steps: int = 11, n_grid: int = 15, figures: bool = True, **_) -> dict:
    """Likelihood numbers, active units and generation arrays of a trained VAE (see module doc).

    Returns summary entries: ``test/nll_iw`` (importance-sampled -log p(x), ``k_iw``
    samples, nats per image), ``test/neg_elbo_k`` (-ELBO averaged over the same
    samples: a low-variance version of ``test/neg_elbo``), ``test/active_units``.
    """
    import jax
    from scipy.stats import norm

    from aejax.analysis.importance import active_units
    from aejax.models.vae import importance_nll

    workdir = Path(workdir)
    model = trainer.task.model
    key = jax.random.fold_in(jax.random.key(cfg["seed"]), 11)
    x_in, x = np.asarray(arrays["test_in"]), data.test.x
    iw = importance_nll(model, params, x_in, jax.random.fold_in(key, 0), k=k_iw, target=x,
                        k_chunk=min(k_iw, 250))
    mu = np.asarray(trainer.predict(params, x_in, method="encode"))                   # [N, D]
    au = active_units(mu)
    order = np.argsort(-au["variance"])                                               # most active first
    d = mu.shape[1]

    z = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (n_samples, d)))
    samples = _decode(trainer, params, z)                                             # [n, H, W, C]

    units = order[:min(n_units, d)]
    values = np.linspace(-3.0, 3.0, n_steps, dtype=np.float32)
    base = mu[0]
    trav_z = np.repeat(base[None, None, :], len(units), 0).repeat(n_steps, 1)         # [U, S, D]
    for i, u in enumerate(units):
        trav_z[i, :, u] = values
    traversals = _decode(trainer, params, trav_z.reshape(-1, d)).reshape(len(units), n_steps, *x.shape[1:])

    grid = norm.ppf(np.linspace(0.05, 0.95, n_grid)).astype(np.float32)              # [n]
    pair = (0, 1) if d == 2 else tuple(int(u) for u in order[:2])
    man_z = np.zeros((n_grid, n_grid, d), np.float32)
    man_z[:, :, pair[0]] = grid[None, :]          # columns: first unit, left to right
    man_z[:, :, pair[1]] = grid[::-1, None]       # rows: second unit, top = largest
    manifold = _decode(trainer, params, man_z.reshape(-1, d)).reshape(n_grid, n_grid, *x.shape[1:])

    out_dir = workdir / "analysis"
    out_dir.mkdir(exist_ok=True)
    save_npz(out_dir / "generation.npz", samples=samples, traversals=traversals,
             traversal_units=units.astype(np.int32), traversal_values=values, traversal_base=x[0],
             manifold=manifold, manifold_grid=grid, manifold_units=np.asarray(pair, np.int32), mu=mu,
             labels=(np.asarray(data.test.y) if data.test.y is not None else np.zeros(len(x), np.int32)),
             nll_iw=iw["nll"], neg_elbo_k=iw["neg_elbo"])
    numbers = {"test/nll_iw": float(iw["nll"].mean()), "test/neg_elbo_k": float(iw["neg_elbo"].mean()),
               "iwae_k": int(k_iw), "test/active_units": au["count"], "latent_dim": int(d),
               "unit_variance": [round(float(v), 5) for v in au["variance"]],
               "active_mask": [bool(m) for m in au["mask"]]}
    atomic_write(out_dir / "vae.json", json.dumps(numbers, indent=2) + "\n")
    if figures:
        vae_figures(workdir)
    return {k: v for k, v in numbers.items() if not isinstance(v, list)}


def vae_figures(run_dir) -> list[Path]:
    """Samples, traversals, manifold and latent scatter from ``analysis/generation.npz``."""
    from aejax.projects.zoo import figures as F
    run_dir = Path(run_dir)
    g = np.load(run_dir / "analysis" / "generation.npz")
    cfg = json.loads((run_dir / "config.json").read_text())
    m = cfg["model"]
    what = f"{m['name']} (latent {g['mu'].shape[1]}, beta {m.get('beta', 1.0)}) on {cfg['data']['name']}"
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    s = g["samples"]
    cols = 8
    rows = len(s) // cols
    made = [F.image_grid(s[:rows * cols].reshape(rows, cols, *s.shape[1:]), out / "vae_samples.png",
                         title=f"Samples: decoder mean at z ~ N(0, I); {what}")]
    units, values = g["traversal_units"], g["traversal_values"]
    made.append(F.image_grid(g["traversals"], out / "vae_traversals.png",
                             title=f"Latent traversals from test image #0's posterior mean; {what}",
                             row_labels=[f"unit {u}" for u in units],
                             col_labels=[f"{v:+.1f}" for v in values],
                             xlabel="value of the traversed unit (others fixed at the posterior mean)"))
    pair = g["manifold_units"]
    made.append(F.manifold(g["manifold"], g["manifold_grid"], out / "vae_manifold.png",
                           title=f"Decoded latent grid over units {pair[0]} and {pair[1]} (prior quantiles "
                                 f"0.05-0.95{'' if g['mu'].shape[1] == 2 else '; other units 0'}); {what}",
                           axes_labels=(f"z[{pair[0]}]", f"z[{pair[1]}]")))
    mu = g["mu"][:, [int(pair[0]), int(pair[1])]]
    made.append(F.latent_scatter(mu, g["labels"], out / "vae_latents.png",
                                 title=f"Test posterior means E[z|x], units {pair[0]} and {pair[1]}; {what}",
                                 axes_labels=(f"E[z[{pair[0]}] | x]", f"E[z[{pair[1]}] | x]")))
    return made
