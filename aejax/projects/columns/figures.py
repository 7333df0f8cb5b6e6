"""Figures of the column experiment, made from the files of a run or sweep directory.

Run (``figures/`` of a run directory; read ``analysis/columns.npz``,
``analysis/columns.json`` and ``metrics.jsonl``):

- ``columns_sanity.png`` -- the seed's sanity check: an original image, a few
  of its columns as seismic traces, and the image rebuilt from its columns;
- ``columns_autoassociation.png`` -- original, rebuilt-from-columns,
  auto-associated (the network's output) and rank-m PCA images side by side;
- ``loss_vs_pca.png`` -- training / validation loss per epoch against the
  rank-m PCA error (the floor a linear decoder can reach).

Sweep (``figures/`` of a sweep directory; read ``sweep.csv`` rows and the
runs' ``analysis/columns.npz``):

- ``error_vs_m.png`` -- test MSE against m, autoencoder and PCA (mean and
  min..max over seeds), and their ratio;
- ``classifier_vs_m.png`` -- the classifier's accuracy on reconstructions
  against m, with its accuracy on the originals, the tolerance and the
  recommended m;
- ``reconstruction_grid.png`` -- the same test images rebuilt at chosen m.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from aejax.run.rundir import read_metrics, save_figure  # noqa: E402


def _label_text(labels, i: int, seismic: bool, indices=None) -> str:
    name = f"#{i if indices is None else int(indices[i])}"
    if labels is None:
        return name
    y = int(labels[i])
    return f"{name}: {'salt' if y == 1 else 'no salt' if y == 0 else y}" if seismic else f"{name}: {y}"


def _show(ax, img, title=None, vrange=(0.0, 1.0), pad=6.0):
    ax.imshow(np.asarray(img)[..., 0] if np.ndim(img) == 3 else img, cmap="gray", vmin=vrange[0],
              vmax=vrange[1], interpolation="nearest", aspect="equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8, pad=pad)


def sanity_figure(arrays: Mapping, path: Path, source: str, max_err: float | None) -> None:
    """Original image | some of its columns as traces | image rebuilt from the columns."""
    orig, rebuilt = arrays["original"][0, ..., 0], arrays["from_columns"][0, ..., 0]  # [H, W]
    h, w = orig.shape
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.9), gridspec_kw={"width_ratios": [1, 1.15, 1]})
    first = int(arrays["indices"][0]) if "indices" in arrays else 0
    _show(axes[0], orig, f"original image ({source}, test #{first})", pad=12)
    picks = np.linspace(0, w - 1, 6).round().astype(int)
    axes[0].plot(picks, np.zeros_like(picks) - 0.5 - 0.025 * h, "v", color="tab:red", ms=5, clip_on=False)
    axes[0].set_xlim(-0.5, w - 0.5)
    axes[0].set_ylim(h - 0.5, -0.5)
    ax = axes[1]
    depth = np.arange(h)
    zero = float(np.median(orig))                               # seismic: mid grey = zero amplitude
    for k, j in enumerate(picks):
        trace = 0.9 * np.clip(orig[:, j] - zero, -0.5, 0.5)    # <= 0.45 either side of its axis
        ax.plot(k + trace, depth, color="k", lw=0.7)
        ax.fill_betweenx(depth, k, k + trace, where=trace > 0, color="k", lw=0)
    ax.set_ylim(h - 1, 0)
    ax.set_xticks(range(len(picks)))
    ax.set_xticklabels([f"col {j}" for j in picks], fontsize=7)
    ax.set_ylabel("sample (row)", fontsize=8)
    ax.set_title(f"{len(picks)} of its {w} columns (red marks) = examples of {h} samples", fontsize=8)
    err = "" if max_err is None else f"max |diff| = {max_err:.1e}"
    _show(axes[2], rebuilt, f"rebuilt from its {w} columns\n{err}")
    fig.suptitle("Sanity check: an image and the same image rebuilt from its columns", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _mosaic(rows: Sequence[np.ndarray], pad: int = 3) -> np.ndarray:
    """Rows of images ([K, H, W(, 1)] each, values clipped to [0, 1]) as one array with white gaps."""
    k = min(len(r) for r in rows)
    h, w = np.asarray(rows[0]).shape[1:3]
    out = np.ones((len(rows) * (h + pad) - pad, k * (w + pad) - pad), np.float32)
    for r, imgs in enumerate(rows):
        imgs = np.asarray(imgs)
        imgs = imgs[..., 0] if imgs.ndim == 4 else imgs
        for i in range(k):
            out[r * (h + pad):r * (h + pad) + h, i * (w + pad):i * (w + pad) + w] = np.clip(imgs[i], 0, 1)
    return out


def mosaic_figure(rows: Sequence[tuple[str, np.ndarray]], path: Path, title: str, labels=None,
                  seismic: bool = False, k: int = 8, indices=None) -> None:
    """Labelled rows of images drawn as ONE image (one axes: fast even for many runs)."""
    k = min(k, min(len(imgs) for _, imgs in rows))
    h, w = np.asarray(rows[0][1]).shape[1:3]
    pad = max(2, h // 30)
    big = _mosaic([imgs[:k] for _, imgs in rows], pad)
    fig_w = 1.25 * k + 1.6
    fig, ax = plt.subplots(figsize=(fig_w, fig_w * big.shape[0] / big.shape[1] * (1.25 * k) / fig_w + 0.7))
    ax.imshow(big, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([(w + pad) * i + w / 2 for i in range(k)])
    ax.set_xticklabels([_label_text(labels, i, seismic, indices) for i in range(k)], fontsize=7)
    ax.xaxis.tick_top()
    ax.set_yticks([(h + pad) * r + h / 2 for r in range(len(rows))])
    ax.set_yticklabels([name for name, _ in rows], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def autoassociation_figure(arrays: Mapping, path: Path, m: int, summary: Mapping, seismic: bool) -> None:
    """Rows: original, rebuilt from columns, auto-associated (AE), PCA; one column per image."""
    rows = [("original", arrays["original"]), ("rebuilt from\ncolumns", arrays["from_columns"]),
            (f"auto-associated\n(AE, m={m})", arrays["autoencoder"]), (f"PCA,\n{m} components", arrays["pca"])]
    mse, pca = summary.get("test/mse"), summary.get("test/pca_mse")
    acc = summary.get("test/clf_acc_ae")
    extra = f"\nclassifier accuracy on all test images: {acc:.1%} auto-associated, " \
            f"{summary['test/clf_acc_pca']:.1%} PCA, {summary['test/clf_acc_original']:.1%} originals" \
        if acc is not None else ""
    mosaic_figure(rows, path, f"Test images through the {m}-unit column bottleneck: test MSE AE {mse:.4g}, "
                  f"PCA {pca:.4g}{extra}", arrays.get("labels"), seismic, indices=arrays.get("indices"))


def loss_figure(metrics: Sequence[Mapping], summary: Mapping, path: Path, m: int) -> None:
    """Training / validation loss per epoch with the rank-m PCA error as reference."""
    epochs = [r["epoch"] for r in metrics]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label in (("train/loss", "training loss (AE)"), ("val/loss", "validation loss (AE)")):
        ax.plot(epochs, [np.nan if r.get(key) is None else r[key] for r in metrics], label=label,
                marker="o" if len(epochs) < 20 else None, ms=3)
    if "train/pca_mse" in summary:
        ax.axhline(summary["train/pca_mse"], color="k", ls="--", lw=1,
                   label=f"PCA, {m} components (training columns)")
        ax.axhline(summary["test/pca_mse"], color="gray", ls=":", lw=1.2,
                   label=f"PCA, {m} components (test columns)")
    vals = [r.get("val/loss") for r in metrics]
    best = epochs[int(np.nanargmin([np.nan if v is None else v for v in vals]))] if any(
        v is not None for v in vals) else None
    if best:
        ax.axvline(best, color="tab:green", lw=0.8, alpha=0.7, label=f"best validation epoch ({best})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE per sample")
    ax.set_title(f"Column autoencoder, m={m}: loss per epoch", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def run_figures(run_dir: Path, shared: dict | None = None) -> list[Path]:
    """The run figures listed in the module docstring.

    ``shared`` (a dict) lets runs of one sweep with the same seed share the
    sanity-check figure, which depends on the data only: it is drawn once and copied.
    """
    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "analysis" / "columns.json").read_text())
    arrays = dict(np.load(run_dir / "analysis" / "columns.npz"))
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    m = int(cfg["model"]["latent_dim"])
    seismic = summary.get("clf/kind") == "seismic" or cfg["data"]["name"].split(":")[0] in (
        "seismic_synth", "tgs", "segy")
    paths = [out / "columns_sanity.png", out / "columns_autoassociation.png"]
    drawn = None if shared is None else shared.get(("sanity", cfg["seed"]))
    if drawn is not None and Path(drawn).exists():
        shutil.copyfile(drawn, paths[0])
    else:
        sanity_figure(arrays, paths[0], cfg["data"]["name"], summary.get("columns/rebuild_max_abs_error"))
        if shared is not None:
            shared[("sanity", cfg["seed"])] = str(paths[0])
    autoassociation_figure(arrays, paths[1], m, summary, seismic)
    metrics = read_metrics(run_dir / "metrics.jsonl")
    if metrics:
        paths.append(out / "loss_vs_pca.png")
        loss_figure(metrics, summary, paths[-1], m)
    return paths


# --------------------------------------------------------------------------- sweep

def _by_m(rows: Sequence[Mapping], key: str) -> tuple[np.ndarray, list[np.ndarray]]:
    ms = sorted({int(r["model.latent_dim"]) for r in rows})
    vals = [np.array([float(r[key]) for r in rows if int(r["model.latent_dim"]) == m
                      and isinstance(r.get(key), (int, float))]) for m in ms]
    return np.array(ms), vals


def _band(ax, ms, vals, label, color, marker):
    mean = np.array([v.mean() if v.size else np.nan for v in vals])
    lo = np.array([v.min() if v.size else np.nan for v in vals])
    hi = np.array([v.max() if v.size else np.nan for v in vals])
    ax.plot(ms, mean, marker=marker, color=color, label=label, ms=4)
    ax.fill_between(ms, lo, hi, color=color, alpha=0.2, lw=0)


def error_figure(rows: Sequence[Mapping], path: Path, n_seeds: int) -> None:
    """Test MSE against m (AE and PCA) and the ratio AE / PCA."""
    ms, ae = _by_m(rows, "test/mse")
    _, pca = _by_m(rows, "test/pca_mse")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    _band(a1, ms, ae, f"autoencoder (mean, min..max over {n_seeds} seeds)", "tab:blue", "o")
    exact = [i for i, v in enumerate(pca) if v.size and v.max() <= 1e-10]   # m = H: PCA is exact
    shown = [i for i in range(len(ms)) if i not in exact]
    _band(a1, ms[shown], [pca[i] for i in shown], "PCA, same number of components"
          + (f" (exact at m={ms[exact[0]]}: not drawn)" if exact else ""), "k", "s")
    a1.set_xscale("log", base=2)
    a1.set_yscale("log")
    a1.set_xticks(ms)
    a1.set_xticklabels([str(m) for m in ms], fontsize=7)
    a1.set_xlabel("bottleneck size m")
    a1.set_ylabel("test MSE per sample (images in [0, 1])")
    a1.set_title("Reconstruction error of test columns", fontsize=10)
    a1.grid(alpha=0.3, which="both")
    a1.legend(fontsize=8)
    keep = [i for i, m in enumerate(ms) if pca[i].size and pca[i].min() > 1e-10]  # PCA exact at m = H
    ratio = [ae[i] / pca[i] if ae[i].size == pca[i].size else np.array([]) for i in keep]
    _band(a2, ms[keep], ratio, "AE / PCA (mean, min..max)", "tab:blue", "o")
    a2.axhline(1.0, color="k", lw=1, ls="--", label="PCA = the best any Dense(m)->Dense(linear) can do\n"
                                                      "on the training columns (Eckart-Young)")
    a2.set_xscale("log", base=2)
    a2.set_xticks(ms[keep])
    a2.set_xticklabels([str(m) for m in ms[keep]], fontsize=7)
    a2.set_xlabel("bottleneck size m")
    a2.set_ylabel("test MSE ratio, autoencoder / PCA")
    a2.set_title("How close the trained network gets to PCA", fontsize=10)
    a2.grid(alpha=0.3, which="both")
    a2.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def classifier_figure(rows: Sequence[Mapping], path: Path, recommended: int | None, tolerance_pp: float,
                      chance: float | None, n_seeds: int) -> None:
    """Classifier accuracy on reconstructions against m, with originals and tolerance."""
    ms, ae = _by_m(rows, "test/clf_acc_ae")
    _, pca = _by_m(rows, "test/clf_acc_pca")
    _, orig = _by_m(rows, "test/clf_acc_original")
    ref = float(np.mean(np.concatenate(orig)))
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    _band(ax, ms, [100 * v for v in ae], f"auto-associated images (mean, min..max over {n_seeds} seeds)",
          "tab:blue", "o")
    _band(ax, ms, [100 * v for v in pca], "PCA images, same m", "tab:gray", "s")
    ax.axhline(100 * ref, color="tab:green", lw=1.2, label=f"original images ({100 * ref:.1f} %)")
    ax.axhspan(100 * ref - tolerance_pp, 100 * ref, color="tab:green", alpha=0.12,
               label=f"within {tolerance_pp:g} points of the originals")
    if chance is not None:
        ax.axhline(100 * chance, color="tab:red", ls=":", lw=1, label=f"majority class ({100 * chance:.0f} %)")
    if recommended is not None:
        ax.axvline(recommended, color="tab:orange", lw=1.5, ls="--", label=f"recommended m >= {recommended}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ms)
    ax.set_xticklabels([str(m) for m in ms], fontsize=7)
    ax.set_xlabel("bottleneck size m")
    ax.set_ylabel("classifier accuracy on test images (%)")
    ax.set_title("Can a classifier trained on originals still classify the reconstructions?", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def grid_figure(images: Mapping[str, np.ndarray], labels, path: Path, title: str, seismic: bool,
                k: int = 6, indices=None) -> None:
    """Rows of images: {row label: [K, H, W, 1]}, drawn as one mosaic."""
    mosaic_figure(list(images.items()), path, title, labels, seismic, k, indices)
