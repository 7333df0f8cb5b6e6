"""aejax.train.optim: the optimizers from the ``train`` section (schedules, warm-up, Keras' Adam,
gradient clipping)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax.train.optim import make_optimizer, optimizer_from_config


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
