"""Configs are nested dicts of JSON values; experiments build them in ``get_config()``.

:func:`base_config` holds the keys every training experiment understands;
an experiment starts from it and changes what it needs. :func:`override`
applies ``--set key.path=value``: the key must already exist (a misspelt key
is an error naming it) and the value is parsed as JSON (``3``, ``1e-3``,
``true``, ``[32, 16]``, ``"text"``) or, failing that, taken as a string.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Iterable, Mapping

from aejax.errors import UserError


#: The ``log`` section: live sinks beside metrics.jsonl. ``tensorboard``: write TensorBoard event
#: files into the run directory (scalars every epoch); ``images_every``: a reconstruction grid of the
#: first ``figures.examples`` validation images every this many epochs (image data; 0 = never).
LOG_DEFAULTS = {"tensorboard": False, "images_every": 10, "wandb": False, "mlflow": False, "mlflow_uri": ""}


def base_config() -> dict:
    """The keys every training experiment understands, with their defaults."""
    return {
        "seed": 0,
        "data": {
            "name": "mnist5k",
            "val_fraction": 0.1,    # carved from the training part
            "test_fraction": 0.2,   # pooled sources only (others keep their test split)
            "limit": 0,             # >0: keep at most this many examples per split
            "noise_std": 0.0,       # >0: denoising, input = clip(x + noise_std * N(0, 1), 0, 1)
            "options": {},          # extra keyword arguments for the source
        },
        "model": {"name": "dense", "latent_dim": 100},
        "train": {
            "epochs": 150,
            "batch_size": 256,
            "learning_rate": 1e-3,
            "lr_schedule": "constant",  # or "cosine": decay to 0 over train.epochs
            "warmup_epochs": 0.0,       # >0: ramp the rate linearly from 0 over this many epochs first
            "optimizer": "adam",
            "adam_eps": 1e-8,           # adam / adamw epsilon (optax's default; Keras uses 1e-7)
            "weight_decay": 0.0,
            "grad_clip_norm": 0.0,      # >0: clip the gradient to this global L2 norm (optax.clip_by_global_norm)
            "grad_clip_value": 0.0,     # >0: clip each gradient element to [-v, v] (optax.clip)
            "patience": 0,          # epochs without val improvement before stopping; 0 = never
            "loss": "mse",
            "eval_batch_size": 1000,
            "strategy": "mesh",     # "mesh" (jit + NamedSharding) or "pmap"; both data-parallel
            "scan_epoch": True,     # epoch = one lax.scan; false: a loop over the jitted step (mnist_conv, on CPU)
            "progress": True,
            "checkpoint_every_s": 30.0,  # save 'latest' at most this often (and at the end)
        },
        "analysis": {"enabled": True},
        "figures": {"examples": 10},
        "log": dict(LOG_DEFAULTS),  # live metrics while training (aejax.run.sinks); metrics.jsonl stays the record
    }


def override(cfg: Mapping, assignments: Iterable[str]) -> dict:
    """A copy of ``cfg`` with each ``key.path=value`` assignment applied."""
    cfg = copy.deepcopy(dict(cfg))
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.epochs=10")
        set_path(cfg, key.strip(), parse_value(text))
    return cfg


def parse_value(text: str) -> Any:
    """JSON if it parses (numbers, booleans, lists, quoted strings), else the raw string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def set_path(cfg: dict, key: str, value: Any) -> None:
    """Set ``cfg[a][b][c] = value`` for ``key='a.b.c'``; the key must exist and the
    new value must have a compatible type (int where an int is, ...)."""
    node, parts = cfg, key.split(".")
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            raise UserError(f"--set {key}: unknown config key {'.'.join(parts[:i + 1])!r}; "
                            f"known keys here: {', '.join(sorted(node)) or '(none)'}")
        node = node[part]
    last = parts[-1]
    if last not in node:
        prefix = ".".join(parts[:-1])
        known = ", ".join(f"{prefix + '.' if prefix else ''}{k}" for k in sorted(node))
        raise UserError(f"--set {key}: unknown config key {key!r}; known keys: {known}")
    node[last] = _coerce(key, node[last], value)


def _coerce(key: str, old: Any, new: Any) -> Any:
    if old is None or isinstance(old, dict) and isinstance(new, dict):
        return new
    if isinstance(old, bool):
        if isinstance(new, bool):
            return new
    elif isinstance(old, int):
        if isinstance(new, int) and not isinstance(new, bool):
            return new
    elif isinstance(old, float):
        if isinstance(new, (int, float)) and not isinstance(new, bool):
            return float(new)
    elif isinstance(old, str):
        return new if isinstance(new, str) else json.dumps(new)
    elif isinstance(old, (list, tuple)):
        if isinstance(new, list):
            return new
    else:
        return new
    raise UserError(f"--set {key}={json.dumps(new)}: expected {kind_of(old)} like the default {json.dumps(old)}")


def kind_of(value) -> str:
    """What a value is, in words, for messages: 'an integer', 'a number', 'true or false', ..."""
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list",
            tuple: "a list", dict: "a mapping"}.get(type(value), f"a {type(value).__name__}")


def get(cfg: Mapping, key: str, default: Any = None) -> Any:
    """``cfg['a']['b']`` for ``key='a.b'``, or ``default`` if any part is missing."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def flatten(cfg: Mapping, prefix: str = "") -> dict:
    """{'a.b': value} for every leaf (dict values are descended into)."""
    out = {}
    for k, v in cfg.items():
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
