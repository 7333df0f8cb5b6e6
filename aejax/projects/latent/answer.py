"""``analysis/answer.md`` of ``aejax run latent_spectrum``: the seed's question answered from the analysis files.

"A 100-unit code has ~30 covariance eigenvalues > 0 -- do 30 modes matter, which neurons?"
:func:`run` trains the main model and its comparisons (:mod:`aejax.projects.latent.compare`),
then :func:`write_answer` writes the answer, computed from ``analysis/spectrum.json`` and
``importance.json`` of every run, never typed in: eigenvalues > 0 vs above a noise floor,
modes for 90/95/99 % of the variance, ablation of units vs of eigen-directions, active units,
the comparison models, and (once ``aejax sweep latent_spectrum`` has run) the agreement across
seeds; and ``figures/latent_compare.png`` (spectra and keep-top-k curves of every model).
"""
from __future__ import annotations

import json
from pathlib import Path

from aejax.projects.latent import compare
from aejax.run.rundir import atomic_write, save_figure

#: The comparison models ``compare`` may name, in the order the answer lists them.
COMPARE = ("linear_code", "beta_vae", "vae")
NAMES = {"beta_vae": "beta-VAE (beta = 4)", "vae": "VAE (beta = 1)", "linear_code": "linear-code AE"}


def run(cfg, workdir) -> dict:
    """Train the main model and the comparisons, then write the answer and the report."""
    from aejax.report.html import write_run_report
    workdir = Path(workdir)
    summary, variants = compare.train_with_comparisons(cfg, workdir, COMPARE)
    answer = write_answer(workdir, variants)
    summary["answer"] = str(answer)
    write_run_report(workdir)
    return summary


def after_sweep(*, sweep_dir, configs, rows) -> None:
    """Spectra across seeds and agreement of their subspaces (aejax.analysis.sweep_dir); then the
    answer of ``aejax run latent_spectrum``'s run beside the sweep gets its section on seeds."""
    from aejax.analysis.sweep_dir import analyze_sweep
    from aejax.report.html import write_run_report
    analyze_sweep(sweep_dir, configs)
    main = Path(sweep_dir).parent / "default"  # `aejax run latent_spectrum`'s run: add the seeds
    if (main / "analysis" / "answer.md").exists():
        write_answer(main, {name: main / "compare" / name for name in COMPARE
                            if (main / "compare" / name / "summary.json").exists()})
        write_run_report(main)


def _load(run_dir: Path) -> dict:
    a = run_dir / "analysis"
    out = {"summary": json.loads((run_dir / "summary.json").read_text())}
    for name in ("spectrum", "importance", "disentanglement"):
        p = a / f"{name}.json"
        out[name] = json.loads(p.read_text()) if p.exists() else None
    return out


def _row(name: str, r: dict) -> str:
    s, im = r["spectrum"], r["importance"] or {}
    return (f"| {name} | {r['summary'].get('test/mse', float('nan')):.4f} | {s['eigenvalues_positive']} | "
            f"{s['eigenvalues_nonzero']} | {s['dead_units']} | {s['active_units']} | "
            f"{s.get('modes_above_floor')} / {s.get('modes_above_mp')} | "
            f"{s['modes_90']} / {s['modes_95']} / {s['modes_99']} | {s['participation_ratio']:.1f} | "
            f"{im.get('modes_for_loss_95')} | {im.get('units_for_loss_95')} |")


