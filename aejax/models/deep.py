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

from typing import ClassVar, Sequence

import numpy as np

from aejax.models.common import register
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
    """Deep dense autoencoder; ``norm="layer"`` adds LayerNorm after every hidden layer (``"batch"``: BatchNorm)."""

    latent_dim: int = 32
    hidden: Sequence[int] = (512, 256, 128)
    NORMS: ClassVar[tuple[str, ...]] = ("none", "layer", "batch")  # the choices of ``norm``
