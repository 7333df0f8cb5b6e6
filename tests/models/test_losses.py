"""Losses return one value per example: the mean over features (stated reduction)."""
import jax.numpy as jnp
import numpy as np

from aejax.models import losses


def test_per_example_reductions():
    rng = np.random.default_rng(0)
    recon = rng.uniform(0.01, 0.99, (4, 5, 5, 1)).astype(np.float32)
    target = rng.uniform(0, 1, (4, 5, 5, 1)).astype(np.float32)
    flat_r, flat_t = recon.reshape(4, -1), target.reshape(4, -1)
    np.testing.assert_allclose(losses.mse(recon, target), ((flat_r - flat_t) ** 2).mean(1), rtol=1e-6)
    np.testing.assert_allclose(losses.mae(recon, target), np.abs(flat_r - flat_t).mean(1), rtol=1e-6)
    bce = -(flat_t * np.log(flat_r) + (1 - flat_t) * np.log(1 - flat_r)).mean(1)
    np.testing.assert_allclose(losses.bce(recon, target), bce, rtol=1e-5)
    assert losses.mse(recon, target).shape == (4,)


def test_bce_is_finite_at_saturated_outputs():
    recon = jnp.array([[0.0, 1.0]])
    target = jnp.array([[1.0, 0.0]])
    assert np.isfinite(float(losses.bce(recon, target)[0]))


def test_psnr():
    x = jnp.zeros((2, 4))
    y = x + 0.1
    np.testing.assert_allclose(losses.psnr(y, x), [20.0, 20.0], rtol=1e-5)  # 10 log10(1 / 0.01)


def test_softmax_cross_entropy_is_per_pixel_over_the_last_axis():
    """[B, H, W, K] logits, integer or one-hot labels: the mean over pixels of -log softmax[label];
    a classifier's [B, K] is the same function; huge logits stay finite."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (2, 3, 4, 5)).astype(np.float32)
    labels = rng.integers(0, 5, (2, 3, 4))
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    want = -np.log(np.take_along_axis(p, labels[..., None], -1)[..., 0]).reshape(2, -1).mean(1)
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, labels), want, rtol=1e-5)
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, np.eye(5)[labels]), want, rtol=1e-5)
    flat = losses.softmax_cross_entropy(logits.reshape(-1, 5), labels.reshape(-1))  # [24]
    np.testing.assert_allclose(flat.reshape(2, -1).mean(1), want, rtol=1e-5)
    big = losses.softmax_cross_entropy(jnp.array([[1000.0, -1000.0]]), jnp.array([1]))
    assert float(big[0]) == 2000.0


def test_sigmoid_cross_entropy_matches_bce_on_probabilities():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 2, (3, 4, 4, 1)).astype(np.float32)
    target = (rng.uniform(size=(3, 4, 4, 1)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(losses.sigmoid_cross_entropy(logits, target),
                               losses.bce(1 / (1 + np.exp(-logits)), target), rtol=1e-4)
    assert np.isfinite(float(losses.sigmoid_cross_entropy(jnp.array([[500.0]]), jnp.array([[0.0]]))[0]))
