"""Images <-> columns (traces): the column view of the TGS "auto-associative" notebook.

A seismic image is a set of traces side by side: column ``j`` of an image is the
recorded signal of one receiver position, sampled down the rows (time / depth).
:func:`images_to_columns` turns a batch of images into one example per column,
so a 101-pixel image gives 101 examples of length 101 (101 times more data);
:func:`columns_to_images` is its exact inverse. Both work for any image source
(seismic, MNIST, ...): a 28x28 digit gives 28 columns of length 28.

Layout (documented contract): column ``j`` of image ``i`` is row ``i * W + j``
of the column matrix, and its entries run top to bottom.
"""
from __future__ import annotations

import numpy as np

from aejax.errors import UserError


def images_to_columns(x: np.ndarray) -> np.ndarray:
    """Cut images into their columns (one trace per row of the result).

    x: [N, H, W, 1] or [N, H, W]  ->  [N * W, H]
    Row ``i * W + j`` of the result is column ``j`` of image ``i`` (top to bottom).
    """
    x = np.asarray(x)
    if x.ndim == 4:
        if x.shape[-1] != 1:
            raise UserError(f"images_to_columns: expected one channel, got shape {x.shape}")
        x = x[..., 0]                               # [N, H, W]
    if x.ndim != 3:
        raise UserError(f"images_to_columns: expected [N, H, W(, 1)] images, got shape {x.shape}")
    n, h, w = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(n * w, h)  # [N, W, H] -> [N*W, H]


def columns_to_images(cols: np.ndarray, width: int) -> np.ndarray:
    """Reassemble images from their columns; the exact inverse of :func:`images_to_columns`.

    cols: [N * width, H]  ->  [N, H, width, 1]
    """
    cols = np.asarray(cols)
    if cols.ndim != 2 or width <= 0 or cols.shape[0] % width:
        raise UserError(f"columns_to_images: expected [N * {width}, H] columns, got shape {cols.shape}")
    h = cols.shape[1]
    x = cols.reshape(-1, width, h).transpose(0, 2, 1)  # [N, W, H] -> [N, H, W]
    return np.ascontiguousarray(x)[..., None]           # [N, H, W, 1]
