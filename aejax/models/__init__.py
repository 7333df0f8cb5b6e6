"""Flax linen autoencoders: every model has ``encode`` / ``decode`` / ``__call__``.

:func:`build` turns the ``model`` section of a config into a module; a key the
model does not take is an error naming it (a misspelt sweep key fails at once).
A model is one file here whose class is decorated ``@register("name")``.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from typing import Mapping

import numpy as np

from aejax.errors import UserError
from aejax.models.common import ACTIVATIONS, MODELS, initializer, register  # noqa: F401  (register: the public name)
from aejax.models.dense import square_ish


def check(model_cfg: Mapping) -> type:
    """The model class named by ``model_cfg['name']``, after checking every other key is one of its
    settings with a sensible value (a :class:`UserError` naming the key otherwise)."""
    cfg = dict(model_cfg)
    name = cfg.pop("name", None)
    if name not in MODELS:
        raise UserError(f"model.name={name!r}: unknown model; expected one of {sorted(MODELS)}")
    cls = MODELS[name]
    fields = {f.name for f in dataclasses.fields(cls)} - {"parent", "name", "out_shape"}
    unknown = sorted(set(cfg) - fields)
    if unknown:
        raise UserError(f"model.{unknown[0]}: not a setting of model {name!r}; "
                        f"it takes {sorted(fields)}")
    _check_values(cfg)
    norms = getattr(cls, "NORMS", None)  # the model's choices of model.norm
    if "norm" in cfg and norms is not None and cfg["norm"] not in norms:
        raise UserError(f"model.norm={json.dumps(cfg['norm'])}: expected one of {list(norms)} for model {name!r}")
    return cls


def build(model_cfg: Mapping, example_shape) -> "object":
    """The module named by ``model_cfg['name']``, its fields from the other keys."""
    cls = check(model_cfg)
    cfg = {k: tuple(tuple(i) if isinstance(i, list) else i for i in v) if isinstance(v, list) else v
           for k, v in model_cfg.items() if k != "name"}
    return cls(out_shape=tuple(example_shape), **cfg)


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _check_values(cfg: Mapping) -> None:
    """The common settings' values, checked before a model is built (exit 2 naming the key)."""
    def bad(key, expected):
        raise UserError(f"model.{key}={json.dumps(cfg[key])}: expected {expected}")
    for key, v in cfg.items():
        if key in ("latent_dim", "n_latent", "units") and not _positive_int(v):
            bad(key, "an integer >= 1")
        elif key == "hidden" and not (_positive_int(v) or (isinstance(v, list) and all(map(_positive_int, v)))):
            bad(key, "a list of integers >= 1, e.g. [400, 200]")
        elif key in ("encoder", "decoder") and not (
                isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 and all(map(_positive_int, p))
                                            for p in v)):
            bad(key, "a list of [channels, kernel] pairs of integers >= 1, e.g. [[16, 3], [8, 3]]")
        elif key.endswith("activation") and isinstance(v, str) and v not in ACTIVATIONS:
            bad(key, f"one of {sorted(ACTIVATIONS)}")
        elif key == "kernel_init":
            try:
                initializer(v)
            except ValueError as e:
                raise UserError(f"model.kernel_init: {e}") from None


def code_images(code: np.ndarray) -> np.ndarray:
    """Codes as 2-D images for figures: [B, D] -> [B, h, w] (100 -> 10x10);
    [B, h, w, C] -> the C maps tiled in a grid (7x7x8 -> 28x14, 4 rows x 2 columns)."""
    code = np.asarray(code)
    if code.ndim == 2:
        h, w = square_ish(code.shape[1])
        return code.reshape(len(code), h, w)  # [B, h, w]
    b, h, w, c = code.shape
    cols = square_ish(c)[1]
    rows = c // cols
    g = code.reshape(b, h, w, rows, cols).transpose(0, 3, 1, 4, 2)  # [B, rows, h, cols, w]
    return g.reshape(b, rows * h, cols * w)


# Every module of this package is imported, so each model file registers its classes
# (@register) without a hand-kept list.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
