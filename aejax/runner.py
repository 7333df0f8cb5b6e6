"""One run: config -> data -> model -> training -> evaluation -> files in the run directory.

:func:`run` is what ``aejax run`` calls; everything it writes is listed in
DESIGN.md's run-directory contract (config.json, metrics.jsonl, summary.json,
checkpoints/, figures/, analysis/, report.html).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from aejax import config as config_lib
from aejax import experiment as experiment_lib
from aejax.errors import UserError

RESUME_IGNORED = ("train.epochs", "train.progress", "train.patience", "experiment")


def resolve_config(exp, overrides: Iterable[str] = (), quick: bool = False) -> dict:
    """The experiment's config with ``--quick`` and ``--set`` applied, then validated."""
    cfg = exp.get_config()
    if quick:
        cfg = exp.quick(cfg) if hasattr(exp, "quick") else quick_config(cfg)
    cfg = config_lib.override(cfg, overrides)
    if hasattr(exp, "resolve"):  # e.g. a `zoo.type` key that fills in the model section
        cfg = exp.resolve(cfg)
    validate(cfg)
    cfg["experiment"] = exp.REF  # load_run reapplies its prepare_data
    return cfg


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
    """Check values that would otherwise fail deep inside training."""
    from aejax.train import losses, step
    t = cfg["train"]
    checks = [
        (isinstance(cfg.get("seed"), int), "seed", "an integer"),
        (t["epochs"] >= 1, "train.epochs", "an integer >= 1"),
        (t["batch_size"] >= 1, "train.batch_size", "an integer >= 1"),
        (t["learning_rate"] > 0, "train.learning_rate", "a number > 0"),
        (t.get("warmup_epochs", 0) >= 0, "train.warmup_epochs", "a number >= 0 (0 = no warm-up)"),
        (t["patience"] >= 0, "train.patience", "an integer >= 0 (0 = no early stopping)"),
        (t["loss"] in losses.LOSSES, "train.loss", f"one of {sorted(losses.LOSSES)}"),
        (t["strategy"] in ("mesh", "pmap"), "train.strategy", "'mesh' or 'pmap'"),
        (0 <= cfg["data"]["val_fraction"] < 1, "data.val_fraction", "a fraction in [0, 1)"),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise UserError(f"{key}={json.dumps(config_lib.get(cfg, key))}: expected {expected}")
    try:
        step.make_optimizer(t["optimizer"], 1e-3)
    except ValueError as e:
        raise UserError(f"train.optimizer: {e}") from None
    if t.get("lr_schedule", "constant") not in step.LR_SCHEDULES:
        raise UserError(f"train.lr_schedule={json.dumps(t['lr_schedule'])}: expected one of {list(step.LR_SCHEDULES)}")


def default_workdir(exp_name: str, cfg: Mapping) -> Path:
    """``results/<experiment>/<run-name>``; the run name is ``cfg['name']`` or 'default' / 'quick'."""
    name = cfg.get("name") or ("quick" if cfg.get("quick") else "default")
    return Path("results") / exp_name / name


def prepare_workdir(workdir: Path, cfg: Mapping, overwrite: bool) -> bool:
    """Create the run directory; True when it holds a run to resume.

    A directory holding a checkpoint of a *different* config is refused (exit 2)
    rather than resumed into nonsense; ``--overwrite`` starts afresh. A run written
    before a key existed resumes if the new config keeps that key's default.
    """
    if overwrite and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    old_path = workdir / "config.json"
    has_ckpt = (workdir / "checkpoints" / "latest").is_dir() and any((workdir / "checkpoints" / "latest").iterdir())
    if has_ckpt and old_path.exists():
        try:
            old = json.loads(old_path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{old_path}: not valid JSON ({e.msg}); use --overwrite to start afresh") from e
        a, b = config_lib.flatten(old), config_lib.flatten(cfg)
        # A key the old config lacks came with a newer aejax; its base default keeps the old behaviour.
        defaults = config_lib.flatten(config_lib.base_config())
        a.update({k: defaults[k] for k in b if k not in a and k in defaults})
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUME_IGNORED)
        if diff:
            raise UserError(f"{workdir}: holds a run with a different config ({', '.join(diff[:5])}); "
                            "use --overwrite to start afresh or another --workdir")
    (workdir / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return has_ckpt


def run(experiment: str, *, workdir: str | os.PathLike | None = None, overrides: Iterable[str] = (),
        quick: bool = False, overwrite: bool = False, stop_after_epoch: int | None = None) -> dict:
    """Run (or resume) one experiment; returns the summary dict also saved as summary.json.

    ``summary['time_to_first_step_s']`` counts from here, after the imports.
    """
    import aejax.train.fit  # noqa: F401  (jax, flax, optax, orbax: imports are not start-up)
    from aejax import jaxsetup
    jaxsetup.configure()
    t_start = time.perf_counter()
    exp = experiment_lib.load(experiment)
    cfg = resolve_config(exp, overrides, quick)
    workdir = Path(workdir) if workdir else default_workdir(exp.NAME, cfg)
    prepare_workdir(workdir, cfg, overwrite)
    if hasattr(exp, "run"):  # experiments with their own pipeline (e.g. analysis only)
        return exp.run(cfg, workdir)
    return train_and_report(cfg, workdir, t_start=t_start, stop_after_epoch=stop_after_epoch,
                            hooks=exp)


def train_and_report(cfg: Mapping, workdir: Path, *, t_start: float | None = None,
                     stop_after_epoch: int | None = None, hooks=None) -> dict:
    """The standard autoencoder pipeline on an already prepared run directory."""
    import jax

    from aejax import data as data_lib
    from aejax import models
    from aejax.train.checkpoint import Checkpoints
    from aejax.train.fit import fit
    from aejax.train.step import Task, Trainer, abstract_init, host, init_state, optimizer_from_config

    t_start = time.perf_counter() if t_start is None else t_start
    t, d = cfg["train"], cfg["data"]
    ds = data_lib.load(d["name"], seed=cfg["seed"], val_fraction=d["val_fraction"],
                       test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])
    if hooks is not None and hasattr(hooks, "prepare_data"):
        ds = hooks.prepare_data(ds, cfg)
    try:
        model = models.build(cfg["model"], ds.example_shape)
        task = Task(model, optimizer_from_config(t, len(ds.train) // t["batch_size"]),
                    t["loss"], float(d["noise_std"]))
        trainer = Trainer(task, t["batch_size"], t["eval_batch_size"], t["strategy"],
                          scan_epoch=t.get("scan_epoch", True))
    except ValueError as e:
        raise UserError(str(e)) from None
    if len(ds.train) < t["batch_size"]:
        raise UserError(f"train.batch_size={t['batch_size']} is larger than the {len(ds.train)} "
                        "training examples; lower it")
    t_setup = time.perf_counter()

    arrays = {"train": trainer.put(ds.train.x), "val": trainer.put(ds.val.x), "test": trainer.put(ds.test.x)}
    # Validation / test inputs are corrupted once, on the host with the seed: every
    # epoch, and every model of a sweep with this seed, is scored on the same images.
    rng = np.random.default_rng([cfg["seed"], 1])
    for split in ("val", "test"):
        x = getattr(ds, split).x
        arrays[f"{split}_in"] = trainer.put(corrupt_np(x, d["noise_std"], rng)) if d["noise_std"] > 0 \
            else arrays[split]
    # Compile the epoch (from shapes alone) while the parameters are initialised.
    abs_state, abs_keys = (trainer.abstract(a) for a in abstract_init(task, ds.example_shape, cfg["seed"]))
    with ThreadPoolExecutor(1) as pool:
        compiling = pool.submit(trainer.compile_epoch, abs_state, arrays["train"], abs_keys["data"],
                                abs_keys["step"])
        state, keys = init_state(task, ds.example_shape, cfg["seed"])
        state, keys = trainer.put_state(state), trainer.put(keys)
        compiling.result()
    t_ready = time.perf_counter()
    setup_s = t_ready - t_setup

    ckpt = Checkpoints(workdir / "checkpoints")
    try:
        best, loop = fit(trainer, state, arrays, keys, epochs=t["epochs"], patience=t["patience"],
                         workdir=workdir, checkpoints=ckpt, progress=t["progress"],
                         checkpoint_every_s=t["checkpoint_every_s"],
                         stop_after_epoch=stop_after_epoch)
    finally:
        ckpt.close()
    if stop_after_epoch is not None and loop["epoch"] < t["epochs"] and not loop["stopped"]:
        return {"stopped_after_epoch": loop["epoch"]}

    test = host(trainer.evaluate(best.params, arrays["test_in"], arrays["test"], keys["eval"]))
    n_params = int(sum(np.size(p) for p in jax.tree.leaves(best.params)))
    steps_per_epoch = len(ds.train) // t["batch_size"]
    first_step_s = t_ready - t_start + (loop["train_s"] / max(loop["epoch"], 1)) / max(steps_per_epoch, 1)
    summary = make_summary(ds, loop, test, n_params=n_params, wall_s=time.perf_counter() - t_start,
                           train_s=loop["train_s"], setup_s=setup_s,  # init + compiling the epoch, side by side
                           first_step_s=first_step_s, n_dev=trainer.n_dev)
    outputs = save_examples(trainer, best.params, ds, arrays, cfg, workdir)
    if d["noise_std"] > 0:
        summary["test/psnr_noisy"] = _psnr(np.asarray(arrays["test_in"]), ds.test.x)
        summary["test/psnr_denoised"] = summary["test/psnr"]
    if hooks is not None and hasattr(hooks, "after_training"):
        summary.update(hooks.after_training(cfg=cfg, workdir=workdir, trainer=trainer,
                                            params=best.params, data=ds, arrays=arrays) or {})
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    finish(workdir, cfg, outputs)
    return summary


def make_summary(ds, loop: Mapping, test: Mapping, *, n_params: int, wall_s: float | None, train_s: float,
                 setup_s: float, first_step_s: float, n_dev: int = 1, **extra) -> dict:
    """summary.json's fields (DESIGN.md) for one run: data sizes, ``loop`` (fit's epoch / best_epoch /
    stopped / train_samples), timings, ``extra`` fields, then ``test/<metric>`` for each of ``test``."""
    import jax
    return {
        "params": n_params,
        "train_examples": len(ds.train),
        "val_examples": len(ds.val),
        "test_examples": len(ds.test),
        "epochs_run": loop["epoch"],
        "best_epoch": loop["best_epoch"],
        "stopped": loop["stopped"] or "completed all epochs",
        "wall_s": None if wall_s is None else round(wall_s, 3),
        "train_s": round(train_s, 3),
        "setup_s": round(setup_s, 3),
        "time_to_first_step_s": round(first_step_s, 3),
        "train_samples_per_s": round(loop["train_samples"] / max(train_s, 1e-9), 1),
        "devices": f"{n_dev} x {jax.devices()[0].platform}",
        **extra,
        **{f"test/{k}": v for k, v in test.items()},
    }


def corrupt_np(x: np.ndarray, noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """``clip(x + noise_std * N(0, 1), 0, 1)`` on the host (x itself when noise_std is 0)."""
    if noise_std <= 0:
        return x
    return np.clip(x + noise_std * rng.standard_normal(x.shape, np.float32), 0.0, 1.0)


def _psnr(noisy: np.ndarray, clean: np.ndarray) -> float:
    """Mean over examples of per-example PSNR (dB, data range 1)."""
    err = ((noisy - clean) ** 2).reshape(len(clean), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(err, 1e-12))))


def save_examples(trainer, params, ds, arrays, cfg, workdir: Path) -> dict:
    """Save what the figures and the latent analysis read: ``analysis/examples.npz``
    (the first examples of train and test: clean, model input, code, reconstruction)
    and ``analysis/latents.npy`` (codes of the whole test split)."""
    k = int(cfg.get("figures", {}).get("examples", 10))
    out_dir = workdir / "analysis"
    out_dir.mkdir(exist_ok=True)
    test_codes = np.asarray(trainer.predict(params, arrays["test_in"], method="encode"))
    recon = np.asarray(trainer.predict(params, arrays["test_in"][:k]))
    train_in = corrupt_np(ds.train.x[:k], cfg["data"]["noise_std"], np.random.default_rng([cfg["seed"], 2]))
    ex = {"test_x": ds.test.x[:k], "test_input": np.asarray(arrays["test_in"][:k]),
          "test_code": test_codes[:k], "test_recon": recon,
          "train_x": ds.train.x[:k], "train_input": train_in}
    if ds.test.y is not None:
        ex["test_y"] = np.asarray(ds.test.y[:k])
    np.savez(out_dir / "examples.npz", **ex)
    np.save(out_dir / "latents.npy", test_codes.reshape(len(test_codes), -1))
    return ex


def finish(workdir: Path, cfg: Mapping, outputs: Mapping) -> None:
    """Analysis, figures and the HTML report, all read from the run directory."""
    from aejax import plots, report
    if cfg.get("analysis", {}).get("enabled", True):
        try:
            from aejax.analysis import run_dir as analysis_run_dir
        except ImportError:
            analysis_run_dir = None
        if analysis_run_dir is not None:
            analysis_run_dir.analyze(workdir)
    plots.run_figures(workdir)
    report.write_run_report(workdir)


def _experiment_hooks(cfg: Mapping):
    """The module of the experiment that wrote ``cfg`` (its ``experiment`` key), or None for run
    directories written before that key existed or whose experiment file is gone."""
    name = cfg.get("experiment")
    if not name:
        return None
    try:
        return experiment_lib.load(name)
    except UserError:
        return None


def load_run(run_dir, which: str = "best"):
    """Rebuild a finished run from its directory: config, data, model and parameters.

    Returns a ``types.SimpleNamespace`` with ``cfg``, ``data`` (the same split, from
    the saved seed, through the experiment's ``prepare_data`` as in training),
    ``model``, ``task``, ``trainer`` and ``params`` (from the ``best`` or
    ``latest`` checkpoint).
    """
    import types

    from aejax import data as data_lib
    from aejax import models
    from aejax.train.checkpoint import Checkpoints
    from aejax.train.step import Task, Trainer, abstract_init, optimizer_from_config

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{cfg_path}: not valid JSON ({e.msg})") from e
    t, d = cfg["train"], cfg["data"]
    ds = data_lib.load(d["name"], seed=cfg["seed"], val_fraction=d["val_fraction"],
                       test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])
    hooks = _experiment_hooks(cfg)
    if hooks is not None and hasattr(hooks, "prepare_data"):
        ds = hooks.prepare_data(ds, cfg)  # e.g. seismic images -> columns, as the run trained
    model = models.build(cfg["model"], ds.example_shape)
    task = Task(model, optimizer_from_config(t, len(ds.train) // t["batch_size"]),
                t["loss"], float(d["noise_std"]))
    trainer = Trainer(task, t["batch_size"], t["eval_batch_size"], "mesh")
    ckpt = Checkpoints(run_dir / "checkpoints")
    try:
        if ckpt.latest_epoch(which) is None:
            raise UserError(f"{run_dir / 'checkpoints' / which}: no checkpoint to load")
        abs_state, _ = abstract_init(task, ds.example_shape, cfg["seed"])
        state, _ = ckpt.restore(which, trainer.abstract(abs_state))
    finally:
        ckpt.close()
    return types.SimpleNamespace(cfg=cfg, data=ds, model=model, task=task, trainer=trainer,
                                 params=state.params)