def write_answer(workdir: Path, variants: dict) -> Path:
    """analysis/answer.md (and figures/latent_compare.png) from the analysis files."""
    main = _load(workdir)
    s, im = main["spectrum"], main["importance"]
    if im is None:
        raise RuntimeError(f"{workdir}: analysis/importance.json missing (analysis disabled?)")
    d, n = s["d"], s["n"]
    others = {k: _load(v) for k, v in variants.items() if v is not None}
    inc_dir = max(im["direction_ablation_increase"])
    inc_unit = max(im["unit_ablation_increase"])
    spread = s["eigvec_units_90"]
    cfg = json.loads((workdir / "config.json").read_text())
    head = ["# Answer: do the ~30 modes matter, and which neurons learn the important features?", ""]
    if cfg.get("quick"):
        head += ["**This is a --quick smoke run (2 epochs on 512 images): the numbers below are not "
                 "the answer; run `aejax run latent_spectrum` for that.**", ""]
    if im["modes_for_loss_95"] is None:
        head += ["**The full code reconstructs no better than its mean code: the model has not learned "
                 "anything to analyse yet.**", ""]
    rho = im.get("spearman_variance_vs_ablation", float("nan"))
    how_well = "well" if rho >= 0.7 else "only moderately" if rho >= 0.4 else "poorly"
    fair = "a fair first ranking" if rho >= 0.7 else "not a reliable ranking: ablate instead"
    lines = head + [
        f"**Short answer.** About {im['modes_for_loss_95']} directions of this {d}-unit code matter: keeping "
        f"only the top {im['modes_for_loss_95']} eigen-directions (the rest at their mean) keeps 95 % of "
        f"what the code buys in reconstruction, and {s['modes_95']} modes hold 95 % of its variance. But "
        f"\"eigenvalue > 0\" is not why, and the modes are not neurons: each leading eigen-direction "
        f"spreads over {min(spread)}-{max(spread)} units, and keeping whole units needs "
        f"{im['units_for_loss_95']} units for the same 95 %. To get units that mean something on their "
        f"own, train a model whose objective singles out units (a (beta-)VAE: see the comparison below).",
        "",
        "## 1. \"Greater than 0\" is not a criterion", "",
        f"- A covariance matrix is positive semi-definite: in exact arithmetic no eigenvalue is negative. "
        f"Here {s['eigenvalues_positive']} of {d} eigenvalues came out > 0 (numpy `eigh` of the covariance "
        f"of {n} test codes), but only {s['eigenvalues_nonzero']} are non-zero beyond round-off "
        f"(> D · eps · largest). The others belong to **{s['dead_units']} dead units**: ReLU code units that "
        f"are 0 for every test image. Their eigenvalues are 0, and whether round-off makes them come out "
        f"positive or negative is chance. (`np.linalg.eig` is a general solver: for a symmetric matrix use "
        f"`eigh`, which returns real, sorted eigenvalues.)",
        f"- Against a noise floor: **{s.get('modes_above_floor')} modes** stand above the shuffle floor "
        f"(parallel analysis: the eigenvalues independent units with the same variances give, 95th "
        f"percentile of 20 shuffles) and {s.get('modes_above_mp')} above the Marchenko-Pastur edge. These "
        f"count *shared, correlated* structure; they say nothing about what the decoder uses. An untrained "
        f"encoder is not a noise floor either: it already passes on the data's own spectrum "
        f"({s.get('modes_above_untrained_max')}-{s.get('modes_above_untrained')} modes above it).",
        f"- Variance: {s['modes_90']} / {s['modes_95']} / {s['modes_99']} modes explain 90 / 95 / 99 % of the "
        f"code's variance (participation ratio {s['participation_ratio']:.1f}); the raw images need "
        f"{s.get('data_modes_90')} / {s.get('data_modes_95')} / {s.get('data_modes_99')} principal "
        f"components for the same (figure latent_cumulative).", "",
        "## 2. Which modes matter to the decoder (ablation)", "",
        f"- Test MSE {im['baseline_loss']:.4f} with the full code, {im['mean_code_loss']:.4f} with every unit "
        f"at its mean ({im['examples']} test images). Keeping only the top-k eigen-directions recovers 90 / 95 "
        f"/ 99 % of that reduction at k = {im['modes_for_loss_90']} / {im['modes_for_loss_95']} / "
        f"{im['modes_for_loss_99']}. So yes: roughly the first {im['modes_for_loss_95']}-"
        f"{im['modes_for_loss_99']} modes matter, the rest carry less than 1 % of the reconstruction.",
        f"- Removing the single most important eigen-direction raises the MSE by {inc_dir:.2e}, "
        f"{inc_dir / max(inc_unit, 1e-30):.1f}x more than removing the single most important unit "
        f"({inc_unit:.2e}): variance and information are concentrated in directions, not in units "
        f"(figure latent_ablation).", "",
        "## 3. Which neurons", "",
        f"- Ranked by ablation (set the unit to its mean, measure the MSE increase), the most important units "
        f"are {im['top_units']}; {im['active_units']} units have variance > 0.01 and {s['dead_units']} never "
        f"change. Unit variance predicts ablation importance {how_well} here (Spearman "
        f"{rho:.2f}), so `np.std(x_enc, axis=0)` from the question is {fair} (figure "
        f"latent_unit_importance).",
        f"- But no unit is a feature: the top eigen-directions each need {min(spread)}-{max(spread)} units "
        f"for 90 % of their weight, and the best {im['units_for_loss_95']} units are needed where "
        f"{im['modes_for_loss_95']} directions suffice. A dense decoder is unchanged by any rotation of the "
        f"code (W_dec R^T applied to R z), so training has no reason to line features up with units; which "
        f"units end up important differs from seed to seed (`aejax sweep latent_spectrum`: rank correlation "
        f"of per-unit importance between seeds, and the top-k subspace agreement).", "",
    ]
    if others or variants:
        lines += ["## 4. The alternative: other codes of the same size", "",
                  "| model | test MSE | eigenvalues > 0 | non-zero | dead units | active units (var > 0.01) "
                  "| modes above shuffle / MP floor | modes 90 / 95 / 99 % | participation ratio | "
                  "directions for 95 % of MSE | units for 95 % of MSE |",
                  "|---|---|---|---|---|---|---|---|---|---|---|",
                  _row("this model (ReLU code)", main)]
        lines += [_row(NAMES.get(k, k), r) for k, r in others.items()]
        lines.append("")
        missing = [k for k, v in variants.items() if v is None]
        if missing:
            lines.append(f"Not trained (model not available in this checkout): {', '.join(missing)}.")
        for key in ("beta_vae", "vae"):
            if key not in others:
                continue
            b = others[key]
            bu, bm = b["importance"]["units_for_loss_95"], b["importance"]["modes_for_loss_95"]
            agree = (bu is not None and bm is not None and bu <= 1.5 * bm + 1)
            verdict = (f"units and modes coincide -- the top {bu} units do the work of the top {bm} "
                       f"eigen-directions, which is what the question asked for" if agree else
                       "units and modes still do not coincide in this run")
            lines.append(
                f"- The {NAMES[key]}'s KL term charges every unit for the information it "
                f"carries, so it switches units off: {b['spectrum']['active_units']} of {d} units are "
                f"active (variance of the posterior mean > 0.01, Burda et al. 2016), and {bu} units (vs "
                f"{bm} directions) recover 95 % of its reconstruction gain: {verdict}. The price is "
                f"reconstruction (test MSE {b['summary'].get('test/mse', float('nan')):.4f}). On data "
                f"with known factors the comparison is scored with MIG / SAP / DCI "
                f"(`aejax run disentangle_shapes`).")
        if "linear_code" in others:
            lc = others["linear_code"]
            lines.append(
                f"- With a linear code no unit dies ({lc['spectrum']['dead_units']} dead) and every "
                f"eigenvalue is non-zero ({lc['spectrum']['eigenvalues_nonzero']} of {d}); still "
                f"{lc['importance']['modes_for_loss_95']} directions carry 95 % of the reconstruction.")
        lines.append("")
    seeds_path = workdir.parent / "sweep" / "analysis" / "latent_seeds.json"
    if seeds_path.exists():
        lines += _seed_lines(json.loads(seeds_path.read_text()), seeds_path)
    lines += ["## How to answer it for your own model", "",
              "1. `np.linalg.eigh(np.cov(codes, rowvar=False))`, not `eig`; count modes above a noise floor "
              "(shuffle each unit, recompute), not above 0, and look for dead units first.",
              "2. Ablate: set one unit, or one eigen-direction, to its mean; decode; measure the loss. Keep "
              "the top k and watch the loss (`aejax analyze RUN_DIR` does all of this).",
              "3. If units must mean something, make the objective prefer it: a beta-VAE's active units, "
              "or sparsity; then check with MIG / SAP / DCI on data with known factors.", ""]
    path = workdir / "analysis" / "answer.md"
    atomic_write(path, "\n".join(lines))
    _compare_figure(workdir, main, others)
    return path


