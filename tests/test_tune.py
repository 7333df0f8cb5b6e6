"""``aejax tune``: workers sharing one Optuna study, pruning, duplicates, lost workers, the hooks.

The trainings use a light housing_deep (quick, no latent analysis, no tabular outputs) with a
small search space, so each trial takes a second or two.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from aejax import cli, tune
from aejax.tune import storage as tune_storage
from aejax.run import experiment
from helpers import FAST, ROOT, metrics_rows, set_args, write_experiment

#: housing_deep (quick) with a search space of 16 configurations
LIGHT = '''"""housing_deep with a small search space (tests of aejax tune)."""
from aejax.run import experiment

_base = experiment.load("housing_deep")
get_config, quick, prepare_data = _base.get_config, _base.quick, _base.prepare_data


def search_space(trial):
    return {"model.latent_dim": trial.suggest_int("code_size", 2, 9),
            "train.learning_rate": trial.suggest_categorical("learning_rate", [0.001, 0.003])}
'''


def _study(storage, workdir):
    """The study the CLI made (its default name: <experiment>/<tune directory name>)."""
    return optuna.load_study(study_name=f"light/{Path(workdir).name}", storage=storage)


def _journal(workdir):
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    return JournalStorage(JournalFileBackend(str(Path(workdir) / "study.journal")))


def _worker(exp, workdir, *args):
    return subprocess.Popen([sys.executable, "-m", "aejax", "tune", exp, "--quick", "--workdir", str(workdir),
                             *set_args(FAST), *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def test_hooks_of_housing_deep_and_mnist_dense_resolve():
    """The experiments' spaces: the seed's hyperparameters; code size and learning rate."""
    housing = tune_storage.probe(experiment.load("housing_deep"), [], True)
    assert set(housing) == {"layers", "units", "code_size", "activation", "optimizer", "learning_rate"}
    assert set(tune_storage.probe(experiment.load("mnist_dense"), [], True)) == {"code_size", "learning_rate"}
    g = tune_storage.grid(housing)
    assert g["code_size"] == list(range(2, 11)) and g["optimizer"] == ["adam", "rmsprop", "momentum"]
    assert g["learning_rate"][0] == pytest.approx(1e-4) and g["learning_rate"][1] == pytest.approx(1e-3)


def test_no_search_space_or_bad_arguments_exit_2(tmp_path, capsys):
    assert cli.main(["tune", "mnist_conv", "--quick", "--trials", "2", "--workdir", str(tmp_path / "t")]) == 2
    assert "defines no search_space(trial) hook" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
    exp = write_experiment(tmp_path, LIGHT, "light.py")
    assert cli.main(["tune", exp, "--quick", "--trials", "0", "--workdir", str(tmp_path / "t")]) == 2
    assert "--trials 0: expected an integer >= 1" in capsys.readouterr().err
    assert cli.main(["tune", exp, "--quick", "--trials", "1", "--workdir", str(tmp_path / "t"),
                     "--storage", "nowhere"]) == 2
    assert "--storage 'nowhere': expected" in capsys.readouterr().err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert cli.main(["tune", exp, "--quick", "--trials", "1", "--workdir", str(tmp_path / "other")]) == 2
    assert "not an aejax tune directory" in capsys.readouterr().err


def test_two_concurrent_workers_share_one_study_and_a_third_trains_nothing(tmp_path):
    exp, work = write_experiment(tmp_path, LIGHT, "light.py"), tmp_path / "tune"
    storage = f"sqlite:///{tmp_path / 'S' / 'study.db'}"
    procs = [_worker(exp, work, "--trials", 3, "--storage", storage) for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    study = _study(storage, work)
    counted = [t for t in study.trials if t.state in tune.FINISHED and "duplicate_of" not in t.user_attrs]
    assert len(counted) >= 3
    assert len({t.user_attrs["run"] for t in counted}) == len(counted)  # distinct configurations
    assert {t.user_attrs["worker"]["pid"] for t in study.trials} <= {p.pid for p in procs}  # (both, unless one
    # started so late that the other had finished every trial)
    for t in counted:  # each run trained once: one metrics row per epoch
        rows = metrics_rows(work / t.user_attrs["run"])
        assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    table = list(csv.DictReader((work / "tune.csv").open()))
    assert len(table) == len(study.trials) and {"number", "state", "value", "run"} <= set(table[0])
    best = json.loads((work / "best_config.json").read_text())
    assert best["value"] == min(t.value for t in study.trials if t.state == TrialState.COMPLETE)
    assert (work / "report.html").is_file() and (work / "figures" / "tune_history.png").is_file()

    stamps = {p: p.stat().st_mtime_ns for p in work.glob("*/metrics.jsonl")}
    n = len(study.trials)
    again = tune.tune(exp, trials=3, storage=storage, workdir=work, overrides=FAST, quick=True)
    assert len(_study(storage, work).trials) == n  # nothing new asked, nothing trained
    assert {p: p.stat().st_mtime_ns for p in work.glob("*/metrics.jsonl")} == stamps
    assert again["trial"] == best["trial"]


def test_pruned_trial_is_recorded_and_a_duplicate_is_not_trained(tmp_path, capsys):
    exp, work = write_experiment(tmp_path, LIGHT, "light.py"), tmp_path / "tune"
    prune_all = optuna.pruners.ThresholdPruner(upper=1e-9)  # any val/loss is above it: pruned at epoch 1
    assert tune.tune(exp, trials=1, workdir=work, overrides=FAST, quick=True, pruner=prune_all) is None
    study = optuna.load_study(study_name="light/tune", storage=_journal(work))
    (t0,) = study.trials
    assert t0.state == TrialState.PRUNED and list(t0.intermediate_values) == [1]
    summary = json.loads((work / t0.user_attrs["run"] / "summary.json").read_text())
    assert summary["stopped"].startswith("pruned by optuna at epoch 1") and summary["epochs_run"] == 1
    assert list(csv.DictReader((work / "tune.csv").open()))[0]["state"] == "PRUNED"
    assert not (work / "best_config.json").exists()
    assert "at least 2 complete trials" in (work / "report.html").read_text()

    stamp = (work / t0.user_attrs["run"] / "metrics.jsonl").stat().st_mtime_ns
    study.enqueue_trial(t0.params)  # the sampler proposing a finished configuration again
    best = tune.tune(exp, trials=2, workdir=work, overrides=FAST, quick=True, pruner="none")
    trials = optuna.load_study(study_name="light/tune", storage=_journal(work)).trials
    assert trials[1].state == TrialState.PRUNED and trials[1].user_attrs["duplicate_of"] == 0
    assert (work / t0.user_attrs["run"] / "metrics.jsonl").stat().st_mtime_ns == stamp  # not trained again
    assert "not trained again" in capsys.readouterr().out
    counted = [t for t in trials if t.state in tune.FINISHED and "duplicate_of" not in t.user_attrs]
    assert len(counted) == 2 and best["trial"] == counted[-1].number
    assert json.loads((work / "best_config.json").read_text())["run_dir"] == str(work / counted[-1].user_attrs["run"])


def test_a_killed_workers_trial_is_failed_and_retried(tmp_path, capsys):
    # SQLite: a killed worker's lock goes with it (one killed while appending to a journal file leaves
    # the file's lock, which the next worker breaks after Optuna's 30 s grace period)
    exp, work = write_experiment(tmp_path, LIGHT, "light.py"), tmp_path / "tune"
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["--trials", 1, "--pruner", "none", "--set", "train.epochs=100", "--storage", storage]
    proc = _worker(exp, work, *args)
    deadline = time.time() + 240
    while not any(len(p.read_text().splitlines()) >= 2 for p in work.glob("*/metrics.jsonl")):
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() else "timeout"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    tune.tune(exp, trials=1, workdir=work, overrides=FAST + ["train.epochs=100"], quick=True, pruner="none",
              storage=storage)
    assert "marked failed, enqueued again" in capsys.readouterr().out
    t0, t1 = _study(storage, work).trials
    assert t0.state == TrialState.FAIL and t1.state == TrialState.COMPLETE
    assert t1.params == t0.params and t1.system_attrs["failed_trial"] == 0 and t1.user_attrs["retry_of"] == 0
    rows = metrics_rows(work / t1.user_attrs["run"])  # resumed from the killed run's checkpoint
    assert [r["epoch"] for r in rows] == list(range(1, 101))


def test_reap_fails_lost_trials_once_and_spares_live_ones(tmp_path):
    storage = _journal(tmp_path)
    study = optuna.create_study(study_name="s", storage=storage)
    lost, remote, mine = (study.ask() for _ in range(3))
    for t, host, pid, beat in [(lost, "elsewhere", 1, time.time() - 1000), (remote, "elsewhere", 1, time.time()),
                               (mine, socket.gethostname(), os.getpid(), time.time() - 1000)]:
        t.suggest_int("x", 0, 9)
        t.set_user_attr("worker", {"host": host, "pid": pid})
        t.set_user_attr("heartbeat", beat)
    assert tune.reap(study, storage, grace_s=60) == [lost.number]
    assert tune.reap(study, storage, grace_s=60) == []  # failed once, enqueued once
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING, TrialState.WAITING]
    assert study.trials[3].params == study.trials[0].params


def test_a_study_of_another_setup_is_refused(tmp_path):
    storage = _journal(tmp_path)
    tune_storage.open_study("s", storage, None, None, {"experiment": "light", "quick": True, "overrides": []})
    with pytest.raises(Exception, match="made for another setup .*quick: true there, false here"):
        tune_storage.open_study("s", storage, None, None, {"experiment": "light", "quick": False, "overrides": []})
