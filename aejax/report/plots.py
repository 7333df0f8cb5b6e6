"""Figures, made from the files in a run directory (never from inside the training loop).

``run_figures(run_dir)`` writes ``figures/*.png``:

- ``loss.png`` -- training and validation loss against epoch (log scale);
- for image data: ``test_originals.png`` (first ten test images),
  ``test_bottlenecks.png`` (their codes as images: 100 -> 10x10, the conv
  7x7x8 bottleneck -> 28x14 as a 4x2 grid of its eight 7x7 maps),
  ``test_reconstructions.png`` and ``test_overview.png`` (all three rows);
- when denoising (``data.noise_std > 0``), instead of the originals, reconstructions and
  overview: ``train_clean.png``, ``train_noisy.png``, ``test_clean.png``, ``test_noisy.png``,
  ``test_denoised.png`` and ``denoise_overview.png`` (the bottlenecks stay).

:data:`DELIVERABLES` gives the order the course (seed 001) asks for them in; report.html follows it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from aejax.report.pyplot import plt
from aejax.models import code_images
from aejax.run.rundir import RunDir, read_metrics, save_figure
from aejax.run.sweep import group_over_seeds, mean_std


#: The course's deliverables in the seed's order (Parts 1 and 2; Part 3, denoising), then the
#: overview of them; report.html shows these first, in this order (other figures follow).
DELIVERABLES = {
    False: ("loss", "test_originals", "test_bottlenecks", "test_reconstructions", "test_overview"),
    True: ("train_clean", "train_noisy", "loss", "test_clean", "test_noisy", "test_denoised", "denoise_overview",
           "test_bottlenecks"),
}


def loss_curves(metrics: list[dict], path: Path, title: str, loss_name: str) -> None:
    """Training and validation loss against epoch."""
    epochs = [m["epoch"] for m in metrics]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label in (("train/loss", "training"), ("val/loss", "validation")):
        ys = [m.get(key) for m in metrics]
        ax.plot(epochs, [np.nan if y is None else y for y in ys], label=label,
                marker="o" if len(epochs) < 20 else None, ms=3)
    ys = [m.get("val/loss") for m in metrics if m.get("val/loss") is not None]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 5:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss ({loss_name})")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def image_row(images: np.ndarray, path: Path, title: str, labels=None, cmap="gray",
              vrange: tuple | None = (0.0, 1.0), caption: str | None = None) -> None:
    """One row of images [K, H, W(, 1)] with a title and per-image labels."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    k = len(images)
    fig, axes = plt.subplots(1, k, figsize=(1.4 * k, 1.4 * images.shape[1] / images.shape[2] + 0.7))
    for i, ax in enumerate(np.atleast_1d(axes)):
        lo, hi = vrange if vrange else (images[i].min(), images[i].max())
        ax.imshow(images[i], cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"#{i}" if labels is None else f"#{i}: {labels[i]}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    if caption:
        fig.text(0.5, 0.01, caption, ha="center", fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def image_grid(rows: list[tuple[str, np.ndarray, tuple | None]], path: Path, title: str) -> None:
    """Several labelled rows of images: [(row label, [K, H, W(, 1)], value range or None)]."""
    k = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), k, figsize=(1.3 * k, 1.45 * len(rows) + 0.4), squeeze=False)
    for r, (label, images, vrange) in enumerate(rows):
        images = np.asarray(images)
        images = images[..., 0] if images.ndim == 4 else images
        for i in range(k):
            ax = axes[r, i]
            lo, hi = vrange if vrange else (images[i].min(), images[i].max())
            ax.imshow(images[i], cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def run_figures(run_dir: Path) -> list[Path]:
    """Write every figure of a finished run; returns their paths."""
    run_dir = Path(run_dir)
    cfg = RunDir(run_dir).config()
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    model = cfg["model"]["name"]
    made = []
    metrics = read_metrics(run_dir / "metrics.jsonl")
    if metrics:
        p = out / "loss.png"
        sigma = cfg["data"].get("noise_std", 0)
        kind = f"denoising {model}" if sigma > 0 else model
        loss_curves(metrics, p, f"{kind} autoencoder on {cfg['data']['name']}: loss per epoch",
                    cfg["train"]["loss"] + (f", noisy input (σ={sigma}) vs clean target" if sigma > 0 else ""))
        made.append(p)
    ex_path = run_dir / "analysis" / "examples.npz"
    if not ex_path.exists():
        return made
    ex = RunDir(run_dir).examples()
    if ex["test_x"].ndim != 4:  # not images: tabular figures are the experiment's own
        return made
    labels = ex.get("test_y")
    k = len(ex["test_x"])
    codes = code_images(ex["test_code"])
    code_desc = "x".join(map(str, ex["test_code"].shape[1:]))
    code_shape = "x".join(map(str, codes.shape[1:]))
    noisy = cfg["data"].get("noise_std", 0) > 0
    src = cfg["data"]["name"]
    bottlenecks = ("test_bottlenecks.png", codes, f"Bottleneck codes of the first {k} test images "
                   f"({code_desc} shown as {code_shape})", None,
                   "each code scaled to its own min..max" + (" (8 maps of 7x7 tiled 4 rows x 2 columns)"
                                                              if ex["test_code"].ndim == 4 else ""))
    figs = [] if noisy else [  # denoising: test_clean / test_denoised below show these images
        ("test_originals.png", ex["test_x"], f"First {k} test images ({src})", (0, 1), None),
        bottlenecks,
        ("test_reconstructions.png", ex["test_recon"], f"Reconstructions of the first {k} test images",
         (0, 1), None),
    ]
    if noisy:
        sigma = cfg["data"]["noise_std"]
        figs += [
            ("train_clean.png", ex["train_x"], f"First {k} training images", (0, 1), None),
            ("train_noisy.png", ex["train_input"], f"First {k} training images + {sigma} x N(0, 1) "
             "noise, clipped to [0, 1]", (0, 1), None),
            ("test_clean.png", ex["test_x"], f"First {k} test images", (0, 1), None),
            ("test_noisy.png", ex["test_input"], f"First {k} test images with noise "
             f"({sigma} x N(0, 1), clipped)", (0, 1), None),
            ("test_denoised.png", ex["test_recon"], f"First {k} test images after denoising", (0, 1), None),
            bottlenecks,
        ]
        for stale in ("test_originals.png", "test_reconstructions.png", "test_overview.png"):
            (out / stale).unlink(missing_ok=True)  # drawn by an earlier version: the same images again
    for name, images, title, vrange, caption in figs:
        p = out / name
        image_row(images, p, title, labels=labels if "test" in name else None, vrange=vrange, caption=caption)
        made.append(p)
    rows = [("original", ex["test_x"], (0, 1))]
    if noisy:
        rows.append(("noisy input", ex["test_input"], (0, 1)))
    rows += [(f"code ({code_shape})", codes, None),
             ("denoised" if noisy else "reconstruction", ex["test_recon"], (0, 1))]
    p = out / ("denoise_overview.png" if noisy else "test_overview.png")
    image_grid(rows, p, f"{model} autoencoder: first {k} test images")
    made.append(p)
    return made


def metric_figure(sweep_dir: Path, configs: list[dict], rows: list[dict], metrics: list[str], *,
                  baseline: Mapping | None = None, name: str = "sweep_metrics.png",
                  title: str = "") -> Path | None:
    """``figures/<name>``: each metric's mean ± std over seeds, one line per configuration.

    A configuration is labelled by the keys where it differs from ``baseline``
    (``"baseline"`` when none), or by all its keys but ``seed``. Written from
    the rows of the finished runs; returns None when there are none.
    """
    keys = list(dict.fromkeys(k for c in configs for k in c))
    groups = list(group_over_seeds(rows, keys).values())
    metrics = [m for m in metrics if any(isinstance(r.get(m), (int, float)) for r in rows)]
    if not groups or not metrics:
        return None

    def label(r):
        items = [(k, r.get(k)) for k in keys if k != "seed"]
        if baseline is not None:
            items = [(k, v) for k, v in items if k in baseline and baseline[k] != v]
            if not items:
                return "baseline"
        return ", ".join(f"{k.split('.')[-1]}={json.dumps(v, separators=(',', ':'))}" for k, v in items)

    labels = [f"{label(g[0])}  (n={len(g)})" for g in groups]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics) + 2.6, 0.32 * len(groups) + 1.6),
                             sharey=True, squeeze=False)
    pos = np.arange(len(groups))
    for ax, m in zip(axes[0], metrics):
        stats = [mean_std([r.get(m) for r in g]) for g in groups]
        ax.errorbar([s[0] for s in stats], pos, xerr=[s[1] for s in stats], fmt="o", ms=4, capsize=3)
        if baseline is not None and "baseline" in labels[0]:
            ax.axvline(stats[0][0], color="gray", lw=0.8, ls="--")
        ax.set_xlabel(f"{m} (mean ± std over seeds)")
        ax.grid(alpha=0.3)
    axes[0][0].set_yticks(pos, labels, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.suptitle(title or f"Sweep {Path(sweep_dir).name}", fontsize=10)
    fig.tight_layout()
    out = Path(sweep_dir) / "figures"
    out.mkdir(exist_ok=True)
    path = out / name
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
