"""A deep ReLU classifier (MLP): ``depth`` x Dense(``width``) + ReLU, then Dense(``classes``) logits.

The network of seed 002's "NaN with ReLU" question: every kernel drawn from a truncated normal
with standard deviation 0.1 (``tf.truncated_normal(w_dims, stddev=0.1)``: the standard deviation
of the *untruncated* normal, cut at two of them) and every bias 0.1, a softmax on the logits.
``weight_init`` names the alternatives the answers give (``he_normal``: variance 2 / fan_in), and
``last_std`` > 0 draws the layer below the softmax from a truncated normal that small (1e-4).

Not an autoencoder: ``encode`` is the last hidden layer, ``decode`` the logits layer, so it keeps
the models' interface; :mod:`aejax.projects.qa.relu_nan` trains it with a softmax cross-entropy.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn

from aejax.models.common import INITIALIZERS, register

#: ``weight_init`` choices: the question's truncated normal (``weight_std``) or a named initializer.
WEIGHT_INITS = ("truncated_normal", *sorted(INITIALIZERS))


def weight_initializer(name: str, std: float):
    """The kernel initializer ``name`` (``truncated_normal`` uses ``std``); ValueError naming the choices."""
    if name == "truncated_normal":
        return nn.initializers.truncated_normal(std)  # std of the untruncated normal, cut at +-2 std
    if name in INITIALIZERS:
        return INITIALIZERS[name]()
    raise ValueError(f"unknown weight_init {name!r}; expected one of {list(WEIGHT_INITS)}")


@register("mlp_classifier")
class MLPClassifier(nn.Module):
    """``depth`` ReLU layers of ``width`` units, then ``classes`` logits (no softmax: the loss has it)."""

    out_shape: Sequence[int]               # one example's shape (flattened on input)
    depth: int = 12
    width: int = 512
    classes: int = 10
    weight_init: str = "truncated_normal"  # or he_normal, lecun_normal, glorot_uniform, he_uniform
    weight_std: float = 0.1                # truncated_normal's standard deviation
    bias: float = 0.1                      # every hidden bias starts here (the question: 0.1 for ReLU)
    last_std: float = 0.0                  # > 0: the logits layer's kernel ~ truncated normal(last_std)

    def setup(self):
        init = weight_initializer(self.weight_init, self.weight_std)
        last = nn.initializers.truncated_normal(self.last_std) if self.last_std > 0 else init
        self.hidden = [nn.Dense(self.width, kernel_init=init, bias_init=nn.initializers.constant(self.bias),
                                name=f"hidden_{i}") for i in range(self.depth)]
        self.logits = nn.Dense(self.classes, kernel_init=last, name="logits")

    def activations(self, x):
        """Every hidden layer's output, a list of ``depth`` arrays [B, width] (for the init scale)."""
        h = x.reshape(x.shape[0], -1)  # [B, P]
        out = []
        for layer in self.hidden:
            h = nn.relu(layer(h))
            out.append(h)
        return out

    def encode(self, x, *, train: bool = False):
        """[B, *out_shape] -> last hidden layer [B, width]."""
        del train
        return self.activations(x)[-1] if self.depth else x.reshape(x.shape[0], -1)

    def decode(self, h, *, train: bool = False):
        """[B, width] -> logits [B, classes]."""
        del train
        return self.logits(h)

    def __call__(self, x, *, train: bool = False):
        return self.decode(self.encode(x, train=train), train=train)

