"""aejax.models: every registered model's parameter count (by hand, from the seeds and the zoo's
references), its encode / decode contract, code images, kernel init and build errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import models
from aejax.errors import UserError
from helpers import count_params, init_params


def _dense_count(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _lstm_count(n_in, h):
    # OptimizedLSTMCell: 4 input kernels (no bias) + 4 hidden kernels with biases
    return 4 * n_in * h + 4 * (h * h + h)


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
    assert count_params(models.build(cfg, shape), shape) == expected


@pytest.mark.parametrize("cfg, shape, code", [
    ({"name": "dense", "hidden": [400, 200], "latent_dim": 100}, (28, 28, 1), (100,)),
    ({"name": "conv"}, (28, 28, 1), (7, 7, 8)),
    ({"name": "conv", "encoder": [[64, 4]], "decoder": [[64, 4]]}, (10, 10, 1), (5, 5, 64)),
    ({"name": "conv", "encoder": [[4, 3]], "decoder": [[4, 3]]}, (9, 9, 1), (5, 5, 4)),  # odd size
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
    """encode gives the code's shape, the reconstruction has the input's shape and lies in [0, 1]
    (sigmoid output), and decode(encode(x)) is the reconstruction."""
    model = models.build(cfg, shape)
    x = jnp.asarray(np.random.default_rng(1).uniform(size=(3, *shape)), jnp.float32)
    params = init_params(model, x)

    @jax.jit
    def run(params, x):
        z = model.apply(params, x, method="encode")
        return z, model.apply(params, x), model.apply(params, z, method="decode")

    z, recon, decoded = run(params, x)
    assert z.shape == (3, *code)
    assert recon.shape == x.shape
    assert float(recon.min()) >= 0 and float(recon.max()) <= 1
    np.testing.assert_allclose(decoded, recon, rtol=1e-6, atol=0)


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


def test_bad_settings_are_value_errors_naming_the_key():
    for cfg, needle in (({"name": "sparse", "kl": 1.0}, "sigmoid"), ({"name": "vae", "likelihood": "poisson"},
                        "model.likelihood"), ({"name": "undercomplete", "latent_dim": 10}, "model.latent_dim")):
        with pytest.raises(ValueError, match=needle):
            models.build(cfg, (8,))
    with pytest.raises(UserError, match="model.norm"):  # checked with the config, before building
        models.build({"name": "deep", "norm": "group"}, (8,))
