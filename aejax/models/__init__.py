"""Flax linen autoencoders: every model has ``encode`` / ``decode`` / ``__call__``.

:func:`build` turns the ``model`` section of a config into a module; a key the
model does not take is an error naming it (a misspelt sweep key fails at once).
A model is one file here whose class is decorated ``@register("name")``.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Mapping

import numpy as np

from aejax.errors import UserError
from aejax.models.common import MODELS, initializer, register  # noqa: F401  (register: the public name)
from aejax.models.dense import square_ish


def build(model_cfg: Mapping, example_shape) -> "object":
    """The module named by ``model_cfg['name']``, its fields from the other keys."""
    cfg = dict(model_cfg)
    name = cfg.pop("name")
    if name not in MODELS:
        raise UserError(f"model.name={name!r}: unknown model; expected one of {sorted(MODELS)}")
    cls = MODELS[name]
    fields = {f.name for f in dataclasses.fields(cls)} - {"parent", "name", "out_shape"}
    unknown = sorted(set(cfg) - fields)
    if unknown:
        raise UserError(f"model.{unknown[0]}: not a setting of model {name!r}; "
                        f"it takes {sorted(fields)}")
    if "kernel_init" in cfg:
        try:
            initializer(cfg["kernel_init"])
        except ValueError as e:
            raise UserError(f"model.kernel_init: {e}") from None
    cfg = {k: tuple(tuple(i) if isinstance(i, list) else i for i in v) if isinstance(v, list) else v
           for k, v in cfg.items()}
    return cls(out_shape=tuple(example_shape), **cfg)


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
