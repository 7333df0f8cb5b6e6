"""The fast formulations in aejax.models.common compute what the plain ones do."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax.models.common import conv_upsampled, max_pool_2x2, upsample_2x2, UpConv


def _reference_pool(x):
    return nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")


@pytest.mark.parametrize("shape", [(3, 8, 6, 4), (2, 7, 5, 3)])
def test_max_pool_matches_reduce_window_values_and_gradients(shape):
    x = jax.random.normal(jax.random.key(0), shape)
    np.testing.assert_array_equal(max_pool_2x2(x), _reference_pool(x))
    g = jax.random.normal(jax.random.key(1), max_pool_2x2(x).shape)
    grad = lambda f: jax.grad(lambda v: jnp.sum(f(v) * g))(x)
    np.testing.assert_allclose(grad(max_pool_2x2), grad(_reference_pool), rtol=0, atol=0)


def test_max_pool_shares_the_gradient_of_tied_maxima():
    x = jnp.ones((1, 2, 2, 1))  # four equal values: each gets a quarter
    np.testing.assert_array_equal(jax.grad(lambda v: max_pool_2x2(v).sum())(x), np.full((1, 2, 2, 1), 0.25))


@pytest.mark.parametrize("k,out_hw,cout", [(3, (28, 28), 1), (4, (14, 14), 2), (3, (7, 7), 3), (5, (9, 10), 1)])
def test_conv_upsampled_equals_upsample_then_same_conv(k, out_hw, cout):
    h, w = (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2
    z = jax.random.normal(jax.random.key(0), (2, h, w, 5))
    kernel = jax.random.normal(jax.random.key(1), (k, k, 5, cout))
    bias = jax.random.normal(jax.random.key(2), (cout,))
    ref = lambda z, kernel: jax.lax.conv_general_dilated(
        upsample_2x2(z)[:, :out_hw[0], :out_hw[1]], kernel, (1, 1), "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
    np.testing.assert_allclose(conv_upsampled(z, kernel, bias, out_hw), ref(z, kernel), rtol=1e-5, atol=1e-5)
    loss = lambda f: jax.grad(lambda z, kern: jnp.sum(jnp.sin(f(z, kern))), argnums=(0, 1))(z, kernel)
    for a, b in zip(loss(lambda z, kern: conv_upsampled(z, kern, bias, out_hw)), loss(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_upconv_has_nn_conv_parameters_and_both_implementations_agree():
    z = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
    conv = nn.Conv(1, (3, 3), padding="SAME", name="out")
    params = {"params": conv.init(jax.random.key(3), upsample_2x2(z))["params"]}
    for impl in ("shift", "conv"):
        up = UpConv(1, 3, (14, 14), impl=impl)
        mine = up.init(jax.random.key(3), z)["params"]
        assert jax.tree.map(jnp.shape, mine) == jax.tree.map(jnp.shape, params["params"])
        np.testing.assert_allclose(up.apply(params, z), conv.apply(params, upsample_2x2(z)), rtol=1e-5, atol=1e-5)
