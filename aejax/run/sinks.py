"""Live metric sinks: what a run shows while it trains, beside ``metrics.jsonl`` (which stays the record).

The ``log`` config section (defaults in :data:`aejax.config.LOG_DEFAULTS`) is validated here,
where the sinks are built (:func:`settings`: an unknown key or a wrong type is a UserError, exit 2):

- ``log.tensorboard=true``: TensorBoard event files in the run directory (tensorboardX's writer; no
  TensorFlow needed). Every epoch, each numeric field of the metrics.jsonl row is a scalar at
  step = epoch (``train/loss``, ``val/loss``, ``val/mse``, ...). For image data, every
  ``log.images_every`` epochs (and at the first and last epoch) the image
  ``val/reconstructions`` shows the first ``figures.examples`` validation images: the input, the
  model's output and, when denoising, the clean target. Event files sit directly in each run
  directory, so ``tensorboard --logdir`` on a sweep directory shows its runs side by side, named
  by their directories. A resumed run purges the events of epochs after its checkpoint (they are
  trained again).

- ``log.wandb=true``: a Weights & Biases run in offline mode, in ``<run dir>/wandb/`` (project: the
  experiment, name: the run directory's; the config as its config; the metrics row at step = epoch);
  ``wandb sync <run dir>/wandb/offline-run-*`` uploads it later.
- ``log.mlflow=true``: an MLflow run (experiment: the experiment's name, run name: the run
  directory's; the config flattened as parameters; the metrics at step = epoch) in
  ``log.mlflow_uri``, by default a SQLite store in the run directory (``sqlite:///<run dir>/mlflow.db``;
  give every run of a sweep one URI to compare them side by side in ``mlflow ui``).

W&B and MLflow are optional: ``pip install -e '.[tracking]'``; asking for one that is not installed is
an error naming the command. Only process 0 writes (``jax.process_index() == 0``), as for every other
file of a run.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from aejax import config as config_lib
from aejax.errors import UserError


@dataclasses.dataclass(frozen=True)
class LogSettings:
    """The validated ``log`` section."""

    tensorboard: bool = False
    images_every: int = 10
    wandb: bool = False
    mlflow: bool = False
    mlflow_uri: str = ""


def settings(cfg: Mapping) -> LogSettings:
    """The ``log`` section of ``cfg`` (defaults for missing keys); exit 2 on an unknown key or a bad value."""
    section = cfg.get("log", {})
    if not isinstance(section, Mapping):
        raise UserError(f"log={json.dumps(section)}: expected a JSON object with the keys "
                        f"{', '.join(config_lib.LOG_DEFAULTS)}")
    unknown = sorted(set(section) - set(config_lib.LOG_DEFAULTS))
    if unknown:
        raise UserError(f"log.{unknown[0]}: unknown config key; known keys: "
                        + ", ".join(f"log.{k}" for k in config_lib.LOG_DEFAULTS))
    s = {**config_lib.LOG_DEFAULTS, **section}
    for key in ("tensorboard", "wandb", "mlflow"):
        if not isinstance(s[key], bool):
            raise UserError(f"log.{key}={json.dumps(s[key])}: expected true or false")
    if not isinstance(s["mlflow_uri"], str):
        raise UserError(f"log.mlflow_uri={json.dumps(s['mlflow_uri'])}: expected a tracking URI string "
                        "('' = a SQLite file in the run directory)")
    for key, module in (("wandb", "wandb"), ("mlflow", "mlflow")):
        if s[key] and importlib.util.find_spec(module) is None:
            raise UserError(f"log.{key}=true needs the package {module}, which is not installed: "
                            "pip install -e '.[tracking]'")
    every = s["images_every"]
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        raise UserError(f"log.images_every={json.dumps(every)}: expected an integer >= 0 (0 = no images)")
    return LogSettings(tensorboard=s["tensorboard"], images_every=every, wandb=s["wandb"], mlflow=s["mlflow"],
                       mlflow_uri=s["mlflow_uri"])


def image_grid(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of K images [K, H, W, C] -> one image [R*(H+1)-1, K*(W+1)-1(, 3)] in [0, 1], a 1-pixel
    white line between images. Scaled to the first row's range when that is not [0, 1]."""
    rows = [np.asarray(r, np.float32) for r in rows]
    lo, hi = float(rows[0].min()), float(rows[0].max())
    if lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0
    k, h, w, c = rows[0].shape
    c = 3 if c == 3 else 1  # other channel counts: the first channel
    grid = np.ones((len(rows) * (h + 1) - 1, k * (w + 1) - 1, c), np.float32)
    for r, images in enumerate(rows):
        images = np.clip((images[..., :c] - lo) / max(hi - lo, 1e-12), 0, 1)
        for i in range(k):
            grid[r * (h + 1): r * (h + 1) + h, i * (w + 1): i * (w + 1) + w] = images[i]
    return grid[..., 0] if c == 1 else grid


