"""One worker of a study: the trial loop, the objective (one run directory per configuration),
heartbeats, and the reaping and retrying of trials whose worker is gone."""
from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from aejax import api
from aejax.errors import Interrupted, TrainingDiverged, UserError
from aejax.run import engine
from aejax.run.builder import load_data
from aejax.run.resolve import resolve_config
from aejax.run.rundir import RunDir, alive
from aejax.run.sweep import assignments, run_name
from aejax.tune.storage import overrides_of

HEARTBEAT_S = 10     # a running trial's worker refreshes its heartbeat this often ...
GRACE_S = 120        # ... and is taken for dead (on another host) after this long without one
MAX_RETRY = 3        # a trial lost with its worker is retried at most this many times
MAX_DUPLICATES = 20  # this many duplicates in a row: the sampler has nothing new to propose
MAX_FAILURES = 5     # this many failed (diverged) trials in a row stop the worker (exit 1)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
PRUNED_PREFIX = "pruned by optuna"


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
            why = None if alive(w.get("pid")) else f"its worker, process {w.get('pid')}, is gone"
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


class Worker:
    """One process working on the study: the trial loop and the objective."""

    def __init__(self, exp, study, storage, tune_dir: Path, base: list[str], quick: bool, heartbeat_s, grace_s):
        self.exp, self.study, self.storage, self.tune_dir = exp, study, storage, tune_dir
        self.base, self.quick = base, quick
        self.heartbeat_s, self.grace_s = heartbeat_s, grace_s
        self.trained = self.reused = 0
        self.current = self.error = self.pruned = None

    def loop(self, n: int) -> None:
        dups = fails = 0
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
            self.current, self.error, self.pruned = None, None, None
            try:
                self.study.optimize(self._objective, n_trials=1, catch=(TrainingDiverged,))
            except (Interrupted, KeyboardInterrupt):
                t = _trial(self.study, self.current) if self.current is not None else None
                if t is not None and t.state == TrialState.FAIL:  # a rerun resumes its run from its checkpoints
                    _retry(self.study, t)
                raise
            if self.current is None:
                continue
            last = _trial(self.study, self.current)
            dups = dups + 1 if "duplicate_of" in last.user_attrs else 0
            fails = fails + 1 if last.state == TrialState.FAIL else 0
            print(f"aejax tune: trial {last.number} " + (
                f"complete: val/loss {last.value:.6g}" if last.state == TrialState.COMPLETE else
                f"pruned ({self.pruned})" if last.state == TrialState.PRUNED else f"failed: {self.error}"), flush=True)
            if fails >= MAX_FAILURES:
                raise TrainingDiverged(f"tune: {fails} trials in a row failed (the last: {self.error}); "
                                       "narrow the search space (e.g. its learning rates)")

    def _objective(self, trial) -> float:
        self.current = trial.number
        try:
            return self._run_trial(trial)
        except TrainingDiverged as e:
            self.error = str(e)
            raise
        except optuna.TrialPruned as e:
            self.pruned = str(e)
            raise

    def _run_trial(self, trial) -> float:
        sets = overrides_of(self.exp, trial)
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

