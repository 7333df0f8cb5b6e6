"""THE builder: config -> dataset, model inputs, model, task, trainer. Nothing else builds them.

The runner, the sweep's groups, :func:`load_run` (the analysis), and the benchmarks all call
these functions, so a run, its reload and its benchmark see the same split, the same noise
and the same model.
"""
from __future__ import annotations

import dataclasses
import re
import sys
import types
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from aejax import data as data_lib
from aejax import models
from aejax.errors import UserError
from aejax.run import experiment as experiment_lib
from aejax.run.rundir import RunDir
from aejax.train.optim import optimizer_from_config
from aejax.train.step import Task, Trainer, abstract_init


def load_data(cfg: Mapping, exp: experiment_lib.Experiment | None = None):
    """The config's dataset, split by its seed, through the experiment's ``prepare_data``."""
    d = cfg["data"]
    ds = data_lib.load(d["name"], seed=cfg["seed"], val_fraction=d["val_fraction"],
                       test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])
    if exp is not None and exp.prepare_data is not None:
        ds = exp.prepare_data(ds, cfg)
    return ds


def corrupt_np(x: np.ndarray, noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """``clip(x + noise_std * N(0, 1), 0, 1)`` on the host (x itself when noise_std is 0)."""
    if noise_std <= 0:
        return x
    return np.clip(x + noise_std * rng.standard_normal(x.shape, np.float32), 0.0, 1.0)


def inputs(ds, cfg: Mapping) -> dict[str, np.ndarray]:
    """Host arrays ``train``, ``val``, ``test`` (clean) and ``val_in``, ``test_in`` (the model's input).

    Validation / test inputs are corrupted once, on the host with the seed (val first, then
    test): every epoch, and every model of a sweep with this seed, is scored on the same images.
    Training inputs are corrupted inside the step (``Task.corrupt``), with fresh noise each step.
    """
    noise = float(cfg["data"]["noise_std"])
    rng = np.random.default_rng([cfg["seed"], 1])
    out = {"train": ds.train.x, "val": ds.val.x, "test": ds.test.x}
    for split in ("val", "test"):
        out[f"{split}_in"] = corrupt_np(out[split], noise, rng)
    return out


def train_inputs_shown(ds, cfg: Mapping, k: int) -> np.ndarray:
    """The first ``k`` training examples as a model input (noisy when denoising), for figures."""
    return corrupt_np(ds.train.x[:k], float(cfg["data"]["noise_std"]), np.random.default_rng([cfg["seed"], 2]))


@dataclasses.dataclass(frozen=True)
class Built:
    """What :func:`build` returns: the model, its task (model + optimizer + loss) and a trainer."""

    model: Any
    task: Task
    trainer: Trainer


def build(cfg: Mapping, example_shape, n_train: int, *, strategy: str | None = None, devices=None) -> Built:
    """Model, task and trainer for a config (``n_train`` sets the schedule's steps per epoch).

    A bad model or training setting is a :class:`UserError` naming the key.
    """
    t, d = cfg["train"], cfg["data"]
    if n_train < t["batch_size"]:
        raise UserError(f"train.batch_size={t['batch_size']} is larger than the {n_train} "
                        "training examples; lower it")
    try:
        model = models.build(cfg["model"], example_shape)
        if not all(callable(getattr(model, m, None)) for m in ("encode", "decode")):
            autoencoders = sorted(n for n, c in models.MODELS.items() if hasattr(c, "encode") and hasattr(c, "decode"))
            raise UserError(f"model.name={cfg['model']['name']!r} is not an autoencoder (it has no encode / decode: "
                            f"a model of its own experiment); expected one of {autoencoders}")
        task = Task(model, optimizer_from_config(t, n_train // t["batch_size"]), t["loss"], float(d["noise_std"]))
        trainer = Trainer(task, t["batch_size"], t["eval_batch_size"], strategy or t["strategy"],
                          devices=devices, scan_epoch=t.get("scan_epoch", True))
    except ValueError as e:
        raise UserError(str(e)) from None
    return Built(model, task, trainer)


def experiment_of(cfg: Mapping, *, allow_path: bool = False) -> experiment_lib.Experiment | None:
    """The experiment that wrote ``cfg`` (its ``experiment`` key), found by NAME in the experiments
    folder only: a path in a run directory's config.json is never imported (``allow_path``: the
    config is this process's own, not read from disk). None when it is absent."""
    name = cfg.get("experiment")
    if not name:
        return None
    if allow_path and str(name).endswith(".py") and Path(name).is_file():
        return experiment_lib.load(str(name))
    if not re.fullmatch(r"[A-Za-z0-9_]+", str(name)):
        print(f"aejax: config.json names the experiment file {name!r}; files named in a run directory are "
              "never imported, so its prepare_data is not applied (give it with --experiment PATH)",
              file=sys.stderr)
        return None
    if name not in experiment_lib.list_names():
        return None
    return experiment_lib.load(name)


#: Data options that name a file loaded with pickle (scikit-learn's fetcher caches): never taken
#: from a config read out of a run directory.
PICKLED_PATH_OPTIONS = ("data_home",)


def load_run(run_dir, which: str = "best", experiment: str | None = None, cfg: Mapping | None = None):
    """Rebuild a finished run from its directory: config, data, model and parameters.

    Returns a ``types.SimpleNamespace`` with ``cfg``, ``data`` (the same split, from the saved
    seed, through the experiment's ``prepare_data`` as in training), ``model``, ``task``,
    ``trainer``, ``params`` (from the ``best`` or ``latest`` checkpoint) and ``init_params``
    (the run's own initial parameters: same model, same seed). ``experiment``: the experiment
    (name or file) to take ``prepare_data`` from, instead of the name config.json records.
    ``cfg``: the run's config when the caller has it (the end of training); else it is read from
    config.json, and options naming a file to unpickle are refused.
    """
    import jax

    from aejax.train.checkpoint import Checkpoints
    from aejax.train.step import init_state
    rd = RunDir(run_dir)
    trusted = cfg is not None
    if cfg is None:  # read from the run directory: nothing in it may choose a file to unpickle
        cfg = rd.config()
        unsafe = [k for k in PICKLED_PATH_OPTIONS if k in cfg["data"].get("options", {})]
        if unsafe:
            raise UserError(f"{rd.config_path}: data.options.{unsafe[0]} names a folder whose cache scikit-learn "
                            "loads with pickle, and aejax never unpickles a path read from a run directory; "
                            "put the cache in scikit-learn's default place ($SCIKIT_LEARN_DATA) and remove "
                            "the option from config.json")
    exp = experiment_lib.load(experiment) if experiment else experiment_of(cfg, allow_path=trusted)
    ds = load_data(cfg, exp)
    # This process's devices and checkpoint reads only: after a multi-process run, process 0 analyses
    # the run on its own while the others wait.
    built = build(cfg, ds.example_shape, len(ds.train), strategy="mesh", devices=jax.local_devices())
    ckpt = Checkpoints(rd.path / "checkpoints", this_process_only=True)
    try:
        if ckpt.latest_epoch(which) is None:
            raise UserError(f"{rd.path / 'checkpoints' / which}: no checkpoint to load")
        abs_state, _ = abstract_init(built.task, ds.example_shape, cfg["seed"])
        state, _ = ckpt.restore(which, built.trainer.abstract(abs_state))
    finally:
        ckpt.close()
    return types.SimpleNamespace(
        cfg=cfg, data=ds, model=built.model, task=built.task, trainer=built.trainer, params=state.params,
        init_params=lambda: jax.device_get(init_state(built.task, ds.example_shape, cfg["seed"])[0].params))


def n_params(params) -> int:
    """The number of parameters in a pytree."""
    import jax
    return int(sum(np.size(p) for p in jax.tree.leaves(params)))

