"""The training engine: one trace per step, resume, divergence, early stopping."""
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import api, models
from aejax.errors import UserError
from aejax.run.rundir import read_metrics
from aejax.errors import TrainingDiverged
from aejax.train.step import Task, Trainer, init_state, make_optimizer, optimizer_from_config

SMALL = ["data.name=digits", "model.hidden=[32]", "model.latent_dim=8", "train.batch_size=64",
         "train.eval_batch_size=128", "train.progress=false", "analysis.enabled=false"]


def _task(noise=0.0):
    model = models.build({"name": "dense", "hidden": [16], "latent_dim": 4}, (8, 8, 1))
    return Task(model, make_optimizer("adam", 1e-3), "mse", noise)


@pytest.fixture
def traced_once(monkeypatch):
    """Every compiled function of a Trainer may be traced once (``chex.assert_max_traces``);
    calling the fixture's value starts the count afresh (for the next Trainer)."""
    for name in ("_epoch_mesh", "_step_mesh", "_eval_impl", "_predict_impl"):
        monkeypatch.setattr(Trainer, name, chex.assert_max_traces(getattr(Trainer, name), n=1))
    chex.clear_trace_counter()
    yield chex.clear_trace_counter
    chex.clear_trace_counter()


def test_a_step_loop_epoch_gives_the_scanned_epoch_numbers(traced_once):
    task = _task(noise=0.1)
    x_host = np.random.default_rng(1).uniform(size=(130, 8, 8, 1)).astype(np.float32)
    out = []
    for scan in (True, False):
        traced_once()
        trainer = Trainer(task, batch_size=32, devices=jax.devices()[:1], scan_epoch=scan)
        state, keys = init_state(task, (8, 8, 1), 0)
        state, x = trainer.put_state(state), trainer.put(x_host)
        for epoch in (1, 2):
            state, metrics = trainer.epoch(state, x, keys["data"], keys["step"], epoch)
        out.append((jax.device_get(state.params), float(metrics["loss"])))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), out[0][0], out[1][0])
    assert out[0][1] == pytest.approx(out[1][1], rel=1e-5)


