"""Image splits -> column splits (one trace per example) and back.

:func:`to_columns` turns a loaded image :class:`~aejax.data.Dataset` into a
dataset of columns with :func:`aejax.data.columns.images_to_columns`. The
train / val / test split stays the one :func:`aejax.data.load` made over
IMAGES, so every test column comes from an image the network never saw a
column of. Each column keeps where it came from: ``extras['image']`` (index of
its image within the split) and ``extras['column']`` (its position j), and its
image's label is repeated as ``y``.

Centring: by default the columns are shifted by the mean training column
``mu`` [H] (inputs and targets alike). The autoencoder then learns
``x - mu -> x - mu``; this is the same function class as learning ``x -> x``
(``W (x - mu) + b`` is ``W x + (b - W mu)``, and the decoder adds ``mu`` back),
and the MSE is unchanged because a shift cancels in ``recon - target``. It
is an optimisation matter only: on raw seismic columns (mean ~0.5) a ReLU
code loses many units for good and stays far above the PCA error, centred it
trains to within a fraction of a percent of PCA (numbers:
benchmarks/README.md#seismic_columns). ``meta['columns']['mean']`` keeps ``mu`` so
images can be rebuilt on the data's own scale by :func:`to_images`.
"""
from __future__ import annotations

import numpy as np

from aejax.data import Dataset, Split
from aejax.data.columns import columns_to_images, images_to_columns
from aejax.errors import UserError


def _split_columns(split: Split, mean: np.ndarray) -> Split:
    """One image split [N, H, W, 1] -> its columns [N * W, H] minus ``mean``."""
    n, _, w = split.x.shape[:3]
    cols = images_to_columns(split.x) - mean                    # [N * W, H]
    y = None if split.y is None else np.repeat(np.asarray(split.y), w)
    extras = {"image": np.repeat(np.arange(n, dtype=np.int32), w),
              "column": np.tile(np.arange(w, dtype=np.int32), n)}
    return Split(cols.astype(np.float32), y, extras)


def to_columns(ds: Dataset, *, center: bool = True) -> Dataset:
    """The column view of an image dataset (see the module docstring).

    Returns a Dataset with ``x`` [N * W, H] per split and ``meta['columns']`` =
    ``{'height', 'width', 'images': {split: N}, 'center', 'mean': [H]}``.
    """
    shape = ds.train.x.shape
    if ds.train.x.ndim != 4 or shape[-1] != 1:
        raise UserError(f"data.name={ds.name!r}: the column view needs one-channel images "
                        f"[N, H, W, 1], got examples of shape {tuple(shape[1:])}")
    h, w = shape[1], shape[2]
    train_cols = images_to_columns(ds.train.x)                  # [N * W, H]
    mean = train_cols.mean(axis=0, dtype=np.float64).astype(np.float32) if center \
        else np.zeros(h, np.float32)
    meta = dict(ds.meta)
    meta["columns"] = {"height": int(h), "width": int(w), "center": bool(center),
                       "images": {s: int(len(getattr(ds, s))) for s in ("train", "val", "test")},
                       "mean": [float(v) for v in mean]}
    return Dataset(ds.name, _split_columns(ds.train, mean), _split_columns(ds.val, mean),
                   _split_columns(ds.test, mean), meta)


def column_mean(meta) -> np.ndarray:
    """The centring offset ``mu`` [H] stored by :func:`to_columns`."""
    return np.asarray(meta["columns"]["mean"], np.float32)


def to_images(cols: np.ndarray, meta) -> np.ndarray:
    """Centred columns [N * W, H] -> images [N, H, W, 1] on the data's own scale."""
    return columns_to_images(np.asarray(cols) + column_mean(meta), int(meta["columns"]["width"]))


def image_labels(split: Split, meta) -> np.ndarray | None:
    """Per-image labels [N] of a column split (its ``y`` at each image's first column)."""
    if split.y is None:
        return None
    return np.asarray(split.y)[:: int(meta["columns"]["width"])]
