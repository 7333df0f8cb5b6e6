"""Several runs in one program (vectorised seeds, grouped configurations): the one loop's policies.

Each run of a group equals its own run (float tolerance), resumes from its own checkpoint after a
kill, stops on its own (early stopping, divergence) while the others train on, and a diverged run
makes the command exit 1.
"""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import api
from aejax.errors import TrainingDiverged
from aejax.projects import tabular as tabular_run
from aejax.run import builder, engine, experiment, resolve
from aejax.run.rundir import RunDir
from aejax.train import loop
from aejax.train.programs import Group
from aejax.train.step import init_state
from test_sweep import FAST, mtimes, seeds_only_experiment

RTOL, ATOL = 2e-4, 1e-5


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


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
        ra, rb = _rows(a), _rows(b)
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

    # Only the seed without summary.json trains again; a finished sweep trains nothing.
    (vec / names[1] / "summary.json").unlink()
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
        assert [r["epoch"] for r in _rows(tmp_path / "killed" / n)] == [1, 2]
    capsys.readouterr()
    api.sweep(exp, workdir=tmp_path / "killed", quick=True, overrides=sets)
    err = capsys.readouterr().err
    for n in names:
        assert f"{n} after epoch 2" in err  # resumed, not restarted
        a, b = _rows(tmp_path / "whole" / n), _rows(tmp_path / "killed" / n)
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
    args = sum((["--set", s] for s in FAST + bad + sets), [])
    out = cli("sweep", exp, "--quick", "--workdir", tmp_path / "s", *args)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "the loss is not finite" in out.stderr and "Traceback" not in out.stderr
    assert (tmp_path / "s" / "sweep.csv").exists()  # the sweep's tables are still written
    out = cli("run", exp, "--quick", "--workdir", tmp_path / "r", *sum((["--set", s] for s in FAST + bad), []))
    assert out.returncode == 1 and "the loss is not finite" in out.stderr


def test_a_diverged_member_of_the_grouped_sweep_exits_1(tmp_path, cli):
    out = cli("sweep", "seismic_columns", "--quick", "--workdir", tmp_path, "--set", "train.learning_rate=1e30")
    assert out.returncode == 1, out.stderr[-2000:]
    assert "runs diverged" in out.stderr and "Traceback" not in out.stderr


# ---- the programs and the loop, on the digits ---------------------------------------------

def _digits_group(seeds, noise=0.2):
    exp = experiment.load("mnist_dense")
    sets = ["data.name=digits", "model.hidden=[16]", "model.latent_dim=4", f"data.noise_std={noise}",
            "train.batch_size=128", "train.learning_rate=0.01", "train.progress=false"]
    cfgs = [resolve.resolve_config(exp, sets + [f"seed={s}"]) for s in seeds]
    datasets = [builder.load_data(c) for c in cfgs]
    built = builder.build(cfgs[0], datasets[0].example_shape, len(datasets[0].train))
    arrays = [builder.inputs(ds, c) for ds, c in zip(datasets, cfgs)]
    stacked = {k: np.stack([a[k] for a in arrays]) for k in arrays[0]}
    programs = Group([built.task], seeds, stacked, datasets[0].example_shape, batch_size=128, eval_batch_size=1000)
    return built, programs, datasets, arrays, cfgs


def test_group_epochs_with_denoising_keys_equal_the_trainer():
    seeds = [3, 4]
    built, programs, datasets, arrays, _ = _digits_group(seeds)
    trainer = built.trainer
    state, _ = programs.init()
    seq = []
    for s, seed in enumerate(seeds):
        st, k = init_state(built.task, datasets[s].example_shape, seed)
        np.testing.assert_array_equal(jax.random.key_data(k["data"]), jax.random.key_data(programs.keys["data"][s]))
        seq.append((trainer.put_state(st), k, trainer.put(datasets[s].train.x)))
    for epoch in (1, 2, 3):
        state, metrics = programs.epoch(state, epoch, np.ones(2, bool))
        val = programs.validate(state)
        for s in range(2):
            st, k, x = seq[s]
            st, m = trainer.epoch(st, x, k["data"], k["step"], epoch)
            seq[s] = (st, k, x)
            assert float(m["loss"]) == pytest.approx(float(metrics["loss"][s]), rel=RTOL)
            v = trainer.evaluate(st.params, arrays[s]["val_in"], arrays[s]["val"], k["eval"])
            assert float(v["loss"]) == pytest.approx(float(val["loss"][s]), rel=RTOL)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL),
                         st.params, programs.member(state, s).params)


