"""Data parallelism on 4 emulated CPU devices gives the numbers of one device.

XLA_FLAGS must be set before jax is imported, so the check runs in a subprocess.
"""
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
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
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "mesh matches" in out.stdout and "pmap matches" in out.stdout
