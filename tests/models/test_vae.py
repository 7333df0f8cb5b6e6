"""The autoencoder zoo's models: shapes, parameter counts, penalties, the ELBO and the IWAE bound."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from aejax import models
from aejax.projects.zoo import zoo
from aejax.models.sparse import kl_sparsity
from aejax.models.vae import bernoulli_log_lik, gaussian_kl, gaussian_log_lik, importance_nll
from aejax.train.step import Task, train_step, TrainState


def _init(model, x, seed=0):
    """Parameters drawn with numpy (LeCun-normal kernels, zero biases, unit scales): no
    threefry compilation, which is most of the cost of an eager ``model.init`` on CPU."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)

    def draw(path, s):
        name = str(path[-1])
        if "scale" in name:
            return jnp.ones(s.shape, s.dtype)
        if "obs_log_std" in name:
            return jnp.full(s.shape, math.log(model.obs_std), s.dtype)
        if len(s.shape) < 2:
            return jnp.zeros(s.shape, s.dtype)
        return jnp.asarray(rng.normal(0, 1 / np.sqrt(np.prod(s.shape[:-1])), s.shape), s.dtype)
    return jax.tree_util.tree_map_with_path(draw, shapes)


def _uniform(shape, seed=1):
    return jnp.asarray(np.random.default_rng(seed).uniform(size=shape), jnp.float32)


def _count(model, shape):
    params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, *shape)))
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))


