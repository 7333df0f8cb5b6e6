"""Batch normalization on the course's models (seed 003's "batch normalization", on seed 001's networks).

:func:`run` trains each course model (``mnist_dense``, ``mnist_conv``) twice, with
``model.norm=none`` and ``model.norm=batch``, each a full run directory under
``RUN/runs/<model>,norm=<norm>/`` (a rerun skips finished ones and resumes the others), then draws
``figures/batchnorm_curves.png``: each model's train and validation loss per epoch, without and with
batch normalization, side by side. summary.json holds each run's test MSE, best epoch and training
seconds (``test/mse/<model>/<norm>``, ...).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from aejax.errors import UserError
from aejax.run.rundir import RunDir, read_metrics, save_figure

MODELS = ("mnist_dense", "mnist_conv")
NORMS = ("none", "batch")


def run(cfg: Mapping, workdir) -> dict:
    """Train every (model, norm) pair, then the figure, summary numbers and report."""
    from aejax import api
    from aejax.report.html import write_run_report
    bn = cfg["batchnorm"]
    models = bn["models"]
    if not isinstance(models, list) or not models or any(m not in MODELS for m in models):
        raise UserError(f"batchnorm.models={models!r}: expected a non-empty list of {list(MODELS)}")
    workdir = Path(workdir)
    summary, curves = {}, {}
    for model in models:
        for norm in NORMS:
            run_dir = workdir / "runs" / f"{model},norm={norm}"
            overrides = [f"model.norm={norm}", f"seed={cfg['seed']}", "train.progress=false",
                         "analysis.enabled=false", *([] if bn["quick"] else [f"train.epochs={bn['epochs']}"])]
            s = api.run(model, workdir=run_dir, overrides=overrides, quick=bn["quick"])
            curves[model, norm] = read_metrics(run_dir / "metrics.jsonl")
            for key in ("test/mse", "best_epoch", "train_s"):
                summary[f"{key}/{model}/{norm}"] = s.get(key)
    _figure(workdir, models, curves)
    RunDir(workdir).write_summary(summary)
    write_run_report(workdir)
    return summary


def _figure(workdir: Path, models, curves) -> Path:
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        for norm, color in zip(NORMS, ("tab:blue", "tab:orange")):
            rows = curves[model, norm]
            epochs = [r["epoch"] for r in rows]
            label = "batch norm" if norm == "batch" else "no norm"
            ax.plot(epochs, [r["train/loss"] for r in rows], "--", color=color, label=f"{label}, train")
            ax.plot(epochs, [r["val/loss"] for r in rows], "-", color=color, label=f"{label}, validation")
        ax.set(title=model, xlabel="epoch", ylabel="loss (the model's training loss)", yscale="log")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("Course models without and with batch normalization")
    fig.tight_layout()
    return save_figure(fig, workdir / "figures" / "batchnorm_curves.png")
