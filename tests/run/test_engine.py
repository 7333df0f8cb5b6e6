"""aejax.run.engine: the one loop for 1..N runs, driven through api.run / api.sweep.

A single run resumes after a kill with the parameters of an uninterrupted one, stops on a non-finite
loss (naming the epoch, keeping its checkpoints) or early. Several runs in one program (vectorised
seeds, grouped configurations) each equal their own run (float tolerance), resume from their own
checkpoint after a kill, and a diverged run makes the command exit 1 once the others have finished.
"""
import json

import jax.numpy as jnp
import numpy as np
import pytest

from aejax import api
from aejax.errors import TrainingDiverged
from aejax.projects import tabular as tabular_run
from aejax.run import engine, experiment, resolve
from aejax.run.rundir import RunDir, read_metrics
from aejax.train import loop
from aejax.train.step import Trainer
from helpers import FAST, SMALL, metrics_rows, mtimes, seeds_only_experiment, set_args

RTOL, ATOL = 2e-4, 1e-5


def test_vectorized_seeds_equal_sequential_runs_and_resume(tmp_path, monkeypatch):
    exp = seeds_only_experiment(tmp_path, n_seeds=2)
    vec, seq = tmp_path / "vec", tmp_path / "seq"
    groups = []
    real = engine.train
    monkeypatch.setattr(engine, "train",
                        lambda e, cfgs, dirs, **kw: groups.append([d.path.name for d in dirs]) or real(e, cfgs, dirs, **kw))
    api.sweep(exp, workdir=vec, quick=True, overrides=FAST + ["sweep.vectorize_seeds=true"])
    names = [f"model.latent_dim=7,seed={s}" for s in range(2)]
    assert groups == [names]  # both seeds in one program
    api.sweep(exp, workdir=seq, quick=True, overrides=FAST)
    assert groups[1:] == [[n] for n in names]  # one by one
    groups.clear()
    for name in names:
        a, b = seq / name, vec / name
        for rel in ("config.json", "metrics.jsonl", "summary.json", "checkpoints/latest", "checkpoints/best",
                    "features.csv", "scaler.json", "figures/loss.png", "figures/r2.png", "report.html"):
            assert (b / rel).exists(), (name, rel)
        assert (a / "config.json").read_text() == (b / "config.json").read_text()
        ra, rb = metrics_rows(a), metrics_rows(b)
        assert [(r["epoch"], r["step"]) for r in ra] == [(r["epoch"], r["step"]) for r in rb]
        for x, y in zip(ra, rb):
            for k in ("train/loss", "val/loss", "val/mse"):
                assert x[k] == pytest.approx(y[k], rel=RTOL, abs=ATOL), (name, k, x["epoch"])
        sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
        assert sb["runs_in_program"] == 2
        for k in ("test/loss", "test/mse", "test/mae", "test/r2_autoencoder", "best_epoch", "epochs_run"):
            assert sa[k] == pytest.approx(sb[k], rel=RTOL, abs=ATOL), (name, k)
        np.testing.assert_allclose(tabular_run.read_features(a / "features.csv")[2],
                                   tabular_run.read_features(b / "features.csv")[2], rtol=RTOL, atol=ATOL)
    # A vectorised run's checkpoint is an ordinary one.
    assert api.load_run(vec / names[1]).cfg["seed"] == 1

    # Only the seed without its completion marker is finished again; a finished sweep trains nothing.
    (vec / names[1] / ".aejax-complete").unlink()  # as if killed before its completion marker
    before = mtimes(vec)
    api.sweep(exp, workdir=vec, quick=True, overrides=FAST + ["sweep.vectorize_seeds=true"])
    assert groups == [[names[1]]]
    after = mtimes(vec)
    assert [n for n in names if after[n] != before[n]] == [names[1]]
    api.sweep(exp, workdir=vec, quick=True, overrides=FAST + ["sweep.vectorize_seeds=true"])
    assert len(groups) == 1


