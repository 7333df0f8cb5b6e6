"""A study's outputs in its tune directory: tune.csv, best_config.json, the figures of the
optimisation history and the parameter importances, and report.html (all written atomically)."""
from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import optuna
from optuna.trial import TrialState

from aejax.config import parse_value
from aejax.report.html import STYLE
from aejax.run.rundir import RunDir, atomic_write, read_json, save_figure


def rows(study: optuna.Study, tune_dir: Path) -> list[dict]:
    """tune.csv's rows: one per trial."""
    trials = study.get_trials(deepcopy=False)
    names = list(dict.fromkeys(p for t in trials for p in t.params))
    out = []
    for t in trials:
        rd = RunDir(Path(tune_dir) / t.user_attrs["run"]) if "run" in t.user_attrs else None
        summary = rd.summary() if rd is not None and rd.summary_path.is_file() else {}
        out.append({
            "number": t.number, "state": t.state.name, "value": t.value,
            **{f"params_{p}": t.params.get(p) for p in names},
            "run": t.user_attrs.get("run", ""), "duplicate_of": t.user_attrs.get("duplicate_of", ""),
            "retry_of": t.user_attrs.get("retry_of", ""), "epochs_run": summary.get("epochs_run", ""),
            "stopped": summary.get("stopped", ""),
            "duration_s": round(t.duration.total_seconds(), 2) if t.duration is not None else "",
            "worker": "{host}:{pid}".format(**t.user_attrs["worker"]) if "worker" in t.user_attrs else "",
        })
    return out


def best_config(study: optuna.Study, tune_dir: Path, exp_name: str) -> dict | None:
    """best_config.json: the best complete trial, its overrides, config and command."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    if not done:
        return None
    t = min(done, key=lambda t: (t.value, t.number))
    sets, run = t.user_attrs.get("overrides", {}), Path(tune_dir) / t.user_attrs.get("run", "")
    base = study.user_attrs.get("aejax", {})
    cfg = read_json(run / "config.json") if (run / "config.json").is_file() else None
    cmd = ["aejax", "run", exp_name, *(["--quick"] if base.get("quick") else []),
           *[f"--set {_quote(a)}" for a in base.get("overrides", []) + _plain(sets)]]
    return {"experiment": exp_name, "study": study.study_name, "trial": t.number,
            "objective": "best val/loss of the run (minimum over its epochs)", "value": t.value,
            "params": t.params, "overrides": sets, "run_dir": str(run), "command": " ".join(cmd), "config": cfg}


def _plain(sets: dict) -> list[str]:
    """``--set`` assignments as one would type them: strings unquoted where that parses the same."""
    return [f"{k}={v}" if isinstance(v, str) and parse_value(v) == v else f"{k}={json.dumps(v)}"
            for k, v in sets.items()]


def _quote(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_.=,+\-/:]+", text) else "'" + text.replace("'", "'\\''") + "'"


def write_outputs(study: optuna.Study, tune_dir: Path, exp_name: str) -> None:
    """tune.csv, the figures and report.html, from the study as it stands (atomic writes)."""
    tune_dir = Path(tune_dir)
    table = rows(study, tune_dir)
    buf = io.StringIO()
    if table:
        w = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(table)
    atomic_write(tune_dir / "tune.csv", buf.getvalue())
    notes = _figures(study, tune_dir)
    _report(study, tune_dir, exp_name, table, notes)


def _figures(study: optuna.Study, tune_dir: Path) -> list[str]:
    """figures/tune_history.png and figures/tune_importance.png; notes on what could not be drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    notes = []
    if complete or pruned:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.scatter([t.number for t in complete], [t.value for t in complete], s=22, label="complete trial")
        if pruned:
            ax.scatter([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)]
                                                    for t in pruned],
                       marker="x", color="gray", label="pruned (last val/loss)")
        if complete:
            order = sorted(complete, key=lambda t: t.number)
            best = [min(t.value for t in order[:i + 1]) for i in range(len(order))]
            last = max(t.number for t in complete + pruned)  # the line runs on to the last trial drawn
            ax.step([t.number for t in order] + [last], best + best[-1:], where="post", color="C3",
                    label="best so far")
        ax.set(xlabel="trial", ylabel="best val/loss of the run", title=f"{study.study_name}: optimisation history")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend()
        fig.tight_layout()
        save_figure(fig, tune_dir / "figures" / "tune_history.png", dpi=110)
        plt.close(fig)
    if len(complete) < 2:
        notes.append(f"parameter importances need at least 2 complete trials ({len(complete)} so far)")
        return notes
    try:
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError) as e:
        notes.append(f"parameter importances could not be computed: {e}")
        return notes
    if not imp:
        notes.append("parameter importances: no parameter varies between the complete trials")
        return notes
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(7, max(2.4, 1.2 + 0.4 * len(names))))
    ax.barh(names, [imp[n] for n in names])
    ax.set(xlabel="importance (fANOVA) for the best val/loss",
           title=f"parameter importances over {len(complete)} complete trials")
    fig.tight_layout()
    save_figure(fig, tune_dir / "figures" / "tune_importance.png", dpi=110)
    plt.close(fig)
    return notes


def _report(study, tune_dir: Path, exp_name: str, table: list[dict], notes: list[str]) -> None:
    esc = lambda v: html.escape("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)))  # noqa: E731
    counts = {s.name: sum(r["state"] == s.name for r in table) for s in TrialState}
    parts = [f"<h1>{esc(exp_name)} / {esc(tune_dir.name)}: hyperparameter search</h1>",
             f"<p>Study {esc(study.study_name)}: {len(table)} trials (" +
             ", ".join(f"{n} {k.lower()}" for k, n in counts.items() if n) +
             "). The objective, minimised, is each run's best val/loss (the minimum over its epochs).</p>"]
    best = tune_dir / "best_config.json"
    if best.is_file():
        b = read_json(best)
        parts += ["<h2>Best trial</h2><table>"] + [
            f"<tr><th>{esc(k)}</th><td>{esc(json.dumps(b[k]) if isinstance(b[k], dict) else b[k])}</td></tr>"
            for k in ("trial", "value", "params", "overrides", "command")] + [
            f"<tr><th>run</th><td><a href='{esc(Path(b['run_dir']).name)}/report.html'>"
            f"{esc(Path(b['run_dir']).name)}</a></td></tr></table>"]
    parts += [f"<p>{esc(n)}</p>" for n in notes]
    for name in ("tune_history", "tune_importance"):
        if (tune_dir / "figures" / f"{name}.png").is_file():
            parts.append(f"<h3>{name}</h3><img src='figures/{name}.png'>")
    if table:
        head = "".join(f"<th>{esc(k)}</th>" for k in table[0])
        body = "".join("<tr>" + "".join(
            f"<td><a href='{esc(v)}/report.html'>{esc(v)}</a></td>"
            if k == "run" and v and (tune_dir / v / "report.html").is_file() else f"<td>{esc(v)}</td>"
            for k, v in r.items()) + "</tr>" for r in table)
        parts.append(f"<h2>Trials (tune.csv)</h2><table><tr>{head}</tr>{body}</table>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(exp_name)} tune</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    atomic_write(tune_dir / "report.html", page)


