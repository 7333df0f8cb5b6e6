"""Data sources: a source name -> numpy arrays, split deterministically by seed.

Every source is registered under a name (``mnist5k``) or a prefix taking an
argument (``idx:DIR``, ``tfds:NAME``, ``csv:PATH``). A source returns either one
pool of examples, which :func:`load` splits into train / val / test with the
seed, or predefined train and test parts, from which :func:`load` carves the
validation split off the training part.

Split rule (documented contract): a pooled source is permuted with
``np.random.default_rng(seed)``; the first ``test_fraction`` of the permutation
is the test split, the next ``val_fraction`` the validation split, the rest
the training split. A source with its own test split keeps it unchanged (and
in its original order, so "the first ten test images" are the canonical ones);
its training part is permuted with the seed and ``val_fraction`` of it becomes
the validation split. ``limit`` (used by ``--quick``) keeps the first ``limit``
training examples after the permutation and at most ``limit`` val/test ones.

Images are float32 in [0, 1], NHWC. Tabular data is float32 [N, F].
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Callable, Mapping

import numpy as np

from aejax.errors import UserError


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: inputs ``x`` [N, ...], optional labels / targets ``y`` [N],
    and any per-example extras (masks, generating factors, ...)."""

    x: np.ndarray
    y: np.ndarray | None = None
    extras: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx) -> "Split":
        """The examples at ``idx`` (an index array or slice)."""
        return Split(self.x[idx], None if self.y is None else self.y[idx],
                     {k: v[idx] for k, v in self.extras.items()})


@dataclasses.dataclass(frozen=True)
class Raw:
    """What a source returns: a pool (``test is None``) or train + test parts.

    ``meta`` is JSON-able: at least ``kind`` ("image" or "table"); images add
    nothing else required; tables may add ``columns`` and scaling information.
    """

    train: Split
    test: Split | None = None
    meta: Mapping = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A loaded, split dataset; ``meta`` is JSON-able and saved with the run."""

    name: str
    train: Split
    val: Split
    test: Split
    meta: Mapping

    @property
    def example_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


@dataclasses.dataclass(frozen=True)
class Source:
    """A registered source. ``fn(arg, seed=..., **options) -> Raw``."""

    name: str
    fn: Callable[..., Raw]
    takes_arg: bool
    doc: str


SOURCES: dict[str, Source] = {}


def register(name: str, *, takes_arg: bool = False):
    """Decorator registering a source; ``takes_arg`` for ``prefix:ARG`` names."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        SOURCES[name] = Source(name, fn, takes_arg, doc)
        return fn

    return deco


def _resolve(name: str) -> tuple[Source, str | None]:
    _import_sources()
    prefix, sep, arg = name.partition(":")
    src = SOURCES.get(prefix)
    if src is None or src.takes_arg != bool(sep) or (sep and not arg):
        known = ", ".join(s.name + (":ARG" if s.takes_arg else "") for s in SOURCES.values())
        raise UserError(f"data.name={name!r}: unknown data source; expected one of {known}")
    return src, (arg if sep else None)


def load(name: str, *, seed: int = 0, val_fraction: float = 0.1,
         test_fraction: float = 0.2, limit: int | None = None,
         options: Mapping | None = None) -> Dataset:
    """Load source ``name`` and split it deterministically (see module doc)."""
    src, arg = _resolve(name)
    options = dict(options or {})
    accepted = {p.name for p in inspect.signature(src.fn).parameters.values()
                if p.kind is p.KEYWORD_ONLY} - {"seed"}  # options are keyword-only
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise UserError(f"data.options.{unknown[0]}: not an option of source {src.name!r}; "
                        f"it takes {sorted(accepted) or 'none'}")
    raw = src.fn(arg, seed=seed, **options) if src.takes_arg else src.fn(seed=seed, **options)
    rng = np.random.default_rng(seed)
    if raw.test is None:
        n = len(raw.train)
        perm = rng.permutation(n)
        n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
        test, val, train = (raw.train.take(perm[:n_test]),
                            raw.train.take(perm[n_test:n_test + n_val]),
                            raw.train.take(perm[n_test + n_val:]))
    else:
        n = len(raw.train)
        perm = rng.permutation(n)
        n_val = int(round(n * val_fraction))
        test, val, train = raw.test, raw.train.take(perm[:n_val]), raw.train.take(perm[n_val:])
    if limit:
        train, val, test = train.take(slice(0, limit)), val.take(slice(0, limit)), test.take(slice(0, limit))
    if min(len(train), len(val), len(test)) == 0:
        raise UserError(f"data.name={name!r}: a split is empty (train {len(train)}, "
                        f"val {len(val)}, test {len(test)}); use more data or other fractions")
    return Dataset(name, train, val, test, dict(raw.meta))


def _import_sources() -> None:
    """Import every module of this package, so each registers its sources (@register) without
    a hand-kept list; done on first use, not at import (some are heavy)."""
    import importlib
    import pkgutil
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def list_sources() -> list[Source]:
    """All registered sources, for ``aejax list``."""
    _import_sources()
    return list(SOURCES.values())
