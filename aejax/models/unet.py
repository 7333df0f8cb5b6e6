"""A small U-Net: per-pixel logits for segmentation (channels last).

Encoder: (3x3 conv -> ReLU) x 2 at each of ``features`` (one 2x2 max-pool between levels, 'same'
padding, so odd sizes round up: 101 -> 51 -> 26); decoder: nearest 2x upsampling, cropped to the
skip's size, concatenated with it, (3x3 conv -> ReLU) x 2; a 1x1 conv to ``out_channels`` logits
per pixel: K for a per-pixel softmax over K classes, 1 for a sigmoid. It maps images to logits,
not to images, so it has ``__call__`` and ``encode`` (the bottleneck) but no ``decode``.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from aejax.models.common import register
from aejax.models.convolutions import Conv, max_pool_2x2, upsample_2x2


def _block(features: int, name: str):
    return nn.Sequential([Conv(features, 3, name=f"{name}_a"), nn.relu, Conv(features, 3, name=f"{name}_b"), nn.relu])


@register("unet")
class UNet(nn.Module):
    """[B, H, W, C] -> logits [B, H, W, out_channels]."""

    out_shape: Sequence[int]             # one input's shape (H, W, C)
    features: Sequence[int] = (8, 16, 32)
    out_channels: int = 2

    def setup(self):
        self.down = [_block(f, f"down_{i}") for i, f in enumerate(self.features[:-1])]
        self.bottom = _block(self.features[-1], "bottom")
        self.up = [_block(f, f"up_{i}") for i, f in enumerate(self.features[:-1])]
        self.logits = Conv(self.out_channels, 1, name="logits")

    def _encode(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)           # [B, H_i, W_i, f_i]
            x = max_pool_2x2(x)
        return self.bottom(x), skips

    def encode(self, x, *, train: bool = False):
        """[B, H, W, C] -> bottleneck [B, H / 2^L, W / 2^L, features[-1]] (rounded up)."""
        del train
        return self._encode(x)[0]

    def __call__(self, x, *, train: bool = False):
        del train
        h, skips = self._encode(x)
        for block, skip in reversed(list(zip(self.up, skips))):
            h = upsample_2x2(h)[:, : skip.shape[1], : skip.shape[2]]  # [B, H_i, W_i, f]
            h = block(jnp.concatenate([h, skip], axis=-1))
        return self.logits(h)  # [B, H, W, out_channels]
