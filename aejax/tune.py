"""``aejax tune EXP``: an adaptive hyperparameter search on Optuna, shared by any number of workers.

    aejax tune housing_deep --trials 30                 # TPE sampler, median pruner, results/housing_deep/tune
    aejax tune housing_deep --trials 30 --storage sqlite:///S/study.db   # start it twice: two workers, one study

The search space is the experiment's ``search_space(trial) -> {config key: value}`` hook: it asks
the Optuna ``trial`` for values (``trial.suggest_int`` / ``_float`` / ``_categorical``) and returns
the ``--set`` overrides they make. Every trial trains an ordinary run directory
``<tune dir>/<overrides>`` (named like a sweep's runs) with the engine of ``aejax run``, so its
lock, checkpoints, completion marker, metrics.jsonl and report are a run's. The objective, minimised,
is **the run's best val/loss** (the lowest over its epochs: the weights its ``best`` checkpoint
holds). ``val/loss`` is reported to the trial after every epoch; when the pruner says so the run
stops (summary.json's ``stopped``: "pruned by optuna at epoch N ...") and the trial is PRUNED.

Workers share the study through its storage: the default is a journal file in the tune directory
(``study.journal``, Optuna's JournalFileBackend); ``--storage`` takes ``sqlite:///PATH``,
``postgresql://...``, ``mysql://...`` or ``journal:PATH`` (a journal file on a shared filesystem
works across hosts). Each worker, before each trial:

- fails the RUNNING trials whose worker is gone -- a dead process on this host, or no heartbeat
  (a user attribute each worker refreshes every ``heartbeat_s``) for ``grace_s`` -- and enqueues
  each as a new trial with the same parameters (up to :data:`MAX_RETRY` times; its run directory
  resumes from the checkpoints the dead worker left);
- stops once the study holds N finished (COMPLETE or PRUNED) trials, counting those running in
  other workers, so rerunning the command continues the study up to N and a finished study trains
  nothing. Workers that check at the same instant may overshoot N by one trial each.

A trial whose overrides equal a finished trial's is not trained again: it takes that trial's value
(or is pruned like it), is marked ``duplicate_of`` and does not count towards N; while the same
overrides train in another worker, the later trial waits for it. A finished run directory found
without a trial (an earlier study) gives its value without training.

The tune directory (``results/<experiment>/tune``, ``tune-quick`` with ``--quick``, followed by the
``--set`` overrides like a run's default name) gets, after each worker's last trial: ``tune.csv``
(one row per trial: number, state, value, its parameters, run directory, ...), ``best_config.json``
(the best trial's parameters, overrides, config and the ``aejax run`` command that retrains it),
``figures/tune_history.png``, ``figures/tune_importance.png`` (fANOVA, from 2 complete trials on)
and ``report.html``.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import re
import socket
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Iterable

import optuna
from optuna.trial import TrialState

from aejax import api, jaxsetup
from aejax.config import parse_value
from aejax.errors import Interrupted, TrainingDiverged, UserError
from aejax.report.html import STYLE
from aejax.run import engine
from aejax.run import experiment as experiment_lib
from aejax.run.builder import load_data
from aejax.run.resolve import default_workdir, resolve_config
from aejax.run.rundir import RunDir, atomic_write, read_json, save_figure
from aejax.run.sweep import assignments, run_name

__all__ = ["tune", "write_outputs", "reap", "SAMPLERS", "PRUNERS"]

TUNE_MARKER = ".aejax-tune"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
HEARTBEAT_S = 10     # a running trial's worker refreshes its heartbeat this often ...
GRACE_S = 120        # ... and is taken for dead (on another host) after this long without one
MAX_RETRY = 3        # a trial lost with its worker is retried at most this many times
MAX_DUPLICATES = 20  # this many duplicates in a row: the sampler has nothing new to propose
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
PRUNED_PREFIX = "pruned by optuna"


def tune(experiment, *, trials: int, storage: str | None = None, study: str | None = None,
         sampler: str = "tpe", pruner="median", workdir=None, overrides: Iterable[str] = (),
         quick: bool = False, heartbeat_s: float = HEARTBEAT_S, grace_s: float = GRACE_S) -> dict | None:
    """Work on the study until it holds ``trials`` finished trials; write the tune directory's
    tables, figures and report; print and return the best trial (:func:`best_config`'s dict, None
    while no trial is complete). ``pruner``: a name of :data:`PRUNERS` or an Optuna pruner."""
    jaxsetup.configure()
    exp = experiment_lib.load(experiment)
    if exp.search_space is None:
        raise UserError(f"experiment {exp.name!r} defines no search_space(trial) hook, so there is nothing to "
                        "tune; add one returning {config key: trial.suggest_...(...)} (see experiments/"
                        "housing_deep.py), or use 'aejax sweep'")
    if exp.run is not None:
        raise UserError(f"experiment {exp.name!r} defines its own run(); aejax tune trains one model per trial")
    if not isinstance(trials, int) or trials < 1:
        raise UserError(f"--trials {trials!r}: expected an integer >= 1")
    if sampler not in SAMPLERS:
        raise UserError(f"--sampler {sampler!r}: expected one of {', '.join(SAMPLERS)}")
    base = list(overrides)
    cfg0 = resolve_config(exp, base, quick)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    probe = _probe(exp, base, quick)  # the search space checked before anything is written
    tune_dir = Path(workdir) if workdir else default_workdir(
        exp.name, {"name": "tune-quick" if quick else "tune"}, base)
    _claim(tune_dir)
    store = open_storage(storage, tune_dir)
    name = study or f"{exp.name}/{tune_dir.name}"
    st = _open_study(name, store, _sampler(sampler, probe), _pruner(pruner, cfg0["train"]["epochs"]),
                     {"experiment": exp.ref, "quick": quick, "overrides": base})
    print(f"aejax tune: study {name!r} in {redact(storage or store_url(tune_dir))}, tune directory {tune_dir}",
          flush=True)
    worker = _Worker(exp, st, store, tune_dir, base, quick, heartbeat_s, grace_s)
    try:
        worker.loop(trials)
    finally:
        write_outputs(st, tune_dir, exp.name)
    best = best_config(st, tune_dir, exp.name)
    _print_best(best, worker.trained)
    if best is not None:
        atomic_write(tune_dir / "best_config.json", json.dumps(best, indent=2) + "\n")
        write_outputs(st, tune_dir, exp.name)  # the report shows best_config.json
    return best


# ---- storage and study ------------------------------------------------------------------------

def store_url(tune_dir: Path) -> str:
    """The default storage: a journal file in the tune directory."""
    return f"journal:{Path(tune_dir) / 'study.journal'}"


def open_storage(url: str | None, tune_dir: Path):
    """An Optuna storage from ``--storage``: ``journal:PATH`` (or a path ending .journal / .log), an
    SQLAlchemy URL (``sqlite:///PATH``, ``postgresql://...``, ``mysql://...``), or None (default)."""
    url = url or store_url(tune_dir)
    if url.startswith("journal:") or (("://" not in url) and url.endswith((".journal", ".log"))):
        path = Path(url[len("journal:"):] if url.startswith("journal:") else url)
        path.parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend, JournalStorage
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise UserError(f"--storage {url!r}: expected sqlite:///PATH, postgresql://..., mysql://..., "
                        "journal:PATH or a .journal file")
    kwargs = {}
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"timeout": 60}}  # wait for another worker's write, not fail
    else:
        kwargs = {"pool_pre_ping": True}
    for attempt in range(6):  # workers creating the tables of a new database at once collide: retry
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as e:  # noqa: BLE001 - sqlalchemy's errors; the last one is reported
            racing = any(m in str(e) for m in ("already exists", "locked", "UNIQUE constraint", "Duplicate"))
            if attempt == 5 or not racing:
                raise UserError(f"--storage {redact(url)}: cannot open it ({type(e).__name__}: "
                                f"{str(e).splitlines()[0]})") from None
            time.sleep(0.5 + attempt)


