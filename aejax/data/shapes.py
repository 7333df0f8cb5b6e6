"""``shapes``: a small dSprites-like dataset with known generative factors.

32x32 grey images of one white shape on black, drawn from five independent
factors, each uniform over a small grid of values (as dSprites, Matthey et al.
2017, but smaller so that it is made in about a second and trains in seconds):

| factor | values |
| --- | --- |
| ``shape`` | 0 square, 1 ellipse (2:1), 2 triangle (categorical) |
| ``scale`` | 6 values, 0.5 .. 1.0 |
| ``rotation`` | 8 values, 0 .. 78.75 degrees (step 11.25; no two rotations of a shape look alike) |
| ``x``, ``y`` | 8 centre positions each, 10 .. 22 px |

Pixels are the covered fraction of each pixel (3x3 supersampling), float32 in
[0, 1], NHWC ``[N, 32, 32, 1]``. Labels: the shape. Extras: each factor as a
float32 [N] array (the values in the table; shape as 0 / 1 / 2). ``meta``:
``factors`` (names, in order), ``factor_kinds`` (``categorical`` /
``ordinal``). Options: ``n`` (images, default 10,000; the full grid has
9,216 combinations, examples are drawn with replacement), ``supersample``.

Determinism: ``np.random.default_rng([seed, 7])`` draws the factors.
Measured: 10,000 images in 2.0 CPU-seconds (4-5 s wall on the shared 2-core machine).
"""
from __future__ import annotations

import numpy as np

from aejax.data import Raw, Split, register
from aejax.errors import UserError

SIZE = 32
RADIUS = 6.5                 # circumradius at scale 1, px
FACTORS = ("shape", "scale", "rotation", "x", "y")
FACTOR_VALUES = {
    "shape": np.arange(3, dtype=np.float32),
    "scale": np.linspace(0.5, 1.0, 6, dtype=np.float32),
    "rotation": np.arange(8, dtype=np.float32) * 11.25,
    "x": np.linspace(10.0, 22.0, 8, dtype=np.float32),
    "y": np.linspace(10.0, 22.0, 8, dtype=np.float32),
}
FACTOR_KINDS = {"shape": "categorical", "scale": "ordinal", "rotation": "ordinal",
                "x": "ordinal", "y": "ordinal"}


def _inside(shape: np.ndarray, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Coverage test in each shape's own (rotated, centred) frame.

    ``shape``, ``r`` [B, 1, 1]; ``u``, ``v`` [B, S, S] sample coordinates -> bool [B, S, S].
    """
    a = r / np.sqrt(2.0)                                        # square: half side (corners on the circle)
    square = (np.abs(u) <= a) & (np.abs(v) <= a)
    ellipse = (u / r) ** 2 + (v / (0.5 * r)) ** 2 <= 1.0
    tri = np.ones_like(square)
    for i in range(3):                                          # equilateral: inradius r / 2
        ang = np.pi / 2 + np.pi + 2 * np.pi * i / 3             # outward normals, one edge at the bottom
        tri &= u * np.cos(ang) + v * np.sin(ang) <= 0.5 * r
    return np.where(shape == 0, square, np.where(shape == 1, ellipse, tri))


def render(factors: dict, supersample: int = 3, chunk: int = 512) -> np.ndarray:
    """Images [N, 32, 32, 1] float32 for factor arrays (each [N], values as in the table)."""
    n = len(factors["shape"])
    s = int(supersample)
    # Sample points: s x s per pixel, at sub-pixel centres; pixel i covers [i, i + 1).
    grid = (np.arange(SIZE * s, dtype=np.float32) + 0.5) / s  # [S]
    gy, gx = np.meshgrid(grid, grid, indexing="ij")             # [S, S] (rows = y)
    out = np.empty((n, SIZE, SIZE, 1), np.float32)
    for c in range(0, n, chunk):
        sl = slice(c, min(c + chunk, n))
        col = lambda k: np.asarray(factors[k][sl], np.float32)[:, None, None]  # [B, 1, 1]
        th = np.deg2rad(col("rotation"))
        dx, dy = gx[None] - col("x"), gy[None] - col("y")      # [B, S, S]
        u = dx * np.cos(th) + dy * np.sin(th)                   # rotate into the shape's frame
        v = -dx * np.sin(th) + dy * np.cos(th)
        cover = _inside(col("shape"), u, v, RADIUS * col("scale")).astype(np.float32)
        b = cover.shape[0]
        out[sl, :, :, 0] = cover.reshape(b, SIZE, s, SIZE, s).mean(axis=(2, 4))  # [B, 32, 32]
    return out


def sample_factors(n: int, seed: int) -> dict:
    """``n`` independent draws of every factor, uniform over its values -> {name: float32 [n]}."""
    rng = np.random.default_rng([int(seed), 7])
    return {k: FACTOR_VALUES[k][rng.integers(0, len(FACTOR_VALUES[k]), n)] for k in FACTORS}


@register("shapes")
def shapes(*, seed: int = 0, n: int = 10000, supersample: int = 3) -> Raw:
    """dSprites-like 32x32 shapes with known factors (shape, scale, rotation, x, y)."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10_000_000:
        raise UserError(f"shapes: option n={n!r}: expected a whole number of images >= 1")
    if not isinstance(supersample, int) or isinstance(supersample, bool) or not 1 <= supersample <= 8:
        raise UserError(f"shapes: option supersample={supersample!r}: expected an integer 1..8")
    if int(seed) < 0:
        raise UserError(f"seed={seed!r}: shapes needs a non-negative seed")
    f = sample_factors(n, seed)
    x = render(f, supersample)
    return Raw(Split(x, f["shape"].astype(np.int32), f), None,
               {"kind": "image", "classes": 3, "factors": list(FACTORS),
                "factor_kinds": dict(FACTOR_KINDS)})
