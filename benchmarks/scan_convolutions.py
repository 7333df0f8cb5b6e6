"""Convolutions inside a training scan on XLA:CPU: the engine's loop-body gradients against XLA's own.

    .venv/bin/python benchmarks/scan_convolutions.py                  # ~3 min on 2 cores
    .venv/bin/python benchmarks/scan_convolutions.py --batch 256 --seeds 4 --rounds 7
    .venv/bin/python benchmarks/scan_convolutions.py --quick          # ~1 min smoke run

XLA:CPU rewrites a convolution's gradients into fast forms only at a program's top level; inside
the ``while`` loop a ``lax.scan`` becomes, it runs them through its generic convolution. The engine
therefore traces every scanned epoch (``aejax.train.step.scan_steps``) inside
``aejax.models.convolutions.loop_body_convolutions``, where ``conv_same`` takes ``conv_same_loop``'s
gradients (a canonical convolution and a matmul). This script times, for an experiment's model
(``mnist_conv`` by default: the course conv autoencoder, BCE, Keras' Adam), one epoch of:

- ``looped``: a Python loop over the jitted step (``train.scan_epoch=false``, ``mnist_conv``'s own
  path; XLA's gradients at the top level, unchanged);
- ``scanned``: the epoch as one ``lax.scan`` (``train.scan_epoch=true``; also ``train.strategy=pmap``);
- ``S seeds``: S seeds in one vmapped, scanned program (``aejax.train.programs.Group``, what
  ``--set sweep.vectorize_seeds=true`` trains), samples/s over all seeds;

each ``scanned`` program twice: as the engine traces it now (``now``) and with ``scan_steps`` as a
plain ``lax.scan`` (``before``: XLA's gradients in the loop, aejax before 2026-11-30); the ``S seeds``
program three times: now (on CPU a conv model's seeds are unrolled inside the step,
``programs.seeds_unrolled``), vmapped over the seeds with the loop gradients (``vmap``), and before
(vmapped, XLA's gradients). Every program is built with ``aejax.run.builder.build`` from the experiment's config
(``train.batch_size`` = ``--batch``) on synthetic images (uniform in [0, 1), ``--n`` per seed),
compiled, run once untimed, then the rounds interleave every contender; the table gives the median
epoch and samples/s, and each contender against ``looped``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

import numpy as np

IMAGE = (28, 28, 1)


class Contender:
    """One compiled epoch program; :meth:`run` times one epoch, blocking on its result."""

    def __init__(self, name: str, cfg: dict, n: int, *, scan: bool, seeds: int = 1, loop_grads: bool = True,
                 unroll: bool = True):
        import jax

        from aejax.run import builder
        from aejax.train import programs
        from aejax.train.programs import Group, Single

        self.name, self.jax, self.samples = name, jax, seeds * (n // cfg["train"]["batch_size"]) * cfg["train"][
            "batch_size"]
        cfg = {**cfg, "train": {**cfg["train"], "scan_epoch": scan}}
        built = builder.build(cfg, IMAGE, n, strategy="mesh")
        x = np.random.default_rng(0).random((seeds, n, *IMAGE), np.float32)
        # The switch acts when the epoch is traced (here, at compile time) and is then baked in.
        with _engine_as_before(programs, loop_grads, unroll):
            if seeds == 1:
                self.program = Single(built.trainer, {"train": x[0]}, IMAGE, 0)
            else:
                self.program = Group([built.task], range(seeds), {"train": x}, IMAGE,
                                     batch_size=cfg["train"]["batch_size"], eval_batch_size=1000)
            t0 = time.perf_counter()
            self.state, _ = self.program.init()  # compiles the epoch
            self.compile_s = time.perf_counter() - t0
            self.active = np.ones(self.program.n, bool)
            self.epoch_i = 0
            self.run()  # the first execution (allocations) is not timed

    def run(self) -> float:
        self.epoch_i += 1
        t0 = time.perf_counter()
        self.state, metrics = self.program.epoch(self.state, self.epoch_i, self.active)
        self.jax.block_until_ready((self.state, metrics))
        return time.perf_counter() - t0


@contextlib.contextmanager
def _engine_as_before(programs, loop_grads: bool, unroll: bool):
    """Without ``loop_grads``: ``scan_steps`` as a plain ``lax.scan`` (XLA's convolution gradients
    inside the loop); without ``unroll``: a group vmaps every task's seeds."""
    from aejax.train import step
    saved = step.loop_body_convolutions, programs.seeds_unrolled
    if not loop_grads:
        step.loop_body_convolutions = contextlib.nullcontext
    if not unroll:
        programs.seeds_unrolled = lambda task, example_shape: False
    try:
        yield
    finally:
        step.loop_body_convolutions, programs.seeds_unrolled = saved


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", default="mnist_conv")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seeds", type=int, default=2, help="seeds of the vectorised contender (default %(default)s)")
    p.add_argument("--n", type=int, default=12_800, help="training images per seed (default %(default)s)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="--n 2560 --rounds 3")
    p.add_argument("--json", metavar="OUT", help="also write the timings as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 2560, 3

    from aejax import jaxsetup
    jaxsetup.tune_malloc()  # as `aejax run` does
    from aejax.run import experiment
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from throughput import machine_info

    cfg = experiment.load(args.experiment).get_config()
    cfg["train"]["batch_size"] = args.batch
    s = args.seeds
    print(f"building {args.experiment} epochs (batch {args.batch}, {args.n} images per seed) ...", flush=True)
    contenders = [Contender("looped", cfg, args.n, scan=False),
                  Contender("scanned (now)", cfg, args.n, scan=True),
                  Contender("scanned (before)", cfg, args.n, scan=True, loop_grads=False),
                  Contender(f"{s} seeds (now)", cfg, args.n, scan=True, seeds=s),
                  Contender(f"{s} seeds (vmap)", cfg, args.n, scan=True, seeds=s, unroll=False),
                  Contender(f"{s} seeds (before)", cfg, args.n, scan=True, seeds=s, loop_grads=False, unroll=False)]
    times = {c.name: [] for c in contenders}
    for r in range(args.rounds):
        line = []
        for c in contenders:
            times[c.name].append(c.run())
            line.append(f"{c.name}={times[c.name][-1]:.3f}s")
        print(f"round {r + 1}/{args.rounds}: " + "  ".join(line), flush=True)

    base = args.n // args.batch * args.batch / statistics.median(times["looped"])
    rows = []
    print(f"\n{'contender':18s} {'epoch s':>8s} {'samples/s':>10s} {'vs looped':>10s} {'compile s':>10s}")
    for c in contenders:
        med = statistics.median(times[c.name])
        rate = c.samples / med
        rows.append({"contender": c.name, "epoch_s": med, "samples_per_s": rate, "vs_looped": rate / base,
                     "compile_s": c.compile_s, "times": times[c.name]})
        print(f"{c.name:18s} {med:8.3f} {rate:10.0f} {rate / base:9.2f}x {c.compile_s:10.1f}")
    load = os.getloadavg()
    print(f"\nload average (1/5/15 min) at the end: {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; "
          f"{args.rounds} interleaved rounds")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine_info(), "args": vars(args), "results": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