def _kill_after_epoch(monkeypatch, epoch: int, n_runs: int):
    """Make the next training raise KeyboardInterrupt once its ``n_runs`` runs have written
    ``epoch``'s row and checkpoint (checkpoint_every_s=0 saves each epoch): a kill between epochs."""
    real = loop._save
    seen = set()

    def save(programs, ckpt, state, best, lp, i):
        real(programs, ckpt, state, best, lp, i)
        if lp["epoch"] == epoch:
            seen.add(i)
            if len(seen) == n_runs:
                raise KeyboardInterrupt
    monkeypatch.setattr(loop, "_save", save)
    return lambda: monkeypatch.setattr(loop, "_save", real)


@pytest.mark.parametrize("experiment_name, sets, names", [
    # vectorised seeds of the housing seed
    (None, ["sweep.vectorize_seeds=true", "train.epochs=4"], [f"model.latent_dim=7,seed={s}" for s in range(2)]),
    # the grouped bottleneck sweep: m in {2, 8} x seeds {0, 1} in one program
    ("seismic_columns", ["train.epochs=4"], [f"model.latent_dim={m},seed={s}" for m in (2, 8) for s in (0, 1)]),
])
def test_a_killed_group_resumes_from_its_last_checkpoint(tmp_path, monkeypatch, capsys, experiment_name, sets,
                                                        names):
    exp = experiment_name or seeds_only_experiment(tmp_path, n_seeds=2)
    sets = FAST + sets + ["train.checkpoint_every_s=0"]
    api.sweep(exp, workdir=tmp_path / "whole", quick=True, overrides=sets)
    restore = _kill_after_epoch(monkeypatch, 2, len(names))
    with pytest.raises(KeyboardInterrupt):
        api.sweep(exp, workdir=tmp_path / "killed", quick=True, overrides=sets)
    restore()
    for n in names:
        assert not (tmp_path / "killed" / n / "summary.json").exists()
        assert [r["epoch"] for r in metrics_rows(tmp_path / "killed" / n)] == [1, 2]
    capsys.readouterr()
    api.sweep(exp, workdir=tmp_path / "killed", quick=True, overrides=sets)
    err = capsys.readouterr().err
    for n in names:
        assert f"{n} after epoch 2" in err  # resumed, not restarted
        a, b = metrics_rows(tmp_path / "whole" / n), metrics_rows(tmp_path / "killed" / n)
        assert [(r["epoch"], r["step"]) for r in a] == [(r["epoch"], r["step"]) for r in b] == \
            [(e, b[0]["step"] * e) for e in range(1, 5)]
        for x, y in zip(a, b):
            assert x["val/loss"] == pytest.approx(y["val/loss"], rel=1e-6), (n, x["epoch"])
        sa, sb = (json.loads((tmp_path / d / n / "summary.json").read_text()) for d in ("whole", "killed"))
        assert sa["test/mse"] == pytest.approx(sb["test/mse"], rel=1e-6)


@pytest.mark.parametrize("sets", [
    [],                                                    # one run
    ["sweep.vectorize_seeds=true"],                        # vectorised seeds
])
def test_a_diverged_run_exits_1_in_every_case(tmp_path, cli, sets):
    exp = seeds_only_experiment(tmp_path, n_seeds=2)
    bad = ["train.learning_rate=1e30", "train.epochs=2"]
    args = set_args(FAST + bad + sets)
    out = cli("sweep", exp, "--quick", "--workdir", tmp_path / "s", *args)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "the loss is not finite" in out.stderr and "Traceback" not in out.stderr
    assert (tmp_path / "s" / "sweep.csv").exists()  # the sweep's tables are still written
    out = cli("run", exp, "--quick", "--workdir", tmp_path / "r", *set_args(FAST + bad))
    assert out.returncode == 1 and "the loss is not finite" in out.stderr


def test_a_diverged_member_of_the_grouped_sweep_exits_1(tmp_path, cli):
    out = cli("sweep", "seismic_columns", "--quick", "--workdir", tmp_path, "--set", "train.learning_rate=1e30")
    assert out.returncode == 1, out.stderr[-2000:]
    assert "runs diverged" in out.stderr and "Traceback" not in out.stderr


