"""aejax.train.step: the Trainer (one trace per step, scanned or stepped epochs, data parallelism on
several devices) and the optimizers (schedules, warmup, Keras' Adam)."""
import os
import subprocess
import sys
import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import models
from aejax.train.step import Task, Trainer, init_state, make_optimizer, optimizer_from_config


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


def _assert_scanned_equals_looped(task, x_host, batch_size, before_each=lambda: None):
    """Two epochs scanned and two looped from the same state: the same parameters and loss."""
    out = []
    for scan in (True, False):
        before_each()
        trainer = Trainer(task, batch_size=batch_size, devices=jax.devices()[:1], scan_epoch=scan)
        state, keys = init_state(task, x_host.shape[1:], 0)
        state, x = trainer.put_state(state), trainer.put(x_host)
        for epoch in (1, 2):
            state, metrics = trainer.epoch(state, x, keys["data"], keys["step"], epoch)
        out.append((jax.device_get(state.params), float(metrics["loss"])))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), out[0][0], out[1][0])
    assert out[0][1] == pytest.approx(out[1][1], rel=1e-5)


def test_a_step_loop_epoch_gives_the_scanned_epoch_numbers(traced_once):
    x_host = np.random.default_rng(1).uniform(size=(130, 8, 8, 1)).astype(np.float32)
    _assert_scanned_equals_looped(_task(noise=0.1), x_host, 32, before_each=traced_once)


def test_a_scanned_conv_epoch_gives_the_step_loop_numbers():
    """Inside the scan the convolutions take common.conv_same_loop's gradients (on CPU), outside XLA's."""
    # enc_1 (8 input channels) and dec_0 are convolutions (the first layer is tap rows)
    model = models.build({"name": "conv", "encoder": [[8, 3], [4, 3]], "decoder": [[4, 3], [8, 3]]}, (8, 8, 1))
    x_host = np.random.default_rng(1).uniform(size=(96, 8, 8, 1)).astype(np.float32)
    _assert_scanned_equals_looped(Task(model, make_optimizer("adam", 1e-3), "bce"), x_host, 16)


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


# ---- data parallelism ----------------------------------------------------------------------
# Data parallelism on 4 emulated CPU devices gives the numbers of one device. XLA_FLAGS must be set
# before jax is imported, so the check runs in a subprocess.

PARALLEL_SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    assert jax.device_count() == 4, jax.devices()
    from aejax import models
    from aejax.train.step import Task, Trainer, init_state, make_optimizer

    model = models.build({"name": "dense", "hidden": [32], "latent_dim": 8}, (8, 8, 1))
    task = Task(model, make_optimizer("adam", 1e-2), "mse", noise_std=0.1)
    x_host = np.random.default_rng(0).uniform(size=(300, 8, 8, 1)).astype(np.float32)

    def train(devices, strategy):
        trainer = Trainer(task, batch_size=64, eval_batch_size=100, strategy=strategy, devices=devices)
        state, keys = init_state(task, (8, 8, 1), 0)
        state, x = trainer.put_state(state), trainer.put(x_host)
        for epoch in (1, 2, 3):
            state, metrics = trainer.epoch(state, x, keys["data"], keys["step"], epoch)
        params = trainer.get_state(state).params
        val = trainer.evaluate(params, x, x, keys["eval"])
        return jax.device_get(params), float(metrics["loss"]), float(val["mse"])

    one = train(jax.devices()[:1], "mesh")
    for strategy in ("mesh", "pmap"):
        many = train(jax.devices(), strategy)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5), one[0], many[0])
        np.testing.assert_allclose(one[1:], many[1:], rtol=1e-4)
        print(strategy, "matches one device:", one[1:], many[1:])
""")


def test_mesh_and_pmap_on_four_devices_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", PARALLEL_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "mesh matches" in out.stdout and "pmap matches" in out.stdout


def test_grad_clipping_keys_clip_by_value_then_by_global_norm():
    """train.grad_clip_value clips each element, train.grad_clip_norm the global norm; 0 = off and
    then the optimizer (and its state's structure) is the plain one."""
    t = {"optimizer": "sgd", "learning_rate": 1.0, "lr_schedule": "constant", "epochs": 1}
    params = {"a": jnp.zeros(2), "b": jnp.zeros(())}
    grads = {"a": jnp.array([30.0, -40.0]), "b": jnp.array(0.5)}

    def update(**clip):
        tx = optimizer_from_config(dict(t, **clip), steps_per_epoch=1)
        return jax.tree.map(lambda u: -np.asarray(u), tx.update(grads, tx.init(params), params)[0])

    plain = update()
    np.testing.assert_allclose(plain["a"], [30, -40])
    by_value = update(grad_clip_value=5.0)
    np.testing.assert_allclose(by_value["a"], [5, -5]) and np.testing.assert_allclose(by_value["b"], 0.5)
    by_norm = update(grad_clip_norm=1.0)
    norm = np.sqrt(30 ** 2 + 40 ** 2 + 0.5 ** 2)
    np.testing.assert_allclose(by_norm["a"], np.array([30, -40]) / norm, rtol=1e-6)
    assert np.sqrt(sum(np.sum(v ** 2) for v in by_norm.values())) == pytest.approx(1.0, rel=1e-6)
    off = optimizer_from_config(dict(t, grad_clip_norm=0.0, grad_clip_value=0.0), steps_per_epoch=1)
    assert jax.tree.structure(off.init(params)) == jax.tree.structure(make_optimizer("sgd", 1.0).init(params))
