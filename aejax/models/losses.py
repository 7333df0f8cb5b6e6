"""Reconstruction losses as pure per-example functions.

Reduction (the contract every loss here keeps): each function returns one
value per example, shape [B], the **mean over features / pixels** of that
example's error. The training loss is the mean of these over the batch, so
``mse`` is exactly DESIGN.md's MSE (mean over pixels and examples, on the
data's own scale) and matches Keras' ``mean_squared_error`` / ``mae`` /
``binary_crossentropy``. Models whose loss is a sum over pixels (the VAE's
-ELBO in nats) say so in their own docstring.
"""
from __future__ import annotations

import jax.numpy as jnp

_EPS = 1e-7  # Keras' epsilon: BCE on probabilities clipped to [eps, 1 - eps]


def _per_example_mean(err):
    """[B, ...] -> [B]: mean over every axis but the first."""
    return err.reshape(err.shape[0], -1).mean(axis=1)


def mse(recon, target):
    """Mean squared error per example. [B, ...] x [B, ...] -> [B]."""
    return _per_example_mean(jnp.square(recon - target))


def mae(recon, target):
    """Mean absolute error per example. [B, ...] x [B, ...] -> [B]."""
    return _per_example_mean(jnp.abs(recon - target))


def bce(recon, target):
    """Binary cross-entropy per example, in nats per pixel; ``recon`` are
    probabilities (sigmoid outputs), clipped like Keras. [B, ...] -> [B]."""
    p = jnp.clip(recon, _EPS, 1.0 - _EPS)
    return _per_example_mean(-(target * jnp.log(p) + (1.0 - target) * jnp.log1p(-p)))


def psnr(recon, target, data_range: float = 1.0):
    """Peak signal-to-noise ratio per example in dB (images in [0, data_range]). -> [B]."""
    return 10.0 * jnp.log10(data_range ** 2 / jnp.maximum(mse(recon, target), 1e-12))


LOSSES = {"mse": mse, "mae": mae, "bce": bce}


def loss_fn(name: str):
    """The per-example loss called ``name`` (ValueError naming the choices)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None
