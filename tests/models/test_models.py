"""Model shapes and parameter counts against numbers computed by hand from the seeds."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import models
from aejax.errors import UserError


def _count(model, shape):
    params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, *shape)))
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))


@pytest.mark.parametrize("cfg, shape, expected", [
    # Part 1: 784*400+400 + 400*200+200 + 200*100+100 + 100*200+200 + 200*400+400 + 400*784+784
    ({"name": "dense", "hidden": [400, 200], "latent_dim": 100}, (28, 28, 1), 829_284),
    # Course listing: 100*25+25 + 25*100+100
    ({"name": "dense", "hidden": [], "latent_dim": 25}, (100,), 5_125),
    # Tabular seed, 8 features: 8*32+32 + 32*16+16 + 16*7+7 + 7*16+16 + 16*32+32 + 32*8+8
    ({"name": "dense", "hidden": [32, 16], "latent_dim": 7}, (8,), 1_871),
    # Part 2: (9*1*16+16) + (9*16*8+8) + (9*8*8+8) + (9*8*16+16) + (9*16*1+1)
    ({"name": "conv"}, (28, 28, 1), 3_217),
    # Course listing conv: (16*1*64+64) + (16*64*64+64) + (9*64*1+1)
    ({"name": "conv", "encoder": [[64, 4]], "decoder": [[64, 4]]}, (10, 10, 1), 67_265),
])
def test_parameter_counts(cfg, shape, expected):
    assert _count(models.build(cfg, shape), shape) == expected


@pytest.mark.parametrize("cfg, shape, code_shape", [
    ({"name": "dense", "hidden": [400, 200], "latent_dim": 100}, (28, 28, 1), (100,)),
    ({"name": "conv"}, (28, 28, 1), (7, 7, 8)),
    ({"name": "conv", "encoder": [[64, 4]], "decoder": [[64, 4]]}, (10, 10, 1), (5, 5, 64)),
    ({"name": "conv", "encoder": [[4, 3]], "decoder": [[4, 3]]}, (9, 9, 1), (5, 5, 4)),  # odd size
])
def test_shapes(cfg, shape, code_shape):
    model = models.build(cfg, shape)
    x = jnp.linspace(0, 1, 3 * int(np.prod(shape))).reshape(3, *shape)
    params = model.init(jax.random.key(0), x)
    code = model.apply(params, x, method="encode")
    recon = model.apply(params, x)
    assert code.shape == (3, *code_shape)
    assert recon.shape == x.shape
    assert float(recon.min()) >= 0 and float(recon.max()) <= 1  # sigmoid output
    np.testing.assert_allclose(model.apply(params, code, method="decode"), recon, rtol=1e-6)


def test_code_images_match_the_course():
    assert models.code_images(np.zeros((2, 100))).shape == (2, 10, 10)  # Part 1: 10x10
    assert models.code_images(np.zeros((2, 7, 7, 8))).shape == (2, 28, 14)  # Part 2: 28x14
    code = np.arange(7 * 7 * 8).reshape(1, 7, 7, 8)
    img = models.code_images(code)[0]
    np.testing.assert_array_equal(img[:7, :7], code[0, :, :, 0])  # map 0 top left
    np.testing.assert_array_equal(img[:7, 7:], code[0, :, :, 1])  # map 1 to its right
    np.testing.assert_array_equal(img[21:, 7:], code[0, :, :, 7])  # map 7 bottom right


def test_unknown_model_key_names_it():
    with pytest.raises(UserError, match="model.laten_dim"):
        models.build({"name": "dense", "laten_dim": 3}, (4,))
    with pytest.raises(UserError, match="model.name='nope'"):
        models.build({"name": "nope"}, (4,))


@pytest.mark.parametrize("init", ["glorot_uniform", "he_uniform"])
@pytest.mark.parametrize("name, cfg, shape", [("dense", {"hidden": [400, 200], "latent_dim": 100}, (28, 28, 1)),
                                              ("conv", {}, (28, 28, 1))])
def test_kernel_init_draws_the_named_distribution(name, cfg, shape, init):
    """glorot_uniform (Keras) kernels lie within +-sqrt(6 / (fan_in + fan_out)), he_uniform ones
    (mnist_conv's) within +-sqrt(6 / fan_in), each reaching near its limit; biases stay zero."""
    model = models.build({"name": name, "kernel_init": init, **cfg}, shape)
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, *shape)))["params"]
    for layer in params.values():
        k = np.asarray(layer["kernel"])
        receptive = int(np.prod(k.shape[:-2]))
        fan_in, fan_out = k.shape[-2] * receptive, k.shape[-1] * receptive
        limit = np.sqrt(6 / (fan_in + fan_out)) if init == "glorot_uniform" else np.sqrt(6 / fan_in)
        assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
        assert not np.asarray(layer["bias"]).any()


def test_unknown_kernel_init_is_one_clear_error():
    with pytest.raises(UserError, match="model.kernel_init: unknown kernel_init 'xavier'"):
        models.build({"name": "dense", "kernel_init": "xavier"}, (8,))
