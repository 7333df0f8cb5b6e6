"""Vectorised seeds (``--set sweep.vectorize_seeds=true``): one program, results equal to sequential runs."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import runner, sweep, tabular_run
from aejax.train import vectorized
from aejax.train.step import init_state
from test_sweep import FAST, mtimes, seeds_only_experiment

RTOL, ATOL = 2e-4, 1e-5


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_vectorized_seeds_equal_sequential_runs_and_resume(tmp_path, monkeypatch):
    exp = seeds_only_experiment(tmp_path, n_seeds=2)
    vec, seq = tmp_path / "vec", tmp_path / "seq"
    groups = []
    real = vectorized.train_seeds
    monkeypatch.setattr(vectorized, "train_seeds",
                        lambda cfgs, dirs, **kw: groups.append([d.name for d in dirs]) or real(cfgs, dirs, **kw))
    sweep.run_sweep(exp, workdir=vec, quick=True, overrides=FAST + ["sweep.vectorize_seeds=true"])
    names = [f"model.latent_dim=7,seed={s}" for s in range(2)]
    assert groups == [names]  # both seeds in one program
    sweep.run_sweep(exp, workdir=seq, quick=True, overrides=FAST)
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
        assert sb["vectorized_seeds"] == 2
        for k in ("test/loss", "test/mse", "test/mae", "test/r2_autoencoder", "best_epoch", "epochs_run"):
            assert sa[k] == pytest.approx(sb[k], rel=RTOL, abs=ATOL), (name, k)
        np.testing.assert_allclose(tabular_run.read_features(a / "features.csv")[2],
                                   tabular_run.read_features(b / "features.csv")[2], rtol=RTOL, atol=ATOL)
    # A vectorised run's checkpoint is an ordinary one.
    assert runner.load_run(vec / names[1]).cfg["seed"] == 1

    # Resume: only the seed without summary.json trains; a finished sweep trains nothing.
    (vec / names[1] / "summary.json").unlink()
    before = mtimes(vec)
    sweep.run_sweep(exp, workdir=vec, quick=True, overrides=FAST + ["sweep.vectorize_seeds=true"])
    assert groups == [names, [names[1]]]
    after = mtimes(vec)
    assert [n for n in names if after[n] != before[n]] == [names[1]]
    sweep.run_sweep(exp, workdir=vec, quick=True, overrides=FAST + ["sweep.vectorize_seeds=true"])
    assert len(groups) == 2


def _digits_programs(seeds, noise=0.2):
    from aejax import experiment
    exp = experiment.load("mnist_dense")
    sets = ["data.name=digits", "model.hidden=[16]", "model.latent_dim=4", f"data.noise_std={noise}",
            "train.batch_size=128", "train.learning_rate=0.01"]
    cfgs = [runner.resolve_config(exp, sets + [f"seed={s}"]) for s in seeds]
    datasets = vectorized.load_seed_data(cfgs)
    task, trainer, programs = vectorized.build(cfgs[0], datasets[0].example_shape, len(seeds), len(datasets[0].train))
    arrays = {k: programs.put(v) for k, v in vectorized.seed_arrays(datasets, cfgs, noise).items()}
    return task, trainer, programs, datasets, arrays


def test_vectorized_epochs_with_denoising_keys_equal_the_trainer():
    seeds = [3, 4]
    task, trainer, programs, datasets, arrays = _digits_programs(seeds)
    state, keys = programs.init(seeds)
    programs.compile_epoch(state, arrays["train"], keys["data"], keys["step"])
    seq = []
    for s, seed in enumerate(seeds):
        st, k = init_state(task, datasets[s].example_shape, seed)
        np.testing.assert_array_equal(jax.random.key_data(k["data"]), jax.random.key_data(keys["data"][s]))
        seq.append((trainer.put_state(st), k, trainer.put(datasets[s].train.x)))
    for epoch in (1, 2, 3):
        state, metrics = programs.epoch(state, arrays["train"], keys["data"], keys["step"], epoch, np.ones(2, bool))
        val = programs.evaluate(state.params, arrays["val_in"], arrays["val"], keys["eval"])
        for s in range(2):
            st, k, x = seq[s]
            st, m = trainer.epoch(st, x, k["data"], k["step"], epoch)
            seq[s] = (st, k, x)
            assert float(m["loss"]) == pytest.approx(float(metrics["loss"][s]), rel=RTOL)
            v = trainer.evaluate(st.params, arrays["val_in"][s], arrays["val"][s], k["eval"])
            assert float(v["loss"]) == pytest.approx(float(val["loss"][s]), rel=RTOL)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[s], rtol=RTOL, atol=ATOL),
                         st.params, state.params)


def _fake_val_losses(monkeypatch, programs, fake: dict) -> None:
    """Training runs for real; validation reports ``fake[epoch]`` (one loss per seed)."""
    epoch = [0]
    real_epoch = programs.epoch

    def counting_epoch(*a, **kw):
        epoch[0] += 1
        return real_epoch(*a, **kw)

    monkeypatch.setattr(programs, "epoch", counting_epoch)
    monkeypatch.setattr(programs, "evaluate", lambda *a: {"loss": jnp.asarray(fake[epoch[0]])})


def test_early_stopping_freezes_one_seed_and_the_other_trains_on(monkeypatch):
    seeds = [0, 1]
    _, _, programs, _, arrays = _digits_programs(seeds, noise=0.0)
    # Seed 0's validation loss rises after epoch 1, seed 1's keeps falling.
    fake = {1: [1.0, 1.0], 2: [2.0, 0.5], 3: [3.0, 0.4], 4: [4.0, 0.3]}
    _fake_val_losses(monkeypatch, programs, fake)
    rows = []
    res = vectorized.fit_seeds(programs, seeds, arrays, epochs=4, patience=1,
                               on_epoch=lambda e, r: rows.append([x is not None for x in r]))
    assert rows == [[True, True], [True, True], [False, True], [False, True]]
    assert [lp["epoch"] for lp in res["loops"]] == [2, 4] and [lp["best_epoch"] for lp in res["loops"]] == [1, 4]
    assert "early stopping" in res["loops"][0]["stopped"]
    steps = np.asarray(res["state"].step)
    assert steps[1] == 2 * steps[0]  # seed 0's state froze after epoch 2
    # Best states: seed 0's from epoch 1 (a fresh copy, not the frozen state).
    assert int(res["best"].step[0]) == steps[0] // 2 and int(res["best"].step[1]) == steps[1]


def test_a_diverged_seed_stops_with_the_engines_message_and_the_other_trains_on(monkeypatch):
    seeds = [0, 1]
    _, _, programs, _, arrays = _digits_programs(seeds, noise=0.0)
    fake = {1: [1.0, 1.0], 2: [np.nan, 0.5], 3: [0.1, 0.4]}  # seed 0's val/loss is NaN at epoch 2
    _fake_val_losses(monkeypatch, programs, fake)
    rows = []
    res = vectorized.fit_seeds(programs, seeds, arrays, epochs=3, on_epoch=lambda e, r: rows.append(r))
    assert list(res["diverged"]) == [0] and res["diverged"][0].startswith("epoch 2: the loss is not finite")
    assert rows[1][0]["val/loss"] is None and rows[2][0] is None and rows[2][1]["epoch"] == 3
    assert [lp["epoch"] for lp in res["loops"]] == [1, 3] and [lp["best_epoch"] for lp in res["loops"]] == [1, 3]
