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

Sweep options are given as ``--set sweep.NAME=VALUE`` and are not part of any
run's config (a run's config, and so its results, do not depend on them):

- ``sweep.vectorize_seeds=true``: the configurations that differ only in
  ``seed`` train together in one compiled program (``jax.vmap`` over the
  seeds, :mod:`aejax.train.vectorized`), each still in its own run directory
  with the full contract and results equal to its sequential run. The
  finished runs of a group are skipped; its unfinished runs restart together
  from epoch 0. With ``--shard`` whole seed groups are dealt out to the shards.
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
    """A directory name for one configuration: ``model.latent_dim=8,model.hidden=(32,16),seed=0``.

    Strings appear unquoted and lists in parentheses: orbax / TensorStore read
    ``[`` and ``]`` in a checkpoint path as a glob pattern and cannot restore
    from such a directory. Other characters outside ``A-Za-z0-9_.=,+-()`` become ``_``.
    """
    parts = [f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}"
             for k, v in overrides.items()]
    name = ",".join(parts) or "base"
    name = name.replace("[", "(").replace("]", ")")
    return re.sub(r"[^A-Za-z0-9_.=,+\-()]", "_", name)


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


#: Sweep options (``--set sweep.NAME=VALUE``) and their defaults.
SWEEP_OPTIONS = {"vectorize_seeds": False}


def split_options(overrides: Iterable[str]) -> tuple[dict, list[str]]:
    """Separate ``sweep.*`` assignments (sweep options) from the runs' config overrides."""
    from aejax.config import parse_value
    opts, rest = dict(SWEEP_OPTIONS), []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not key.startswith("sweep."):
            rest.append(item)
            continue
        name = key[len("sweep."):]
        if not sep or name not in SWEEP_OPTIONS:
            raise UserError(f"--set {item!r}: unknown sweep option; known: "
                            + ", ".join(f"sweep.{k}" for k in SWEEP_OPTIONS))
        value = parse_value(text)
        if type(value) is not type(SWEEP_OPTIONS[name]):
            raise UserError(f"--set {key}={text}: expected a {type(SWEEP_OPTIONS[name]).__name__} "
                            f"like the default {json.dumps(SWEEP_OPTIONS[name])}")
        opts[name] = value
    return opts, rest


def seed_groups(configs: list[dict]) -> list[list[dict]]:
    """Configurations grouped by every key but ``seed`` (order of first appearance)."""
    groups: dict[str, list[dict]] = {}
    for c in configs:
        key = json.dumps({k: v for k, v in c.items() if k != "seed"}, sort_keys=True)
        groups.setdefault(key, []).append(c)
    return list(groups.values())


