"""Optimizers from the config's ``train`` section: optax transformations by name, Keras' Adam,
learning-rate schedules with warm-up, and gradient clipping."""
from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import optax

LR_SCHEDULES = ("constant", "cosine")


def optimizer_from_config(t: Mapping, steps_per_epoch: int):
    """The ``train`` section's optimizer: ``optimizer`` at ``learning_rate`` following ``lr_schedule``,
    'constant' or 'cosine' (cosine decay from ``learning_rate`` to 0 over ``epochs`` x
    ``steps_per_epoch`` steps; a run resumed with more epochs keeps its original schedule length
    only if ``epochs`` is unchanged). ``warmup_epochs`` > 0 ramps the rate linearly from 0 over
    that many epochs first (the cosine then decays over the remaining steps). ``grad_clip_value`` /
    ``grad_clip_norm`` > 0 clip the gradients first (:func:`with_grad_clipping`)."""
    lr = t["learning_rate"]
    total = max(int(t["epochs"]) * int(steps_per_epoch), 1)
    warmup = min(int(round(float(t.get("warmup_epochs", 0)) * steps_per_epoch)), total - 1)
    schedule = t.get("lr_schedule", "constant")
    if schedule == "cosine":
        decay = optax.cosine_decay_schedule(lr, total - warmup)
    elif schedule == "constant":
        # A plain number without warm-up: a schedule would add a step count to the optimizer
        # state and older checkpoints would no longer restore.
        decay = optax.constant_schedule(lr) if warmup else lr
    else:
        raise ValueError(f"unknown lr_schedule {schedule!r}; expected one of {list(LR_SCHEDULES)}")
    if warmup > 0:
        lr = optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), decay], [warmup])
    else:
        lr = decay
    tx = make_optimizer(t["optimizer"], lr, t.get("weight_decay", 0.0), t.get("adam_eps", 1e-8))
    return with_grad_clipping(tx, t.get("grad_clip_norm", 0.0), t.get("grad_clip_value", 0.0))


def with_grad_clipping(tx, clip_norm: float = 0.0, clip_value: float = 0.0):
    """``tx`` applied to clipped gradients: each element to [-clip_value, clip_value]
    (``optax.clip``), then the whole gradient to global L2 norm <= clip_norm
    (``optax.clip_by_global_norm``); 0 turns either off. With both off ``tx`` itself is returned,
    so the optimizer state (and older checkpoints) keep their structure."""
    clips = ([optax.clip(float(clip_value))] if clip_value > 0 else []) + \
        ([optax.clip_by_global_norm(float(clip_norm))] if clip_norm > 0 else [])
    return optax.chain(*clips, tx) if clips else tx


def scale_by_adam_eps_hat(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7):
    """Adam in Kingma & Ba's "efficient" form, as Keras and TensorFlow implement it:
    ``sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``, i.e. ``eps`` is added to the
    *uncorrected* sqrt(v). It equals optax's Adam with ``eps / sqrt(1 - b2^t)`` in place of ``eps``:
    ~32x larger at the first step, 1.3x at step 1,000, the same after ~5,000 steps. Those early
    steps are gentler on weights with tiny gradients, and it shows in the result (benchmarks/README.md)."""
    def init(params):
        zeros = lambda: jax.tree.map(jnp.zeros_like, params)
        return optax.ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros())

    def update(grads, state, params=None):
        del params
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)
        count = state.count + 1
        t = count.astype(jnp.float32)
        scale = jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        updates = jax.tree.map(lambda m, v: scale * m / (jnp.sqrt(v) + eps), mu, nu)
        return updates, optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)


def make_optimizer(name: str, learning_rate, weight_decay: float = 0.0, adam_eps: float = 1e-8):
    """An optax optimizer by name: adam, adam_keras, adamw, sgd, momentum, rmsprop, adagrad
    (``learning_rate`` a number or an optax schedule; ``adam_eps``: optax's 1e-8, Keras' 1e-7).
    ``adam_keras`` is Adam as Keras / TensorFlow compute it (:func:`scale_by_adam_eps_hat`)."""
    makers = {
        "adam": lambda: optax.adam(learning_rate, eps=adam_eps),
        "adam_keras": lambda: optax.chain(scale_by_adam_eps_hat(eps=adam_eps),
                                          optax.scale_by_learning_rate(learning_rate)),
        "adamw": lambda: optax.adamw(learning_rate, eps=adam_eps, weight_decay=weight_decay),
        "sgd": lambda: optax.sgd(learning_rate),
        "momentum": lambda: optax.sgd(learning_rate, momentum=0.9),
        "rmsprop": lambda: optax.rmsprop(learning_rate),
        "adagrad": lambda: optax.adagrad(learning_rate),
    }
    if name not in makers:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(makers)}")
    return makers[name]()