def test_engine_raises_after_finishing_the_others(monkeypatch, tmp_path):
    exp = experiment.load(seeds_only_experiment(tmp_path, n_seeds=2))
    cfgs = [resolve.resolve_config(exp, FAST + [f"seed={s}", "train.epochs=2"], quick=True) for s in (0, 1)]
    dirs = [RunDir(tmp_path / f"r{s}") for s in (0, 1)]
    for c, d in zip(cfgs, dirs):
        d.prepare(c)
    real_fit = loop.fit

    def one_diverges(*a, **kw):
        state, best, _ = real_fit(*a, **kw)
        return state, best, {1: "r1: epoch 2: the loss is not finite (faked)"}
    monkeypatch.setattr(loop, "fit", one_diverges)
    with pytest.raises(TrainingDiverged, match="1 of 2 runs diverged"):
        engine.train(exp, cfgs, dirs)
    assert dirs[0].summary_path.exists() and not dirs[1].summary_path.exists()


# ---- one run (api.run) ---------------------------------------------------------------------

def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(tmp_path):
    sets = SMALL + ["train.epochs=4"]
    full = api.run("mnist_dense", workdir=tmp_path / "full", overrides=sets)
    part = api.run("mnist_dense", workdir=tmp_path / "part", overrides=sets, stop_after_epoch=2)
    assert part == {"stopped_after_epoch": 2}
    assert len(read_metrics(tmp_path / "part" / "metrics.jsonl")) == 2
    resumed = api.run("mnist_dense", workdir=tmp_path / "part", overrides=sets)
    assert resumed["epochs_run"] == full["epochs_run"] == 4
    assert resumed["test/mse"] == pytest.approx(full["test/mse"], rel=1e-6)
    a = read_metrics(tmp_path / "full" / "metrics.jsonl")
    b = read_metrics(tmp_path / "part" / "metrics.jsonl")
    assert [r["epoch"] for r in b] == [1, 2, 3, 4]
    for ra, rb in zip(a, b):
        assert ra["train/loss"] == pytest.approx(rb["train/loss"], rel=1e-6)
        assert ra["val/loss"] == pytest.approx(rb["val/loss"], rel=1e-6)
    la = np.load(tmp_path / "full" / "analysis" / "latents.npy")
    lb = np.load(tmp_path / "part" / "analysis" / "latents.npy")
    np.testing.assert_allclose(la, lb, rtol=1e-5, atol=1e-6)


def test_non_finite_loss_stops_naming_the_epoch_and_keeps_checkpoints(tmp_path, monkeypatch):
    real_epoch = Trainer.epoch

    def poisoned(self, state, x, data_key, step_key, epoch):
        state, metrics = real_epoch(self, state, x, data_key, step_key, epoch)
        if epoch == 3:
            metrics = dict(metrics, loss=jnp.float32(jnp.nan))
        return state, metrics

    monkeypatch.setattr(Trainer, "epoch", poisoned)
    sets = SMALL + ["train.epochs=5", "train.checkpoint_every_s=0.0"]
    with pytest.raises(TrainingDiverged, match="epoch 3: the loss is not finite"):
        api.run("mnist_dense", workdir=tmp_path, overrides=sets)
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[-1]["train/loss"] is None
    # Epochs 1 and 2 were saved (and sealed); nothing of the diverged epoch 3.
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "latest").iterdir()) == ["1", "1.sha256", "2", "2.sha256"]


def test_early_stopping(tmp_path):
    # A learning rate this small cannot improve val/loss by much: patience 2 stops it.
    sets = SMALL + ["train.epochs=50", "train.patience=2", "train.learning_rate=1e-9"]
    summary = api.run("mnist_dense", workdir=tmp_path, overrides=sets)
    assert summary["epochs_run"] < 50
    assert summary["stopped"].startswith("early stopping")
    assert summary["best_epoch"] == summary["epochs_run"] - 2
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["train"]["patience"] == 2
