"""Reconstruction (and classification) losses as pure per-example functions.

Reduction (the contract every loss here keeps): each function returns one
value per example, shape [B], the **mean over features / pixels** of that
example's error. The training loss is the mean of these over the batch, so
``mse`` is exactly DESIGN.md's MSE (mean over pixels and examples, on the
data's own scale) and matches Keras' ``mean_squared_error`` / ``mae`` /
``binary_crossentropy``. Models whose loss is a sum over pixels (the VAE's
-ELBO in nats) say so in their own docstring.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

_EPS = 1e-7  # Keras' epsilon: BCE on probabilities clipped to [eps, 1 - eps]


def _per_example_mean(err):
    """[B, ...] -> [B]: mean over every axis but the first.

    Written as a matrix-vector product with 1/n: XLA:CPU then computes the elementwise error in
    its own vectorised loop and the sum as a dot, where a reduction would take the error's
    logarithms into a single-threaded reduce (the course conv model's step: ~15 % faster).
    """
    err = err.reshape(err.shape[0], -1)  # [B, n]
    return err @ jnp.full((err.shape[1],), 1.0 / err.shape[1], err.dtype)


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


def softmax_cross_entropy(logits, labels):
    """Softmax cross-entropy per example, in nats, channels last: the **mean over positions**
    (pixels) of ``-log softmax(logits)[label]``, the softmax taken over the last axis (K classes)
    at each position separately. logits [B, ..., K]; labels: class indices [B, ...] (int) or
    one-hot / soft targets [B, ..., K]. -> [B]. A classifier is the case with no position axes
    (logits [B, K], labels [B]); a segmentation net's per-pixel loss has [B, H, W, K] and [B, H, W].
    Computed from ``log_softmax``, so large logits give a large finite loss, never -log(0)."""
    logp = jax.nn.log_softmax(logits, axis=-1)  # [B, ..., K]
    if labels.shape == logits.shape:
        nll = -jnp.sum(labels * logp, axis=-1)  # [B, ...]
    else:
        nll = -jnp.take_along_axis(logp, labels[..., None].astype(jnp.int32), axis=-1)[..., 0]  # [B, ...]
    return _per_example_mean(nll[..., None])


def sigmoid_cross_entropy(logits, targets):
    """Binary cross-entropy on logits per example, in nats per pixel (the mean over positions):
    ``-(t log sigmoid(a) + (1 - t) log(1 - sigmoid(a)))`` in its stable form. [B, ...] -> [B].
    :func:`bce` is the same loss on probabilities (clipped like Keras)."""
    return _per_example_mean(jnp.maximum(logits, 0) - logits * targets + jnp.log1p(jnp.exp(-jnp.abs(logits))))


LOSSES = {"mse": mse, "mae": mae, "bce": bce}


def loss_fn(name: str):
    """The per-example loss called ``name`` (ValueError naming the choices)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None