def redact(url: str) -> str:
    """A storage URL without its password (``user:***@host``)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _open_study(name, store, sampler, pruner, base: dict) -> optuna.Study:
    """Create the study or load it (``load_if_exists``); a study made for another experiment,
    ``--quick`` or ``--set`` is refused, naming the difference."""
    st = optuna.create_study(study_name=name, storage=store, sampler=sampler, pruner=pruner,
                             direction="minimize", load_if_exists=True)
    old = st.user_attrs.get("aejax")
    if old is None:
        st.set_user_attr("aejax", base)
    elif old != base:
        diff = [f"{k}: {json.dumps(old.get(k))} there, {json.dumps(base[k])} here" for k in base if old.get(k) != base[k]]
        raise UserError(f"study {name!r} was made for another setup ({'; '.join(diff)}); give another --study "
                        "or --workdir, or the same arguments")
    if st.direction != optuna.study.StudyDirection.MINIMIZE:
        raise UserError(f"study {name!r} maximises; aejax tune minimises val/loss: give another --study")
    return st


def _probe(exp, base: list[str], quick: bool) -> dict:
    """Call ``search_space`` on a throw-away trial: it must return a dict of config keys that
    resolve (exit 2 otherwise); returns the distributions it asked for."""
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    sets = _overrides(exp, trial)
    resolve_config(exp, base + assignments(sets), quick)
    return dict(trial.distributions)


def _overrides(exp, trial) -> dict:
    sets = experiment_lib.call(exp, "search_space", trial)
    if not isinstance(sets, dict) or not sets or not all(isinstance(k, str) for k in sets):
        raise UserError(f"{exp.module.__file__}: search_space() returned {type(sets).__name__}, not a "
                        "non-empty {config key: value} dict")
    return sets


def _sampler(name: str, distributions: dict):
    if name == "tpe":  # constant_liar: running trials count as bad, so concurrent workers spread out
        return optuna.samplers.TPESampler(constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.GridSampler(grid(distributions))


def grid(distributions: dict) -> dict:
    """``--sampler grid``'s grid: every choice of a categorical, every integer of an int range
    (its step), 3 points of a float range without a step (geometric on a log scale)."""
    out = {}
    for name, d in distributions.items():
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            out[name] = list(d.choices)
        elif isinstance(d, optuna.distributions.IntDistribution):
            out[name] = list(range(d.low, d.high + 1, d.step))
        elif d.step is not None:
            out[name] = [d.low + i * d.step for i in range(int(round((d.high - d.low) / d.step)) + 1)]
        elif d.log:
            out[name] = [d.low, math.sqrt(d.low * d.high), d.high]
        else:
            out[name] = [d.low, (d.low + d.high) / 2, d.high]
    return out


def _pruner(pruner, epochs: int):
    if not isinstance(pruner, str):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise UserError(f"--pruner {pruner!r}: expected one of {', '.join(PRUNERS)}")


def _claim(tune_dir: Path) -> None:
    """Create (or recognise) a tune directory; a non-empty folder that is not one is refused."""
    if tune_dir.is_symlink() or (tune_dir.exists() and not tune_dir.is_dir()):
        raise UserError(f"{tune_dir}: not a directory (a file or a link); give a new or empty --workdir")
    if tune_dir.is_dir() and any(tune_dir.iterdir()) and not (tune_dir / TUNE_MARKER).exists():
        raise UserError(f"{tune_dir}: not empty and not an aejax tune directory (no {TUNE_MARKER}); aejax "
                        "neither writes into it nor deletes it. Give a new or empty --workdir")
    tune_dir.mkdir(parents=True, exist_ok=True)
    if not (tune_dir / TUNE_MARKER).exists():
        atomic_write(tune_dir / TUNE_MARKER, json.dumps({"aejax_tune": 1}) + "\n")


# ---- workers ----------------------------------------------------------------------------------

def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def _trial(study: optuna.Study, number: int):
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def _counted(t) -> bool:
    return t.state in FINISHED and "duplicate_of" not in t.user_attrs


def reap(study: optuna.Study, storage, grace_s: float = GRACE_S) -> list[int]:
    """Fail the RUNNING trials whose worker is gone (a dead process on this host; elsewhere no
    heartbeat for ``grace_s``) and enqueue each again with its parameters; returns their numbers.
    Two workers reaping at once fail a trial once: the storage refuses the second update."""
    host, now, lost = socket.gethostname(), time.time(), []
    handle = None
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        w, beat = t.user_attrs.get("worker") or {}, t.user_attrs.get("heartbeat")
        if w.get("host") == host:
            why = None if _alive(w.get("pid")) else f"its worker, process {w.get('pid')}, is gone"
        else:
            last = beat if beat is not None else (t.datetime_start.timestamp() if t.datetime_start else now)
            why = f"no heartbeat from {w.get('host', '?')} for {now - last:.0f} s" if now - last > grace_s else None
        if why is None:
            continue
        # tell() through a handle with a plain sampler: GridSampler's after_trial stops an optimize loop
        handle = handle or optuna.load_study(study_name=study.study_name, storage=storage,
                                             sampler=optuna.samplers.RandomSampler())
        try:
            handle.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker got there first
        retried = _retry(study, t)
        print(f"aejax tune: trial {t.number} ({t.user_attrs.get('run', '?')}): {why}; marked failed"
              + (", enqueued again" if retried else f", not retried (lost {MAX_RETRY + 1} times)"), flush=True)
        lost.append(t.number)
    return lost


def _retry(study: optuna.Study, t) -> bool:
    """Enqueue a failed trial again (its parameters; ``failed_trial`` / ``retry_history`` as
    Optuna's RetryHeartbeatStaleTrialCallback records them), at most :data:`MAX_RETRY` times."""
    history = list(t.system_attrs.get("retry_history", [])) + [t.number]
    if len(history) > MAX_RETRY:
        return False
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=t.params, distributions=t.distributions,
        system_attrs={"failed_trial": t.system_attrs.get("failed_trial", t.number), "retry_history": history},
        user_attrs={"retry_of": t.number}))
    return True


