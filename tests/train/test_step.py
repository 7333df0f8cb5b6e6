"""aejax.train.step: the Trainer (one trace per step, scanned or stepped epochs, data parallelism on
several devices)."""
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
from aejax.train.optim import make_optimizer
from aejax.train.step import Task, Trainer, init_state


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
    """Inside the scan the convolutions take convolutions.conv_same_loop's gradients (on CPU), outside XLA's."""
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


# ---- data parallelism ----------------------------------------------------------------------
# Data parallelism on 4 emulated CPU devices gives the numbers of one device. XLA_FLAGS must be set
# before jax is imported, so the check runs in a subprocess.

PARALLEL_SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    assert jax.device_count() == 4, jax.devices()
    from aejax import models
    from aejax.train.optim import make_optimizer
    from aejax.train.step import Task, Trainer, init_state

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
