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
