"""The run directory's one owner: every file of the contract is read and written here.

| file | written by |
| --- | --- |
| ``config.json`` | :meth:`RunDir.prepare` (the resolved config, before training) |
| ``metrics.jsonl`` | :meth:`RunDir.append_metrics` (one row per epoch, as it happens) |
| ``checkpoints/`` | :attr:`RunDir.checkpoints` (orbax: ``latest`` and ``best``) |
| ``summary.json`` | :meth:`RunDir.write_summary` (the run's final numbers) |
| ``analysis/examples.npz``, ``analysis/latents.npy`` | :meth:`RunDir.write_examples` |
| ``figures/``, ``analysis/*.json``, ``report.html`` | the report and analysis layers, through :meth:`write_json` / :meth:`write_text` |

Every JSON / text file is written atomically (a temporary file, then a rename), so a kill
never leaves half a file. A run is finished when ``summary.json`` exists.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from aejax import config as config_lib
from aejax.errors import UserError

#: Keys a resumed run may change: how long it trains and how it shows progress.
RESUME_IGNORED = ("train.epochs", "train.progress", "train.patience", "experiment")


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """A JSON file; a malformed one is a :class:`UserError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None


def read_metrics(path: Path) -> list[dict]:
    """The epoch records of a metrics.jsonl file ([] when absent)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{n}: not a JSON line ({e.msg})") from None
    return rows


class RunDir:
    """One run directory (``path``) and its files."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._checkpoints = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- paths ------------------------------------------------------------------------------
    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    summary_path = property(lambda self: self.path / "summary.json")
    figures = property(lambda self: self.path / "figures")
    analysis = property(lambda self: self.path / "analysis")

    # -- lifecycle --------------------------------------------------------------------------
    def has_checkpoint(self) -> bool:
        latest = self.path / "checkpoints" / "latest"
        return latest.is_dir() and any(latest.iterdir())

    def is_finished(self) -> bool:
        """A run is finished once its summary.json is written."""
        return self.summary_path.exists()

    def prepare(self, cfg: Mapping, overwrite: bool = False) -> bool:
        """Create the directory and write config.json; True when it holds a run to resume.

        A directory holding a checkpoint of a *different* config is refused (exit 2) rather than
        resumed into nonsense; ``overwrite`` starts afresh. A run written before a key existed
        resumes if the new config keeps that key's default.
        """
        if overwrite and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        resume = self.has_checkpoint()
        if resume and self.config_path.exists():
            diff = config_diff(read_json(self.config_path), cfg)
            if diff:
                raise UserError(f"{self.path}: holds a run with a different config ({', '.join(diff[:5])}); "
                                "use --overwrite to start afresh or another --workdir")
        self.write_json("config.json", cfg)
        return resume

    def config(self) -> dict:
        if not self.config_path.exists():
            raise UserError(f"{self.path}: not a run directory (no config.json)")
        return read_json(self.config_path)

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def checkpoints(self):
        """The run's orbax checkpoints (opened on first use; :meth:`close` them)."""
        if self._checkpoints is None:
            from aejax.train.checkpoint import Checkpoints
            self._checkpoints = Checkpoints(self.path / "checkpoints")
        return self._checkpoints

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None

    # -- metrics ----------------------------------------------------------------------------
    def append_metrics(self, row: Mapping) -> None:
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def keep_metrics_through(self, epoch: int) -> None:
        """Drop rows after ``epoch`` (written after the checkpoint a resumed run continues from)."""
        if epoch == 0:
            self.metrics_path.unlink(missing_ok=True)
            return
        rows = [r for r in read_metrics(self.metrics_path) if r["epoch"] <= epoch]
        atomic_write(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def metrics(self) -> list[dict]:
        return read_metrics(self.metrics_path)

    # -- results ----------------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> Path:
        path = self.path / name
        atomic_write(path, json.dumps(obj, indent=2) + "\n")
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        atomic_write(path, text)
        return path

    def write_summary(self, summary: Mapping) -> None:
        self.write_json("summary.json", summary)

    def summary(self) -> dict:
        return read_json(self.summary_path) if self.summary_path.exists() else {}

    def write_examples(self, examples: Mapping[str, np.ndarray], codes: np.ndarray) -> None:
        """``analysis/examples.npz`` (what the figures show) and ``analysis/latents.npy``
        (the codes of the whole test split, flattened to [N, D])."""
        self.analysis.mkdir(parents=True, exist_ok=True)
        np.savez(self.analysis / "examples.npz", **examples)
        np.save(self.analysis / "latents.npy", codes.reshape(len(codes), -1))

    def examples(self) -> dict:
        with np.load(self.analysis / "examples.npz") as z:
            return {k: z[k] for k in z.files}


def config_diff(old: Mapping, new: Mapping) -> list[str]:
    """The keys whose values differ between two configs, ignoring :data:`RESUME_IGNORED`; a key
    the old config lacks (it came with a newer aejax) counts as its base default."""
    a, b = config_lib.flatten(old), config_lib.flatten(new)
    defaults = config_lib.flatten(config_lib.base_config())
    a.update({k: defaults[k] for k in b if k not in a and k in defaults})
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUME_IGNORED)