class _Files:
    """In-memory run files: metrics rows and real checkpoints in a temporary folder."""

    def __init__(self, path):
        self.path, self.rows, self.rd = path, [], RunDir(path)
        self.checkpoints = self.rd.checkpoints

    def append_metrics(self, row):
        self.rows.append(row)

    def keep_metrics_through(self, epoch):
        self.rows = [r for r in self.rows if r["epoch"] <= epoch]


def _fit_with_fake_val(monkeypatch, tmp_path, fake: dict, epochs: int, patience: int = 0):
    """Training runs for real; validation reports ``fake[epoch]`` (one loss per seed)."""
    _, programs, _, _, _ = _digits_group([0, 1], noise=0.0)
    epoch = [0]
    real_epoch = programs.epoch

    def counting_epoch(*a, **kw):
        epoch[0] += 1
        return real_epoch(*a, **kw)

    monkeypatch.setattr(programs, "epoch", counting_epoch)
    monkeypatch.setattr(programs, "validate", lambda state: {"loss": jnp.asarray(fake[epoch[0]])})
    runs = [_Files(tmp_path / f"s{i}") for i in range(2)]
    state, best = programs.init()
    state, best, loops = loop.restore(programs, state, best, runs)
    state, best, diverged = loop.fit(programs, state, best, loops, runs, epochs=epochs, patience=patience,
                                     samples_per_epoch=1, progress=False)
    for r in runs:
        r.rd.close()
    return programs, state, best, loops, diverged, runs


def test_early_stopping_freezes_one_seed_and_the_other_trains_on(monkeypatch, tmp_path):
    # Seed 0's validation loss rises after epoch 1, seed 1's keeps falling.
    fake = {1: [1.0, 1.0], 2: [2.0, 0.5], 3: [3.0, 0.4], 4: [4.0, 0.3]}
    programs, state, best, loops, _, runs = _fit_with_fake_val(monkeypatch, tmp_path, fake, 4, patience=1)
    assert [len(r.rows) for r in runs] == [2, 4]
    assert [lp["epoch"] for lp in loops] == [2, 4] and [lp["best_epoch"] for lp in loops] == [1, 4]
    assert "early stopping" in loops[0]["stopped"]
    steps = np.asarray(programs.steps(state))
    assert steps[1] == 2 * steps[0]  # seed 0's state froze after epoch 2
    # Best states: seed 0's from epoch 1 (a fresh copy, not the frozen state).
    assert int(programs.member(best, 0).step) == steps[0] // 2 and int(programs.member(best, 1).step) == steps[1]
    # Each stopped run saved its checkpoints when it stopped.
    assert [r.checkpoints.latest_epoch() for r in runs] == [2, 4]
    assert [r.checkpoints.latest_epoch("best") for r in runs] == [1, 4]


def test_a_diverged_seed_stops_and_the_other_trains_on(monkeypatch, tmp_path, capsys):
    fake = {1: [1.0, 1.0], 2: [np.nan, 0.5], 3: [0.1, 0.4]}  # seed 0's val/loss is NaN at epoch 2
    _, _, _, loops, diverged, runs = _fit_with_fake_val(monkeypatch, tmp_path, fake, 3)
    assert list(diverged) == [0] and "epoch 2: the loss is not finite" in diverged[0]
    assert "latest: epoch 1" in diverged[0] and "aejax: " in capsys.readouterr().err
    assert runs[0].rows[1]["val/loss"] is None and len(runs[0].rows) == 2 and runs[1].rows[2]["epoch"] == 3
    assert runs[0].checkpoints.latest_epoch() == 1 and loops[1]["epoch"] == 3


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
    assert dirs[0].is_finished() and not dirs[1].is_finished()
