"""Convolutional autoencoder: (Conv -> MaxPool 2)* then (Conv -> UpSample 2)* then Conv.

The course's Part 2 (defaults): Conv 16 (3x3) -> MaxPool 2 -> Conv 8 (3x3) ->
MaxPool 2 [bottleneck 7x7x8 = 392 values] -> Conv 8 -> UpSample 2 -> Conv 16 ->
UpSample 2 -> Conv 1 (3x3). The course listing's 10x10 example is
``ConvAE(encoder=((64, 4),), decoder=((64, 4),))``: Conv 64 (4x4) -> MaxPool
-> Conv 64 (4x4) -> UpSample -> Conv 1 (3x3). All convolutions use 'same'
padding, as in the course's Keras code.

Computed in the forms XLA:CPU runs fastest, with ``nn.Conv``'s parameters (names, shapes,
initializers): each encoder convolution and its pool are one ``PooledConv`` (max of four
strided slices, then the bias and a non-decreasing activation on a quarter of the values; on CPU
a layer of few input channels, such as the first, as one matmul over its pool-grouped taps,
``pooled_conv_rows``); every decoder convolution that reads an upsampled image is an ``UpConv``,
which never builds that image on CPU: the output convolution as its taps' products at the low
resolution, a narrow hidden one as one matmul per output-row parity against a banded matrix
(``conv_upsampled_band``). Measured one by one: benchmarks/conv_formulations.py.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import flax.linen as nn

from aejax.models.common import activation, initializer, MONOTONE, NORMS, norm_layers, normed, register
from aejax.models.convolutions import Conv, max_pool_2x2, PooledConv, UpConv


@register("conv")
class ConvAE(nn.Module):
    """Convolutional autoencoder; ``encoder`` / ``decoder`` are (channels, kernel) pairs."""

    out_shape: Sequence[int]  # (H, W, C) of one example
    encoder: Sequence[Sequence[int]] = ((16, 3), (8, 3))
    decoder: Sequence[Sequence[int]] = ((8, 3), (16, 3))
    output_kernel: int = 3
    activation: str = "relu"
    output_activation: str = "sigmoid"
    kernel_init: str = "lecun_normal"  # Flax's default; "glorot_uniform" is Keras'
    NORMS: ClassVar[tuple[str, ...]] = NORMS  # the choices of ``norm``
    norm: str = "none"  # "batch" / "layer": that normalization after each hidden convolution, before its activation

    def setup(self):
        init = initializer(self.kernel_init)
        self.enc_norms = norm_layers(self.norm, len(self.encoder), "enc")
        self.dec_norms = norm_layers(self.norm, len(self.decoder), "dec")
        # Without a normalization between them, and with non-decreasing activations (which commute
        # with the max), each convolution and its max-pool are one PooledConv: pool, then activate.
        self.pooled = self.norm == "none" and all(a in MONOTONE for a in self.encoder_activations())
        self.enc_convs = [PooledConv(c, k, init, name=f"enc_{i}") if self.pooled else
                          Conv(c, k, init, name=f"enc_{i}")
                          for i, (c, k) in enumerate(self.encoder)]
        # Every decoder convolution but the first reads an upsampled image: UpConv upsamples and convolves.
        self.dec_convs = [UpConv(c, k, None, init, name=f"dec_{i}") if i else
                          Conv(c, k, init, name=f"dec_{i}")
                          for i, (c, k) in enumerate(self.decoder)]
        if self.decoder:  # the output convolution reads an upsampled image: computed at the low resolution
            self.out_conv = UpConv(self.out_shape[-1], self.output_kernel, tuple(self.out_shape[:2]), init, name="out")
        else:
            self.out_conv = Conv(self.out_shape[-1], self.output_kernel, init, name="out")

    def encoder_activations(self) -> list[str]:
        """The activation of each encoder convolution, by name."""
        return [self.activation] * len(self.encoder)

    def encode(self, x, *, train: bool = False):
        """[B, H, W, C] -> bottleneck [B, H / 2^k, W / 2^k, C_k] (7x7x8 for the course)."""
        for conv, norm, name in zip(self.enc_convs, self.enc_norms, self.encoder_activations()):
            act = activation(name)
            if self.pooled:
                x = act(conv(x))
                continue
            x = normed(norm, conv(x), train)
            x = act(max_pool_2x2(x)) if name in MONOTONE else max_pool_2x2(act(x))
        return x

    def decode(self, z, *, train: bool = False):
        """bottleneck -> reconstruction [B, H, W, C] (cropped if pooling rounded up)."""
        act = activation(self.activation)
        for conv, norm in zip(self.dec_convs, self.dec_norms):  # dec_1, ... upsample their input (UpConv)
            z = act(normed(norm, conv(z), train))
        # The last upsample is the output convolution's (UpConv), which also crops odd sizes back
        # ('same' pooling rounded up).
        return activation(self.output_activation)(self.out_conv(z))

    def __call__(self, x, *, train: bool = False):
        return self.decode(self.encode(x, train=train), train=train)
