"""Sweeps: the configurations of an experiment's ``sweep()``, their run names, groups and tables.

Each configuration runs in its own run directory under the sweep directory (default
``results/<experiment>/sweep``), named after its overrides (:func:`run_name`). A finished run is
skipped and an unfinished one resumes from its checkpoints, so a killed sweep goes on where it
stopped. Any number of ``aejax sweep`` processes on one sweep directory share its runs as a work
queue (:mod:`aejax.run.queue`: each run claimed atomically, with a heartbeat); ``--shard I/N``
limits a worker to groups I, I+N, I+2N, ...; ``--shard auto`` only chooses where a worker
starts (:func:`shard_plan`). :func:`aejax.api.sweep` drives it.

Afterwards the sweep directory gets ``sweep.csv`` (one row per finished run: its overrides as
columns, then its summary figures), ``sweep.md`` (the same grouped over seeds: mean ± std) and
``report.html``, written once by the worker that finishes the last run (or by ``--collect``).

Sweep options are given as ``--set sweep.NAME=VALUE`` and are not part of any run's config:

- ``sweep.vectorize_seeds=true``: the configurations that differ only in ``seed`` train together
  in one compiled program (:class:`aejax.train.programs.Group`), each still in its own run
  directory with the full contract and results equal to its own run. An experiment's
  ``GROUP_KEYS`` (e.g. ``model.latent_dim`` for the seismic columns) group its sweep always.
- ``sweep.heartbeat_s=10``: how often a worker touches the claims it holds;
  ``sweep.stale_after_s=120``: a claim untouched for this long (or whose process is gone from
  this host) is taken over by another worker.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from aejax.config import flatten, kind_of, parse_value
from aejax.errors import UserError
from aejax.run import queue
from aejax.run.experiment import Experiment
from aejax.run.rundir import RunDir, atomic_write, claim_folder, read_json


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
    return fit_name(re.sub(r"[^A-Za-z0-9_.=,+\-()]", "_", name))


def fit_name(name: str, limit: int = 240) -> str:
    """``name`` if it has at most ``limit`` characters (filesystems allow 255), else its start and
    ``~`` and 12 hex digits of its SHA-1: still readable, still one directory per configuration."""
    if len(name) <= limit:
        return name
    return f"{name[:limit - 13]}~{hashlib.sha1(name.encode()).hexdigest()[:12]}"


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N."""
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m or not int(m.group(1)) < int(m.group(2)):
        raise UserError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return int(m.group(1)), int(m.group(2))


#: What ``--shard auto`` reads: a job array's task index, and the number of tasks where known.
SHARD_ENV = (("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"), ("JOB_COMPLETION_INDEX", "AEJAX_SHARD_COUNT"))


def shard_from_env(env: Mapping[str, str]) -> tuple[int, int | None] | None:
    """(task index from 0, task count or None) of a SLURM job array (``SLURM_ARRAY_TASK_ID`` minus
    ``SLURM_ARRAY_TASK_MIN``, ``SLURM_ARRAY_TASK_COUNT``) or a Kubernetes Indexed Job
    (``JOB_COMPLETION_INDEX``, and ``AEJAX_SHARD_COUNT`` if set); None outside both."""
    for index_var, count_var in SHARD_ENV:
        if index_var in env:
            def number(var):
                try:
                    return int(env[var])
                except ValueError:
                    raise UserError(f"--shard auto: ${var}={env[var]!r} is not an integer") from None
            index = number(index_var) - (number("SLURM_ARRAY_TASK_MIN") if index_var.startswith("SLURM")
                                         and "SLURM_ARRAY_TASK_MIN" in env else 0)
            count = number(count_var) if env.get(count_var) else None
            return max(index, 0), (count if count and count > 0 else None)
    return None


