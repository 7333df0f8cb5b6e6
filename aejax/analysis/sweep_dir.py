"""Latent analysis across the seeds of a sweep: spectra with spread, subspace agreement.

:func:`analyze_sweep` is meant for an experiment's ``after_sweep`` hook
(``aejax sweep``). It reads every finished run directory of the sweep (each
already analysed by :mod:`aejax.analysis.run_dir`), groups the runs by their
configuration without the seed, and writes into the sweep directory:

- ``analysis/latent_seeds.json`` -- per group: eigenvalues and explained
  variance per rank (mean and std over seeds), the headline numbers (mean and
  std), and whether the seeds learn the same subspace: for each k the
  principal angles / overlap / linear CKA between the top-k principal
  subspaces of the codes (all models encode the **same** inputs, the first
  run's test split), the same against the data's own top-k PCA subspace, and
  whether the same *units* matter (rank correlation of per-unit ablation
  importance between seeds; best-matching unit correlation);
- ``analysis/latent_seeds.md`` -- the table, in words;
- ``figures/latent_spectra_seeds.png`` and ``figures/latent_subspace_seeds.png``.

Why example space: two seeds can learn the same information in rotated
coordinates, so units are compared by what they represent about the same
inputs (see :mod:`aejax.analysis.subspace`). For k-dimensional subspaces
drawn at random in R^N the expected overlap (mean squared cosine) is k / N.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from aejax import config as config_lib
from aejax.analysis import subspace
from aejax.analysis.importance import spearman
from aejax.errors import UserError
from aejax.run.rundir import atomic_write, save_figure

K_VALUES = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50)
SCALARS = ("modes_above_floor", "modes_above_mp", "modes_90", "modes_95", "modes_99",
           "participation_ratio", "eigenvalues_positive", "eigenvalues_nonzero", "dead_units",
           "active_units")
IMPORTANCE_SCALARS = ("modes_for_loss_95", "units_for_loss_95", "baseline_loss")
IGNORED_KEYS = ("seed", "name", "train.progress")


def _finished_runs(sweep_dir: Path, configs) -> list[Path]:
    if configs is not None:
        from aejax.run.sweep import run_name
        dirs = [sweep_dir / run_name(c) for c in configs]
    else:
        dirs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    return [d for d in dirs if (d / "analysis" / "spectrum.json").exists()
            and (d / "analysis" / "latents.npy").exists() and (d / "config.json").exists()]


def _mean_std(values) -> dict:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "values": []}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "values": v.tolist()}


def _encoder(run_dir: Path):
    """(load_run namespace, encode(x) -> flattened codes [N, D])."""
    import jax

    from aejax.run.builder import load_run
    r = load_run(run_dir)
    enc = jax.jit(lambda p, x: r.model.apply({"params": p}, x, method="encode"))

    def encode(x):
        out = [np.asarray(enc(r.params, x[s:s + 1000])) for s in range(0, len(x), 1000)]
        c = np.concatenate(out)
        return c.reshape(len(c), -1)  # [N, D]

    return r, encode


def _pair_stats(codes: list, ks: list, imp_vectors: list) -> dict:
    """Subspace agreement for each k, and unit-level agreement, over all seed pairs."""
    n = codes[0].shape[0]
    per_k = []
    for k in ks:
        a = subspace.subspace_agreement(codes, k)
        per_k.append({"k": k, "overlap": a["overlap"], "mean_angle": a["mean_angle"],
                      "max_angle": a["max_angle"], "cka_topk": a["cka_topk"], "random_overlap": k / n})
    out = {"per_k": per_k, "cka_full": subspace.subspace_agreement(codes, 1)["cka_full"]}
    # Units: is unit u of one seed important in the other? does some unit of the other seed
    # carry the same signal (best |correlation|, for the 10 most important units)?
    rho, match = [], []
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            if imp_vectors[i] is not None and imp_vectors[j] is not None \
                    and len(imp_vectors[i]) == len(imp_vectors[j]):
                a, b = np.asarray(imp_vectors[i], np.float64), np.asarray(imp_vectors[j], np.float64)
                both = ~np.isnan(a) & ~np.isnan(b)  # a wide code ablates only some units (NaN: not)
                if both.sum() > 2:
                    rho.append(spearman(a[both], b[both]))
            zi, zj = codes[i], codes[j]
            si, sj = zi.std(axis=0), zj.std(axis=0)
            top = np.argsort(-(np.asarray(imp_vectors[i]) if imp_vectors[i] is not None else si))[:10]
            top = top[si[top] > 0]
            live = sj > 0
            if top.size and live.any():
                a = (zi[:, top] - zi[:, top].mean(0)) / si[top]
                b = (zj[:, live] - zj[:, live].mean(0)) / sj[live]
                corr = a.T @ b / len(a)  # [10, D_live]
                match.append(float(np.abs(corr).max(axis=1).mean()))
    out["unit_importance_spearman"] = _mean_std(rho)
    out["unit_best_match_corr"] = _mean_std(match)
    return out


def _pca_agreement(codes: list, x: np.ndarray, ks: list) -> list[dict]:
    """Overlap of each model's top-k code subspace with the data's top-k PCA scores."""
    from aejax.analysis import spectrum as spec
    p = spec.pca_baseline(x, k=max(ks))
    scores = (x.reshape(len(x), -1) - p["mean"]) @ p["components"]  # [N, kmax]
    out = []
    for k in ks:
        ov = [float(np.mean(np.cos(subspace.principal_angles(subspace.top_pc_scores(z, k),
                                                               scores[:, :k])) ** 2)) for z in codes]
        out.append({"k": k, "overlap_mean": float(np.mean(ov)), "overlap_std": float(np.std(ov))})
    return out


def _label(flat: dict, differing: list) -> str:
    return ", ".join(f"{k}={json.dumps(flat.get(k))}" for k in differing) or "all runs"


def analyze_sweep(sweep_dir, configs=None, *, figures: bool = True) -> dict:
    """Compare the latent spaces of the seeds of each configuration of a sweep.

    ``configs`` (the sweep's list of override dicts) selects the run
    directories; None takes every analysed run directory in ``sweep_dir``.
    Returns the content of ``analysis/latent_seeds.json``.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise UserError(f"{sweep_dir}: not a directory")
    runs = _finished_runs(sweep_dir, configs)
    if not runs:
        raise UserError(f"{sweep_dir}: no analysed run directories (analysis/spectrum.json)")
    flats = {r: config_lib.flatten(json.loads((r / "config.json").read_text())) for r in runs}
    keys = sorted({k for f in flats.values() for k in f})
    differing = [k for k in keys if k not in IGNORED_KEYS
                 and len({json.dumps(f.get(k)) for f in flats.values()}) > 1]
    groups: dict[str, list[Path]] = {}
    for r in runs:
        groups.setdefault(_label(flats[r], differing), []).append(r)

    ref_run, encode_ref = _encoder(runs[0])
    x_common = ref_run.data.test.x  # every model encodes these inputs
    result = {"sweep_dir": str(sweep_dir), "common_inputs": f"test split of {runs[0].name}",
              "n_common": int(len(x_common)), "groups": []}
    for label, members in groups.items():
        specs = [json.loads((r / "analysis" / "spectrum.json").read_text()) for r in members]
        imps = [json.loads((r / "analysis" / "importance.json").read_text())
                if (r / "analysis" / "importance.json").exists() else None for r in members]
        summ = [json.loads((r / "summary.json").read_text()) if (r / "summary.json").exists() else {}
                for r in members]
        d = min(len(s["eigenvalues"]) for s in specs)
        ev = np.array([s["eigenvalues"][:d] for s in specs])  # [S, D]
        evr = np.array([s["explained_variance_ratio"][:d] for s in specs])
        floors = [s.get("noise_floor", {}).get("shuffle_floor") for s in specs]
        g = {"label": label, "runs": [r.name for r in members], "n_seeds": len(members), "d": d,
             "eigenvalues_mean": ev.mean(0).tolist(), "eigenvalues_std": ev.std(0, ddof=1).tolist()
             if len(members) > 1 else [0.0] * d,
             "evr_mean": evr.mean(0).tolist(),
             "evr_std": evr.std(0, ddof=1).tolist() if len(members) > 1 else [0.0] * d,
             "shuffle_floor_mean": np.mean([f[:d] for f in floors if f], axis=0).tolist()
             if any(floors) else None}
        for k in SCALARS:
            g[k] = _mean_std([s.get(k) for s in specs])
        for k in IMPORTANCE_SCALARS:
            g[k] = _mean_std([i.get(k) if i else None for i in imps])
        g["test_mse"] = _mean_std([s.get("test/mse") for s in summ])
        if len(members) >= 2:
            codes = [encode_ref(x_common) if r == runs[0] else _encoder(r)[1](x_common) for r in members]
            rank = min(int(np.linalg.matrix_rank(z - z.mean(0))) for z in codes)
            ks = [k for k in K_VALUES if k <= min(rank, d)]
            if ks:
                g["agreement"] = _pair_stats(
                    codes, ks, [i["unit_ablation_increase"] if i else None for i in imps])
                g["pca_agreement"] = _pca_agreement(codes, x_common, ks)
        result["groups"].append(g)
    out_dir = sweep_dir / "analysis"
    out_dir.mkdir(exist_ok=True)
    atomic_write(out_dir / "latent_seeds.json", json.dumps(result, indent=1) + "\n")
    atomic_write(out_dir / "latent_seeds.md", seeds_markdown(result))
    if figures:
        seed_figures(result, sweep_dir / "figures")
    return result


def _fmt(ms: dict, digits: int = 1) -> str:
    if ms is None or ms.get("mean") is None:
        return "-"
    return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"


def seeds_markdown(result: dict) -> str:
    """analysis/latent_seeds.md: the per-group numbers as a table and sentences."""
    lines = ["# Latent spaces across seeds", "",
             f"Subspaces compared on {result['n_common']} common inputs ({result['common_inputs']}); "
             "mean ± std over seeds.", "",
             "| configuration | seeds | modes above floor | modes 90 / 95 / 99 % | participation ratio | "
             "dead units | directions for 95 % of MSE | units for 95 % of MSE |",
             "|---|---|---|---|---|---|---|---|"]
    for g in result["groups"]:
        lines.append(f"| {g['label']} | {g['n_seeds']} | {_fmt(g['modes_above_floor'])} | "
                     f"{_fmt(g['modes_90'])} / {_fmt(g['modes_95'])} / {_fmt(g['modes_99'])} | "
                     f"{_fmt(g['participation_ratio'])} | {_fmt(g['dead_units'])} | "
                     f"{_fmt(g['modes_for_loss_95'])} | {_fmt(g['units_for_loss_95'])} |")
    lines.append("")
    for g in result["groups"]:
        a = g.get("agreement")
        if not a:
            continue
        ov = ", ".join(f"k={p['k']}: {p['overlap']:.2f}" for p in a["per_k"])
        pca = ", ".join(f"k={p['k']}: {p['overlap_mean']:.2f}" for p in g["pca_agreement"])
        lines += [f"## {g['label']}", "",
                  f"- Top-k subspace overlap between seeds (mean cos² of the principal angles; 1 = same "
                  f"subspace, random ≈ k/{result['n_common']}): {ov}.",
                  f"- Overlap of each seed's top-k subspace with the data's top-k PCA subspace: {pca}.",
                  f"- Linear CKA of the full codes between seeds: {a['cka_full']:.3f}.",
                  f"- Same units important? Rank correlation of per-unit ablation importance between "
                  f"seeds: {_fmt(a['unit_importance_spearman'], 2)} (unit indices are arbitrary across seeds: "
                  f"expect about 0 unless the model singles units out); best |correlation| of a top-10 unit with any unit of another "
                  f"seed: {_fmt(a['unit_best_match_corr'], 2)}.", ""]
    return "\n".join(lines) + "\n"


def seed_figures(result: dict, out: Path) -> list[Path]:
    """latent_spectra_seeds.png and latent_subspace_seeds.png in ``out``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out.mkdir(parents=True, exist_ok=True)
    made = []
    fig, ax = plt.subplots(figsize=(7.6, 4.6))
    for i, g in enumerate(result["groups"]):
        m, s = np.asarray(g["eigenvalues_mean"]), np.asarray(g["eigenvalues_std"])
        lo = max(m[0], 1e-30) * 1e-9
        r = np.arange(1, m.size + 1)
        ax.semilogy(r, np.maximum(m, lo), "-", color=f"C{i}", lw=1.8,
                    label=f"{g['label']} (mean of {g['n_seeds']} seeds)")
        ax.fill_between(r, np.maximum(m - s, lo), np.maximum(m + s, lo), color=f"C{i}", alpha=0.25)
        if g.get("shuffle_floor_mean"):
            ax.semilogy(r, np.maximum(g["shuffle_floor_mean"], lo), "--", color=f"C{i}", lw=1,
                        label="  its shuffle floor (mean)")
    ax.set_xlabel("mode (rank of the eigenvalue)")
    ax.set_ylabel("eigenvalue of the code covariance")
    ax.set_title("Latent spectra across seeds: mean ± std (band)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.12, top=0.91)
    p = out / "latent_spectra_seeds.png"
    save_figure(fig, p, dpi=110)
    plt.close(fig)
    made.append(p)
    groups = [g for g in result["groups"] if g.get("agreement")]
    if groups:
        fig, ax = plt.subplots(figsize=(7.6, 4.6))
        for i, g in enumerate(groups):
            ks = [p["k"] for p in g["agreement"]["per_k"]]
            ax.plot(ks, [p["overlap"] for p in g["agreement"]["per_k"]], "o-", color=f"C{i}", ms=4,
                    label=f"{g['label']}: seed vs seed")
            ax.plot(ks, [p["overlap_mean"] for p in g["pca_agreement"]], "s--", color=f"C{i}", ms=3,
                    lw=1, label="  code vs data PCA")
        ks = [p["k"] for p in groups[0]["agreement"]["per_k"]]
        ax.plot(ks, [k / result["n_common"] for k in ks], ":", color="grey", label="random subspaces (k/N)")
        ax.set_xscale("log")
        ax.set_xticks(ks)
        ax.set_xticklabels([str(k) for k in ks])
        ax.minorticks_off()
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("k (top-k principal subspace of the code)")
        ax.set_ylabel("overlap: mean cos² of principal angles")
        ax.set_title(f"Do seeds learn the same top-k subspace? ({result['n_common']} common inputs)",
                     fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
        fig.subplots_adjust(left=0.11, right=0.97, bottom=0.12, top=0.91)
        p = out / "latent_subspace_seeds.png"
        save_figure(fig, p, dpi=110)
        plt.close(fig)
        made.append(p)
    return made