class _Heartbeat:
    """Refresh a trial's ``heartbeat`` user attribute every ``every`` seconds from a thread."""

    def __init__(self, trial, every: float):
        self.trial, self.every, self.stop = trial, every, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while not self.stop.wait(self.every):
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except Exception:  # noqa: BLE001 - the trial was finished meanwhile (e.g. reaped)
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class _Worker:
    """One process working on the study: the trial loop and the objective."""

    def __init__(self, exp, study, storage, tune_dir: Path, base: list[str], quick: bool, heartbeat_s, grace_s):
        self.exp, self.study, self.storage, self.tune_dir = exp, study, storage, tune_dir
        self.base, self.quick = base, quick
        self.heartbeat_s, self.grace_s = heartbeat_s, grace_s
        self.trained = self.reused = 0
        self.current = None

    def loop(self, n: int) -> None:
        dups = 0
        while True:
            reap(self.study, self.storage, self.grace_s)
            trials = self.study.get_trials(deepcopy=False)
            done = sum(_counted(t) for t in trials)
            running = sum(t.state == TrialState.RUNNING for t in trials)
            if done >= n:
                print(f"aejax tune: the study holds {done} finished trials (--trials {n}); "
                      f"{self.trained} trained by this worker", flush=True)
                return
            if done + running >= n:
                print(f"aejax tune: {done} trials finished and {running} running in other workers (--trials {n}); "
                      "this worker stops", flush=True)
                return
            if isinstance(self.study.sampler, optuna.samplers.GridSampler) and \
                    self.study.sampler.is_exhausted(self.study):
                print(f"aejax tune: every point of the grid is tried ({done} finished)", flush=True)
                return
            if dups >= MAX_DUPLICATES:
                print(f"aejax tune: the sampler proposed {dups} finished configurations in a row; the search "
                      f"space looks exhausted ({done} finished)", flush=True)
                return
            self.current = None
            try:
                self.study.optimize(self._objective, n_trials=1, catch=(TrainingDiverged,))
            except (Interrupted, KeyboardInterrupt):
                if self.current is not None:  # optimize() marked it failed; a rerun resumes its run
                    _retry(self.study, _trial(self.study, self.current))
                raise
            last = _trial(self.study, self.current) if self.current is not None else None
            dups = dups + 1 if last is not None and "duplicate_of" in last.user_attrs else 0

    def _objective(self, trial) -> float:
        self.current = trial.number
        sets = _overrides(self.exp, trial)
        name = run_name(sets)
        rd = RunDir(self.tune_dir / name)
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        trial.set_user_attr("heartbeat", time.time())
        trial.set_user_attr("overrides", sets)
        trial.set_user_attr("run", name)
        with _Heartbeat(trial, self.heartbeat_s):
            same = self._wait_for_same(trial, name)
            if same is not None:  # the same configuration finished as another trial
                trial.set_user_attr("duplicate_of", same.user_attrs.get("duplicate_of", same.number))
                print(f"aejax tune: trial {trial.number} ({name}): the configuration of trial {same.number}, "
                      "not trained again", flush=True)
                self.reused += 1
                if same.state == TrialState.PRUNED:
                    raise optuna.TrialPruned(f"as trial {same.number}")
                return same.value
            cfg = resolve_config(self.exp, self.base + assignments(sets), self.quick)
            rd.check(cfg)
            if rd.is_finished():  # a run of this configuration from before this study
                print(f"aejax tune: trial {trial.number} ({name}): finished run directory found, not trained "
                      "again", flush=True)
                self.reused += 1
                return _outcome(rd)
            print(f"aejax tune: trial {trial.number}: training {rd.path}", flush=True)
            self._train(trial, cfg, rd)
            self.trained += 1
            return _outcome(rd)

    def _wait_for_same(self, trial, name: str):
        """A finished trial of the same run (to reuse), after waiting while an earlier trial of the
        same run trains in another worker; None when this trial is to train it."""
        waited = False
        while True:
            same = [t for t in self.study.get_trials(deepcopy=False)
                    if t.number != trial.number and t.user_attrs.get("run") == name]
            done = [t for t in same if t.state in FINISHED]
            if done:
                return done[0]
            if not any(t.state == TrialState.RUNNING and t.number < trial.number for t in same):
                return None
            if not waited:
                print(f"aejax tune: trial {trial.number} ({name}): the same configuration trains in another "
                      "worker; waiting for it", flush=True)
                waited = True
            time.sleep(1.0)
            reap(self.study, self.storage, self.grace_s)

    def _train(self, trial, cfg: dict, rd: RunDir) -> None:
        """Train (or resume) the trial's run with the engine, reporting val/loss every epoch."""
        data = load_data(cfg, self.exp)
        if len(data.train) < cfg["train"]["batch_size"]:
            raise UserError(f"train.batch_size={cfg['train']['batch_size']} is larger than the "
                            f"{len(data.train)} training examples; lower it")
        _take_over(rd, self.study)
        rd.prepare(cfg)
        try:
            engine.train(self.exp, [cfg], [rd], finish=api.finish, datasets={int(cfg["seed"]): data},
                         on_epoch=_reporter(trial))
        finally:
            rd.release()