def _seed_lines(res: dict, path: Path) -> list[str]:
    """Section 5 of the answer: what `aejax sweep latent_spectrum` found across seeds."""
    out = ["## 5. Across seeds", "",
           f"From `aejax sweep latent_spectrum` ({path}; every model encodes the same "
           f"{res['n_common']} test images):", ""]
    for g in res["groups"]:
        a = g.get("agreement")
        if not a:
            continue
        by_k = {p["k"]: p for p in a["per_k"]}
        ks = [k for k in (5, 10, 20, 30) if k in by_k]
        ov = ", ".join(f"{by_k[k]['overlap']:.2f} (k={k}; random {by_k[k]['random_overlap']:.3f})" for k in ks)
        ui, um = a["unit_importance_spearman"], a["unit_best_match_corr"]
        out.append(
            f"- {g['label']}, {g['n_seeds']} seeds: modes above the floor {_pm(g['modes_above_floor'])}, "
            f"directions for 95 % of the MSE {_pm(g['modes_for_loss_95'])}, units "
            f"{_pm(g['units_for_loss_95'])}. The seeds learn "
            f"the same top-k subspace (overlap {ov}; linear CKA of the codes {a['cka_full']:.2f}), but not "
            f"the same units: the rank correlation of per-unit importance between seeds is "
            f"{ui['mean']:.2f} ± {ui['std']:.2f}, and a top-10 unit's best match among the other seed's "
            f"units correlates only {um['mean']:.2f}.")
    out += ["", "So the *number* of modes that matter and the *subspace* they span are properties of the "
            "data and the architecture; *which neurons* carry them is an accident of the initialisation.", ""]
    return out


