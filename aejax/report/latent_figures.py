"""Figures of the latent analysis, made from the JSON files in ``analysis/``.

:func:`run_figures` writes into ``figures/`` (whatever of these the files allow):

- ``latent_scree.png`` -- covariance eigenvalues against rank (log scale) with
  the shuffle floor, the Marchenko-Pastur edge and the untrained encoder's
  spectrum; the modes above the floor are marked;
- ``latent_cumulative.png`` -- cumulative explained variance of the codes and
  of the raw data (PCA) against the number of modes;
- ``latent_unit_importance.png`` -- units ranked by ablation importance, with
  their variance;
- ``latent_ablation.png`` -- ablating single units against single
  eigen-directions, and the test MSE when only the top-k are kept;
- ``latent_factors.png`` -- mutual information of units and known factors.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aejax.report.pyplot import plt
from aejax.run.rundir import RunDir, read_json, save_figure


def _save(fig, path: Path, margins: dict | None = None) -> Path:
    # Fixed margins: tight_layout measures every tick label and costs seconds on 2 cores.
    fig.subplots_adjust(**{"left": 0.1, "right": 0.97, "bottom": 0.13, "top": 0.9, **(margins or {})})
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def _positive(v, floor: float) -> np.ndarray:
    """Values for a log axis: non-positive ones drawn at ``floor``."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v > floor, v, floor)


def scree(s: dict, path: Path, title: str) -> Path:
    """Eigenvalues vs rank with the noise floors (log y)."""
    w = np.asarray(s["eigenvalues"])
    ranks = np.arange(1, w.size + 1)
    lo = max(w[0], 1e-30) * 1e-9
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    nz = w > lo
    ax.semilogy(ranks[nz], w[nz], "o-", ms=3, lw=1, color="C0", label="eigenvalues of the code covariance")
    if (~nz).any():
        ax.semilogy(ranks[~nz], np.full((~nz).sum(), lo), "x", ms=4, color="C0",
                    label=f"{int((~nz).sum())} eigenvalues ~ 0 (drawn at the bottom)")
    nf = s.get("noise_floor", {})
    if "shuffle_floor" in nf:
        ax.semilogy(ranks, _positive(nf["shuffle_floor"], lo), "-", color="C3", lw=1.5,
                    label=f"shuffle floor ({int(100 * nf.get('shuffle_quantile', 0.95))}th pct of "
                          f"{nf.get('n_shuffles')} shuffles)")
    if "mp_floor" in nf:
        ax.axhline(nf["mp_floor"], color="C1", ls="--", lw=1, label="Marchenko-Pastur edge")
    if "reference_floor" in nf:
        ax.semilogy(ranks, _positive(nf["reference_floor"], lo), ":", color="C2", lw=1.5,
                    label="untrained encoder (same total variance)")
    k = s.get("modes_above_floor", 0)
    if k:
        ax.axvspan(0.5, k + 0.5, color="C0", alpha=0.08)
        ax.text(k + 0.5, w[0], f" {k} modes above\n the shuffle floor", va="top", fontsize=9)
    ax.set_xlabel("mode (rank of the eigenvalue)")
    ax.set_ylabel("eigenvalue (variance along the mode)")
    ax.set_ylim(lo * 0.5, w[0] * 3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def cumulative(s: dict, path: Path, title: str) -> Path:
    """Cumulative explained variance of codes and raw data vs number of modes (log x)."""
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    series = [("code", s, "C0")]
    if "data" in s:
        series.append(("raw data (PCA)", s["data"], "C7"))
    for label, sp, color in series:
        c = np.cumsum(sp["explained_variance_ratio"])
        ax.semilogx(np.arange(1, c.size + 1), c, "-", color=color, lw=2,
                    label=f"{label}: {c.size} dims; 90/95/99 % at {sp['modes_90']}/{sp['modes_95']}/"
                          f"{sp['modes_99']}")
        for key in ("modes_90", "modes_95", "modes_99"):
            ax.plot(sp[key], c[sp[key] - 1], "o", color=color, ms=5)
    for t in (0.9, 0.95, 0.99):
        ax.axhline(t, color="grey", ls=":", lw=0.8)
        ax.text(0.01, t, f"{int(t * 100)} %", fontsize=7, va="bottom", color="grey",
                transform=ax.get_yaxis_transform())
    ax.set_xlabel("number of modes (log scale)")
    ax.set_ylabel("cumulative explained variance")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def unit_importance(im: dict, path: Path, title: str, top: int = 40) -> Path:
    """Units ranked by ablation importance (bars) with their variance (dots, right axis)."""
    inc = np.asarray(im["unit_ablation_increase"])
    var = np.asarray(im["unit_variance"])
    rank = np.asarray(im["unit_rank"])
    show = rank[:min(top, rank.size)]
    x = np.arange(show.size)
    fig, ax = plt.subplots(figsize=(max(7.2, 0.2 * show.size + 2), 4.4))
    ax.bar(x, inc[show], color="C0", label="test MSE increase when the unit is set to its mean")
    ax.set_xticks(x)
    ax.set_xticklabels([str(u) for u in show], fontsize=7, rotation=90)
    ax.set_xlabel(f"unit index, ranked by ablation importance (top {show.size} of {rank.size})")
    ax.set_ylabel("MSE increase (ablation)")
    ax2 = ax.twinx()
    ax2.plot(x, var[show], "o", color="C3", ms=4, label="unit variance over test codes")
    ax2.set_ylabel("variance", color="C3")
    ax2.set_ylim(bottom=0)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    dead = int(np.sum(var <= 0))
    note = f"; {dead} units constant" if dead else ""
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right",
              title=f"active units (var > {im['active_units_threshold']}): {im['active_units']}{note}",
              title_fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path, {"bottom": 0.2, "right": 0.9, "left": 0.09})