def _reporter(trial):
    """engine.train's ``on_epoch``: report val/loss to the trial; a stop reason when it is pruned."""
    def on_epoch(rd, row):
        value = row.get("val/loss")
        if value is None or not math.isfinite(value):
            return None
        trial.report(float(value), int(row["epoch"]))
        if trial.should_prune():
            return f"{PRUNED_PREFIX} at epoch {row['epoch']} (val/loss {value:.6g})"
        return None
    return on_epoch


def _outcome(rd: RunDir) -> float:
    """A finished run's objective, its best val/loss; a pruned run raises TrialPruned."""
    summary = rd.summary()
    if str(summary.get("stopped", "")).startswith(PRUNED_PREFIX):
        raise optuna.TrialPruned(summary["stopped"])
    values = [r["val/loss"] for r in rd.metrics() if isinstance(r.get("val/loss"), (int, float))]
    if not values:
        raise UserError(f"{rd.path}: metrics.jsonl has no val/loss, the objective of aejax tune "
                        "(give the experiment a validation split, e.g. --set data.val_fraction=0.1)")
    return float(min(values))


def _take_over(rd: RunDir, study: optuna.Study) -> None:
    """Remove a lock left by a worker on another host whose trials of this run are all finished or
    failed (reaped): RunDir takes over a dead process's lock on its own host only."""
    if not rd.lock_path.exists():
        return
    try:
        holder = json.loads(rd.lock_path.read_text())
    except (OSError, ValueError):
        return
    if holder.get("host") == socket.gethostname():
        return
    name = rd.path.name
    if any(t.state == TrialState.RUNNING and t.user_attrs.get("worker", {}).get("host") == holder.get("host")
           and t.user_attrs.get("run") == name for t in study.get_trials(deepcopy=False)):
        return
    print(f"aejax tune: {rd.path}: taking over the lock of process {holder.get('pid')} on {holder.get('host')}, "
          "whose trial was failed", file=sys.stderr)
    rd.lock_path.unlink(missing_ok=True)


# ---- outputs ----------------------------------------------------------------------------------

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
            ax.step([t.number for t in order], best, where="post", color="C3", label="best so far")
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
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.4 * len(names)))
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


def _print_best(best: dict | None, trained: int) -> None:
    if best is None:
        print("aejax tune: no complete trial yet", flush=True)
        return
    print(f"best trial {best['trial']}: val/loss {best['value']:.6g}  ({best['run_dir']})")
    for k, v in best["overrides"].items():
        print(f"  {k} = {json.dumps(v)}")
    print(f"  retrain: {best['command']}", flush=True)
