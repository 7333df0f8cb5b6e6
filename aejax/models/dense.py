"""Fully connected autoencoder with any layer sizes (mirrored decoder).

The course's Part 1 is ``DenseAE(hidden=(400, 200), latent_dim=100)`` on
784-pixel images (784-400-200-100-200-400-784); the course listing's example
is ``DenseAE(hidden=(), latent_dim=25)`` on 100 features (100-25-100); the
tabular seed's deep autoencoder is ``DenseAE(hidden=(32, 16), latent_dim=7)``.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import flax.linen as nn
import numpy as np

from aejax.models.common import activation, initializer, NORMS, norm_layers, normed, register


@register("dense")
class DenseAE(nn.Module):
    """Encoder ``hidden... -> latent_dim``; decoder mirrors it back to ``out_shape``.

    ``out_shape`` is the shape of one example (``(28, 28, 1)`` or ``(8,)``);
    inputs of that shape are flattened, outputs reshaped back to it.
    """

    out_shape: Sequence[int]
    latent_dim: int = 100
    hidden: Sequence[int] = (400, 200)
    decoder_hidden: Sequence[int] | None = None  # default: reversed(hidden)
    activation: str = "relu"
    latent_activation: str = "linear"
    output_activation: str = "sigmoid"
    kernel_init: str = "lecun_normal"  # Flax's default; "glorot_uniform" is Keras'
    NORMS: ClassVar[tuple[str, ...]] = NORMS  # the choices of ``norm``
    norm: str = "none"  # "batch" / "layer": that normalization after each hidden layer, before its activation

    def setup(self):
        dec = tuple(reversed(self.hidden)) if self.decoder_hidden is None else tuple(self.decoder_hidden)
        self.enc_norms = norm_layers(self.norm, len(self.hidden), "enc")
        self.dec_norms = norm_layers(self.norm, len(dec), "dec")
        init = initializer(self.kernel_init)
        self.enc_layers = [nn.Dense(f, kernel_init=init, name=f"enc_{i}")
                           for i, f in enumerate((*self.hidden, self.latent_dim))]
        self.dec_layers = [nn.Dense(f, kernel_init=init, name=f"dec_{i}")
                           for i, f in enumerate((*dec, int(np.prod(self.out_shape))))]

    def encode(self, x, *, train: bool = False):
        """[B, *out_shape] -> code [B, latent_dim]."""
        h = x.reshape(x.shape[0], -1)  # [B, P]
        act = activation(self.activation)
        for layer, norm in zip(self.enc_layers[:-1], self.enc_norms):
            h = act(normed(norm, layer(h), train))
        return activation(self.latent_activation)(self.enc_layers[-1](h))

    def decode(self, z, *, train: bool = False):
        """code [B, latent_dim] -> reconstruction [B, *out_shape]."""
        act = activation(self.activation)
        h = z
        for layer, norm in zip(self.dec_layers[:-1], self.dec_norms):
            h = act(normed(norm, layer(h), train))
        h = activation(self.output_activation)(self.dec_layers[-1](h))
        return h.reshape(z.shape[0], *self.out_shape)  # [B, *out_shape]

    def __call__(self, x, *, train: bool = False):
        return self.decode(self.encode(x, train=train), train=train)



def square_ish(n: int) -> tuple[int, int]:
    """(h, w) with h * w == n, h >= w, as square as possible (100 -> (10, 10), 392 -> (28, 14))."""
    w = int(np.sqrt(n))
    while n % w:
        w -= 1
    return n // w, w
