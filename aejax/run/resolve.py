"""From an experiment and the command line to the config one run trains with.

``get_config()`` -> ``--quick`` (the experiment's ``quick`` hook or :func:`quick_config`) ->
``--set`` overrides -> the experiment's ``resolve`` hook -> :func:`validate`. A ``resolve`` that
would change a value the user set with ``--set`` is refused (exit 2, naming the key): what the
user asked for is either trained or refused, never silently replaced.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping

from aejax import config as config_lib
from aejax import models
from aejax.errors import UserError
from aejax.models import losses
from aejax.run import experiment as experiment_lib
from aejax.run import sinks
from aejax.run.experiment import Experiment
from aejax.run.sweep import fit_name, run_name
from aejax.train import optim

#: Settings that do not change a run's results: not part of its default directory name.
NOT_IN_NAME = ("train.progress", "train.checkpoint_every_s")


def resolve_config(exp: Experiment, overrides: Iterable[str] = (), quick: bool = False) -> dict:
    """The experiment's config with ``--quick`` and ``--set`` applied, resolved, then validated."""
    overrides = list(overrides)
    cfg = _checked(exp, "get_config", experiment_lib.call(exp, "get_config"))
    if quick:
        cfg = _checked(exp, "quick", experiment_lib.call(exp, "quick", cfg)) if exp.quick is not None \
            else quick_config(cfg)
    cfg = config_lib.override(cfg, overrides)
    if exp.resolve is not None:
        asked = config_lib.flatten(cfg)
        cfg = _checked(exp, "resolve", experiment_lib.call(exp, "resolve", json.loads(json.dumps(cfg))))
        now = config_lib.flatten(cfg)
        for item in overrides:
            key = item.partition("=")[0].strip()
            for k in [k for k in asked if k == key or k.startswith(key + ".")]:
                if now.get(k, asked[k]) != asked[k] or k not in now:
                    raise UserError(f"--set {key}: experiment {exp.name!r} sets {k} itself "
                                    f"({json.dumps(now.get(k))}, not {json.dumps(asked[k])}); "
                                    "change the keys it derives it from instead")
    validate(cfg)
    models.check(cfg["model"])  # the model's settings, before any file is written
    cfg["experiment"] = exp.ref  # load_run reapplies its prepare_data
    return cfg


def _checked(exp: Experiment, hook: str, cfg) -> dict:
    """A hook's config: a dict with the keys every training experiment has (exit 2 otherwise)."""
    if not isinstance(cfg, dict):
        raise UserError(f"{exp.module.__file__}: {hook}() returned {type(cfg).__name__}, not a config dict")
    base = config_lib.base_config()
    required = ["seed", "model.name"] + [f"{sec}.{k}" for sec in ("data", "train") for k in base[sec]]
    missing = [k for k in required if config_lib.get(cfg, k, _MISSING) is _MISSING]
    if missing:
        raise UserError(f"{exp.module.__file__}: {hook}() returned a config without {', '.join(missing[:5])}"
                        f"{', ...' if len(missing) > 5 else ''}; start from aejax.config.base_config()")
    return cfg


_MISSING = object()


def quick_config(cfg: dict, *, limit: int | None = 512, analysis: bool = True, **train) -> dict:
    """The default ``--quick`` smoke run: little data (at most ``limit`` examples; None leaves the
    data as configured), two epochs, small batches, every stage still runs. ``analysis=False`` skips
    the latent analysis; ``train`` overrides keys of the ``train`` section (``epochs=1``, ...)."""
    cfg = json.loads(json.dumps(cfg))
    if limit is not None:
        cfg["data"]["limit"] = cfg["data"].get("limit") or limit
    t = cfg["train"]
    t["epochs"] = 2
    t["batch_size"] = min(t["batch_size"], 64)
    t["eval_batch_size"] = min(t.get("eval_batch_size", 1000), 256)
    t.update(train)
    if not analysis:
        cfg["analysis"]["enabled"] = False
    cfg["quick"] = True
    return cfg


