"""The seed's question: a 100-unit code has ~30 covariance eigenvalues > 0 -- do 30 modes matter, which neurons?

    aejax run latent_spectrum           # ~4 min on 2 CPU cores: the AE + 2 comparison models, answer.md
    aejax sweep latent_spectrum         # 3 seeds x {ReLU, linear code}: spectra mean ± std, subspace agreement

The main model is the 784-400-200-100 dense autoencoder on mnist5k with a
**ReLU** 100-unit code (``Dense(100, activation='relu')``, the usual Keras
bottleneck; the question does not show its model), MSE, Adam, 100 epochs.
It is compared with the same network with a linear code and with a
beta-VAE (beta = 4, 100 latent units), each trained into
``RUN/compare/<name>/`` (every one a full run directory with its own analysis;
``compare``: a list of ``linear_code``, ``beta_vae``, ``vae``).

Writes, besides the usual run directory, ``analysis/answer.md`` (shown in
``report.html``) and ``figures/latent_compare.png``. The answer is computed
from the analysis files, never typed in: eigenvalues > 0 vs above a noise
floor, modes for 90/95/99 % of the variance, ablation of units vs of
eigen-directions, active units, the comparison models.

Code: :mod:`aejax.projects.latent` (``compare``: the comparison runs; ``answer``:
answer.md and its figure). Expected: far fewer modes matter than eigenvalues
are > 0, and they are directions, not units; see benchmarks/README.md#latent_spectrum.
"""
from __future__ import annotations

from aejax.config import base_config
from aejax.projects.latent import answer


def get_config() -> dict:
    cfg = base_config()
    cfg["model"] = {"name": "dense", "hidden": [400, 200], "latent_dim": 100, "activation": "relu",
                    "latent_activation": "relu", "output_activation": "sigmoid"}
    cfg["train"]["epochs"] = 100
    cfg["compare"] = ["linear_code", "beta_vae"]  # of answer.COMPARE, trained after the main run
    return cfg


def sweep(quick: bool = False):
    """Seeds x code activation (no comparison models inside a sweep)."""
    from aejax import hyper
    return hyper.product([hyper.fixed("compare", []),
                          hyper.sweep("model.latent_activation", ["relu", "linear"]),
                          hyper.sweep("seed", range(2 if quick else 3))])


def after_sweep(*, sweep_dir, configs, rows):
    """Spectra across seeds and agreement of their subspaces; the seeds' section of answer.md."""
    answer.after_sweep(sweep_dir=sweep_dir, configs=configs, rows=rows)


def run(cfg, workdir):
    """Train the main model and the comparisons, then write the answer and the report."""
    return answer.run(cfg, workdir)
