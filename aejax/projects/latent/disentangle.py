"""``analysis/disentanglement.md`` of ``aejax run disentangle_shapes``: autoencoder vs VAE vs beta-VAE.

Every run's own analysis scores its test codes (posterior means for the VAEs) with MIG, SAP and
DCI against the true factors (``analysis/disentanglement.json``, :mod:`aejax.analysis.run_dir`).
:func:`run` trains the main model and its comparisons (:mod:`aejax.projects.latent.compare`);
:func:`write_comparison` puts them side by side, calibrated by two reference codes scored the
same way on the same test split: the true factors themselves (should score >= 0.9) and an
all-zeros code (<= 0.2); it also draws ``figures/disentanglement_compare.png``.
"""
from __future__ import annotations

import json
from pathlib import Path

from aejax.projects.latent import compare
from aejax.run.rundir import atomic_write, save_figure

#: The comparison models ``compare`` may name.
COMPARE = ("vae", "beta_vae", "ae_code5")


def run(cfg, workdir) -> dict:
    """Train the autoencoder and the comparison models; write the comparison and the report."""
    from aejax.report.html import write_run_report
    workdir = Path(workdir)
    summary, variants = compare.train_with_comparisons(cfg, workdir, COMPARE)
    runs = {"autoencoder (main)": workdir, **{k: v for k, v in variants.items() if v is not None}}
    missing = [k for k, v in variants.items() if v is None]
    table = write_comparison(workdir, runs, missing)
    summary.update({f"{k}/mig": v["mig"] for k, v in table.items()})
    write_run_report(workdir)
    return summary


def _references(workdir: Path) -> dict:
    """Scores of the true factors and of an all-zeros code on the same test split."""
    import numpy as np

    from aejax.analysis.run_dir import _factors, disentanglement
    from aejax.run.builder import load_run
    ds = load_run(workdir).data
    f, names, kinds = _factors(ds)
    out = {}
    for label, codes in (("true factors as the code", f), ("all-zeros code", np.zeros_like(f))):
        out[label] = disentanglement(codes, f, names, kinds, np.random.default_rng(0))
    return out


def write_comparison(workdir: Path, runs: dict, missing: list) -> dict:
    """analysis/disentanglement.md and figures/disentanglement_compare.png; returns the scores."""
    rows = {}
    for name, d in runs.items():
        p = d / "analysis" / "disentanglement.json"
        if not p.exists():
            continue
        dis = json.loads(p.read_text())
        spec = json.loads((d / "analysis" / "spectrum.json").read_text())
        summ = json.loads((d / "summary.json").read_text())
        rows[name] = {**{k: dis[k] for k in ("mig", "sap", "dci_disentanglement", "dci_completeness",
                                             "dci_informativeness")},
                      "active_units": spec["active_units"], "test_mse": summ.get("test/mse"),
                      "per_factor_mig": dis["mig_detail"]["mig_per_factor"], "factors": dis["factors"]}
    refs = _references(workdir)
    lines = ["# Disentanglement: autoencoder vs VAE vs beta-VAE", "",
             "Test codes scored against the true factors (MIG: Chen et al. 2018; SAP: Kumar et al. 2018; "
             "DCI: Eastwood & Williams 2018, random-forest importances), computed as "
             "disentanglement_lib computes them (aejax/analysis/disentangle.py). The two reference rows "
             "are the library's test oracles on this very data.", "",
             "| code | MIG | SAP | DCI disentanglement | DCI completeness | DCI informativeness | "
             "active units | test MSE |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {_f(r['mig'])} | {_f(r['sap'])} | {_f(r['dci_disentanglement'])} | "
                     f"{_f(r['dci_completeness'])} | {_f(r['dci_informativeness'])} | {r['active_units']} | "
                     f"{r['test_mse']:.4f} |")
    for name, r in refs.items():
        lines.append(f"| *{name}* | {_f(r['mig'])} | {_f(r['sap'])} | {_f(r['dci_disentanglement'])} | "
                     f"{_f(r['dci_completeness'])} | {_f(r['dci_informativeness'])} | - | - |")
    lines.append("")
    if rows:
        factors = next(iter(rows.values()))["factors"]
        lines += ["MIG per factor:", "", "| code | " + " | ".join(factors) + " |",
                  "|---|" + "---|" * len(factors)]
        for name, r in rows.items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in r["per_factor_mig"]) + " |")
        lines.append("")
        best = max(rows, key=lambda k: rows[k]["mig"])
        lines.append(f"Highest MIG: **{best}** ({rows[best]['mig']:.3f}). One seed per model: differences of "
                     f"a few hundredths are within seed-to-seed spread (Locatello et al. 2019).")
    if missing:
        lines.append(f"Not trained (model not available in this checkout): {', '.join(missing)}.")
    atomic_write(workdir / "analysis" / "disentanglement.md", "\n".join(lines) + "\n")
    _figure(workdir, rows, refs)
    return rows


def _f(v: float) -> str:
    """Three decimals, without a '-0.000' for round-off below zero."""
    return f"{0.0 if abs(v) < 5e-4 else v:.3f}"


def _figure(workdir: Path, rows: dict, refs: dict) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    metrics = [("mig", "MIG"), ("sap", "SAP"), ("dci_disentanglement", "DCI-D"),
               ("dci_completeness", "DCI-C"), ("dci_informativeness", "DCI-I")]
    allrows = {**rows, **{f"({k})": v for k, v in refs.items()}}
    fig, ax = plt.subplots(figsize=(9, 4.4))
    w = 0.8 / max(len(allrows), 1)
    for i, (name, r) in enumerate(allrows.items()):
        x = np.arange(len(metrics)) + (i - (len(allrows) - 1) / 2) * w
        ax.bar(x, [r[m] for m, _ in metrics], w, label=name, color=f"C{i}",
               hatch="//" if name.startswith("(") else None, alpha=0.6 if name.startswith("(") else 1)
    ax.set_xticks(np.arange(len(metrics)))
    ax.set_xticklabels([label for _, label in metrics])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (1 = perfectly disentangled / informative)")
    ax.set_title("Disentanglement on shapes: test codes vs the true factors", fontsize=10)
    ax.legend(fontsize=8, ncol=min(len(allrows), 5), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.grid(alpha=0.3, axis="y")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.91)
    path = workdir / "figures" / "disentanglement_compare.png"
    path.parent.mkdir(exist_ok=True)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path
