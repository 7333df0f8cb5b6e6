"""Formulations of the course conv autoencoder's train step on XLA:CPU, timed side by side.

    .venv/bin/python benchmarks/conv_formulations.py              # ~2 min on 2 cores
    .venv/bin/python benchmarks/conv_formulations.py --batch 256 --rounds 9
    .venv/bin/python benchmarks/conv_formulations.py --layers   # conv + pool alone, per shape (~1 min)

The model is the course's (Conv16-Pool-Conv8-Pool-Conv8-Up-Conv16-Up-Conv1, 3x3
'same', ReLU, sigmoid output, BCE, Keras' Adam at lr 1e-3) written here with
three switches, each one of the choices behind ``aejax.models.conv.ConvAE``:

- ``pool``: the 2x2 max-pool as a reshape + max over two axes (aejax before),
  or the elementwise maximum of four strided slices (``convolutions.max_pool_2x2``);
- ``order``: ``act-pool`` (ReLU, then pool) or ``pool-act`` (pool, then ReLU on a
  quarter of the values: equal for any non-decreasing activation);
- ``enc``: ``conv`` (``nn.Conv``, then the pool), ``pooled`` (``convolutions.PooledConv`` as a
  convolution: the bias added after the pool, so the full-resolution output is touched once less)
  or ``rows`` (``PooledConv`` as aejax runs it on CPU: the one-channel first layer through
  ``convolutions.pooled_conv_rows``, one matmul over the pool-grouped tap rows);
- ``out``: the output convolution on the upsampled image (``nn.Conv``), or
  ``convolutions.UpConv`` computing ``convolutions.conv_upsampled`` (its taps' products at
  the low resolution, then the shifted sums);
- ``dec``: the second decoder convolution (8 -> 16 channels on the upsampled 7x7 code) as upsample +
  ``nn.Conv`` (``conv``), or as ``convolutions.UpConv`` computing ``convolutions.conv_upsampled_band`` (``band``:
  one matmul per output-row parity against a banded matrix, at the low resolution);

- ``loss``: the per-example mean of the BCE as ``.mean(axis=1)`` (``reduce``: aejax
  before) or as a matrix-vector product with 1/n (``dot``: ``losses._per_example_mean``).

Each variant is one jitted train step (parameters donated), called in a Python
loop over ``--steps`` pre-made batches of uniform noise; a round times every
variant once in a shuffled order, rounds interleave the variants so machine load hits them alike,
and the table gives the median samples/s over rounds (the first round, which
includes allocations, is dropped). All variants start from the same parameters
(the same names and shapes) and their losses at the first step agree (printed).

``--layers`` times one convolution + 2x2 max-pool alone (value and gradient of a ReLU'd weighted
sum; the kernel's gradient only, or the input's too where marked), as ``conv`` (convolution, then
``max_pool_2x2``) and as ``rows`` (``pooled_conv_rows``), for the shapes behind ``convolutions.rows_pay``;
then one 2x upsample + convolution alone (value and both gradients), as ``conv`` and as ``band``
(``conv_upsampled_band``), for the shapes behind ``convolutions.band_pays``.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aejax.models.common import initializer
from aejax.models.convolutions import (band_cost, conv_same, conv_upsampled_band, max_pool_2x2, pooled_conv_rows, PooledConv,
                                       upsample_2x2, UpConv)
from aejax.models.losses import bce
from aejax.train.optim import make_optimizer


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
    dec: str = "conv"

    @nn.compact
    def __call__(self, x):
        pool, init = POOLS[self.pool], initializer("he_uniform")
        for i, c in enumerate((16, 8)):
            if self.enc in ("pooled", "rows"):  # (pool-act and the slices pool only)
                impl = "auto" if self.enc == "rows" else "conv"
                x = nn.relu(PooledConv(c, 3, init, impl=impl, name=f"enc_{i}")(x))
                continue
            x = nn.Conv(c, (3, 3), padding="SAME", kernel_init=init, name=f"enc_{i}")(x)
            x = nn.relu(pool(x)) if self.order == "pool-act" else pool(nn.relu(x))
        x = nn.relu(nn.Conv(8, (3, 3), padding="SAME", kernel_init=init, name="dec_0")(x))
        if self.dec == "band":
            x = nn.relu(UpConv(16, 3, None, init, impl="band", name="dec_1")(x))
        else:
            x = nn.relu(nn.Conv(16, (3, 3), padding="SAME", kernel_init=init, name="dec_1")(upsample_2x2(x)))
        if self.out == "conv":
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
    p.add_argument("--layers", action="store_true", help="time conv + pool alone per shape instead")
    args = p.parse_args(argv)
    if args.layers:
        return layers(args.batch, args.rounds)

    variants = [("reshape", "act-pool", "conv", "conv", "conv", "reduce"),
                ("slices", "act-pool", "conv", "conv", "conv", "reduce"),
                ("slices", "pool-act", "conv", "conv", "conv", "reduce"),
                ("slices", "pool-act", "shift", "conv", "conv", "reduce"),
                ("slices", "pool-act", "shift", "conv", "conv", "dot"),
                ("slices", "pool-act", "shift", "pooled", "conv", "dot"),
                ("slices", "pool-act", "shift", "rows", "conv", "dot"),
                ("slices", "pool-act", "shift", "rows", "band", "dot")]
    rng = np.random.default_rng(0)
    batches = [jnp.asarray(rng.random((args.batch, 28, 28, 1), np.float32)) for _ in range(args.steps)]
    tx = make_optimizer("adam_keras", 1e-3)
    params = CourseConv().init(jax.random.key(0), batches[0][:1])["params"]  # every variant's start
    runs = {}
    for v in variants:
        step = train_step(CourseConv(*v[:5]), tx, v[5])
        start = jax.tree.map(jnp.array, params)  # a copy: the step donates its state
        state, loss = step((start, tx.init(start)), batches[0])
        runs[v] = [step, state, float(loss), []]
    print("first-step loss per variant: " + ", ".join(f"{'/'.join(v)} {r[2]:.7f}" for v, r in runs.items()))
    for r in range(args.rounds):
        order = list(runs.items())
        random.Random(r).shuffle(order)  # no variant always runs first (or right after the slowest)
        for v, run in order:
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
    print(f"{'pool':<8} {'order':<9} {'out conv':<9} {'enc':<7} {'dec':<6} {'loss':<7} {'samples/s':>10} {'x first':>8}")
    for v, run in runs.items():
        med = statistics.median(run[3][1:])
        print(f"{v[0]:<8} {v[1]:<9} {v[2]:<9} {v[3]:<7} {v[4]:<6} {v[5]:<7} {med:>10.0f} {med / base:>7.2f}x")
    return 0


#: (kernel, image side, input channels, output channels, input gradient too): the course's first
#: layer, other one- and three-channel first layers, and hidden layers of a few channels on either
#: side of convolutions.rows_pay's bound (k k C_in <= 54 taps).
LAYERS = [(3, 28, 1, 16, False), (3, 28, 1, 32, False), (4, 28, 1, 64, False), (5, 28, 1, 16, False),
          (3, 64, 1, 16, False), (3, 32, 3, 32, False), (4, 28, 3, 32, False), (3, 28, 4, 16, True),
          (3, 14, 6, 8, True), (3, 14, 8, 16, True), (5, 28, 3, 16, False), (3, 14, 16, 8, True)]


def layers(batch: int, rounds: int) -> int:
    rng = np.random.default_rng(0)
    print(f"conv + 2x2 max-pool alone, batch {batch}, median ms of {rounds} rounds x 10 calls; jax "
          f"{jax.__version__}, backend {jax.default_backend()}")
    print(f"{'k':>2} {'H':>3} {'C_in':>4} {'C_out':>5} {'grads':<13} {'conv ms':>8} {'rows ms':>8} {'speed-up':>8}")
    for k, h, c_in, c_out, dx in LAYERS:
        x = jnp.asarray(rng.random((batch, h, h, c_in), np.float32))
        kernel = jnp.asarray(rng.normal(size=(k, k, c_in, c_out)).astype(np.float32) * 0.3)
        r = jnp.asarray(rng.normal(size=(batch, h // 2, h // 2, c_out)).astype(np.float32))
        forms = {"conv": lambda kern, x: max_pool_2x2(conv_same(x, kern)), "rows": lambda kern, x: pooled_conv_rows(x, kern)}
        fns = {n: jax.jit(jax.value_and_grad(lambda kern, x, f=f: jnp.sum(jax.nn.relu(f(kern, x)) * r),
                                             (0, 1) if dx else 0)) for n, f in forms.items()}
        times = _interleaved(fns, (kernel, x), rounds)
        a, b = times["conv"], times["rows"]
        grads = "kernel, input" if dx else "kernel"
        print(f"{k:>2} {h:>3} {c_in:>4} {c_out:>5} {grads:<13} {a:>8.2f} {b:>8.2f} {a / b:>7.2f}x")

    print(f"\n2x upsample + convolution alone (value, kernel and input gradients), batch {batch}: the low-resolution "
          f"side h, and MACs: band's multiply-adds over the convolution's (convolutions.band_cost)")
    print(f"{'k':>2} {'h':>3} {'C_in':>4} {'C_out':>5} {'MACs':>5} {'conv ms':>8} {'band ms':>8} {'speed-up':>8}")
    for k, h, c_in, c_out in UPSAMPLED:
        z = jnp.asarray(rng.random((batch, h, h, c_in), np.float32))
        kernel = jnp.asarray(rng.normal(size=(k, k, c_in, c_out)).astype(np.float32) * 0.3)
        r = jnp.asarray(rng.normal(size=(batch, 2 * h, 2 * h, c_out)).astype(np.float32))
        forms = {"conv": lambda kern, z: conv_same(upsample_2x2(z), kern),
                 "band": lambda kern, z: conv_upsampled_band(z, kern, 0.0)}
        fns = {n: jax.jit(jax.value_and_grad(lambda kern, z, f=f: jnp.sum(jax.nn.relu(f(kern, z)) * r), (0, 1)))
               for n, f in forms.items()}
        times = _interleaved(fns, (kernel, z), rounds)
        a, b = times["conv"], times["band"]
        print(f"{k:>2} {h:>3} {c_in:>4} {c_out:>5} {band_cost(k, h):>5.2f} {a:>8.2f} {b:>8.2f} {a / b:>7.2f}x")
    return 0


#: (kernel, low-resolution side, input channels, output channels) of an upsample + convolution: the course's
#: dec_1 (3, 7, 8, 16), other narrow decoder layers, and wider rows where the band does more work.
UPSAMPLED = [(3, 7, 8, 16), (3, 4, 8, 16), (3, 7, 16, 32), (3, 7, 64, 64), (3, 4, 32, 64), (4, 7, 64, 64),
             (4, 8, 16, 16), (5, 7, 16, 16), (3, 8, 8, 16), (3, 10, 8, 16), (3, 12, 8, 16), (3, 14, 8, 16)]


def _interleaved(fns: dict, args: tuple, rounds: int, calls: int = 10) -> dict:
    """Median ms per call of each function, timed in rounds of ``calls`` calls in a shuffled order."""
    times = {n: [] for n in fns}
    for fn in fns.values():
        jax.block_until_ready(fn(*args))
    for i in range(rounds):
        order = list(fns.items())
        random.Random(i).shuffle(order)
        for n, fn in order:
            t = time.perf_counter()
            for _ in range(calls):
                out = fn(*args)
            jax.block_until_ready(out)
            times[n].append((time.perf_counter() - t) / calls * 1e3)
    return {n: statistics.median(v) for n, v in times.items()}


if __name__ == "__main__":
    raise SystemExit(main())
