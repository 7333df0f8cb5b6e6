"""Figures of the zoo's applications, made from files in run / sweep directories.

Every function reads what it plots from the directory it is given (summary
rows, ``analysis/*.npz``) and writes one PNG; none is called from inside training.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from aejax.run.rundir import save_figure  # noqa: E402


def _wrap(title: str, fig=None, width: int = 80) -> str:
    """Long titles over several lines (matplotlib does not wrap): ~11 characters per inch of ``fig``."""
    if fig is not None:
        width = int(fig.get_figwidth() * 11)
    return "\n".join(textwrap.fill(part, width) for part in title.split("\n"))


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def _img(ax, image, vrange=(0.0, 1.0)):
    image = np.asarray(image)
    image = image[..., 0] if image.ndim == 3 else image
    ax.imshow(image, cmap="gray", vmin=vrange[0], vmax=vrange[1], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def bar_comparison(stats: dict, path: Path, *, title: str, ylabel: str, annotations: dict | None = None,
                   baseline: tuple[float, str] | None = None, log: bool = False) -> Path:
    """Bars of mean ± std per group: ``stats`` {group: (mean, std, n)} (see zoo.group_stats)."""
    names = list(stats)
    means = [stats[n][0] for n in names]
    stds = [stats[n][1] for n in names]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(names) + 2), 4.2))
    ax.bar(range(len(names)), means, yerr=stds, capsize=3, color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right")
    for i, n in enumerate(names):
        note = f"n={stats[n][2]}" + (f"\n{annotations[n]}" if annotations and n in annotations else "")
        ax.annotate(note, (i, means[i] + stds[i]), textcoords="offset points", xytext=(0, 3), ha="center",
                    fontsize=7)
    if baseline is not None:
        ax.axhline(baseline[0], color="tab:red", ls="--", lw=1, label=baseline[1])
        ax.legend(fontsize=8)
    if log:
        ax.set_yscale("log")
    else:
        ax.margins(y=0.14)  # head-room: the n= / mean±std notes above the tallest bar stay under the title
    ax.set_ylabel(ylabel)
    ax.set_title(_wrap(title, ax.figure), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def reconstruction_grid(run_dirs: dict, path: Path, *, title: str, k: int = 8,
                        input_key: str = "test_input") -> Path:
    """Rows: the originals (and noisy inputs, if any differ), then each run's reconstructions
    of the same first ``k`` test images, read from ``<run>/analysis/examples.npz``."""
    rows = []
    for label, run in run_dirs.items():
        ex = np.load(Path(run) / "analysis" / "examples.npz")
        if not rows:
            rows.append(("original", ex["test_x"][:k]))
        if not np.allclose(ex[input_key][:k], ex["test_x"][:k]):
            rows.append((f"{label}: input", ex[input_key][:k]))
        rows.append((label, ex["test_recon"][:k]))
    k = min(k, len(rows[0][1]))
    fig, axes = plt.subplots(len(rows), k, figsize=(1.1 * k + 1.2, 1.1 * len(rows) + 0.5), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for i in range(k):
            _img(axes[r, i], images[i])
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(_wrap(title, fig), fontsize=10)
    return _save(fig, path)


def image_grid(images: np.ndarray, path: Path, *, title: str, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, xlabel: str | None = None,
               ylabel: str | None = None, cell: float = 0.9) -> Path:
    """A grid of images [R, C, H, W(, 1)], optional row / column labels."""
    images = np.asarray(images)
    r, c = images.shape[:2]
    fig, axes = plt.subplots(r, c, figsize=(cell * c + 1.3, cell * r + 0.8), squeeze=False)
    for i in range(r):
        for j in range(c):
            _img(axes[i, j], images[i, j])
            if col_labels is not None and i == r - 1:
                axes[i, j].set_xlabel(col_labels[j], fontsize=6)
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i], fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(_wrap(title, fig), fontsize=10)
    if xlabel:
        fig.text(0.5, 0.005, xlabel, ha="center", fontsize=8)
    if ylabel:
        fig.text(0.005, 0.5, ylabel, va="center", rotation=90, fontsize=8)
    fig.tight_layout(rect=(0.02 if ylabel else 0, 0.02 if xlabel else 0, 1, 1))
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return Path(path)


def manifold(images: np.ndarray, grid: np.ndarray, path: Path, *, title: str, axes_labels=("z1", "z2")) -> Path:
    """The decoded 2-D latent grid as one big image; ``images`` [n, n, H, W(, 1)],
    ``grid`` [n] the latent values of the rows / columns."""
    images = np.asarray(images)
    images = images[..., 0] if images.ndim == 5 else images
    n, m, h, w = images.shape
    canvas = images.transpose(0, 2, 1, 3).reshape(n * h, m * w)  # [n, H, m, W] -> [n*H, m*W]
    fig, ax = plt.subplots(figsize=(7.0, 7.6))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ticks = np.arange(0, m, max(1, m // 5))
    ax.set_xticks(ticks * w + w / 2)
    ax.set_xticklabels([f"{grid[t]:.2f}" for t in ticks], fontsize=7)
    ax.set_yticks(ticks * h + h / 2)
    ax.set_yticklabels([f"{grid[::-1][t]:.2f}" for t in ticks], fontsize=7)
    ax.set_xlabel(axes_labels[0])
    ax.set_ylabel(axes_labels[1])
    ax.set_title(_wrap(title, ax.figure), fontsize=10)
    return _save(fig, path)


def latent_scatter(z: np.ndarray, labels, path: Path, *, title: str, dims=(0, 1),
                   axes_labels: tuple[str, str] | None = None) -> Path:
    """Codes ``z`` [N, D] in dimensions ``dims``, coloured by class."""
    fig, ax = plt.subplots(figsize=(6.0, 5.2))
    sc = ax.scatter(z[:, dims[0]], z[:, dims[1]], c=labels, cmap="tab10", s=5, alpha=0.8)
    if labels is not None:
        fig.colorbar(sc, ax=ax, label="class")
    names = axes_labels or (f"z[{dims[0]}]", f"z[{dims[1]}]")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(_wrap(title, ax.figure), fontsize=10)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def score_histogram(normal: np.ndarray, anomalous: np.ndarray, path: Path, *, title: str,
                    xlabel: str = "reconstruction error (MSE per example)") -> Path:
    """Histograms of the anomaly score for normal and anomalous test examples (log bins)."""
    both = np.concatenate([normal, anomalous])
    lo, hi = max(both.min(), 1e-8), both.max()
    bins = np.geomspace(lo, hi * 1.0001, 50) if hi / lo > 20 else np.linspace(both.min(), hi, 50)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.hist(normal, bins=bins, alpha=0.6, density=True, label=f"normal (n={len(normal)})")
    ax.hist(anomalous, bins=bins, alpha=0.6, density=True, label=f"anomalous (n={len(anomalous)})")
    if hi / lo > 20:
        from matplotlib.ticker import NullFormatter
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on log axes
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(_wrap(title, ax.figure), fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def roc_curves(curves: dict, path: Path, *, title: str) -> Path:
    """ROC curves {label: (fpr, tpr, auc)} with the chance diagonal."""
    fig, ax = plt.subplots(figsize=(5.0, 5.0))
    for label, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, lw=1.2, label=f"{label} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(_wrap(title, ax.figure), fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def curves(series: dict, path: Path, *, title: str, xlabel: str, ylabel: str, logx: bool = False,
           logy: bool = False, hlines: dict | None = None) -> Path:
    """Lines {label: (x, y, yerr or None)} with markers; optional labelled horizontal lines."""
    fig, ax = plt.subplots(figsize=(6.6, 4.4))
    for label, (x, y, yerr) in series.items():
        if yerr is None:
            ax.plot(x, y, marker="o", ms=3, label=label)
        else:
            ax.errorbar(x, y, yerr=yerr, marker="o", ms=3, capsize=2, label=label)
    for label, y in (hlines or {}).items():
        ax.axhline(y, ls="--", lw=1, color="gray")
        ax.annotate(label, (ax.get_xlim()[0], y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(_wrap(title, ax.figure), fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _save(fig, path)


def traces(originals: np.ndarray, recons: dict, path: Path, *, title: str, k: int = 4,
           xlabel: str = "sample (row, 4 ms)") -> Path:
    """``k`` 1-D signals and their reconstructions by each method {label: [N, T]}."""
    fig, axes = plt.subplots(k, 1, figsize=(7.5, 1.6 * k + 0.6), sharex=True, squeeze=False)
    for i in range(k):
        ax = axes[i, 0]
        ax.plot(originals[i], color="k", lw=1.4, label="original")
        for label, r in recons.items():
            ax.plot(r[i], lw=1.0, label=label)
        ax.set_ylabel(f"#{i}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=len(recons) + 1, loc="upper right")
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(_wrap(title, fig), fontsize=10)
    return _save(fig, path)


def read_json(path: Path) -> dict:
    """A JSON file as a dict."""
    return json.loads(Path(path).read_text())
