"""LSTM sequence autoencoder: encoder LSTM -> code -> decoder LSTM (Srivastava et al. 2015).

For 1-D signals: a seismic trace (a column of a seismic image, see
:mod:`aejax.data.columns`) is a sequence of T samples with one feature; an
image read row by row is a sequence of H steps with W * C features. The
example shape decides which:

- ``(T,)``       -> [B, T, 1]   (one trace / signal per example)
- ``(T, F)``     -> [B, T, F]
- ``(H, W, C)``  -> [B, H, W * C] (image rows as sequences)

Encoder: ``layers`` stacked LSTMs (``flax.linen.RNN`` over
``OptimizedLSTMCell(hidden)``) read the sequence; the last layer's final hidden
state goes through a Dense layer to the code [B, latent_dim]. Decoder: the code
sets every decoder layer's initial state (Dense + tanh) and is fed at every
step (Keras' ``RepeatVector``); the decoder LSTMs' outputs go through a
per-step Dense(F) with ``output_activation`` and back to the example shape.
The engine's default reconstruction loss applies (no ``loss_terms``).
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from aejax.models.common import activation, register


@register("lstm")
class LSTMAE(nn.Module):
    """LSTM autoencoder for sequences (signals, traces, image rows)."""

    out_shape: Sequence[int]
    latent_dim: int = 16
    hidden: int = 64
    layers: int = 1
    latent_activation: str = "linear"
    output_activation: str = "sigmoid"
    bidirectional: bool = False     # encoder also reads the sequence backwards; code from both final states
    time_features: int = 0          # decoder input = code + this many sin/cos features of the step index

    def __post_init__(self):
        if len(self.out_shape) not in (1, 2, 3):
            raise ValueError(f"lstm: examples of shape {tuple(self.out_shape)} are not sequences; "
                             "expected (T,), (T, F) or (H, W, C) images read row by row")
        if self.layers < 1 or self.hidden < 1:
            raise ValueError(f"model.layers={self.layers}, model.hidden={self.hidden}: expected >= 1")
        super().__post_init__()

    @property
    def seq_shape(self) -> tuple[int, int]:
        """(steps T, features F) of one example seen as a sequence."""
        if len(self.out_shape) == 1:
            return int(self.out_shape[0]), 1
        return int(self.out_shape[0]), int(np.prod(self.out_shape[1:]))

    def setup(self):
        t, f = self.seq_shape
        self.encoder = [nn.RNN(nn.OptimizedLSTMCell(self.hidden), return_carry=True, name=f"enc_lstm_{i}")
                        for i in range(self.layers)]
        if self.bidirectional:
            self.encoder_bwd = [nn.RNN(nn.OptimizedLSTMCell(self.hidden), return_carry=True, reverse=True,
                                       keep_order=True, name=f"enc_lstm_bwd_{i}") for i in range(self.layers)]
        self.to_code = nn.Dense(self.latent_dim, name="to_code")
        self.init_c = [nn.Dense(self.hidden, name=f"dec_init_c_{i}") for i in range(self.layers)]
        self.init_h = [nn.Dense(self.hidden, name=f"dec_init_h_{i}") for i in range(self.layers)]
        self.decoder = [nn.RNN(nn.OptimizedLSTMCell(self.hidden), name=f"dec_lstm_{i}")
                        for i in range(self.layers)]
        self.out = nn.Dense(f, name="out")

    def encode(self, x, *, train: bool = False):
        """[B, *out_shape] -> code [B, latent_dim]."""
        del train
        t, f = self.seq_shape
        h = x.reshape(x.shape[0], t, f)  # [B, T, F]
        for i, rnn in enumerate(self.encoder):
            carry, out = rnn(h)           # out: [B, T, hidden]
            if self.bidirectional:
                carry_b, out_b = self.encoder_bwd[i](h)
                out = jnp.concatenate([out, out_b], axis=-1)  # [B, T, 2 hidden]
            h = out
        last = carry[1]                   # final hidden state [B, hidden] (carry = (c, h))
        if self.bidirectional:
            last = jnp.concatenate([last, carry_b[1]], axis=-1)  # [B, 2 hidden]
        return activation(self.latent_activation)(self.to_code(last))

    def _time_features(self, t: int):
        """[T, time_features]: sin / cos of the step index at geometric frequencies (0 features -> [T, 0])."""
        k = self.time_features // 2
        pos = jnp.arange(t, dtype=jnp.float32)[:, None]                     # [T, 1]
        freq = jnp.pi / t * (2.0 ** jnp.arange(k, dtype=jnp.float32))[None]  # [1, k]
        feats = [jnp.sin(pos * freq), jnp.cos(pos * freq)]
        if self.time_features % 2:
            feats.append(pos / t)
        return jnp.concatenate(feats, axis=1)

    def decode(self, z, *, train: bool = False):
        """code [B, latent_dim] -> reconstruction [B, *out_shape]."""
        del train
        t, _ = self.seq_shape
        h = jnp.broadcast_to(z[:, None, :], (z.shape[0], t, z.shape[-1]))  # [B, T, latent_dim]
        if self.time_features:
            tf = self._time_features(t)                                     # [T, time_features]
            h = jnp.concatenate([h, jnp.broadcast_to(tf[None], (z.shape[0], *tf.shape))], axis=-1)
        for i, rnn in enumerate(self.decoder):
            carry = (jnp.tanh(self.init_c[i](z)), jnp.tanh(self.init_h[i](z)))  # ([B, hidden],) * 2
            h = rnn(h, initial_carry=carry)                                     # [B, T, hidden]
        y = activation(self.output_activation)(self.out(h))                     # [B, T, F]
        return y.reshape(z.shape[0], *self.out_shape)                           # [B, *out_shape]

    def __call__(self, x, *, train: bool = False):
        return self.decode(self.encode(x, train=train), train=train)
