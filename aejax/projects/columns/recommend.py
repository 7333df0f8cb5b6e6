"""The bottleneck recommendation and the sweep's summary (text, JSON, figures).

Rule (:func:`recommend`): the recommended lower bound for the smallest layer
is the smallest m from which on -- that m and every larger m of the grid --
the classifier trained on original images scores the reconstructed test
images within ``classifier.tolerance_pp`` percentage points (default 2) of
its score on the original test images. It is found per seed and on the mean
over seeds; "stable" means the per-seed values lie within one grid step.

:func:`summarize_sweep` (the experiment's ``after_sweep`` hook) writes
``bottleneck.json`` in the sweep directory, appends the recommendation and
the autoencoder-vs-PCA comparison to ``sweep.md`` as plain lines (which
``report.html`` shows as paragraphs), and draws ``figures/error_vs_m.png``,
``figures/classifier_vs_m.png`` and ``figures/reconstruction_grid.png``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from aejax.run.rundir import atomic_write

GRID_MS = (1, 2, 4, 8, 16, 32, 101)


def recommend(ms: Sequence[int], accuracy: Sequence[float], reference: float,
              tolerance_pp: float = 2.0) -> int | None:
    """The smallest m from which on (it and every larger m in ``ms``) ``accuracy`` stays
    at or above ``reference - tolerance_pp / 100``; None when the largest m falls short.

    ``ms`` and ``accuracy`` are parallel sequences (any order); accuracies are
    fractions (0.91), the tolerance is in percentage points (2.0). Requiring
    every larger m too keeps one lucky small m from being picked.
    """
    if len(ms) != len(accuracy):
        raise ValueError(f"ms has {len(ms)} entries, accuracy {len(accuracy)}")
    order = np.argsort(ms)
    best = None
    for i in order[::-1]:
        a = float(accuracy[i])
        if not np.isfinite(a) or a < reference - tolerance_pp / 100.0 - 1e-12:
            break
        best = int(ms[i])
    return best


def stable(values: Sequence[int | None], grid: Sequence[int]) -> bool:
    """True when every value is set and they span at most one step of ``grid``."""
    if not values or any(v is None for v in values):
        return False
    pos = [sorted(grid).index(v) for v in values]
    return max(pos) - min(pos) <= 1


def _mean(rows, key):
    v = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return float(np.mean(v)) if v else float("nan")


def analyse(rows: Sequence[Mapping], tolerance_pp: float) -> dict:
    """Recommendations and per-m means from sweep rows (dicts with ``model.latent_dim``,
    ``seed``, ``test/mse``, ``test/pca_mse`` and the ``test/clf_acc_*`` numbers)."""
    rows = [r for r in rows if "model.latent_dim" in r]
    ms = sorted({int(r["model.latent_dim"]) for r in rows})
    seeds = sorted({int(r.get("seed", 0)) for r in rows})
    at = {(int(r["model.latent_dim"]), int(r.get("seed", 0))): r for r in rows}
    per_m = []
    for m in ms:
        rs = [at[(m, s)] for s in seeds if (m, s) in at]
        ratio = [r["test/mse"] / r["test/pca_mse"] for r in rs if r.get("test/pca_mse", 0) > 1e-10]
        per_m.append({"m": m, "runs": len(rs), "test/mse": _mean(rs, "test/mse"),
                      "test/mse_std": float(np.std([r["test/mse"] for r in rs], ddof=1)) if len(rs) > 1 else 0.0,
                      "test/pca_mse": _mean(rs, "test/pca_mse"),
                      "ratio_mean": float(np.mean(ratio)) if ratio else float("nan"),
                      "ratio_max": float(np.max(ratio)) if ratio else float("nan"),
                      "train_ratio_min": float(np.min([r["train/mse"] / r["train/pca_mse"] for r in rs
                                                       if r.get("train/pca_mse", 0) > 1e-10] or [np.nan])),
                      "dead_units": _mean(rs, "code/dead_units"),
                      "clf_acc_ae": _mean(rs, "test/clf_acc_ae"), "clf_acc_pca": _mean(rs, "test/clf_acc_pca")})
    out = {"ms": ms, "seeds": seeds, "tolerance_pp": tolerance_pp, "per_m": per_m,
           "classifier": all("test/clf_acc_ae" in r for r in rows) and bool(rows)}
    if out["classifier"]:
        per_seed = {}
        for s in seeds:
            rs = [at[(m, s)] for m in ms if (m, s) in at]
            per_seed[s] = recommend([int(r["model.latent_dim"]) for r in rs], [r["test/clf_acc_ae"] for r in rs],
                                    float(rs[0]["test/clf_acc_original"]), tolerance_pp)
        reference = _mean(rows, "test/clf_acc_original")
        out.update({
            "reference_accuracy": reference,
            "majority_class": _mean(rows, "test/majority_class"),
            "recommended_m": recommend(ms, [p["clf_acc_ae"] for p in per_m], reference, tolerance_pp),
            "recommended_m_per_seed": {str(s): v for s, v in per_seed.items()},
            "recommended_m_pca": recommend(ms, [p["clf_acc_pca"] for p in per_m], reference, tolerance_pp),
            "stable_across_seeds": stable(list(per_seed.values()), ms),
        })
    return out


def text_lines(a: Mapping, n_runs: int) -> list[str]:
    """The sweep.md lines stating the recommendation and the AE-vs-PCA comparison."""
    lines = ["", "Bottleneck finder (aejax.projects.columns.recommend)."]
    if a["classifier"]:
        rec = a["recommended_m"]
        per_seed = ", ".join(f"seed {s}: {'none' if v is None else f'm = {v}'}"
                             for s, v in a["recommended_m_per_seed"].items())
        lines += [
            f"Recommended lower bound for the smallest layer: m = {rec}." if rec is not None else
            "Recommended lower bound: none -- even the largest m loses more than the tolerance.",
            f"Rule: the smallest m from which on (it and every larger m of the grid) the classifier trained "
            f"on the original training images scores the auto-associated test images within "
            f"{a['tolerance_pp']:g} percentage points of its accuracy on the original test images "
            f"({100 * a['reference_accuracy']:.1f} %, mean over {len(a['seeds'])} seed(s); always answering the "
            f"commonest label scores {100 * a['majority_class']:.1f} %).",
            f"Per seed: {per_seed}; "
            + ("stable across seeds (within one grid step)." if a["stable_across_seeds"]
               else "NOT stable across seeds (more than one grid step apart)."),
            f"Scoring rank-m PCA reconstructions the same way gives m = {a['recommended_m_pca']}.",
        ]
    else:
        lines.append("No recommendation: the data source has no usable labels for the classifier.")
    ratios = ", ".join(f"m={p['m']}: {p['ratio_mean']:.4f}" for p in a["per_m"] if np.isfinite(p["ratio_mean"]))
    lines += [f"Autoencoder test MSE / PCA test MSE at the same m (mean over seeds): {ratios}.",
              "A Dense(m) -> Dense(linear) network can at best tie PCA on the training columns "
              "(Eckart-Young); the smallest training-set ratio over the runs is "
              + ", ".join(f"m={p['m']}: {p['train_ratio_min']:.4f}" for p in a["per_m"]
                          if np.isfinite(p["train_ratio_min"])) + " (m = H omitted: PCA is exact there).",
              f"({n_runs} runs; figures: error_vs_m.png, classifier_vs_m.png, reconstruction_grid.png.)"]
    return lines


def _jsonable(obj):
    """NaN / inf -> None, recursively (strict JSON)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def summarize_sweep(sweep_dir: Path, rows: Sequence[Mapping]) -> dict:
    """The ``after_sweep`` work: bottleneck.json, lines in sweep.md, the sweep figures."""
    from aejax.projects.columns import figures
    sweep_dir = Path(sweep_dir)
    rows = [r for r in rows if "model.latent_dim" in r and "test/pca_mse" in r]
    if not rows:
        return {}
    cfg = json.loads((sweep_dir / rows[0]["run"] / "config.json").read_text())
    tol = float(cfg.get("classifier", {}).get("tolerance_pp", 2.0))
    a = analyse(rows, tol)
    atomic_write(sweep_dir / "bottleneck.json", json.dumps(_jsonable(a), indent=2) + "\n")
    md = sweep_dir / "sweep.md"
    atomic_write(md, md.read_text().rstrip("\n") + "\n" + "\n".join(text_lines(a, len(rows))) + "\n")

    fig_dir = sweep_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    n_seeds = len(a["seeds"])
    figures.error_figure(rows, fig_dir / "error_vs_m.png", n_seeds)
    if a["classifier"]:
        figures.classifier_figure(rows, fig_dir / "classifier_vs_m.png", a["recommended_m"], tol,
                                  a["majority_class"], n_seeds)
    seed = a["seeds"][0]
    by_m = {int(r["model.latent_dim"]): r["run"] for r in rows if int(r.get("seed", 0)) == seed}
    chosen = sorted(set([m for m in GRID_MS if m in by_m] + ([a.get("recommended_m")]
                                                              if a.get("recommended_m") in by_m else [])))
    if chosen:
        arrays = {m: dict(np.load(sweep_dir / by_m[m] / "analysis" / "columns.npz")) for m in chosen}
        first = arrays[chosen[0]]
        images = {"original": first["original"]}
        images.update({f"AE m={m}" + (" (rec.)" if m == a.get("recommended_m") else ""): arrays[m]["autoencoder"]
                       for m in chosen})
        seismic = cfg["data"]["name"].split(":")[0] in ("seismic_synth", "tgs", "segy")
        figures.grid_figure(images, first.get("labels"), fig_dir / "reconstruction_grid.png",
                            f"The same test images through bottlenecks of m units (seed {seed})", seismic,
                            indices=first.get("indices"))
    return a
