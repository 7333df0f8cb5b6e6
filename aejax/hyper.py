"""Building sweeps: axes combined by product / zip, as in disentanglement_lib.

An experiment's ``sweep()`` returns a list of configurations, each a dict of
``{dotted key: value}`` overrides::

    def sweep():
        return hyper.product([hyper.sweep("model.latent_dim", [2, 8, 32]),
                              hyper.sweep("seed", range(3))])

gives 9 configurations. Seeds are an axis like any other.
:func:`one_at_a_time` varies one axis at a time around a base configuration
(the seed's setup), a sweep that grows with the sum of the axes' lengths
instead of their product.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable, Sequence

Config = dict[str, Any]


def sweep(key: str, values: Iterable[Any]) -> list[Config]:
    """One axis: ``[{key: v} for v in values]``."""
    return [{key: v} for v in values]


def fixed(key: str, value: Any) -> list[Config]:
    """An axis of length one (a setting shared by every configuration)."""
    return [{key: value}]


def product(axes: Sequence[list[Config]]) -> list[Config]:
    """Every combination of the axes (later axes vary fastest)."""
    return [_merge(combo) for combo in itertools.product(*axes)]


def zipit(axes: Sequence[list[Config]]) -> list[Config]:
    """Axes of equal length, combined element by element."""
    lengths = {len(a) for a in axes}
    if len(lengths) > 1:
        raise ValueError(f"zipit needs axes of equal length, got {sorted(lengths)}")
    return [_merge(combo) for combo in zip(*axes)]


def chain(*sweeps: list[Config]) -> list[Config]:
    """Several sweeps one after the other."""
    return [c for s in sweeps for c in s]


def one_at_a_time(base: Config, axes: Sequence[list[Config]]) -> list[Config]:
    """``base`` first, then each axis's values one at a time with every other key at ``base``.

    Every configuration sets every key of ``base`` (so sweep tables have no
    blanks); duplicates of an earlier configuration (the base value on each
    axis) are dropped. A sweep of size 1 + sum(len(axis) - 1) instead of the
    product's prod(len(axis)).
    """
    out: list[Config] = [dict(base)]
    for axis in axes:
        for c in axis:
            unknown = set(c) - set(base)
            if unknown:
                raise ValueError(f"key {sorted(unknown)[0]!r} is not in the base configuration")
            out.append({**base, **c})
    return unique(out)


def unique(configs: Iterable[Config]) -> list[Config]:
    """The configurations in order, each only once (compared by value)."""
    import json
    seen, out = set(), []
    for c in configs:
        key = json.dumps(c, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _merge(configs: Iterable[Config]) -> Config:
    out: Config = {}
    for c in configs:
        clash = set(out) & set(c)
        if clash:
            raise ValueError(f"key {sorted(clash)[0]!r} set by two axes")
        out.update(c)
    return out
