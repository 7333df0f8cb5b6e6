"""The epoch loop: early stopping, checkpoints, resume, metrics.jsonl, progress bar.

Python runs once per epoch, never per step: the epoch is one compiled program
and its metrics are fetched in one transfer, which early stopping needs anyway.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from aejax.train.checkpoint import Checkpoints
from aejax.train.step import Trainer, host


class TrainingDiverged(RuntimeError):
    """A non-finite loss: training stopped, earlier checkpoints kept."""


def read_metrics(path: Path) -> list[dict]:
    """The epoch records of a metrics.jsonl file ([] when absent)."""
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                from aejax.errors import UserError
                raise UserError(f"{path}:{n}: not a JSON line ({e.msg})") from e
    return rows


def _finite_or_none(v):
    return v if not isinstance(v, float) or math.isfinite(v) else None


def new_loop() -> dict:
    """A run's loop record (kept in its checkpoints): epochs done, best val/loss and its epoch,
    epochs without improvement, training time and samples, why it stopped ('' while running)."""
    return {"epoch": 0, "best_val": math.inf, "best_epoch": 0, "bad_epochs": 0,
            "train_s": 0.0, "train_samples": 0, "stopped": ""}


def record_epoch(loop: dict, epoch: int, step: int, train: dict, val: dict, epoch_s: float, *,
                 patience: int, samples: int) -> tuple[dict, str]:
    """One epoch of one run, by the engine's rules: its metrics.jsonl row, and ``loop`` updated.

    Returns ``(row, outcome)``: ``"diverged"`` (a non-finite train or val loss; ``loop`` is left
    as it was, ``row`` has None for it), ``"improved"`` (val/loss strictly below the best so far)
    or ``""``; ``loop["stopped"]`` is set once ``patience`` epochs pass without improvement (0: never).
    """
    row = {"epoch": epoch, "step": int(step),
           **{f"train/{k}": _finite_or_none(v) for k, v in train.items()},
           **{f"val/{k}": _finite_or_none(v) for k, v in val.items()},
           "epoch_s": round(epoch_s, 4)}
    if not (math.isfinite(train["loss"]) and math.isfinite(val["loss"])):
        return row, "diverged"
    loop["train_s"] += epoch_s
    loop["train_samples"] += samples
    loop["epoch"] = epoch
    if val["loss"] < loop["best_val"]:
        loop.update(best_val=val["loss"], best_epoch=epoch, bad_epochs=0)
        return row, "improved"
    loop["bad_epochs"] += 1
    if patience and loop["bad_epochs"] >= patience:
        loop["stopped"] = f"early stopping: no val/loss improvement in {patience} epochs"
    return row, ""


def not_finite(epoch: int, train: dict, val: dict) -> str:
    """The start of every divergence message."""
    return f"epoch {epoch}: the loss is not finite (train/loss={train['loss']}, val/loss={val['loss']})"


def fit(trainer: Trainer, state, data: dict, keys: dict, *, epochs: int, patience: int,
        workdir: Path, checkpoints: Checkpoints, checkpoint_every_s: float = 30.0,
        progress: bool = True, stop_after_epoch: int | None = None) -> tuple[Any, dict]:
    """Train until ``epochs``, early stopping or divergence; resume from ``checkpoints``.

    ``data`` holds device arrays ``train`` (clean), ``val_in`` and ``val`` (input and
    target); ``keys`` the ``data``, ``step`` and ``eval`` keys. Returns the best
    state (lowest ``val/loss``) and the loop record (epochs run, best epoch, timings).
    ``stop_after_epoch`` ends the call early as if the process were killed there
    (tests use it to check resume).
    """
    metrics_path = workdir / "metrics.jsonl"
    loop = new_loop()
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding), state)
    best_state = state
    if checkpoints.latest_epoch() is not None:
        state, loop = checkpoints.restore("latest", abstract)
        best_state = checkpoints.restore("best", abstract)[0] if checkpoints.latest_epoch("best") else state
        rows = [r for r in read_metrics(metrics_path) if r["epoch"] <= loop["epoch"]]
        metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"resuming {workdir} after epoch {loop['epoch']}", file=sys.stderr)
    elif metrics_path.exists():
        metrics_path.unlink()

    x = data["train"]
    n_step_examples = (x.shape[0] // trainer.batch_size) * trainer.batch_size
    start_epoch = loop["epoch"] + 1
    last_save = time.perf_counter()
    bar = _progress(progress, start_epoch, epochs)
    for epoch in range(start_epoch, epochs + 1):
        if loop["stopped"]:
            break
        t0 = time.perf_counter()
        state, train_metrics = trainer.epoch(state, x, keys["data"], keys["step"], epoch)
        train_metrics = host(train_metrics)  # the one sync of the epoch
        epoch_s = time.perf_counter() - t0
        params = trainer.get_state(state).params
        val_metrics = host(trainer.evaluate(params, data["val_in"], data["val"], keys["eval"]))
        step = int(host(trainer.get_state(state).step))
        row, outcome = record_epoch(loop, epoch, step, train_metrics, val_metrics, epoch_s,
                                    patience=patience, samples=n_step_examples)
        with metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if outcome == "diverged":
            checkpoints.wait()
            bar and bar.close()
            raise TrainingDiverged(
                f"{not_finite(epoch, train_metrics, val_metrics)}; training stopped. The last good checkpoints "
                f"are kept in {checkpoints.directory} (latest: epoch "
                f"{checkpoints.latest_epoch()}, best: epoch {checkpoints.latest_epoch('best')}). "
                "Try a lower train.learning_rate.")
        if outcome == "improved":
            best_state = jax.tree.map(jnp.copy, state)  # the live state is donated next epoch
        if bar:
            bar.set_postfix_str(f"train {train_metrics['loss']:.5f} val {val_metrics['loss']:.5f}")
            bar.update(1)
        done = epoch == epochs or loop["stopped"] or epoch == stop_after_epoch
        if done or time.perf_counter() - last_save >= checkpoint_every_s:
            checkpoints.save("latest", epoch, trainer.get_state(state), loop)
            if checkpoints.latest_epoch("best") != loop["best_epoch"]:
                checkpoints.save("best", loop["best_epoch"], trainer.get_state(best_state), loop)
            last_save = time.perf_counter()
        if epoch == stop_after_epoch:
            break
    if bar:
        bar.close()
    checkpoints.wait()
    return trainer.get_state(best_state), loop


def _progress(enabled: bool, start: int, total: int):
    if not enabled or start > total:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=start - 1, unit="epoch", desc="train", file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)
