"""Small pieces shared by the models: the model registry, activations and initializers by name, and
the normalization layers. The convolution layers are in :mod:`aejax.models.convolutions`."""
from __future__ import annotations

import flax.linen as nn
import jax
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


#: Activations that never decrease: for these ``max_pool(act(x)) == act(max_pool(x))`` exactly, so a
#: model may pool first and run the activation on a quarter of the values.
MONOTONE = frozenset({"relu", "sigmoid", "tanh", "linear", "elu", "leaky_relu", "softplus", "selu"})


#: ``model.norm``: none, batch normalization or layer normalization after each hidden layer (before its
#: activation).
NORMS = ("none", "batch", "layer")
#: The mutable collection a training step's batch-norm layers write their new running averages into.
RUNNING = "running_stats"


class BatchNorm(nn.Module):
    """Batch normalization whose running averages live in ``params`` (Keras' momentum and epsilon).

    Training (``train=True``, applied with ``mutable=[RUNNING]``) normalises by the batch's mean and
    variance over every axis but the channels, and writes the updated running averages into the
    collection :data:`RUNNING`; the train step copies them into the parameters after the optimizer
    update (:func:`with_running_stats`). Evaluation uses the running averages, so an example's output
    does not depend on the rest of its batch. The running averages get no gradient (the training path
    never reads them into the loss), and keeping them with the parameters means that evaluation,
    prediction, the analysis and the checkpoints see one pytree, as for any other model.
    """

    momentum: float = 0.99
    epsilon: float = 1e-3

    @nn.compact
    def __call__(self, x, train: bool):
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        running_mean = self.param("running_mean", nn.initializers.zeros, (c,))
        running_var = self.param("running_var", nn.initializers.ones, (c,))
        if train:
            axes = tuple(range(x.ndim - 1))
            mean = x.mean(axes)
            var = jnp.square(x - mean).mean(axes)
            keep, sg = self.momentum, jax.lax.stop_gradient
            self.put_variable(RUNNING, "running_mean", keep * sg(running_mean) + (1 - keep) * sg(mean))
            self.put_variable(RUNNING, "running_var", keep * sg(running_var) + (1 - keep) * sg(var))
        else:
            mean, var = running_mean, running_var
        return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias


def norm_layers(norm: str, n: int, prefix: str):
    """``n`` normalization layers named ``<prefix>_norm_<i>``: :class:`BatchNorm` ('batch'),
    ``nn.LayerNorm`` ('layer'), or n Nones ('none')."""
    if norm not in NORMS:
        raise ValueError(f"model.norm={norm!r}: expected one of {list(NORMS)}")
    make = {"batch": BatchNorm, "layer": nn.LayerNorm, "none": None}[norm]
    return [make(name=f"{prefix}_norm_{i}") if make else None for i in range(n)]


def normed(layer, x, train: bool):
    """``layer(x)`` (batch norm: in training or evaluation mode), or ``x`` when there is no layer."""
    if layer is None:
        return x
    return layer(x, train) if isinstance(layer, BatchNorm) else layer(x)


def with_running_stats(params, running):
    """``params`` with the running averages a training step wrote (a tree mirroring the parameters')."""
    if not running:
        return params
    out = dict(params)
    for k, v in running.items():
        out[k] = with_running_stats(params[k], v) if isinstance(v, dict) else v
    return out
