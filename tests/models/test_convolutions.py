"""The fast formulations in aejax.models.convolutions compute what the plain ones do."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax.models import convolutions
from aejax.models.convolutions import (band_pays, Conv, conv_same, conv_same_loop, conv_upsampled, conv_upsampled_band,
                                       loop_body_convolutions, materialized, max_pool_2x2, pool_tap_rows, pooled_conv_rows, PooledConv,
                                       rows_pay, upsample_2x2, UpConv)


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


@pytest.mark.parametrize("k,h,w,c_in,c_out", [(3, 7, 7, 8, 16), (2, 3, 5, 2, 3), (4, 4, 6, 3, 2), (5, 5, 4, 2, 4),
                                               (3, 1, 1, 2, 2)])
def test_conv_upsampled_band_equals_upsample_then_same_conv_values_and_gradients(k, h, w, c_in, c_out):
    z = jax.random.normal(jax.random.key(0), (2, h, w, c_in))
    kernel = jax.random.normal(jax.random.key(1), (k, k, c_in, c_out))
    bias = jax.random.normal(jax.random.key(2), (c_out,))
    ref = lambda z, kern: conv_same(upsample_2x2(z), kern) + bias
    np.testing.assert_allclose(conv_upsampled_band(z, kernel, bias), ref(z, kernel), rtol=1e-5, atol=1e-5)
    g = jax.random.normal(jax.random.key(3), (2, 2 * h, 2 * w, c_out))
    grads = lambda f: jax.jit(jax.grad(lambda z, kern: jnp.sum(jnp.tanh(f(z, kern)) * g), argnums=(0, 1)))(z, kernel)
    for a, b in zip(grads(lambda z, kern: conv_upsampled_band(z, kern, bias)), grads(ref)):  # the input's, the kernel's
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_upconv_has_nn_conv_parameters_and_every_implementation_agrees():
    z = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
    for features, impls in ((1, ("shift", "band", "conv")), (16, ("band", "conv", "auto"))):
        conv = nn.Conv(features, (3, 3), padding="SAME", name="out")
        params = {"params": conv.init(jax.random.key(3), upsample_2x2(z))["params"]}
        for impl in impls:
            up = UpConv(features, 3, (14, 14) if features == 1 else None, impl=impl)
            mine = up.init(jax.random.key(3), z)["params"]
            assert jax.tree.map(jnp.shape, mine) == jax.tree.map(jnp.shape, params["params"])
            np.testing.assert_allclose(up.apply(params, z), conv.apply(params, upsample_2x2(z)), rtol=1e-5, atol=1e-5)


def test_upconv_band_refuses_a_cropped_output_and_pays_only_for_narrow_rows():
    z = jnp.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match="uncropped"):
        UpConv(3, 3, (7, 8), impl="band").init(jax.random.key(0), z)
    on_cpu = jax.default_backend() == "cpu"
    assert band_pays(3, 7) == band_pays(4, 8) == band_pays(5, 13) == on_cpu  # the course's dec_1: k = 3, 7 wide
    assert not band_pays(3, 10) and not band_pays(3, 14) and not band_pays(4, 11)


@pytest.mark.parametrize("k,h,w,c_in,c_out", [(3, 28, 28, 1, 16), (4, 12, 10, 1, 5), (5, 8, 8, 1, 3), (2, 6, 8, 1, 2),
                                               (3, 10, 6, 3, 4)])
def test_pooled_conv_rows_equals_conv_then_pool_values_and_gradients(k, h, w, c_in, c_out):
    x = jax.random.normal(jax.random.key(0), (3, h, w, c_in))
    kernel = jax.random.normal(jax.random.key(1), (k, k, c_in, c_out))
    ref = lambda x, kern: max_pool_2x2(conv_same(x, kern))
    np.testing.assert_allclose(pooled_conv_rows(x, kernel), ref(x, kernel), rtol=1e-5, atol=1e-5)
    g = jax.random.normal(jax.random.key(2), (3, h // 2, w // 2, c_out))
    grads = lambda f: jax.jit(jax.grad(lambda x, kern: jnp.sum(jnp.tanh(f(x, kern)) * g), argnums=(0, 1)))(x, kernel)
    for a, b in zip(grads(pooled_conv_rows), grads(ref)):  # the input's and the kernel's
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_pool_tap_rows_are_the_convolution_inputs_by_pool_position():
    x = jnp.arange(2 * 4 * 6, dtype=jnp.float32).reshape(2, 4, 6, 1) + 1  # no zeros but the padding
    rows = pool_tap_rows(x, 3)  # [4, 2 * 2 * 3, 9]
    xp = np.pad(np.asarray(x)[..., 0], ((0, 0), (1, 1), (1, 1)))
    for (i, j) in [(0, 0), (1, 2), (2, 1)]:
        for a, e in [(0, 0), (0, 1), (1, 0), (1, 1)]:
            want = xp[:, a + i:a + i + 4:2, e + j:e + j + 6:2].reshape(-1)  # (b, u, v) order
            np.testing.assert_array_equal(rows[2 * a + e, :, i * 3 + j], want)


def test_pooled_conv_rows_shares_the_gradient_of_tied_maxima():
    kernel = jnp.zeros((3, 3, 1, 2)).at[1, 1].set(1.0)  # the identity: every 2x2 window holds four equal values
    x = jnp.ones((1, 4, 4, 1))
    grad = lambda f: jax.grad(lambda kern: f(x, kern).sum())(kernel)
    mine = grad(pooled_conv_rows)
    np.testing.assert_allclose(mine, grad(lambda x, kern: max_pool_2x2(conv_same(x, kern))), atol=1e-6)
    np.testing.assert_allclose(mine[1, 1, 0], [4.0, 4.0])  # four windows, each maximum's gradient once in all


def test_materialized_is_the_identity_and_keeps_its_conditional_on_cpu():
    """Every float comes back bitwise (NaN, infinities, -0), whatever the parameter holds; the
    gradient passes through; on CPU the compiled program keeps the conditional that stops XLA from
    fusing the producer into a consumer (if XLA ever simplified it away, only the speed would go)."""
    x = jnp.array([[-0.0, 0.0, jnp.nan], [jnp.inf, -jnp.inf, 1.5e-42]], jnp.float32)
    for param in (jnp.zeros(3), jnp.full(3, jnp.nan)):
        y = jax.jit(materialized)(x, param)
        np.testing.assert_array_equal(np.asarray(y).view(np.uint32), np.asarray(x).view(np.uint32))
    g = jax.grad(lambda v: jnp.sum(materialized(v, jnp.zeros(2)) * jnp.arange(4.0)))(jnp.ones(4))
    np.testing.assert_array_equal(g, jnp.arange(4.0))
    hlo = jax.jit(lambda v, p: jnp.transpose(materialized(jnp.maximum(v, 0) + 1, p))).lower(
        jnp.ones((8, 4)), jnp.zeros(4)).compile().as_text()
    assert (" conditional(" in hlo) == (jax.default_backend() == "cpu")


def test_pooled_conv_both_implementations_agree_and_rows_only_where_they_pay():
    x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 1))
    params = PooledConv(4, 3).init(jax.random.key(1), x)
    outs = [PooledConv(4, 3, impl=impl).apply(params, x) for impl in ("rows", "conv")]
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    on_cpu = jax.default_backend() == "cpu"
    assert rows_pay(3, 1, (28, 28)) == rows_pay(5, 1, (28, 28)) == rows_pay(3, 6, (14, 14)) == on_cpu
    assert not rows_pay(3, 8, (14, 14)) and not rows_pay(3, 16, (14, 14)) and not rows_pay(5, 3, (28, 28))
    assert not rows_pay(3, 1, (7, 7))


@pytest.mark.parametrize("tap_matrix", [True, False])
@pytest.mark.parametrize("b,h,w,c_in,c_out,k", [(2, 14, 14, 16, 8, 3), (3, 10, 9, 4, 6, 4), (2, 6, 7, 3, 5, 5),
                                                  (2, 5, 5, 2, 3, 1), (2, 8, 8, 2, 3, 2)])
def test_conv_same_loop_gradients_equal_the_convolutions(monkeypatch, tap_matrix, b, h, w, c_in, c_out, k):
    """Odd and even kernels ('same' padding mirrored), the tap matrix and the product per tap."""
    if not tap_matrix:
        monkeypatch.setattr(convolutions, "TAPS_BYTES", 0)
    kx, kk, kg = jax.random.split(jax.random.key(0), 3)
    x, kernel = jax.random.normal(kx, (b, h, w, c_in)), jax.random.normal(kk, (k, k, c_in, c_out))
    g = jax.random.normal(kg, (b, h, w, c_out))
    grads = lambda f: jax.grad(lambda x, kernel: jnp.sum(f(x, kernel) * g), (0, 1))(x, kernel)
    np.testing.assert_array_equal(conv_same_loop(x, kernel), conv_same(x, kernel))
    (dx, dk), (dx_ref, dk_ref) = grads(conv_same_loop), grads(conv_same)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-5 * float(jnp.abs(dx_ref).max()))
    np.testing.assert_allclose(dk, dk_ref, rtol=1e-5, atol=1e-5 * float(jnp.abs(dk_ref).max()))


def test_conv_same_takes_the_loop_gradients_only_inside_a_loop_body_on_cpu():
    x, kernel = jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 2, 2))
    # a fresh function per trace: JAX reuses the trace of a function it has seen with these shapes
    calls = lambda: "custom_vjp" in str(jax.make_jaxpr(lambda x, kernel: conv_same(x, kernel))(x, kernel))
    assert not calls()
    with loop_body_convolutions():
        assert calls() == (jax.default_backend() == "cpu")
        with loop_body_convolutions():
            pass
        assert calls() == (jax.default_backend() == "cpu")  # a nested block leaves the outer one on
    assert not calls()


def test_conv_is_nn_conv_same_parameters_and_values():
    x = jax.random.normal(jax.random.key(0), (2, 6, 5, 3))
    ours, ref = Conv(4, 3, name="c"), nn.Conv(4, (3, 3), padding="SAME", name="c")
    params = ref.init(jax.random.key(1), x)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, params)
    np.testing.assert_array_equal(ours.init(jax.random.key(1), x)["params"]["kernel"], params["params"]["kernel"])
    np.testing.assert_array_equal(ours.apply(params, x), ref.apply(params, x))
