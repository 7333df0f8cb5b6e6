"""Formulations of the course conv autoencoder's train step on XLA:CPU, timed side by side.

    .venv/bin/python benchmarks/conv_formulations.py              # ~2 min on 2 cores
    .venv/bin/python benchmarks/conv_formulations.py --batch 256 --rounds 9

The model is the course's (Conv16-Pool-Conv8-Pool-Conv8-Up-Conv16-Up-Conv1, 3x3
'same', ReLU, sigmoid output, BCE, Keras' Adam at lr 1e-3) written here with
three switches, each one of the choices behind ``aejax.models.conv.ConvAE``:

- ``pool``: the 2x2 max-pool as a reshape + max over two axes (aejax before),
  or the elementwise maximum of four strided slices (``common.max_pool_2x2``);
- ``order``: ``act-pool`` (ReLU, then pool) or ``pool-act`` (pool, then ReLU on a
  quarter of the values: equal for any non-decreasing activation);
- ``enc``: ``conv`` (``nn.Conv``, then the pool) or ``pooled`` (``common.PooledConv``:
  the bias added after the pool, so the full-resolution output is touched once less);
- ``out``: the output convolution on the upsampled image (``nn.Conv``), or
  ``common.UpConv`` computing ``common.conv_upsampled`` (its taps' products at
  the low resolution, then the shifted sums).

- ``loss``: the per-example mean of the BCE as ``.mean(axis=1)`` (``reduce``: aejax
  before) or as a matrix-vector product with 1/n (``dot``: ``losses._per_example_mean``).

Each variant is one jitted train step (parameters donated), called in a Python
loop over ``--steps`` pre-made batches of uniform noise; a round times every
variant once, rounds interleave the variants so machine load hits them alike,
and the table gives the median samples/s over rounds (the first round, which
includes allocations, is dropped). All variants start from the same parameters
(the same names and shapes) and their losses at the first step agree (printed).
"""
from __future__ import annotations

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aejax.models.common import initializer, max_pool_2x2, PooledConv, upsample_2x2, UpConv
from aejax.models.losses import bce
from aejax.train.step import make_optimizer


def pool_reshape(x):
    """2x2 max-pool as a reshape + max over the two window axes (aejax's form until 2026-11-29)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


POOLS = {"reshape": pool_reshape, "slices": max_pool_2x2}


class CourseConv(nn.Module):
    pool: str = "slices"
    order: str = "pool-act"
    out: str = "shift"
    enc: str = "pooled"

    @nn.compact
    def __call__(self, x):
        pool, init = POOLS[self.pool], initializer("he_uniform")
        for i, c in enumerate((16, 8)):
            if self.enc == "pooled":  # (pool-act and the slices pool only)
                x = nn.relu(PooledConv(c, 3, init, name=f"enc_{i}")(x))
                continue
            x = nn.Conv(c, (3, 3), padding="SAME", kernel_init=init, name=f"enc_{i}")(x)
            x = nn.relu(pool(x)) if self.order == "pool-act" else pool(nn.relu(x))
        for i, c in enumerate((8, 16)):
            x = nn.relu(nn.Conv(c, (3, 3), padding="SAME", kernel_init=init, name=f"dec_{i}")(x))
            if i == 0 or self.out == "conv":
                x = upsample_2x2(x)
        if self.out == "conv":
            return nn.sigmoid(nn.Conv(1, (3, 3), padding="SAME", kernel_init=init, name="out")(x))
        return nn.sigmoid(UpConv(1, 3, (28, 28), init, impl="shift", name="out")(x))  # nn.Conv's parameters


def bce_reduce(recon, target):
    """losses.bce with the per-example mean as a reduction (aejax's form until 2026-11-29)."""
    p = jnp.clip(recon, 1e-7, 1.0 - 1e-7)
    return (-(target * jnp.log(p) + (1.0 - target) * jnp.log1p(-p))).reshape(target.shape[0], -1).mean(axis=1)


def train_step(model, tx, loss_mean: str):
    loss_fn = bce if loss_mean == "dot" else bce_reduce

    def step(state, x):
        params, opt_state = state
        loss, grads = jax.value_and_grad(lambda p: loss_fn(model.apply({"params": p}, x), x).mean())(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (jax.tree.map(jnp.add, params, updates), opt_state), loss
    return jax.jit(step, donate_argnums=0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=40, help="batches per round (default %(default)s)")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)

    variants = [("reshape", "act-pool", "conv", "conv", "reduce"), ("slices", "act-pool", "conv", "conv", "reduce"),
                ("slices", "pool-act", "conv", "conv", "reduce"), ("slices", "pool-act", "shift", "conv", "reduce"),
                ("slices", "pool-act", "shift", "conv", "dot"), ("slices", "pool-act", "shift", "pooled", "dot")]
    rng = np.random.default_rng(0)
    batches = [jnp.asarray(rng.random((args.batch, 28, 28, 1), np.float32)) for _ in range(args.steps)]
    tx = make_optimizer("adam_keras", 1e-3)
    params = CourseConv().init(jax.random.key(0), batches[0][:1])["params"]  # every variant's start
    runs = {}
    for v in variants:
        step = train_step(CourseConv(*v[:4]), tx, v[4])
        start = jax.tree.map(jnp.array, params)  # a copy: the step donates its state
        state, loss = step((start, tx.init(start)), batches[0])
        runs[v] = [step, state, float(loss), []]
    print("first-step loss per variant: " + ", ".join(f"{'/'.join(v)} {r[2]:.7f}" for v, r in runs.items()))
    for r in range(args.rounds):
        for v, run in runs.items():
            step, state = run[0], run[1]
            t = time.perf_counter()
            for xb in batches:
                state, loss = step(state, xb)
            jax.block_until_ready(state)
            run[3].append(args.steps * args.batch / (time.perf_counter() - t))
            run[1] = state
    base = statistics.median(runs[variants[0]][3][1:])
    print(f"\nbatch {args.batch}, {args.steps} steps x {args.rounds} rounds (first dropped); jax {jax.__version__}, "
          f"backend {jax.default_backend()}")
    print(f"{'pool':<8} {'order':<9} {'out conv':<9} {'enc':<7} {'loss':<7} {'samples/s':>10} {'x first':>8}")
    for v, run in runs.items():
        med = statistics.median(run[3][1:])
        print(f"{v[0]:<8} {v[1]:<9} {v[2]:<9} {v[3]:<7} {v[4]:<7} {med:>10.0f} {med / base:>7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
