"""What ``aejax run / sweep / analyze`` do, as Python functions (the CLI is a thin wrapper).

    aejax.run("mnist_dense", quick=True, overrides=["seed=3"])   # -> the summary dict
    aejax.sweep("housing_deep", quick=True)                      # -> the sweep directory
    aejax.load_run("results/mnist_dense/default")   # -> config, metrics, summary, data, encode / decode
    aejax.load_sweep("results/housing_deep/sweep")  # -> a pandas DataFrame, one row per run

A run is: resolve the config -> prepare the run directory -> train (:mod:`aejax.run.engine`)
-> :func:`finish` (latent analysis, figures, report). This module is the one place where the
engine, the analysis and the report meet.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from aejax import jaxsetup
from aejax.analysis import run_dir as analysis_run_dir
from aejax.errors import Interrupted, RunFailed, TrainingDiverged, UserError
from aejax.report import html as report_html
from aejax.report import latent_figures, plots
from aejax.run import engine, queue, sweep as sweep_lib
from aejax.run import experiment as experiment_lib
from aejax.run import builder
from aejax.run.builder import load_data
from aejax.run.resolve import default_workdir, resolve_config
from aejax.run.rundir import RunDir, read_json

__all__ = ["run", "sweep", "analyze", "train", "finish", "figures", "load_run", "load_sweep", "run_dir", "Run"]


def finish(rd: RunDir | str | os.PathLike, cfg: Mapping | None = None) -> None:
    """The end of every run: the latent analysis (``analysis.enabled``), figures, report.html."""
    rd = rd if isinstance(rd, RunDir) else RunDir(rd)
    cfg = rd.config() if cfg is None else cfg
    if cfg.get("analysis", {}).get("enabled", True):
        analysis_run_dir.analyze(rd.path, cfg=dict(cfg))
    figures(rd.path)
    report_html.write_run_report(rd.path)
    rd.mark_complete()


def figures(run_dir) -> list[Path]:
    """Every figure of a run directory, drawn from its files: the run's, then the latent analysis'."""
    return plots.run_figures(Path(run_dir)) + latent_figures.run_figures(Path(run_dir))


def train(cfg: Mapping, workdir, exp: experiment_lib.Experiment | None = None, *,
          t_start: float | None = None, stop_after_epoch: int | None = None, data=None) -> dict:
    """The standard pipeline on an already prepared run directory: train, then :func:`finish`
    (``data``: the run's dataset when already loaded)."""
    return engine.train(exp, [cfg], [RunDir(workdir)], finish=finish, t_start=t_start,
                        stop_after_epoch=stop_after_epoch,
                        datasets=None if data is None else {int(cfg["seed"]): data})[0]


def run(experiment, *, workdir: str | os.PathLike | None = None, overrides: Iterable[str] = (),
        quick: bool = False, overwrite: bool = False, stop_after_epoch: int | None = None) -> dict:
    """Run (or resume) one experiment; returns the summary dict also saved as summary.json.

    ``summary['time_to_first_step_s']`` counts from here, after the imports.
    """
    jaxsetup.configure()
    t_start = time.perf_counter()
    exp = experiment_lib.load(experiment)
    cfg = resolve_config(exp, overrides, quick)
    workdir = Path(workdir) if workdir else default_workdir(exp.name, cfg, overrides)
    if jaxsetup.process_count() > 1:
        return _run_many(exp, cfg, workdir, overwrite=overwrite, t_start=t_start, stop_after_epoch=stop_after_epoch)
    rd = RunDir(workdir)
    if _finished(rd, cfg, overwrite):
        return rd.summary()
    data = None if exp.run is not None else _checked_data(cfg, exp)  # before anything is written or deleted
    rd.prepare(cfg, overwrite)
    try:
        if exp.run is not None:  # experiments with their own pipeline (e.g. several models)
            summary = exp.run(cfg, workdir)
            rd.mark_complete()
            return summary
        return train(cfg, workdir, exp, t_start=t_start, stop_after_epoch=stop_after_epoch, data=data)
    finally:
        rd.release()


def _finished(rd: RunDir, cfg: Mapping, overwrite: bool) -> bool:
    """Check the run directory (exit 2 if it is not one, or holds another config); True when it
    already holds this run, finished (reported, not retrained, unless ``overwrite``)."""
    rd.check(None if overwrite else cfg)
    if not overwrite and rd.is_finished() and rd.config()["train"]["epochs"] == cfg["train"]["epochs"]:
        print(f"aejax: {rd.path}: already finished with this config; nothing to do (its summary below; "
              "--overwrite retrains it)", file=sys.stderr)
        return True
    return False


def _checked_data(cfg: Mapping, exp):
    """The run's data, loaded and checked against its batch size (exit 2 when too small)."""
    data = load_data(cfg, exp)
    if len(data.train) < cfg["train"]["batch_size"]:
        raise UserError(f"train.batch_size={cfg['train']['batch_size']} is larger than the "
                        f"{len(data.train)} training examples; lower it")
    return data


def _run_many(exp, cfg: Mapping, workdir: Path, *, overwrite: bool, t_start: float,
              stop_after_epoch: int | None) -> dict:
    """One run over every process of a multi-process run (:func:`aejax.jaxsetup.start_distributed`).

    Process 0 checks and prepares the run directory, writes every file (metrics.jsonl once) and,
    after training, analyses the run on its own devices; every process trains (one global mesh,
    each process computing its devices' slices of each batch) and saves the checkpoints with orbax's
    multi-host path. The others wait for process 0 at the two hand-overs (prepared, finished) and
    end with its outcome, so every process exits with the same status.
    """
    if exp.run is not None:
        raise UserError(f"experiment {exp.name!r} defines its own run(); a run over many processes needs the "
                        "standard training pipeline")
    if not jaxsetup.is_primary():
        if _outcome(jaxsetup.wait_for("prepared")) == "done":
            return RunDir(workdir).summary()
        data = load_data(cfg, exp)
        engine.train(exp, [cfg], [RunDir(workdir, writes=False)], t_start=t_start,
                     stop_after_epoch=stop_after_epoch, datasets={int(cfg["seed"]): data})
        _outcome(jaxsetup.wait_for("finished"))
        return RunDir(workdir).summary()
    rd = RunDir(workdir)
    with _handing_over("prepared"):
        if _finished(rd, cfg, overwrite):
            jaxsetup.publish("prepared", "done")
            return rd.summary()
        data = _checked_data(cfg, exp)
        rd.prepare(cfg, overwrite)
    try:
        with _handing_over("finished"):
            return train(cfg, workdir, exp, t_start=t_start, stop_after_epoch=stop_after_epoch, data=data)
    finally:
        rd.release()


class _handing_over:
    """Process 0's side of a hand-over point: tell the other processes "ok", or the error (with its
    exit status) that ends this process, so they end with the same status."""

    def __init__(self, key: str):
        self.key = key

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None:
            _publish_once(self.key, "ok")
        elif isinstance(error, (UserError, Interrupted, RunFailed)):
            status = error.exit_status if isinstance(error, Interrupted) else 2 if isinstance(error, UserError) else 1
            _publish_once(self.key, f"{status} {error}")
        else:
            _publish_once(self.key, f"1 {type(error).__name__}: {error}")
        return False


def _publish_once(key: str, value: str) -> None:
    try:
        jaxsetup.publish(key, value)
    except Exception:  # noqa: BLE001 - already published (e.g. "done"), or the coordinator is gone
        pass


def _outcome(message: str) -> str:
    """A hand-over message from process 0: "ok" / "done" are returned; an error is raised again here,
    with the same exit status."""
    if message in ("ok", "done"):
        return message
    status, _, text = message.partition(" ")
    text = f"process 0: {text}"
    if status == "2":
        raise UserError(text)
    if status in ("130", "143"):
        raise Interrupted(int(status) - 128, text)
    raise RunFailed(text)


def sweep(experiment, *, workdir=None, overrides: Iterable[str] = (), quick: bool = False,
          shard: str = "0/1", collect: bool = False) -> Path:
    """Work through the experiment's sweep as one worker of a shared queue; the worker that
    leaves nothing in training writes the tables and report.

    Any number of processes, on one host or many sharing the filesystem, may run this on one sweep
    directory: each run is claimed atomically with a heartbeat (:mod:`aejax.run.queue`), a dead
    worker's claim is taken over, a finished run (completion marker) is skipped and an unfinished
    one resumes from its checkpoints. Runs that may share a program (equal but for ``seed`` with
    ``--set sweep.vectorize_seeds=true``, and for the experiment's ``GROUP_KEYS``) form a group: a
    worker claims every free run of a group, one by one, and trains those it got in one program.
    ``shard``: ``I/N`` a static split (groups I, I+N, ...), ``auto`` only where a job-array task
    starts (:func:`aejax.run.sweep.shard_plan`). When no other worker still holds a run, sweep.csv,
    sweep.md and report.html are written, once (``collect``: only that, from what is there). A run
    directory of another config is refused (exit 2) before anything trains. A diverged run does
    not stop the sweep; afterwards :class:`TrainingDiverged` names it (exit 1).
    """
    jaxsetup.configure()
    t_start = time.perf_counter()
    exp = experiment_lib.load(experiment)
    opts, base = sweep_lib.split_options(overrides)
    configs = sweep_lib.configurations(exp, quick)
    sweep_dir = Path(workdir) if workdir else Path("results") / exp.name / ("sweep-quick" if quick else "sweep")
    # Check every configuration before training anything: a typo fails at once.
    resolved = [resolve_config(exp, base + sweep_lib.assignments(c), quick) for c in configs]
    keys = sweep_lib.group_keys(exp, opts)
    if keys and exp.run is not None:
        raise UserError(f"experiment {exp.name!r} defines its own run(); its runs cannot share a program "
                        "(drop sweep.vectorize_seeds)")
    groups = sweep_lib.groups(configs, resolved, keys)
    order, note = sweep_lib.shard_plan(shard, len(groups))
    if collect and not sweep_dir.is_dir():
        raise UserError(f"--collect: {sweep_dir} does not exist; give the --workdir of a sweep")
    sweep_lib.claim(sweep_dir)
    for c, r in (pair for g in order for pair in groups[g]):  # never skip or resume a run of another config
        RunDir(sweep_dir / sweep_lib.run_name(c)).check(r)
    clock = queue.FsClock(sweep_dir)
    beat = {"heartbeat_s": opts["heartbeat_s"], "stale_after_s": opts["stale_after_s"]}
    failed: list[str] = []
    if not collect:
        if note:
            print(note, file=sys.stderr, flush=True)
        trained, skipped, failed = _work(exp, sweep_dir, [groups[g] for g in order], clock, beat, t_start)
        print(f"sweep {sweep_dir}: {trained} runs trained, {skipped} finished runs skipped", flush=True)
    missing, busy = {}, 0
    for name in sweep_lib.unfinished(sweep_dir, configs):
        holder = queue.live_holder(RunDir(sweep_dir / name), opts["stale_after_s"], clock)
        busy += holder is not None
        missing[name] = (f"being trained by {queue.describe(holder)}" if holder else
                         queue.failed_since(sweep_dir, name, 0)
                         or ("unfinished: rerun to resume" if RunDir(sweep_dir / name).config_path.exists()
                             else "not trained yet"))
    if busy and not collect:
        print(f"sweep {sweep_dir}: nothing left to claim; {busy} run{'s are' if busy > 1 else ' is'} being "
              "trained by other workers, and the last of them writes sweep.csv, sweep.md and report.html "
              "(or run again with --collect)", flush=True)
    else:
        def write():
            rows = sweep_lib.write_tables(sweep_dir, configs, missing)
            if exp.after_sweep is not None:
                exp.after_sweep(sweep_dir=sweep_dir, configs=configs, rows=rows)
            report_html.write_sweep_report(sweep_dir)
        done = queue.write_once(sweep_dir, sweep_lib.state_stamp(sweep_dir, configs, missing), write,
                                force=collect, clock=clock, **beat)
        print(f"sweep {sweep_dir}: " + {"written": "wrote sweep.csv, sweep.md, report.html",
                                        "up to date": "sweep.csv, sweep.md, report.html are up to date",
                                        "busy": "another worker is writing sweep.csv, sweep.md, report.html"}[done]
              + f" ({len(configs) - len(missing)} of {len(configs)} runs finished)", flush=True)
        if missing:
            print(f"aejax: {len(missing)} runs not finished: "
                  + "; ".join(f"{n} ({why})" for n, why in list(missing.items())[:20])
                  + ("; ..." if len(missing) > 20 else ""), file=sys.stderr, flush=True)
    if failed:
        raise TrainingDiverged(f"sweep {sweep_dir}: " + " ".join(failed))
    return sweep_dir


def _work(exp, sweep_dir: Path, groups: list, clock, beat: dict, t_start: float) -> tuple[int, int, list[str]]:
    """One sweep worker's loop: pass over ``groups`` claiming and training the free unfinished
    runs, again while a pass found work (a dead worker's runs become free); each run at most
    once, and not a run another worker saw diverge since this one started. Returns (runs
    trained, finished runs skipped, messages of diverged runs)."""
    t0 = clock.now()
    names = [[sweep_lib.run_name(c) for c, _ in g] for g in groups]
    skipped = sum(RunDir(sweep_dir / n).is_finished() for g in names for n in g)
    tried: set[str] = set()
    trained, failed, first = 0, [], True
    while True:
        progressed = False
        for gi, (group, group_names) in enumerate(zip(groups, names), 1):
            got = []
            for (c, r), name in zip(group, group_names):
                rd = RunDir(sweep_dir / name)
                if name in tried or rd.is_finished() or queue.failed_since(sweep_dir, name, t0):
                    continue
                queue.make_run_dir(rd.path)
                claim = queue.try_claim(rd, clock=clock, **beat)
                if claim is not None and rd.is_finished():  # finished by another worker meanwhile
                    claim.release()
                elif claim is not None:
                    got.append((name, r, claim))
            label = ", ".join(group_names) if len(group) <= 2 else \
                f"{group_names[0]} and {len(group) - 1} more in one program"
            if not got:
                if first:
                    done = sum(RunDir(sweep_dir / n).is_finished() for n in group_names)
                    print(f"[{gi}/{len(groups)}] {label}: " + ("finished, skipped" if done == len(group) else
                          f"{len(group) - done} with other workers") , flush=True)
                continue
            progressed = True
            tried.update(name for name, _, _ in got)
            print(f"[{gi}/{len(groups)}] {label}: {len(got)} to train"
                  + (f", {len(group) - len(got)} finished or with other workers" if len(got) < len(group) else ""),
                  flush=True)
            claims = {id(cl.rd): cl for _, _, cl in got}
            try:
                for _, r, cl in got:
                    cl.rd.prepare(r)
                if exp.run is not None:
                    for _, r, cl in got:
                        cl.check()
                        exp.run(r, cl.rd.path)
                        cl.rd.mark_complete()
                else:
                    engine.train(exp, [r for _, r, _ in got], [cl.rd for _, _, cl in got], finish=finish,
                                 t_start=t_start, on_epoch=lambda rd, row: claims[id(rd)].check())
            except TrainingDiverged as e:
                failed.append(str(e))
                for name, _, cl in got:
                    if not cl.rd.is_finished():
                        queue.record_failure(sweep_dir, name, f"diverged: {e}")
            except queue.ClaimLost as e:
                print(f"aejax: {e}", file=sys.stderr, flush=True)
            finally:
                for name, _, cl in got:
                    cl.release()
                    if cl.rd.is_finished():
                        queue.clear_failure(sweep_dir, name)
            trained += len(got)
        first = False
        if not progressed:
            return trained, skipped, failed


def analyze(run_dir, experiment: str | None = None) -> dict:
    """The latent-space analysis of a finished run directory (``aejax analyze``), then its figures
    and report; an analysis that cannot be made is an error saying why (exit 2)."""
    rd = RunDir(run_dir)
    if not rd.is_run():
        raise UserError(f"{run_dir}: not a run directory (no {rd.marker_path.name}, or no config.json)")
    rd.lock()
    try:
        out = analysis_run_dir.analyze(rd.path, strict=True, experiment=experiment)
        made = figures(rd.path)
        report_html.write_run_report(rd.path)
    finally:
        rd.release()
    written = sorted(p.name for p in rd.analysis.iterdir() if p.suffix in (".json", ".md"))
    print(f"aejax analyze: wrote {rd.analysis}/{{{','.join(written)}}}, {len(made)} figures in {rd.figures}, "
          f"{rd.path / 'report.html'}", file=sys.stderr)
    return out


# -- Loading runs and sweeps (Python / Jupyter) ----------------------------------------------------

@dataclasses.dataclass(eq=False)
class Run:
    """A run directory loaded for Python / Jupyter (:func:`load_run`).

    Files: ``path``, ``config`` (config.json; also ``cfg``), ``summary`` (summary.json),
    ``metrics`` (metrics.jsonl as a pandas DataFrame indexed by epoch), ``figures`` (figures/*.png
    by stem: the run's own first, then ``latent_*``), ``analysis`` (analysis/*.json by stem) and
    ``notes`` (analysis/*.md by stem). With the model (``load_run(..., model=True)``): ``data``
    (the Dataset, split by the run's seed through the experiment's ``prepare_data``, as trained),
    ``model``, ``task``, ``trainer``, ``params`` (the ``best`` or ``latest`` checkpoint),
    ``init_params()``, and :meth:`encode` / :meth:`decode` / :meth:`reconstruct`.
    """

    path: Path
    config: dict
    summary: dict
    metrics: Any
    figures: dict
    analysis: dict
    notes: dict
    data: Any = None
    model: Any = None
    task: Any = None
    trainer: Any = None
    params: Any = None
    init_params: Any = None

    @property
    def cfg(self) -> dict:
        """The config (the name :func:`aejax.run.builder.load_run` gives it)."""
        return self.config

    @property
    def splits(self) -> dict:
        """``{"train", "val", "test"}`` -> :class:`aejax.data.Split` (``x``, ``y``, ``extras``)."""
        self._need_model()
        return {"train": self.data.train, "val": self.data.val, "test": self.data.test}

    @property
    def inputs(self) -> dict:
        """Host arrays the model saw: ``train``, ``val``, ``test`` (clean) and ``val_in``,
        ``test_in`` (noisy when ``data.noise_std`` > 0; training noise is fresh every step)."""
        self._need_model()
        return builder.inputs(self.data, self.config)

    def _need_model(self) -> None:
        if self.model is None:
            raise UserError(f"{self.path}: loaded with model=False; load_run(path) loads the data and model")

    def _apply(self, x, method: str):
        import jax
        self._need_model()
        return jax.device_get(self.trainer.predict(self.params, np.asarray(x, np.float32), method=method))

    def encode(self, x):
        """The codes of inputs ``x`` [N, *example_shape] (numpy; a VAE's encode returns its tuple)."""
        return self._apply(x, "encode")

    def decode(self, z):
        """The outputs (reconstructions) of codes ``z`` [N, *code_shape] (numpy)."""
        return self._apply(z, "decode")

    def reconstruct(self, x):
        """The model's output for inputs ``x`` (numpy)."""
        return self._apply(x, "__call__")


def run_dir(experiment, *, overrides: Iterable[str] = (), quick: bool = False) -> Path:
    """The run directory that ``run(experiment, overrides=..., quick=...)`` uses without a ``workdir``."""
    exp = experiment_lib.load(experiment)
    return default_workdir(exp.name, resolve_config(exp, overrides, quick), overrides)


def load_run(run_dir, which: str = "best", *, model: bool = True, experiment: str | None = None) -> Run:
    """A run directory as a :class:`Run`: its config, summary, metrics DataFrame, figures and
    analysis files, and (``model=True``) its data, model and ``which`` checkpoint's parameters
    with ``encode`` / ``decode``. ``model=False`` reads the files only (no JAX work)."""
    import pandas as pd

    rd = RunDir(run_dir)
    if not rd.is_run():
        raise UserError(f"{run_dir}: not a run directory (no {rd.marker_path.name}, or no config.json)")
    cfg = rd.config()
    metrics = pd.DataFrame(rd.metrics())
    if "epoch" in metrics:
        metrics = metrics.set_index("epoch")
    figures = {p.stem: p for p in sorted(rd.figures.glob("*.png"), key=lambda p: (p.stem.startswith("latent_"),
                                                                                 p.stem))}
    analysis = {p.stem: read_json(p) for p in sorted(rd.analysis.glob("*.json"))}
    notes = {p.stem: p.read_text() for p in sorted(rd.analysis.glob("*.md"))}
    out = Run(path=rd.path, config=cfg, summary=rd.summary(), metrics=metrics, figures=figures,
              analysis=analysis, notes=notes)
    if model:
        r = builder.load_run(rd.path, which, experiment=experiment)
        out.config = r.cfg
        out.data, out.model, out.task, out.trainer = r.data, r.model, r.task, r.trainer
        out.params, out.init_params = r.params, r.init_params
    return out


def _hashable(v):
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


def load_sweep(sweep_dir, *, unfinished: bool = False):
    """A sweep directory as a pandas DataFrame, one row per run: the run's overrides (typed values
    from its config.json; lists as tuples), ``run`` (its directory name), then its summary.json.

    Overrides are the config keys that name the run directory (``model.latent_dim=8,seed=0``)
    plus any key whose value differs between the runs; ``df.attrs["overrides"]`` lists them and
    ``df.attrs["sweep_dir"]`` holds the path. Rows follow ``sweep.csv`` (the sweep's order), then
    the other runs by name. Only finished runs unless ``unfinished=True`` (then a ``finished`` column).
    """
    import pandas as pd

    from aejax.config import flatten

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise UserError(f"{sweep_dir}: no such sweep directory")
    dirs = [d for d in sorted(sweep_dir.iterdir()) if d.is_dir() and RunDir(d).is_run()]
    if not unfinished:
        dirs = [d for d in dirs if RunDir(d).is_finished()]
    csv_path = sweep_dir / "sweep.csv"
    if csv_path.exists():
        order = {n: i for i, n in enumerate(pd.read_csv(csv_path, usecols=["run"])["run"])} \
            if "run" in csv_path.read_text().splitlines()[0].split(",") else {}
        dirs.sort(key=lambda d: (order.get(d.name, len(order)), d.name))
    flat = [flatten(RunDir(d).config()) for d in dirs]
    keys: list[str] = []
    for d, f in zip(dirs, flat):  # keys named in the directory name, in their order there
        at = {k: 0 if d.name.startswith(f"{k}=") else d.name.find(f",{k}=") for k in f}
        keys += [k for k in sorted((k for k in at if at[k] >= 0), key=at.get) if k not in keys]
    every = list(dict.fromkeys(k for f in flat for k in f))
    keys += [k for k in every if k not in keys and k != "experiment"
             and len({repr(f.get(k)) for f in flat}) > 1]
    rows = []
    for d, f in zip(dirs, flat):
        rd = RunDir(d)
        row = {k: _hashable(f.get(k)) for k in keys}
        row["run"] = d.name
        if unfinished:
            row["finished"] = rd.is_finished()
        row.update({k: v for k, v in rd.summary().items() if v is None or isinstance(v, (int, float, str))})
        rows.append(row)
    df = pd.DataFrame(rows, columns=None if rows else keys + ["run"])
    df.attrs["overrides"] = keys
    df.attrs["sweep_dir"] = str(sweep_dir)
    return df
