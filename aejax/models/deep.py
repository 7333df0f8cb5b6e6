"""Undercomplete and deep dense autoencoders (the seed's first two types).

An *undercomplete* autoencoder is any autoencoder whose code is smaller than
its input; the bottleneck alone forces it to keep the directions that matter.
``UndercompleteAE`` is :class:`~aejax.models.dense.DenseAE` that checks this
(``latent_dim`` < number of input features). A *deep* autoencoder stacks
several hidden layers on each side (the seed's tabular example is
``hidden=(32, 16), latent_dim=7``); ``DeepAE`` is a DenseAE with a deeper
default (784-512-256-128-32 and back) and optional LayerNorm after each hidden
layer, which keeps deep stacks trainable at higher learning rates.
Both use DenseAE's plain ``encode`` / ``decode`` / ``__call__`` and the
engine's default reconstruction loss.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import numpy as np

from aejax.models.common import activation, register
from aejax.models.dense import DenseAE


@register("undercomplete")
class UndercompleteAE(DenseAE):
    """DenseAE whose code must be smaller than its input (a ValueError otherwise)."""

    latent_dim: int = 32
    hidden: Sequence[int] = ()

    def __post_init__(self):
        n_in = int(np.prod(self.out_shape))
        if not self.latent_dim < n_in:
            raise ValueError(f"model.latent_dim={self.latent_dim}: an undercomplete autoencoder "
                             f"needs a code smaller than its {n_in} input features")
        super().__post_init__()


@register("deep")
class DeepAE(DenseAE):
    """Deep dense autoencoder; ``norm="layer"`` adds LayerNorm after every hidden layer."""

    latent_dim: int = 32
    hidden: Sequence[int] = (512, 256, 128)
    norm: str = "none"  # "none" or "layer"

    def __post_init__(self):
        if self.norm not in ("none", "layer"):
            raise ValueError(f"model.norm={self.norm!r}: expected 'none' or 'layer'")
        super().__post_init__()

    def setup(self):
        super().setup()
        if self.norm == "layer":
            n_dec = len(self.dec_layers) - 1
            self.enc_norms = [nn.LayerNorm(name=f"enc_norm_{i}") for i in range(len(self.hidden))]
            self.dec_norms = [nn.LayerNorm(name=f"dec_norm_{i}") for i in range(n_dec)]

    def _norm(self, which: str, i: int, h):
        return getattr(self, f"{which}_norms")[i](h) if self.norm == "layer" else h

    def encode(self, x, *, train: bool = False):
        """[B, *out_shape] -> code [B, latent_dim]."""
        del train
        h = x.reshape(x.shape[0], -1)  # [B, P]
        act = activation(self.activation)
        for i, layer in enumerate(self.enc_layers[:-1]):
            h = act(self._norm("enc", i, layer(h)))
        return activation(self.latent_activation)(self.enc_layers[-1](h))

    def decode(self, z, *, train: bool = False):
        """code [B, latent_dim] -> reconstruction [B, *out_shape]."""
        del train
        act = activation(self.activation)
        h = z
        for i, layer in enumerate(self.dec_layers[:-1]):
            h = act(self._norm("dec", i, layer(h)))
        h = activation(self.output_activation)(self.dec_layers[-1](h))
        return h.reshape(z.shape[0], *self.out_shape)  # [B, *out_shape]