def validate(cfg: Mapping) -> None:
    """Check values that would otherwise fail deep inside training (exit 2 naming the key)."""
    t, d = cfg["train"], cfg["data"]
    num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    checks = [
        (isinstance(cfg.get("seed"), int) and not isinstance(cfg.get("seed"), bool)
         and 0 <= cfg["seed"] < 2 ** 32, "seed", "an integer in [0, 2^32)"),
        (isinstance(t["eval_batch_size"], int) and t["eval_batch_size"] >= 1, "train.eval_batch_size",
         "an integer >= 1"),
        (num(t.get("weight_decay", 0)) and t.get("weight_decay", 0) >= 0, "train.weight_decay", "a number >= 0"),
        (num(t.get("grad_clip_norm", 0)) and t.get("grad_clip_norm", 0) >= 0, "train.grad_clip_norm",
         "a number >= 0 (0 = no clipping)"),
        (num(t.get("grad_clip_value", 0)) and t.get("grad_clip_value", 0) >= 0, "train.grad_clip_value",
         "a number >= 0 (0 = no clipping)"),
        (num(t["checkpoint_every_s"]) and t["checkpoint_every_s"] >= 0, "train.checkpoint_every_s", "a number >= 0"),
        (isinstance(d["limit"], int) and d["limit"] >= 0, "data.limit", "an integer >= 0 (0 = all)"),
        (num(d["noise_std"]) and d["noise_std"] >= 0, "data.noise_std", "a number >= 0 (0 = no noise)"),
        (isinstance(d["options"], dict), "data.options", "a JSON object, e.g. {\"n\": 2000}"),
        (num(d["test_fraction"]) and 0 < d["test_fraction"] < 1, "data.test_fraction", "a fraction in (0, 1)"),
        (isinstance(cfg.get("figures", {}).get("examples", 10), int)
         and cfg.get("figures", {}).get("examples", 10) >= 1, "figures.examples", "an integer >= 1"),
        (t["epochs"] >= 1, "train.epochs", "an integer >= 1"),
        (t["batch_size"] >= 1, "train.batch_size", "an integer >= 1"),
        (t["learning_rate"] > 0, "train.learning_rate", "a number > 0"),
        (t.get("warmup_epochs", 0) >= 0, "train.warmup_epochs", "a number >= 0 (0 = no warm-up)"),
        (t["patience"] >= 0, "train.patience", "an integer >= 0 (0 = no early stopping)"),
        (t["loss"] in losses.LOSSES, "train.loss", f"one of {sorted(losses.LOSSES)}"),
        (t["strategy"] in ("mesh", "pmap"), "train.strategy", "'mesh' or 'pmap'"),
        (num(d["val_fraction"]) and 0 <= d["val_fraction"] < 1, "data.val_fraction", "a fraction in [0, 1)"),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise UserError(f"{key}={json.dumps(config_lib.get(cfg, key))}: expected {expected}")
    try:
        optim.make_optimizer(t["optimizer"], 1e-3)
    except ValueError as e:
        raise UserError(f"train.optimizer: {e}") from None
    sinks.settings(cfg)  # the log section
    if t.get("lr_schedule", "constant") not in optim.LR_SCHEDULES:
        raise UserError(f"train.lr_schedule={json.dumps(t['lr_schedule'])}: expected one of {list(optim.LR_SCHEDULES)}")


def default_workdir(exp_name: str, cfg: Mapping, overrides: Iterable[str] = ()) -> Path:
    """``results/<experiment>/<run-name>``: ``cfg['name']``, else 'default' / 'quick', followed by
    the ``--set`` overrides (``default,train.epochs=50``), so a run with other settings gets its own
    directory instead of colliding with (or resuming) the default one."""
    name = cfg.get("name") or ("quick" if cfg.get("quick") else "default")
    sets = {}
    for item in overrides:
        key, _, text = item.partition("=")
        if key.strip() not in NOT_IN_NAME:
            sets[key.strip()] = config_lib.parse_value(text)
    if sets:
        name = fit_name(f"{name},{run_name(sets)}")
    return Path("results") / exp_name / name
