"""``binarized:SOURCE``: any image source with its pixels thresholded to {0, 1}.

``data.name=binarized:mnist5k`` is mnist5k with every pixel set to 1 where it
is above ``threshold`` (default 0.5) and 0 elsewhere, the fixed binarisation
used for VAE likelihood numbers in nats (a Bernoulli decoder is then an exact
likelihood). ``binarized:idx:/usr/share/datasets/fashion-mnist`` works the
same for any other source; the inner source is split exactly as it would be
on its own (same seed, same fractions), only its pixel values change.
Options: ``threshold`` (in (0, 1)).
"""
from __future__ import annotations

import numpy as np

from aejax.data import Raw, Split, _resolve, register
from aejax.errors import UserError


def binarize(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """float32 {0, 1}: 1 where ``x > threshold``. Any shape."""
    return (np.asarray(x) > threshold).astype(np.float32)


@register("binarized", takes_arg=True)
def binarized(source: str, *, seed: int = 0, threshold: float = 0.5) -> Raw:
    """An image source thresholded to {0, 1} pixels (binarized:mnist5k, binarized:idx:DIR)."""
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise UserError(f"binarized:{source}: option threshold={threshold!r}: expected a number") from None
    if not 0.0 < threshold < 1.0:
        raise UserError(f"binarized:{source}: option threshold={threshold}: expected a number in (0, 1)")
    src, arg = _resolve(source)
    raw = src.fn(arg, seed=seed) if src.takes_arg else src.fn(seed=seed)
    if raw.meta.get("kind") != "image":
        raise UserError(f"binarized:{source}: {source!r} is not an image source (kind "
                        f"{raw.meta.get('kind')!r}); binarisation needs pixel values in [0, 1]")

    def bin_split(s: Split | None) -> Split | None:
        return None if s is None else Split(binarize(s.x, threshold), s.y, s.extras)

    return Raw(bin_split(raw.train), bin_split(raw.test), {**raw.meta, "binarized": threshold})