def run_sweep(experiment: str, *, workdir=None, overrides: Iterable[str] = (), quick: bool = False,
              shard: str = "0/1") -> Path:
    """Run (this shard of) the sweep and write the sweep tables; returns the sweep directory.

    Finished runs (``summary.json`` present) are skipped; the counts of trained
    and skipped runs are printed at the end.
    """
    from aejax import runner
    exp = experiment_lib.load(experiment)
    index, count = parse_shard(shard)
    opts, base = split_options(overrides)
    configs = configurations(exp, quick)
    sweep_dir = Path(workdir) if workdir else Path("results") / exp.NAME / ("sweep-quick" if quick else "sweep")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    # Check every configuration before training anything: a typo fails at once.
    resolved = [runner.resolve_config(exp, base + _assignments(c), quick) for c in configs]
    trained = skipped = 0
    if hasattr(exp, "run_sweep_group"):  # the experiment runs its groups itself
        mine = [c for i, c in enumerate(configs) if i % count == index]
        exp.run_sweep_group(mine, sweep_dir=sweep_dir, overrides=base, quick=quick)
    elif opts["vectorize_seeds"]:
        if hasattr(exp, "run"):
            raise UserError(f"sweep.vectorize_seeds=true: experiment {exp.NAME!r} defines its own run(); "
                            "vectorised seeds need the standard training pipeline")
        cfg_of = {run_name(c): r for c, r in zip(configs, resolved)}
        groups = [g for i, g in enumerate(seed_groups(configs)) if i % count == index]
        for i, group in enumerate(groups, 1):
            todo = [c for c in group if not (sweep_dir / run_name(c) / "summary.json").exists()]
            skipped += len(group) - len(todo)
            label = run_name({k: v for k, v in group[0].items() if k != "seed"})
            if not todo:
                print(f"[group {i}/{len(groups)}] {label}: {len(group)} seeds finished, skipped")
                continue
            print(f"[group {i}/{len(groups)}] {label}: {len(todo)} seeds in one program"
                  + (f" ({len(group) - len(todo)} finished, skipped)" if len(todo) < len(group) else ""))
            _train_group(exp, [cfg_of[run_name(c)] for c in todo], [sweep_dir / run_name(c) for c in todo])
            trained += len(todo)
    else:
        mine = [c for i, c in enumerate(configs) if i % count == index]
        for i, c in enumerate(mine, 1):
            run_dir = sweep_dir / run_name(c)
            if (run_dir / "summary.json").exists():
                print(f"[{i}/{len(mine)}] {run_dir.name}: finished, skipped")
                skipped += 1
                continue
            print(f"[{i}/{len(mine)}] {run_dir.name}")
            runner.run(experiment, workdir=run_dir, overrides=base + _assignments(c), quick=quick)
            trained += 1
    if not hasattr(exp, "run_sweep_group"):
        print(f"sweep {sweep_dir}: {trained} runs trained, {skipped} finished runs skipped")
    write_tables(sweep_dir, configs)
    if hasattr(exp, "after_sweep"):
        exp.after_sweep(sweep_dir=sweep_dir, configs=configs, rows=read_rows(sweep_dir, configs))
    write_report(sweep_dir)
    return sweep_dir


def _train_group(exp, cfgs: list[dict], run_dirs: list[Path]) -> None:
    """Train the unfinished seeds of one configuration in one vectorised program."""
    import time
    from aejax import runner
    t_start = time.perf_counter()
    try:
        from aejax import jaxsetup  # the persistent compilation cache, as `aejax run` uses
        jaxsetup.configure()
    except ImportError:
        pass
    from aejax.train import vectorized
    for cfg, rd in zip(cfgs, run_dirs):  # unfinished runs restart from epoch 0
        runner.prepare_workdir(rd, cfg, overwrite=True)
    vectorized.train_seeds(cfgs, run_dirs, hooks=exp, t_start=t_start)


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
    if (sweep_dir / "analysis").is_dir():  # e.g. latent_seeds.md from aejax.analysis.sweep_dir
        from aejax.analysis.mdhtml import to_html
        parts += [to_html(p.read_text()) for p in sorted((sweep_dir / "analysis").glob("*.md"))]
    parts += [f"<h3>{html.escape(f.stem)}</h3><img src='figures/{html.escape(f.name)}'>" for f in figs]
    parts += ["<h2>Runs</h2><ul>"] + [f"<li><a href='{html.escape(r)}/report.html'>{html.escape(r)}</a></li>"
                                      for r in runs] + ["</ul>"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>sweep</title><style>{STYLE}</style>"
            f"</head><body>{''.join(parts)}</body></html>")
    (sweep_dir / "report.html").write_text(page)
    return sweep_dir / "report.html"




def metric_figure(sweep_dir: Path, configs: list[dict], rows: list[dict], metrics: list[str], *,
                  baseline: Mapping | None = None, name: str = "sweep_metrics.png",
                  title: str = "") -> Path | None:
    """``figures/<name>``: each metric's mean ± std over seeds, one line per configuration.

    A configuration is labelled by the keys where it differs from ``baseline``
    (``"baseline"`` when none), or by all its keys but ``seed``. Written from
    the rows of the finished runs; returns None when there are none.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
