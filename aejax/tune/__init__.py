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
  resumes from the checkpoints the dead worker left; a worker killed while appending to a journal
  file leaves that file's lock, which Optuna breaks after 30 s);
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

Code: :mod:`aejax.tune.storage` (storage URLs, the study, samplers, pruners),
:mod:`aejax.tune.worker` (the trial loop, heartbeats, lost trials), :mod:`aejax.tune.outputs`.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Iterable

import optuna

from aejax import jaxsetup
from aejax.errors import UserError
from aejax.run import experiment as experiment_lib
from aejax.run.resolve import default_workdir, resolve_config
from aejax.run.rundir import atomic_write
from aejax.tune.outputs import best_config, write_outputs
from aejax.tune.storage import PRUNERS, SAMPLERS, claim, grid, open_storage, open_study, probe, pruner_named, \
    redact, sampler_named, storage_file, store_url
from aejax.tune.worker import FINISHED, GRACE_S, HEARTBEAT_S, Worker, reap

__all__ = ["tune", "write_outputs", "best_config", "reap", "grid", "FINISHED", "SAMPLERS", "PRUNERS"]


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
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # aejax prints each trial's outcome itself
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = probe(exp, base, quick)  # the search space checked before anything is written
    tune_dir = Path(workdir) if workdir else default_workdir(
        exp.name, {"name": "tune-quick" if quick else "tune"}, base)
    storage_file(storage)  # a bad --storage is refused before the tune directory is made
    claim(tune_dir)
    store = open_storage(storage, tune_dir)
    name = study or f"{exp.name}/{tune_dir.name}"
    st = open_study(name, store, sampler_named(sampler, space), pruner_named(pruner, cfg0["train"]["epochs"]),
                    {"experiment": exp.ref, "quick": quick, "overrides": base})
    print(f"aejax tune: study {name!r} in {redact(storage or store_url(tune_dir))}, tune directory {tune_dir}",
          flush=True)
    worker = Worker(exp, st, store, tune_dir, base, quick, heartbeat_s, grace_s)
    try:
        worker.loop(trials)
    finally:
        write_outputs(st, tune_dir, exp.name)
    best = best_config(st, tune_dir, exp.name)
    _print_best(best)
    if best is not None:
        atomic_write(tune_dir / "best_config.json", json.dumps(best, indent=2) + "\n")
        write_outputs(st, tune_dir, exp.name)  # the report shows best_config.json
    return best


def _print_best(best: dict | None) -> None:
    if best is None:
        print("aejax tune: no complete trial yet", flush=True)
        return
    print(f"best trial {best['trial']}: val/loss {best['value']:.6g}  ({best['run_dir']})")
    for k, v in best["overrides"].items():
        print(f"  {k} = {json.dumps(v)}")
    print(f"  retrain: {best['command']}", flush=True)