def _pm(stat: dict) -> str:
    """``mean ± std`` to one decimal; "n/a" where no seed had a value (a model that learned nothing
    has no number of directions for 95 % of its reconstruction gain)."""
    if stat.get("mean") is None:
        return "n/a"
    return f"{stat['mean']:.1f} ± {stat['std']:.1f}"


def _compare_figure(workdir: Path, main: dict, others: dict) -> Path:
    """figures/latent_compare.png: spectra and keep-top-k curves of every model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, 4.5))
    for i, (name, r) in enumerate([("ReLU code (main)", main), *others.items()]):
        w = np.asarray(r["spectrum"]["eigenvalues"])
        w = w / max(w[0], 1e-30)
        a1.semilogy(np.arange(1, w.size + 1), np.maximum(w, 1e-10), "-", color=f"C{i}", lw=1.6,
                    label=f"{name}: {r['spectrum']['active_units']} active units")
        c = r["importance"]["keep_top_k"]
        lo, hi = r["importance"]["baseline_loss"], r["importance"]["mean_code_loss"]
        frac = (hi - np.asarray(c["directions"])) / (hi - lo)
        fu = (hi - np.asarray(c["units_by_ablation"])) / (hi - lo)
        ks = np.maximum(np.asarray(c["k"]), 0.7)
        a2.plot(ks, frac, "o-", color=f"C{i}", ms=3, label=f"{name}: top-k eigen-directions")
        a2.plot(ks, fu, "s--", color=f"C{i}", ms=3, lw=1, label=f"{name}: top-k units")
    a1.set_xlabel("mode")
    a1.set_ylabel("eigenvalue / largest (values below 1e-10 drawn at 1e-10)")
    a1.set_title("Code covariance spectra", fontsize=10)
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3, which="both")
    a2.axhline(0.95, color="grey", ls=":", lw=0.8)
    a2.set_xscale("log")
    a2.set_ylim(-0.05, 1.05)
    a2.set_xlabel("k kept (the rest at the mean; k = 0 drawn at 0.7)")
    a2.set_ylabel("fraction of the MSE reduction recovered")
    a2.set_title("How many directions / units the decoder needs", fontsize=10)
    a2.legend(fontsize=7)
    a2.grid(alpha=0.3, which="both")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.91, wspace=0.25)
    path = workdir / "figures" / "latent_compare.png"
    path.parent.mkdir(exist_ok=True)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path