def _dense_count(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _lstm_count(n_in, h):
    # OptimizedLSTMCell: 4 input kernels (no bias) + 4 hidden kernels with biases
    return 4 * n_in * h + 4 * (h * h + h)


@pytest.mark.parametrize("cfg, shape, expected", [
    # Flax's VAE example: 784-500-(20 mean, 20 log-variance), decoder 20-500-784
    ({"name": "vae"}, (28, 28, 1), _dense_count([784, 500]) + 2 * _dense_count([500, 20])
     + _dense_count([20, 500, 784])),
    # Keras blog's sparse autoencoder 784-32-784
    ({"name": "sparse"}, (28, 28, 1), _dense_count([784, 32, 784])),
    ({"name": "deep"}, (28, 28, 1), _dense_count([784, 512, 256, 128, 32, 128, 256, 512, 784])),
    # LayerNorm adds a scale and a bias per hidden unit (3 encoder + 3 decoder layers)
    ({"name": "deep", "norm": "layer"}, (28, 28, 1),
     _dense_count([784, 512, 256, 128, 32, 128, 256, 512, 784]) + 2 * 2 * (512 + 256 + 128)),
    ({"name": "undercomplete", "hidden": [32, 16], "latent_dim": 7}, (8,), 1_871),  # the tabular seed
    # LSTM on 101-sample traces: encoder LSTM(1 -> 64), code 16, init c/h, decoder LSTM(16 -> 64), Dense 1
    ({"name": "lstm"}, (101,), _lstm_count(1, 64) + _dense_count([64, 16]) + 2 * _dense_count([16, 64])
     + _lstm_count(16, 64) + _dense_count([64, 1])),
    # bidirectional encoder (two LSTMs, code from both final states), decoder input code 16 + 8 time features
    ({"name": "lstm", "bidirectional": True, "time_features": 8}, (101,), 2 * _lstm_count(1, 64)
     + _dense_count([128, 16]) + 2 * _dense_count([16, 64]) + _lstm_count(24, 64) + _dense_count([64, 1])),
    # ConvVAE on 28x28: convs 1->32->64 (3x3, stride 2), 7*7*64 -> 256 -> 16 (x2); mirrored decoder
    ({"name": "conv_vae"}, (28, 28, 1), (9 * 32 + 32) + (9 * 32 * 64 + 64) + _dense_count([3136, 256])
     + 2 * _dense_count([256, 16]) + _dense_count([16, 256, 3136]) + (9 * 64 * 32 + 32) + (9 * 32 * 32 + 32)
     + (9 * 32 + 1)),
])
def test_parameter_counts(cfg, shape, expected):
    assert _count(models.build(cfg, shape), shape) == expected


@pytest.mark.parametrize("cfg, shape, code", [
    ({"name": "vae", "latent_dim": 8, "hidden": [32]}, (28, 28, 1), (8,)),
    ({"name": "conv_vae", "latent_dim": 4, "channels": [4], "hidden": 16}, (9, 9, 1), (4,)),  # odd size
    ({"name": "sparse"}, (28, 28, 1), (32,)),
    ({"name": "sparse_conv"}, (28, 28, 1), (7, 7, 8)),
    ({"name": "deep", "hidden": [16, 8], "latent_dim": 3, "norm": "layer"}, (10,), (3,)),
    ({"name": "lstm", "hidden": 8, "latent_dim": 5}, (101,), (5,)),           # seismic traces
    ({"name": "lstm", "hidden": 8, "latent_dim": 5, "layers": 2}, (28, 28, 1), (5,)),  # image rows
    ({"name": "lstm", "hidden": 8, "latent_dim": 5, "bidirectional": True, "time_features": 3}, (30,), (5,)),
])
def test_encode_decode_contract(cfg, shape, code):
    model = models.build(cfg, shape)
    x = jnp.asarray(np.random.default_rng(1).uniform(size=(3, *shape)), jnp.float32)
    params = _init(model, x)

    @jax.jit
    def run(params, x):
        z = model.apply(params, x, method="encode")
        return z, model.apply(params, x), model.apply(params, z, method="decode")

    z, recon, decoded = run(params, x)
    assert z.shape == (3, *code)
    assert recon.shape == x.shape
    assert float(recon.min()) >= 0 and float(recon.max()) <= 1
    np.testing.assert_allclose(decoded, recon, rtol=1e-5, atol=1e-6)


def test_vae_encode_is_the_posterior_mean_and_deterministic():
    model = models.build({"name": "vae", "latent_dim": 4, "hidden": [16]}, (6,))
    x = _uniform((5, 6))
    params = _init(model, x)
    mu, logvar = model.apply(params, x, method="encode_dist")
    np.testing.assert_array_equal(model.apply(params, x, method="encode"), mu)
    assert logvar.shape == mu.shape == (5, 4)
    np.testing.assert_array_equal(model.apply(params, x), model.apply(params, x))


def test_neg_elbo_is_a_sum_over_pixels_in_nats():
    """-ELBO per example = sum over pixels of the Bernoulli NLL + KL, recomputed by hand."""
    model = models.build({"name": "vae", "latent_dim": 3, "hidden": [8]}, (4, 5, 1))
    x = (_uniform((6, 4, 5, 1)) > 0.5).astype(jnp.float32)
    params = _init(model, x)
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
    x = _uniform((4, 5))
    params = _init(model, x)["params"]
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
    params = _init(model, x)["params"]
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
    x = (_uniform((7, 10)) > 0.5).astype(jnp.float32)
    params = _init(model, x)["params"]
    r = importance_nll(model, params, x, jax.random.key(2), k=64, batch_size=4, k_chunk=16)
    assert r["nll"].shape == r["neg_elbo"].shape == (7,)
    assert np.all(r["nll"] <= r["neg_elbo"] + 1e-4)
    one = importance_nll(model, params, x, jax.random.key(2), k=1, batch_size=4, k_chunk=1)
    np.testing.assert_allclose(one["nll"], one["neg_elbo"], rtol=1e-5)
    # the k-sample -ELBO estimates the mean of the model's one-sample -ELBO
    _, m = jax.jit(lambda p: model.apply({"params": p}, x, x, key=jax.random.key(5), method="loss_terms"))(params)
    assert abs(float(r["neg_elbo"].mean()) - float(m["neg_elbo"].mean())) < 0.1 * float(m["neg_elbo"].mean())


def test_kl_sparsity_penalty_matches_the_formula():
    rho, rho_hat = 0.05, np.array([0.05, 0.2, 0.5, 0.01])
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    np.testing.assert_allclose(kl_sparsity(rho, jnp.asarray(rho_hat)), expected, rtol=1e-6)
    assert float(kl_sparsity(rho, jnp.full(3, rho))) == pytest.approx(0.0, abs=1e-7)


def test_sparse_penalties_in_loss_terms():
    x = _uniform((6, 12))
    for cfg in ({"name": "sparse", "latent_dim": 5, "l1": 0.01},
                {"name": "sparse", "latent_dim": 5, "l1": 0.0, "kl": 0.3, "rho": 0.1,
                 "latent_activation": "sigmoid"}):
        model = models.build(cfg, (12,))
        params = _init(model, x)
        z, recon, (loss, m) = jax.jit(lambda p: (
            model.apply(p, x, method="encode"), model.apply(p, x),
            model.apply(p, x, x, key=jax.random.key(2), loss="mse", method="loss_terms")))(params)
        z, recon = np.asarray(z), np.asarray(recon)
        rec = np.square(recon - np.asarray(x)).mean(1)
        penalty = cfg["l1"] * np.abs(z).sum(1) + cfg.get("kl", 0) * float(kl_sparsity(cfg.get("rho", 0.05),
                                                                                         z.mean(0)))
        np.testing.assert_allclose(m["rec"], rec, rtol=1e-5)
        np.testing.assert_allclose(loss, rec + penalty, rtol=1e-5)
        np.testing.assert_allclose(m["code_mean"], z.mean(1), rtol=1e-5)


def test_bad_settings_are_value_errors_naming_the_key():
    for cfg, needle in (({"name": "sparse", "kl": 1.0}, "sigmoid"), ({"name": "vae", "likelihood": "poisson"},
                        "model.likelihood"), ({"name": "deep", "norm": "batch"}, "model.norm"),
                        ({"name": "undercomplete", "latent_dim": 10}, "model.latent_dim")):
        with pytest.raises(ValueError, match=needle):
            models.build(cfg, (8,))


def test_gaussian_decoder_learns_its_std():
    model = models.build({"name": "vae", "latent_dim": 2, "hidden": [8], "likelihood": "gaussian",
                          "learn_obs_std": True, "obs_std": 0.2}, (6,))
    x = _uniform((4, 6))
    params = _init(model, x)["params"]
    np.testing.assert_allclose(params["obs_log_std"], math.log(0.2), rtol=1e-6)
    grads = jax.jit(jax.grad(lambda p: model.apply({"params": p}, x, x, key=jax.random.key(2),
                                                   method="loss_terms")[0].mean()))(params)
    assert float(jnp.abs(grads["obs_log_std"])) > 0


@pytest.mark.parametrize("type_", list(zoo.TYPES))
def test_every_zoo_type_builds_and_has_an_objective(type_):
    cfg = zoo.apply_type({"zoo": zoo.zoo_section(type_, latent_dim=32), "model": {}, "data": {"noise_std": 0.0},
                          "train": {}})
    model = models.build(cfg["model"], (28, 28, 1))
    task = Task(model, optax.adam(1e-3))
    x = jnp.zeros((2, 28, 28, 1))
    params = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
    loss, metrics = jax.eval_shape(lambda p: task.objective(p, x, x, jax.random.key(1), step=jnp.int32(0)), params)
    code = jax.eval_shape(lambda p: model.apply({"params": p}, x, method="encode"), params)
    assert loss.shape == (2,) and "mse" in metrics
    assert int(np.prod(code.shape[1:])) == 32
    assert (cfg["data"]["noise_std"] > 0) == (type_ == "denoising")