def ablation(im: dict, path: Path, title: str) -> Path:
    """Left: single-unit vs single-direction ablation; right: keep only the top k."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.4))
    units = np.asarray(im["unit_ablation_increase"], np.float64)
    units = np.sort(units[~np.isnan(units)])[::-1]  # NaN: a wide code's units that were not ablated
    dirs = np.asarray(im["direction_ablation_increase"])
    lo = max(units.max(), dirs.max(), 1e-12) * 1e-6
    r = np.arange(1, units.size + 1)
    a1.semilogy(np.arange(1, dirs.size + 1), _positive(dirs, lo), "o-", ms=3, lw=1, color="C2",
                label="eigen-direction k (in eigenvalue order)"
                + (f"; the leading {dirs.size}" if dirs.size < units.size else ""))
    n_units = len(im["unit_ablation_increase"])
    a1.semilogy(r, _positive(units, lo), "s-", ms=3, lw=1, color="C0", label="unit (sorted, most important first)"
                + (f"; the {units.size} of largest variance of {n_units}" if units.size < n_units else ""))
    a1.set_xlabel("rank (increases <= 0 drawn at the bottom)")
    a1.set_ylabel("test MSE increase when ablated (log)")
    a1.set_title("Ablating one unit vs one eigen-direction", fontsize=10)
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3, which="both")
    c = im["keep_top_k"]
    ks = np.asarray(c["k"])
    for key, label, color, mk in (("directions", "top-k eigen-directions", "C2", "o"),
                                  ("units_by_ablation", "top-k units by ablation", "C0", "s"),
                                  ("units_by_variance", "top-k units by variance", "C1", "^")):
        a2.plot(np.maximum(ks, 0.7), c[key], mk + "-", ms=3, lw=1, color=color, label=label)
    a2.axhline(im["baseline_loss"], color="k", ls="--", lw=0.8, label="full code")
    a2.axhline(im["mean_code_loss"], color="grey", ls=":", lw=0.8, label="mean code (k = 0)")
    k95 = im.get("modes_for_loss_95")
    if k95:
        a2.axvline(k95, color="C2", ls=":", lw=1)
        a2.text(k95, im["mean_code_loss"], f" k={k95}: 95 % of the\n MSE reduction", fontsize=8,
                va="top", color="C2")
    a2.set_xscale("log")
    a2.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter, NullFormatter
    a2.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    a2.xaxis.set_minor_formatter(NullFormatter())
    for fmt in (a2.yaxis.set_major_formatter, a2.yaxis.set_minor_formatter):  # "0.02", not "2 x 10^-2"
        fmt(FormatStrFormatter("%.3g"))
    a2.tick_params(axis="y", which="minor", labelsize=7)
    a2.set_xlabel("k kept (the rest set to the mean; k = 0 drawn at 0.7)")
    a2.set_ylabel("test MSE")
    a2.set_title("Keeping only the top k", fontsize=10)
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3, which="both")
    fig.suptitle(title + f" ({im['examples']} test examples)", fontsize=10)
    return _save(fig, path, {"left": 0.07, "right": 0.98, "top": 0.86, "wspace": 0.25})


def factors(dis: dict, path: Path, title: str, top: int = 32) -> Path:
    """Normalised mutual information I(unit; factor) / H(factor), strongest units first."""
    mi = np.asarray(dis["mig_detail"]["mutual_info"])  # [D', K]
    h = np.asarray(dis["mig_detail"]["factor_entropy"])
    nmi = mi / np.where(h > 0, h, 1.0)
    units = np.asarray(dis["units_used"])
    order = np.argsort(-nmi.max(axis=1), kind="stable")[:top]
    fig, ax = plt.subplots(figsize=(1.0 * len(dis["factors"]) + 3.0, 0.28 * order.size + 1.8))
    im = ax.imshow(nmi[order], aspect="auto", cmap="viridis", vmin=0, vmax=max(nmi.max(), 1e-9))
    ax.set_xticks(range(len(dis["factors"])))
    ax.set_xticklabels(dis["factors"], rotation=30, fontsize=8)
    ax.set_yticks(range(order.size))
    ax.set_yticklabels([f"unit {units[i]}" for i in order], fontsize=7)
    fig.colorbar(im, ax=ax, label="I(unit; factor) / H(factor)")
    ax.set_title(f"{title}\nMIG {dis['mig']:.2f}  SAP {dis['sap']:.2f}  DCI-D {dis['dci_disentanglement']:.2f}",
                 fontsize=9)
    return _save(fig, path, {"left": 0.22, "right": 0.95, "bottom": 0.12, "top": 0.86})


def run_figures(run_dir) -> list[Path]:
    """Write the latent-analysis figures of a run directory; returns their paths."""
    run_dir = Path(run_dir)
    a = run_dir / "analysis"
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    cfg = RunDir(run_dir).config()
    what = f"{cfg['model']['name']} on {cfg['data']['name']}"
    made = []
    if (a / "spectrum.json").exists():
        s = read_json(a / "spectrum.json")
        made.append(scree(s, out / "latent_scree.png",
                          f"Scree plot of the {s['d']}-unit code ({what}, {s['n']} test codes): "
                          f"{s.get('modes_above_floor', 0)} modes above the floor"))
        made.append(cumulative(s, out / "latent_cumulative.png",
                               f"Cumulative explained variance: code vs raw data ({what})"))
    if (a / "importance.json").exists():
        im = read_json(a / "importance.json")
        made.append(unit_importance(im, out / "latent_unit_importance.png",
                                    f"Which units matter ({what}): ablation importance and variance"))
        made.append(ablation(im, out / "latent_ablation.png", f"Units vs modes ({what})"))
    if (a / "disentanglement.json").exists():
        dis = read_json(a / "disentanglement.json")
        made.append(factors(dis, out / "latent_factors.png", f"Units vs known factors ({what})"))
    return made
