"""aejax.models.vae: the dense and convolutional VAEs: posterior mean, the ELBO in nats, closed-form
likelihoods and KL, KL annealing, the IWAE bound, a learnt Gaussian decoder std."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aejax import models
from aejax.models.vae import bernoulli_log_lik, gaussian_kl, gaussian_log_lik, importance_nll
from aejax.train.step import Task, train_step, TrainState
from helpers import init_params, uniform


def test_vae_encode_is_the_posterior_mean_and_deterministic():
    model = models.build({"name": "vae", "latent_dim": 4, "hidden": [16]}, (6,))
    x = uniform((5, 6))
    params = init_params(model, x)
    mu, logvar = model.apply(params, x, method="encode_dist")
    np.testing.assert_array_equal(model.apply(params, x, method="encode"), mu)
    assert logvar.shape == mu.shape == (5, 4)
    np.testing.assert_array_equal(model.apply(params, x), model.apply(params, x))


def test_neg_elbo_is_a_sum_over_pixels_in_nats():
    """-ELBO per example = sum over pixels of the Bernoulli NLL + KL, recomputed by hand."""
    model = models.build({"name": "vae", "latent_dim": 3, "hidden": [8]}, (4, 5, 1))
    x = (uniform((6, 4, 5, 1)) > 0.5).astype(jnp.float32)
    params = init_params(model, x)
    key = jax.random.key(3)

    @jax.jit
    def run(params, x, key):
        loss, m = model.apply(params, x, x, key=key, method="loss_terms")
        mu, logvar = model.apply(params, x, method="encode_dist")
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
        return loss, m, mu, logvar, model.apply(params, z, method="decode")

    loss, m, mu, logvar, p = run(params, x, key)
    p = np.asarray(p, np.float64)
    xx = np.asarray(x, np.float64)
    rec = -(xx * np.log(p) + (1 - xx) * np.log1p(-p)).reshape(6, -1).sum(1)
    kl = 0.5 * (np.exp(logvar) + np.square(mu) - 1 - logvar).sum(1)
    np.testing.assert_allclose(m["rec_nll"], rec, rtol=1e-4)
    np.testing.assert_allclose(m["kl"], kl, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m["neg_elbo"], rec + kl, rtol=1e-4)
    np.testing.assert_allclose(loss, rec + kl, rtol=1e-4)
    assert loss.shape == (6,)


def test_likelihoods_and_kl_match_closed_forms():
    from scipy.stats import norm
    x = np.array([[0.0, 1.0, 0.3]], np.float32)
    logits = np.array([[0.2, -1.5, 3.0]], np.float32)
    p = 1 / (1 + np.exp(-logits))
    expected = (x * np.log(p) + (1 - x) * np.log(1 - p)).sum()
    np.testing.assert_allclose(bernoulli_log_lik(jnp.asarray(logits), jnp.asarray(x)), [expected], rtol=1e-5)
    mean = np.array([[0.1, 0.5, 0.9]], np.float32)
    np.testing.assert_allclose(gaussian_log_lik(jnp.asarray(mean), jnp.log(0.2), jnp.asarray(x)),
                               [norm.logpdf(x, mean, 0.2).sum()], rtol=1e-5)
    mu, logvar = np.array([[0.5, -1.0]]), np.array([[0.2, -0.7]])
    var = np.exp(logvar)
    expected = (0.5 * (var + mu ** 2 - 1 - logvar)).sum()
    np.testing.assert_allclose(gaussian_kl(jnp.asarray(mu), jnp.asarray(logvar)), [expected], rtol=1e-6)


def test_kl_annealing_weight_follows_the_step():
    model = models.build({"name": "vae", "latent_dim": 2, "hidden": [8], "beta": 2.0,
                          "kl_warmup_steps": 100}, (5,))
    x = uniform((4, 5))
    params = init_params(model, x)["params"]
    task = Task(model, optax.adam(1e-3))
    train = jax.jit(lambda step: task.objective(params, x, x, jax.random.key(2), step=step)[1])
    evaluate = jax.jit(lambda: task.objective(params, x, x, jax.random.key(2))[1])
    for step, weight in ((0, 0.0), (50, 1.0), (100, 2.0), (1000, 2.0), (None, 2.0)):
        m = evaluate() if step is None else train(jnp.int32(step))
        np.testing.assert_allclose(m["kl_weight"], weight, rtol=1e-6)
        np.testing.assert_allclose(m["loss"], m["rec_nll"] + weight * m["kl"], rtol=1e-5)


def test_training_reduces_the_neg_elbo_on_a_toy_problem():
    """Four binary 4x4 patterns: 150 Adam steps cut -ELBO by more than half."""
    patterns = np.array([np.eye(4), np.fliplr(np.eye(4)), np.tril(np.ones((4, 4))), np.ones((4, 4))],
                        np.float32)
    x = jnp.asarray(np.tile(patterns, (8, 1, 1))[..., None])           # [32, 4, 4, 1]
    model = models.build({"name": "vae", "latent_dim": 2, "hidden": [32]}, (4, 4, 1))
    task = Task(model, optax.adam(1e-2))
    params = init_params(model, x)["params"]
    state = TrainState(jnp.zeros((), jnp.int32), params, task.tx.init(params))
    step = jax.jit(lambda s, k: train_step(task, s, x, x, k))
    first = None
    for i in range(150):
        state, m = step(state, jax.random.fold_in(jax.random.key(1), i))
        first = float(m["neg_elbo"]) if first is None else first
    _, m = jax.jit(task.objective)(state.params, x, x, jax.random.key(9))
    assert float(m["neg_elbo"].mean()) < 0.5 * first, (first, float(m["neg_elbo"].mean()))


def test_importance_nll_is_below_the_elbo_and_equal_for_one_sample():
    model = models.build({"name": "vae", "latent_dim": 3, "hidden": [16]}, (10,))
    x = (uniform((7, 10)) > 0.5).astype(jnp.float32)
    params = init_params(model, x)["params"]
    r = importance_nll(model, params, x, jax.random.key(2), k=64, batch_size=4, k_chunk=16)
    assert r["nll"].shape == r["neg_elbo"].shape == (7,)
    assert np.all(r["nll"] <= r["neg_elbo"] + 1e-4)
    one = importance_nll(model, params, x, jax.random.key(2), k=1, batch_size=4, k_chunk=1)
    np.testing.assert_allclose(one["nll"], one["neg_elbo"], rtol=1e-5)
    # the k-sample -ELBO estimates the mean of the model's one-sample -ELBO
    _, m = jax.jit(lambda p: model.apply({"params": p}, x, x, key=jax.random.key(5), method="loss_terms"))(params)
    assert abs(float(r["neg_elbo"].mean()) - float(m["neg_elbo"].mean())) < 0.1 * float(m["neg_elbo"].mean())


def test_gaussian_decoder_learns_its_std():
    model = models.build({"name": "vae", "latent_dim": 2, "hidden": [8], "likelihood": "gaussian",
                          "learn_obs_std": True, "obs_std": 0.2}, (6,))
    x = uniform((4, 6))
    params = init_params(model, x)["params"]
    np.testing.assert_allclose(params["obs_log_std"], math.log(0.2), rtol=1e-6)
    grads = jax.jit(jax.grad(lambda p: model.apply({"params": p}, x, x, key=jax.random.key(2),
                                                   method="loss_terms")[0].mean()))(params)
    assert float(jnp.abs(grads["obs_log_std"])) > 0