def test_epoch_and_step_are_traced_once(traced_once):
    task = _task(noise=0.1)
    trainer = Trainer(task, batch_size=32, eval_batch_size=64, devices=jax.devices()[:1])
    x = trainer.put(np.random.default_rng(0).uniform(size=(200, 8, 8, 1)).astype(np.float32))
    state, keys = init_state(task, (8, 8, 1), 0)
    state = trainer.put_state(state)
    for epoch in range(1, 4):
        state, metrics = trainer.epoch(state, x, keys["data"], keys["step"], epoch)
    assert int(state.step) == 3 * (200 // 32)  # the ragged last batch is dropped
    # 200 = 3 full eval batches of 64 + a ragged 8: padded and masked, one trace.
    for _ in range(2):
        m = trainer.evaluate(state.params, x, x, keys["eval"])
    # The masked mean equals the plain mean over all 200 examples.
    recon = task.model.apply({"params": state.params}, x)
    np.testing.assert_allclose(float(m["mse"]), float(jnp.mean((recon - x) ** 2)), rtol=1e-5)
    with pytest.raises(AssertionError, match="traced > 1 times"):  # the check is live: a new shape retraces
        trainer.evaluate(state.params, x[:10], x[:10], keys["eval"])


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


def test_cosine_schedule_decays_the_step_to_zero_over_the_run():
    """SGD makes the applied update -lr(t) * g: full rate at step 0, half at the middle, 0 at the end."""
    t = {"optimizer": "sgd", "learning_rate": 0.1, "lr_schedule": "cosine", "epochs": 2}
    tx = optimizer_from_config(t, steps_per_epoch=5)  # 10 steps in all
    params = {"w": jnp.zeros(())}
    state = tx.init(params)
    sizes = []
    for _ in range(11):
        update, state = tx.update({"w": jnp.ones(())}, state, params)
        sizes.append(-float(update["w"]))
    assert sizes[0] == pytest.approx(0.1) and sizes[5] == pytest.approx(0.05) and sizes[10] == pytest.approx(0.0)
    const = optimizer_from_config(dict(t, lr_schedule="constant"), steps_per_epoch=5)
    assert -float(const.update({"w": jnp.ones(())}, const.init(params), params)[0]["w"]) == pytest.approx(0.1)


def _sgd_step_sizes(t, steps_per_epoch, n):
    tx = optimizer_from_config(t, steps_per_epoch=steps_per_epoch)
    params = {"w": jnp.zeros(())}
    state, sizes = tx.init(params), []
    for _ in range(n):
        update, state = tx.update({"w": jnp.ones(())}, state, params)
        sizes.append(-float(update["w"]))
    return np.array(sizes)


def test_warmup_ramps_linearly_then_follows_the_schedule():
    """warmup_epochs=1 of 4 steps: rates 0, 1/4, 2/4, 3/4 of lr, then the constant rate or the
    cosine over the remaining 8 steps (full rate where it starts, half-way at its middle, 0 at the end)."""
    t = {"optimizer": "sgd", "learning_rate": 0.1, "lr_schedule": "constant", "epochs": 3, "warmup_epochs": 1}
    np.testing.assert_allclose(_sgd_step_sizes(t, 4, 6), [0, 0.025, 0.05, 0.075, 0.1, 0.1], atol=1e-7)
    cos = _sgd_step_sizes(dict(t, lr_schedule="cosine"), 4, 13)
    np.testing.assert_allclose(cos[:5], [0, 0.025, 0.05, 0.075, 0.1], atol=1e-7)
    np.testing.assert_allclose(cos[[8, 12]], [0.05, 0.0], atol=1e-7)


def test_adam_keras_adds_eps_to_the_uncorrected_root():
    """Keras' Adam = optax's with eps / sqrt(1 - b2^t): at step t=1 a gradient g moves by lr * g / (|g| + eps / sqrt(1e-3))."""
    g = jnp.array([1e-2, 1e-5, -1e-6, 0.0])
    tx = make_optimizer("adam_keras", 1e-3, adam_eps=1e-7)
    update, state = tx.update(g, tx.init(g))
    np.testing.assert_allclose(-update, 1e-3 * g / (jnp.abs(g) + 1e-7 / np.sqrt(1e-3)), rtol=1e-5)
    # After many steps the correction is gone: the same moments give optax's Adam update.
    adam_state = state[0]._replace(count=jnp.array(20_000, jnp.int32))
    a, _ = tx.update(g, (adam_state, *state[1:]))
    plain = make_optimizer("adam", 1e-3, adam_eps=1e-7)
    plain_init = plain.init(g)
    b, _ = plain.update(g, (plain_init[0]._replace(count=adam_state.count, mu=adam_state.mu, nu=adam_state.nu),
                            *plain_init[1:]))
    np.testing.assert_allclose(a, b, rtol=1e-4)


def test_resume_refuses_a_different_config(tmp_path):
    api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=1"])
    with pytest.raises(UserError, match="different config.*train.learning_rate"):
        api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.learning_rate=0.1"])


def test_resume_accepts_a_run_written_before_a_key_existed(tmp_path):
    """A config.json without train.warmup_epochs (older aejax) resumes when the key keeps its
    default (the behaviour it had then), and is refused when the new run sets it."""
    api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=1"])
    cfg = json.loads((tmp_path / "config.json").read_text())
    del cfg["train"]["warmup_epochs"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=2"])["epochs_run"] == 2
    (tmp_path / "config.json").write_text(json.dumps(cfg))  # the resumed run rewrote it with the key
    with pytest.raises(UserError, match="different config.*train.warmup_epochs"):
        api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=3", "train.warmup_epochs=1"])


def test_corrupt_checkpoint_is_a_clear_error_and_nothing_is_deleted(tmp_path):
    api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=1"])
    latest = tmp_path / "checkpoints" / "latest" / "1" / "state"
    for f in latest.rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(b"garbage")
    with pytest.raises(UserError, match=r"checkpoints/latest/1: cannot restore"):
        api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=2"])
    assert (tmp_path / "summary.json").exists() and (tmp_path / "metrics.jsonl").exists()


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
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "latest").iterdir()) == ["2"]


def test_early_stopping(tmp_path):
    # A learning rate this small cannot improve val/loss by much: patience 2 stops it.
    sets = SMALL + ["train.epochs=50", "train.patience=2", "train.learning_rate=1e-9"]
    summary = api.run("mnist_dense", workdir=tmp_path, overrides=sets)
    assert summary["epochs_run"] < 50
    assert summary["stopped"].startswith("early stopping")
    assert summary["best_epoch"] == summary["epochs_run"] - 2
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["train"]["patience"] == 2
