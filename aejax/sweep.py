"""``aejax sweep``: run every configuration of an experiment's ``sweep()``.

Each configuration runs in its own run directory under the sweep directory
(default ``results/<experiment>/sweep``), named after its overrides. A run
whose ``summary.json`` exists is finished and skipped, so a killed sweep
resumes where it stopped and a second sweep over a finished directory does no
training; an unfinished run resumes from its checkpoint. ``--shard I/N`` runs
configurations I, I+N, I+2N, ... (hosts of a multi-host sweep each take one).

After running, the sweep directory gets ``sweep.csv`` (one row per finished
run: its overrides as columns, then its summary figures), ``sweep.md`` (the
same grouped over seeds: mean ± std) and ``report.html``.
"""
from __future__ import annotations

import csv
import html
import json
import math
import re
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from aejax import experiment as experiment_lib
from aejax.errors import UserError


def run_name(overrides: Mapping) -> str:
    """A directory name for one configuration: ``model.latent_dim=8,seed=0``."""
    parts = [f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in overrides.items()]
    name = ",".join(parts) or "base"
    return re.sub(r"[^A-Za-z0-9_.=,+\-\[\]]", "_", name)


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N."""
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m or not int(m.group(1)) < int(m.group(2)):
        raise UserError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return int(m.group(1)), int(m.group(2))


def configurations(exp, quick: bool) -> list[dict]:
    """The experiment's sweep: ``sweep(quick=...)`` or ``sweep()``."""
    if not hasattr(exp, "sweep"):
        raise UserError(f"experiment {exp.NAME!r} defines no sweep(); use 'aejax run'")
    try:
        configs = exp.sweep(quick=quick)
    except TypeError:
        configs = exp.sweep()
    return [dict(c) for c in configs]


def run_sweep(experiment: str, *, workdir=None, overrides: Iterable[str] = (), quick: bool = False,
              shard: str = "0/1") -> Path:
    """Run (this shard of) the sweep and write the sweep tables; returns the sweep directory."""
    from aejax import runner
    exp = experiment_lib.load(experiment)
    index, count = parse_shard(shard)
    configs = configurations(exp, quick)
    sweep_dir = Path(workdir) if workdir else Path("results") / exp.NAME / ("sweep-quick" if quick else "sweep")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    base = list(overrides)
    # Check every configuration before training anything: a typo fails at once.
    for c in configs:
        runner.resolve_config(exp, base + _assignments(c), quick)
    mine = [c for i, c in enumerate(configs) if i % count == index]
    if hasattr(exp, "run_sweep_group"):  # e.g. vectorised seeds: the experiment runs groups itself
        exp.run_sweep_group(mine, sweep_dir=sweep_dir, overrides=base, quick=quick)
    else:
        for i, c in enumerate(mine, 1):
            run_dir = sweep_dir / run_name(c)
            if (run_dir / "summary.json").exists():
                print(f"[{i}/{len(mine)}] {run_dir.name}: finished, skipped")
                continue
            print(f"[{i}/{len(mine)}] {run_dir.name}")
            runner.run(experiment, workdir=run_dir, overrides=base + _assignments(c), quick=quick)
    write_tables(sweep_dir, configs)
    if hasattr(exp, "after_sweep"):
        exp.after_sweep(sweep_dir=sweep_dir, configs=configs, rows=read_rows(sweep_dir, configs))
    write_report(sweep_dir)
    return sweep_dir


def _assignments(c: Mapping) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in c.items()]


def read_rows(sweep_dir: Path, configs: list[dict]) -> list[dict]:
    """One dict per finished run: its overrides, then its summary figures."""
    rows = []
    for c in configs:
        path = Path(sweep_dir) / run_name(c) / "summary.json"
        if path.exists():
            summary = json.loads(path.read_text())
            rows.append({**c, "run": run_name(c),
                         **{k: v for k, v in summary.items() if isinstance(v, (int, float, str))}})
    return rows


def write_tables(sweep_dir: Path, configs: list[dict]) -> list[dict]:
    """Write sweep.csv (per run) and sweep.md (mean ± std over seeds per configuration)."""
    rows = read_rows(sweep_dir, configs)
    keys = list(dict.fromkeys(k for c in configs for k in c))
    metrics = list(dict.fromkeys(k for r in rows for k in r if k not in keys and k != "run"))
    with open(Path(sweep_dir) / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys + ["run"] + metrics, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    (Path(sweep_dir) / "sweep.md").write_text(markdown_table(rows, keys, metrics, len(configs)))
    return rows


def group_over_seeds(rows: list[dict], keys: list[str]) -> dict[tuple, list[dict]]:
    """Rows grouped by every override but ``seed`` (order of first appearance)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple((k, json.dumps(r.get(k))) for k in keys if k != "seed"), []).append(r)
    return groups


def mean_std(values: list) -> tuple[float, float]:
    """Mean and sample std (0 for one value) of the finite numbers in ``values``."""
    v = np.array([x for x in values if isinstance(x, (int, float)) and math.isfinite(x)], float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def markdown_table(rows: list[dict], keys: list[str], metrics: list[str], n_configs: int) -> str:
    """sweep.md: one line per configuration, each metric as mean ± std over seeds."""
    shown = [m for m in metrics if m.startswith("test/")] + [
        m for m in ("epochs_run", "train_samples_per_s", "wall_s") if m in metrics]
    group_keys = [k for k in keys if k != "seed"]
    lines = [f"# Sweep: {len(rows)} of {n_configs} runs finished", "",
             "Each metric: mean ± std over seeds (n = number of seeds).", "",
             "| " + " | ".join(group_keys + ["n"] + shown) + " |",
             "|" + "---|" * (len(group_keys) + 1 + len(shown))]
    for _, members in group_over_seeds(rows, keys).items():
        cells = [json.dumps(members[0].get(k)) for k in group_keys] + [str(len(members))]
        for m in shown:
            mu, sd = mean_std([r.get(m) for r in members])
            cells.append(f"{mu:.5g} ± {sd:.2g}" if math.isfinite(mu) else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(sweep_dir: Path) -> Path:
    """report.html for a sweep: sweep.md as a table, the sweep's figures, links to runs."""
    from aejax.report import STYLE
    sweep_dir = Path(sweep_dir)
    md = (sweep_dir / "sweep.md").read_text().splitlines()
    table_lines = [line for line in md if line.startswith("|") and not line.startswith("|---")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table_lines]
    table = "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>"
                                     for c in row) + "</tr>" for i, row in enumerate(cells))
    notes = [line for line in md if line and not line.startswith("|") and not line.startswith("# ")]
    figs = sorted((sweep_dir / "figures").glob("*.png")) if (sweep_dir / "figures").is_dir() else []
    runs = sorted(p.parent.name for p in sweep_dir.glob("*/summary.json"))
    parts = [f"<h1>Sweep {html.escape(sweep_dir.parent.name)}/{html.escape(sweep_dir.name)}</h1>",
             *[f"<p>{html.escape(n)}</p>" for n in notes], f"<table>{table}</table>"]
    parts += [f"<h3>{html.escape(f.stem)}</h3><img src='figures/{html.escape(f.name)}'>" for f in figs]
    parts += ["<h2>Runs</h2><ul>"] + [f"<li><a href='{html.escape(r)}/report.html'>{html.escape(r)}</a></li>"
                                      for r in runs] + ["</ul>"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>sweep</title><style>{STYLE}</style>"
            f"</head><body>{''.join(parts)}</body></html>")
    (sweep_dir / "report.html").write_text(page)
    return sweep_dir / "report.html"


