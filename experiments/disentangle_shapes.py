"""Disentanglement on data with known factors: autoencoder vs VAE vs beta-VAE on ``shapes``.

    aejax run disentangle_shapes        # ~3 min on 2 CPU cores: 3 models, MIG / SAP / DCI table

``shapes`` is a dSprites-like set of 32x32 images with five independent
factors (shape, scale, rotation, x, y; aejax/data/shapes.py). The main model
is a dense autoencoder 1024-256-128-10 with a linear 10-unit code; the
comparisons (``RUN/compare/<name>/``, full run directories; ``compare``: a list
of ``vae``, ``beta_vae``, ``ae_code5``) are a VAE (beta = 1) and a beta-VAE
(beta = 4) of the same size, Bernoulli likelihood. Every run's
analysis scores its test codes (posterior means for the VAEs) with MIG, SAP
and DCI against the true factors (``analysis/disentanglement.json``, figure
``latent_factors.png``); this experiment adds ``analysis/disentanglement.md``
(shown in report.html) with the three models side by side, calibrated by two
reference codes scored the same way: the true factors themselves (should
score >= 0.9) and an all-zeros code (<= 0.2).

Code: :mod:`aejax.projects.latent` (``compare``: the comparison runs;
``disentangle``: the table and ``figures/disentanglement_compare.png``).

Expected (Higgins et al. 2017, Locatello et al. 2019): the VAEs score higher
MIG / DCI disentanglement than the plain autoencoder, whose code is an
arbitrary rotation of the factors; the margin varies with the seed.
Measured: benchmarks/README.md#disentangle_shapes.
"""
from __future__ import annotations

from aejax.config import base_config
from aejax.projects.latent import disentangle


def get_config() -> dict:
    cfg = base_config()
    cfg["data"]["name"] = "shapes"
    cfg["model"] = {"name": "dense", "hidden": [256, 128], "latent_dim": 10, "activation": "relu",
                    "latent_activation": "linear", "output_activation": "sigmoid"}
    cfg["train"]["epochs"] = 40
    cfg["train"]["batch_size"] = 128
    cfg["compare"] = ["vae", "beta_vae"]  # of disentangle.COMPARE, trained after the main run
    return cfg


def run(cfg, workdir):
    """Train the autoencoder and the comparison models; write the comparison and the report."""
    return disentangle.run(cfg, workdir)