class TensorBoard:
    """One run's TensorBoard writer: :meth:`write` each metrics row (and a grid when due), :meth:`close`."""

    def __init__(self, run_dir: Path, *, first_epoch: int, epochs: int, images_every: int,
                 examples: Mapping[str, np.ndarray] | None = None,
                 predict: Callable[[Any, np.ndarray], np.ndarray] | None = None):
        from tensorboardX import SummaryWriter
        # purge_step: events of epochs >= first_epoch left by an interrupted earlier process are dropped.
        self.writer = SummaryWriter(str(run_dir), purge_step=first_epoch if first_epoch > 1 else None)
        self.epochs, self.every = epochs, images_every
        self.examples, self.predict = examples, predict

    def write(self, row: Mapping, params: Callable[[], Any]) -> None:
        """The row's numeric fields as scalars at step = epoch; the image grid when it is due."""
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, epoch)
        if self.examples is not None and self.every and (epoch % self.every == 0 or epoch in (1, self.epochs)):
            out = np.asarray(self.predict(params(), self.examples["input"]))
            rows = [self.examples["input"], out]
            if self.examples.get("target") is not None:
                rows.append(self.examples["target"])
            grid = image_grid(rows)
            self.writer.add_image("val/reconstructions", grid, epoch, dataformats="HW" if grid.ndim == 2 else "HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandB:
    """One run's Weights & Biases run, offline, in ``<run dir>/wandb/``."""

    def __init__(self, run_dir: Path, cfg: Mapping):
        import wandb
        self.run = wandb.init(mode="offline", dir=str(run_dir), project=str(cfg.get("experiment") or "aejax"),
                              name=Path(run_dir).name, config=dict(cfg),
                              settings=wandb.Settings(silent=True, console="off"))

    def write(self, row: Mapping, params: Callable[[], Any]) -> None:
        self.run.log(_numbers(row), step=int(row["epoch"]))

    def close(self) -> None:
        self.run.finish()


class MLflow:
    """One run's MLflow run in ``uri`` (default: a SQLite store in the run directory)."""

    def __init__(self, run_dir: Path, cfg: Mapping, uri: str):
        from mlflow import MlflowClient
        self.client = MlflowClient(tracking_uri=uri or f"sqlite:///{Path(run_dir).absolute() / 'mlflow.db'}")
        name = str(cfg.get("experiment") or "aejax")
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found else self.client.create_experiment(name)
        self.run_id = self.client.create_run(experiment, run_name=Path(run_dir).name).info.run_id
        for key, value in config_lib.flatten(cfg).items():
            self.client.log_param(self.run_id, key, json.dumps(value)[:500])

    def write(self, row: Mapping, params: Callable[[], Any]) -> None:
        for key, value in _numbers(row).items():
            self.client.log_metric(self.run_id, key, value, step=int(row["epoch"]))

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def _numbers(row: Mapping) -> dict:
    return {k: v for k, v in row.items()
            if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)}


class Sinks:
    """Several sinks as one: :meth:`write` and :meth:`close` go to each."""

    def __init__(self, sinks: list):
        self.sinks = sinks

    def write(self, row: Mapping, params: Callable[[], Any]) -> None:
        for sink in self.sinks:
            sink.write(row, params)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def open_sinks(cfg: Mapping, run_dir: Path, *, first_epoch: int, examples: Callable[[], Mapping] | None = None,
               predict: Callable[[Any, np.ndarray], np.ndarray] | None = None) -> Sinks | None:
    """The live sinks of one run as its ``log`` section asks (None when it asks for none, or on a
    process other than 0). ``examples()``: {"input": [K, H, W, C], "target": [K, ...] or None} for the
    TensorBoard image grid (None: not image data); ``predict(params, x)``: the model's output for ``x``."""
    s = settings(cfg)
    if not (s.tensorboard or s.wandb or s.mlflow):
        return None
    import jax
    if jax.process_index() != 0:
        return None
    opened = []
    if s.tensorboard:
        shown = examples() if (examples is not None and s.images_every) else None
        opened.append(TensorBoard(Path(run_dir), first_epoch=first_epoch, epochs=int(cfg["train"]["epochs"]),
                                  images_every=s.images_every, examples=shown, predict=predict))
    if s.wandb:
        opened.append(WandB(Path(run_dir), cfg))
    if s.mlflow:
        opened.append(MLflow(Path(run_dir), cfg, s.mlflow_uri))
    return Sinks(opened)
