"""Small pieces shared by the models: activations and initializers by name, reshape pooling."""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

#: Registered models by name (``model.name``); each model file registers its classes.
MODELS: dict[str, type] = {}


def register(name: str):
    """Decorator adding a model class to :data:`MODELS` under ``name``."""
    def deco(cls):
        MODELS[name] = cls
        return cls
    return deco

ACTIVATIONS = {
    "relu": nn.relu,
    "sigmoid": nn.sigmoid,
    "tanh": jnp.tanh,
    "linear": lambda x: x,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "leaky_relu": nn.leaky_relu,
    "softplus": nn.softplus,
    "selu": nn.selu,
}


def activation(name: str):
    """The activation function called ``name`` (ValueError naming the choices)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


INITIALIZERS = {
    "glorot_uniform": nn.initializers.glorot_uniform,  # Keras' default
    "lecun_normal": nn.initializers.lecun_normal,  # Flax's default
    "he_normal": nn.initializers.he_normal,
    "he_uniform": nn.initializers.he_uniform,
}


def initializer(name: str):
    """The kernel initializer called ``name`` (ValueError naming the choices)."""
    try:
        return INITIALIZERS[name]()
    except KeyError:
        raise ValueError(f"unknown kernel_init {name!r}; expected one of {sorted(INITIALIZERS)}") from None


def max_pool_2x2(x):
    """2x2 max-pool, stride 2, 'same' padding. [B, H, W, C] -> [B, ceil(H/2), ceil(W/2), C].

    Written as a reshape + max when H and W are even: XLA's CPU gradient of
    reduce_window is markedly slower than that of a plain max over an axis.
    """
    b, h, w, c = x.shape
    if h % 2 or w % 2:
        return nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))  # [B, H/2, W/2, C]


def upsample_2x2(x):
    """Nearest-neighbour 2x upsampling (Keras ``UpSampling2D``). [B, H, W, C] -> [B, 2H, 2W, C]."""
    b, h, w, c = x.shape
    x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))  # [B, H, 2, W, 2, C]
    return x.reshape(b, 2 * h, 2 * w, c)