def shard_plan(text: str, n_groups: int, env: Mapping[str, str] | None = None) -> tuple[list[int], str]:
    """The groups a worker visits, in order, and a note saying why.

    ``I/N``: a static split, groups I, I+N, ... only (what ``--shard I/N`` always meant); other
    workers' runs are never touched. ``auto``: every group, starting at this job-array task's
    share of the list (task I of N starts at group I*G/N; without a count, at group I), so the
    tasks of an array spread at first and then help each other; outside a job array, from group 0.
    """
    if text.strip() != "auto":
        index, count = parse_shard(text)
        mine = [g for g in range(n_groups) if g % count == index]
        return mine, ("" if count == 1 else f"shard {index}/{count}: groups {index}, {index + count}, ... only")
    found = shard_from_env(os.environ if env is None else env)
    if found is None:
        return list(range(n_groups)), ("--shard auto: no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; "
                                       "starting at the first group")
    index, count = found
    start = (index * n_groups // count if count else index) % max(n_groups, 1)
    order = list(range(start, n_groups)) + list(range(start))
    return order, f"--shard auto: task {index}" + (f" of {count}" if count else "") + f", starting at group {start}"


def configurations(exp: Experiment, quick: bool) -> list[dict]:
    """The experiment's sweep: ``sweep(quick=...)``."""
    if exp.sweep is None:
        raise UserError(f"experiment {exp.name!r} defines no sweep(); use 'aejax run'")
    return [dict(c) for c in exp.sweep(quick=quick)]


#: Sweep options (``--set sweep.NAME=VALUE``) and their defaults.
SWEEP_OPTIONS = {"vectorize_seeds": False, "heartbeat_s": queue.HEARTBEAT_S, "stale_after_s": queue.STALE_AFTER_S}


def split_options(overrides: Iterable[str]) -> tuple[dict, list[str]]:
    """Separate ``sweep.*`` assignments (sweep options) from the runs' config overrides."""
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
        if isinstance(SWEEP_OPTIONS[name], float) and type(value) is int:
            value = float(value)
        if type(value) is not type(SWEEP_OPTIONS[name]) or (isinstance(value, float) and not value > 0):
            raise UserError(f"--set {key}={text}: expected {kind_of(SWEEP_OPTIONS[name])} "
                            f"like the default {json.dumps(SWEEP_OPTIONS[name])}"
                            + (" (seconds, > 0)" if isinstance(value, float) else ""))
        opts[name] = value
    if not opts["stale_after_s"] > opts["heartbeat_s"]:
        raise UserError(f"--set sweep.stale_after_s={opts['stale_after_s']:g}: must be longer than "
                        f"sweep.heartbeat_s={opts['heartbeat_s']:g}, or live workers lose their runs")
    return opts, rest


def group_keys(exp: Experiment, opts: Mapping) -> tuple[str, ...]:
    """The keys runs of one program may differ in: the experiment's ``GROUP_KEYS`` (plus ``seed``),
    or ``seed`` with ``sweep.vectorize_seeds``; () when every run trains alone."""
    if exp.group_keys:
        return tuple(dict.fromkeys(("seed", *exp.group_keys)))
    return ("seed",) if opts["vectorize_seeds"] else ()


def groups(configs: list[dict], resolved: list[dict], keys: tuple[str, ...]) -> list[list[tuple[dict, dict]]]:
    """(configuration, resolved config) pairs grouped by every resolved key but ``keys``
    (order of first appearance); each alone when ``keys`` is empty."""
    if not keys:
        return [[pair] for pair in zip(configs, resolved)]
    out: dict[str, list] = {}
    for c, r in zip(configs, resolved):
        key = json.dumps({k: v for k, v in flatten(r).items() if k not in keys}, sort_keys=True)
        out.setdefault(key, []).append((c, r))
    return list(out.values())


def assignments(c: Mapping) -> list[str]:
    """A configuration's overrides as ``--set`` assignments."""
    return [f"{k}={json.dumps(v)}" for k, v in c.items()]


SWEEP_MARKER = ".aejax-sweep"


def claim(sweep_dir: Path) -> None:
    """Create (or recognise) a sweep directory; a non-empty folder that is not one is refused
    (exit 2) and left untouched. One made before the marker existed is known by its table or runs."""
    claim_folder(sweep_dir, SWEEP_MARKER, "sweep", known=lambda d: (d / "sweep.csv").exists() or any(
        RunDir(p).is_run() for p in d.iterdir() if p.is_dir()))


def read_rows(sweep_dir: Path, configs: list[dict]) -> list[dict]:
    """One dict per finished run: its overrides, then its summary figures."""
    rows = []
    for c in configs:
        path = Path(sweep_dir) / run_name(c) / "summary.json"
        if RunDir(path.parent).is_finished() and path.exists():
            summary = read_json(path)
            rows.append({**c, "run": run_name(c),
                         **{k: v for k, v in summary.items() if isinstance(v, (int, float, str))}})
    return rows


def write_tables(sweep_dir: Path, configs: list[dict], missing: Mapping[str, str] | None = None) -> list[dict]:
    """Write sweep.csv (per run) and sweep.md (per configuration: mean ± std over seeds and a 95 %
    confidence interval); ``missing``: {run name: why it is not finished}, listed in sweep.md."""
    rows = read_rows(sweep_dir, configs)
    keys = list(dict.fromkeys(k for c in configs for k in c))
    metrics = list(dict.fromkeys(k for r in rows for k in r if k not in keys and k != "run"))
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=keys + ["run"] + metrics, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(Path(sweep_dir) / "sweep.csv", text.getvalue())
    atomic_write(Path(sweep_dir) / "sweep.md", markdown_table(rows, keys, metrics, len(configs), missing))
    return rows


def unfinished(sweep_dir: Path, configs: list[dict]) -> list[str]:
    """The run names of the configurations without a completion marker."""
    return [run_name(c) for c in configs if not RunDir(Path(sweep_dir) / run_name(c)).is_finished()]


def state_stamp(sweep_dir: Path, configs: list[dict], missing: Mapping[str, str]) -> str:
    """What the tables show: every run, each finished run's completion marker, and why the others
    are missing. Equal stamps: the tables need not be written again."""
    done = {}
    for c in configs:
        rd = RunDir(Path(sweep_dir) / run_name(c))
        if rd.is_finished():
            done[run_name(c)] = rd.complete_path.read_text() if rd.complete_path.is_file() else "finished"
    return json.dumps({"runs": [run_name(c) for c in configs], "finished": done, "missing": dict(missing)},
                      sort_keys=True) + "\n"


def group_over_seeds(rows: list[dict], keys: list[str]) -> dict[tuple, list[dict]]:
    """Rows grouped by every override but ``seed`` (order of first appearance)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple((k, json.dumps(r.get(k))) for k in keys if k != "seed"), []).append(r)
    return groups


def _finite(values: list) -> np.ndarray:
    return np.array([x for x in values if isinstance(x, (int, float)) and math.isfinite(x)], float)


def mean_std(values: list) -> tuple[float, float]:
    """Mean and sample std (0 for one value) of the finite numbers in ``values``."""
    v = _finite(values)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def confidence_interval(values: list, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval for the mean of the finite numbers in ``values``:
    mean ± t(level, n - 1) · std / sqrt(n); (nan, nan) for fewer than two values."""
    from scipy.special import stdtrit  # Student t's quantile function (imports in 0.25 s; scipy.stats 0.8 s)
    v = _finite(values)
    if v.size < 2:
        return math.nan, math.nan
    half = float(stdtrit(v.size - 1, 0.5 + level / 2)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return float(v.mean()) - half, float(v.mean()) + half


def markdown_table(rows: list[dict], keys: list[str], metrics: list[str], n_configs: int,
                   missing: Mapping[str, str] | None = None) -> str:
    """sweep.md: one line per configuration, each metric as mean ± std over seeds and its 95 %
    confidence interval for the mean (Student t); then the runs not finished, and why."""
    shown = [m for m in metrics if m.startswith("test/")] + [
        m for m in ("epochs_run", "train_samples_per_s", "wall_s") if m in metrics]
    group_keys = [k for k in keys if k != "seed"]
    lines = [f"# Sweep: {len(rows)} of {n_configs} runs finished", "",
             "Each metric: mean ± std over seeds (n = number of seeds), then the 95 % confidence interval "
             "of the mean (Student t with n - 1 degrees of freedom; none for n = 1).", "",
             "| " + " | ".join(group_keys + ["n"] + [c for m in shown for c in (m, f"{m} 95% CI")]) + " |",
             "|" + "---|" * (len(group_keys) + 1 + 2 * len(shown))]
    for _, members in group_over_seeds(rows, keys).items():
        cells = [json.dumps(members[0].get(k)) for k in group_keys] + [str(len(members))]
        for m in shown:
            values = [r.get(m) for r in members]
            mu, sd = mean_std(values)
            lo, hi = confidence_interval(values)
            cells.append(f"{mu:.5g} ± {sd:.2g}" if math.isfinite(mu) else "")
            cells.append(f"[{lo:.5g}, {hi:.5g}]" if math.isfinite(lo) else "")
        lines.append("| " + " | ".join(cells) + " |")
    if missing:
        names = [f"{name} ({why})" for name, why in missing.items()]
        lines += ["", f"Not finished ({len(names)}): " + "; ".join(names[:20])
                  + (f"; and {len(names) - 20} more" if len(names) > 20 else "")]
    return "\n".join(lines) + "\n"
