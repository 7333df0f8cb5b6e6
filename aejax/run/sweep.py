"""Sweeps: the configurations of an experiment's ``sweep()``, their run names, groups and tables.

Each configuration runs in its own run directory under the sweep directory (default
``results/<experiment>/sweep``), named after its overrides (:func:`run_name`). A finished run is
skipped and an unfinished one resumes from its checkpoints, so a killed sweep goes on where it
stopped. ``--shard I/N`` runs groups I, I+N, I+2N, ... (:func:`aejax.api.sweep` drives it).

Afterwards the sweep directory gets ``sweep.csv`` (one row per finished run: its overrides as
columns, then its summary figures), ``sweep.md`` (the same grouped over seeds: mean ± std) and
``report.html``.

Sweep options are given as ``--set sweep.NAME=VALUE`` and are not part of any run's config:

- ``sweep.vectorize_seeds=true``: the configurations that differ only in ``seed`` train together
  in one compiled program (:class:`aejax.train.programs.Group`), each still in its own run
  directory with the full contract and results equal to its own run. An experiment's
  ``GROUP_KEYS`` (e.g. ``model.latent_dim`` for the seismic columns) group its sweep always.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from aejax.config import flatten, parse_value
from aejax.errors import UserError
from aejax.run.experiment import Experiment
from aejax.run.rundir import RunDir, atomic_write, read_json


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


def configurations(exp: Experiment, quick: bool) -> list[dict]:
    """The experiment's sweep: ``sweep(quick=...)``."""
    if exp.sweep is None:
        raise UserError(f"experiment {exp.name!r} defines no sweep(); use 'aejax run'")
    return [dict(c) for c in exp.sweep(quick=quick)]


#: Sweep options (``--set sweep.NAME=VALUE``) and their defaults.
SWEEP_OPTIONS = {"vectorize_seeds": False}


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
        if type(value) is not type(SWEEP_OPTIONS[name]):
            raise UserError(f"--set {key}={text}: expected a {type(SWEEP_OPTIONS[name]).__name__} "
                            f"like the default {json.dumps(SWEEP_OPTIONS[name])}")
        opts[name] = value
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
    (exit 2) and left untouched."""
    sweep_dir = Path(sweep_dir)
    if sweep_dir.is_symlink() or (sweep_dir.exists() and not sweep_dir.is_dir()):
        raise UserError(f"{sweep_dir}: not a directory (a file or a link); give a new or empty --workdir")
    if sweep_dir.is_dir() and any(sweep_dir.iterdir()):
        known = ((sweep_dir / SWEEP_MARKER).exists() or (sweep_dir / "sweep.csv").exists()
                 or any(RunDir(p).is_run() for p in sweep_dir.iterdir() if p.is_dir()))
        if not known:
            raise UserError(f"{sweep_dir}: not empty and not an aejax sweep directory (no {SWEEP_MARKER}); "
                            "aejax neither writes into it nor deletes it. Give a new or empty --workdir")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if not (sweep_dir / SWEEP_MARKER).exists():
        atomic_write(sweep_dir / SWEEP_MARKER, json.dumps({"aejax_sweep": 1}) + "\n")


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


def write_tables(sweep_dir: Path, configs: list[dict]) -> list[dict]:
    """Write sweep.csv (per run) and sweep.md (mean ± std over seeds per configuration)."""
    rows = read_rows(sweep_dir, configs)
    keys = list(dict.fromkeys(k for c in configs for k in c))
    metrics = list(dict.fromkeys(k for r in rows for k in r if k not in keys and k != "run"))
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=keys + ["run"] + metrics, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(Path(sweep_dir) / "sweep.csv", text.getvalue())
    atomic_write(Path(sweep_dir) / "sweep.md", markdown_table(rows, keys, metrics, len(configs)))
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
