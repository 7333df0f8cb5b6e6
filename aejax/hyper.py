"""Building sweeps: axes combined by product / zip, as in disentanglement_lib.

An experiment's ``sweep()`` returns a list of configurations, each a dict of
``{dotted key: value}`` overrides::

    def sweep():
        return hyper.product([hyper.sweep("model.latent_dim", [2, 8, 32]),
                              hyper.sweep("seed", range(3))])

gives 9 configurations. Seeds are an axis like any other.
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


def _merge(configs: Iterable[Config]) -> Config:
    out: Config = {}
    for c in configs:
        clash = set(out) & set(c)
        if clash:
            raise ValueError(f"key {sorted(clash)[0]!r} set by two axes")
        out.update(c)
    return out
