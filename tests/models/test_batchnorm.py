"""Batch normalization (``model.norm=batch``): the running averages live with the parameters, a
training step updates them (and gives them no gradient), evaluation uses them so an example's output
does not depend on its batch, and they are checkpointed and resumed with the rest of the state."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import api
from aejax.errors import UserError
from aejax.models import build
from aejax.models.common import RUNNING
from aejax.run.rundir import read_metrics
from aejax.train.optim import make_optimizer
from aejax.train.step import Task, TrainState, train_step
from helpers import SMALL


@pytest.mark.parametrize("cfg,shape", [({"name": "conv", "norm": "batch"}, (28, 28, 1)),
                                       ({"name": "dense", "hidden": [16], "latent_dim": 4, "norm": "batch"}, (12,))])
def test_a_step_updates_the_running_averages_and_evaluation_uses_them(cfg, shape):
    model = build(cfg, shape)
    params = model.init(jax.random.key(0), jnp.zeros((1, *shape)))["params"]
    norm = "enc_norm_0"
    assert set(params[norm]) == {"scale", "bias", "running_mean", "running_var"}
    task = Task(model, make_optimizer("adam", 1e-2))
    state = TrainState(jnp.zeros((), jnp.int32), params, task.tx.init(params))
    x = jax.random.uniform(jax.random.key(1), (32, *shape))
    new, _ = jax.jit(lambda s, x: train_step(task, s, x, x, jax.random.key(2)))(state, x)
    # The running mean moved 1 % of the way to the batch's mean (Keras' momentum 0.99) ...
    h = model.apply({"params": params}, x, method=lambda m, x: m.enc_convs[0](x) if hasattr(m, "enc_convs")
                    else m.enc_layers[0](x.reshape(len(x), -1)))
    batch_mean = np.asarray(h).reshape(-1, h.shape[-1]).mean(0)
    np.testing.assert_allclose(new.params[norm]["running_mean"], 0.01 * batch_mean, rtol=1e-4, atol=1e-6)
    # ... the learned scale moved (a gradient step), and the running averages got no gradient.
    grads = jax.grad(lambda p: task.train_objective(p, x, x, jax.random.key(2), jnp.int32(0))[0].mean())(params)
    assert float(jnp.abs(grads[norm]["running_mean"]).max()) == 0.0
    assert float(jnp.abs(grads[norm]["scale"]).max()) > 0.0
    # Evaluation: an example's reconstruction is the same alone or in a batch (up to float32 rounding: on
    # CPU a matmul may sum in another order for a one-example batch; the batch's own statistics would
    # move it by orders of magnitude more).
    alone = model.apply({"params": new.params}, x[:1])
    in_batch = model.apply({"params": new.params}, x)[:1]
    np.testing.assert_allclose(np.asarray(alone), np.asarray(in_batch), rtol=1e-6, atol=1e-6)
    by_batch_stats, _ = model.apply({"params": new.params}, x, train=True, mutable=[RUNNING])
    assert float(np.abs(np.asarray(by_batch_stats[:1]) - np.asarray(alone)).max()) > 1e-3


def test_a_bad_norm_is_an_error_naming_the_key():
    from aejax.models import check
    with pytest.raises(UserError, match="model.norm"):
        check({"name": "dense", "norm": "group"})


def test_a_batch_norm_run_resumes_exactly(tmp_path):
    sets = SMALL + ["train.epochs=3", "model.norm=batch"]
    full = api.run("mnist_dense", workdir=tmp_path / "full", overrides=sets)
    assert api.run("mnist_dense", workdir=tmp_path / "part", overrides=sets, stop_after_epoch=1) == {
        "stopped_after_epoch": 1}
    resumed = api.run("mnist_dense", workdir=tmp_path / "part", overrides=sets)
    assert resumed["test/mse"] == pytest.approx(full["test/mse"], rel=1e-6)
    for a, b in zip(read_metrics(tmp_path / "full" / "metrics.jsonl"), read_metrics(tmp_path / "part" / "metrics.jsonl")):
        assert a["val/loss"] == pytest.approx(b["val/loss"], rel=1e-6)
