"""Sparse autoencoders: an L1 activity penalty and / or the KL(rho || rho_hat) sparsity penalty.

``SparseAE`` is :class:`~aejax.models.dense.DenseAE` plus a penalty on its code;
``SparseConvAE`` is :class:`~aejax.models.conv.ConvAE` plus the same penalty on
its bottleneck feature maps. Both define ``loss_terms``:

- ``l1 > 0``: ``l1 * sum_j |z_j|`` per example (Keras' ``activity_regularizer=l1(l1)``
  on the code layer; the Keras blog's sparse example uses ``l1=1e-4`` ("10e-5")
  with a ReLU code);
- ``kl > 0``: ``kl * sum_j KL(rho || rho_hat_j)`` (Ng's sparse-autoencoder notes),
  where ``rho_hat_j`` is unit j's **mean activation over the batch**; it needs
  activations in (0, 1), so the code must be a sigmoid
  (``latent_activation="sigmoid"`` / ``code_activation="sigmoid"``). This term is
  one number per batch, added to every example's loss (so the batch mean of the
  per-example loss is reconstruction + kl * KL). At evaluation the last, padded
  batch includes padding rows in rho_hat: only ``loss`` / ``sparsity`` are
  affected, never ``code_mean`` or ``mse``.

Reduction: the reconstruction term is ``losses.<train.loss>`` (mean over pixels
per example) and the penalties are sums over code units, as in Keras. Metrics,
each per example [B]: ``loss``, ``rec`` (reconstruction term), ``sparsity`` (the
weighted penalty), ``code_mean`` (mean code activation -- the Keras blog's
3.33 vs 7.30 number is this, averaged over the test set), ``code_active``
(fraction of code values above 0.1), ``mse`` and ``psnr``.
"""
from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from aejax.models.common import register
from aejax.models.conv import ConvAE
from aejax.models.dense import DenseAE
from aejax.models import losses

_EPS = 1e-6


def kl_sparsity(rho: float, rho_hat):
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)) in nats; ``rho_hat`` [D] in (0, 1). -> scalar."""
    rho_hat = jnp.clip(rho_hat, _EPS, 1.0 - _EPS)
    return jnp.sum(rho * jnp.log(rho / rho_hat) + (1.0 - rho) * jnp.log((1.0 - rho) / (1.0 - rho_hat)))


class SparsePenalty:
    """``loss_terms`` for a module with ``encode`` / ``decode`` and fields ``l1``, ``kl``, ``rho``."""

    def _check_sparsity(self, code_act: str):
        if self.l1 < 0 or self.kl < 0:
            raise ValueError(f"model.l1={self.l1}, model.kl={self.kl}: penalty weights must be >= 0")
        if not 0 < self.rho < 1:
            raise ValueError(f"model.rho={self.rho}: the target activation must be in (0, 1)")
        if self.kl > 0 and code_act != "sigmoid":
            raise ValueError(f"model.kl={self.kl} needs a sigmoid code (activations in (0, 1)); "
                             f"the code activation is {code_act!r}")

    def loss_terms(self, x_in, target, *, key, loss: str = "mse"):
        """Per-example loss = reconstruction (mean over pixels) + l1 * sum|z| + kl * KL(rho||rho_hat)."""
        del key
        z = self.encode(x_in, train=True)                  # [B, D] or [B, h, w, C]
        recon = self.decode(z, train=True)
        flat = z.reshape(z.shape[0], -1)                   # [B, D']
        rec = losses.loss_fn(loss)(recon, target)          # [B]
        penalty = jnp.zeros_like(rec)
        if self.l1 > 0:
            penalty = penalty + self.l1 * jnp.abs(flat).sum(axis=1)
        if self.kl > 0:
            penalty = penalty + self.kl * kl_sparsity(self.rho, flat.mean(axis=0))
        per_example = rec + penalty
        metrics = {"loss": per_example, "rec": rec, "sparsity": penalty,
                   "code_mean": flat.mean(axis=1), "code_active": (flat > 0.1).mean(axis=1),
                   "mse": losses.mse(recon, target), "psnr": losses.psnr(recon, target)}
        return per_example, metrics


@register("sparse")
class SparseAE(SparsePenalty, DenseAE):
    """Dense autoencoder with a sparsity penalty on its code.

    Defaults: the Keras blog's sparse example, 784-32-784 with a ReLU code and
    an L1 activity penalty of 1e-4.
    """

    latent_dim: int = 32
    hidden: Sequence[int] = ()
    latent_activation: str = "relu"
    l1: float = 1e-4        # weight of sum_j |z_j| per example
    kl: float = 0.0         # weight of sum_j KL(rho || rho_hat_j) (needs a sigmoid code)
    rho: float = 0.05       # target mean activation of each unit for the KL penalty

    def __post_init__(self):
        self._check_sparsity(self.latent_activation)
        super().__post_init__()


@register("sparse_conv")
class SparseConvAE(SparsePenalty, ConvAE):
    """Convolutional autoencoder with a sparsity penalty on its bottleneck maps.

    The last encoder convolution uses ``code_activation`` (ReLU as in ConvAE, or
    sigmoid for the KL penalty) before its 2x2 max-pool.
    """

    code_activation: str = "relu"
    l1: float = 1e-4
    kl: float = 0.0
    rho: float = 0.05

    def __post_init__(self):
        self._check_sparsity(self.code_activation)
        super().__post_init__()

    def encoder_activations(self) -> list[str]:
        """ConvAE's, the last layer's replaced by ``code_activation``."""
        return [self.activation] * (len(self.encoder) - 1) + [self.code_activation]
