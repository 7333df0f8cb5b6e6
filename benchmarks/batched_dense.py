"""A dense layer over a batch: a per-example loop vs one matrix multiplication (seed 002's question).

    .venv/bin/python benchmarks/batched_dense.py              # ~1 min
    .venv/bin/python benchmarks/batched_dense.py --quick      # seconds
    .venv/bin/python benchmarks/batched_dense.py --json out.json

"Can an entire series of inputs be computed at the same time with a single matrix
multiplication?" For each size (the question's 100 x 10 -> 2, and the course's first layer,
784 -> 400 on a batch of 1,024) this computes the layer's outputs and its weight gradient
``transpose(input) @ output_err`` both ways and checks they agree (max abs difference), then
times, each per call, the median of ``--repeats`` runs (each the mean of 50 back-to-back calls;
the per-example loops: one call) after a warm-up:

- ``loop``: one jitted ``x_n @ W + b`` call per example from Python (the per-example way);
- ``lax.map``: the same per-example function looped inside one compiled program;
- ``vmap``: ``jax.vmap`` of the per-example function (XLA turns it into a matmul);
- ``batched``: ``X @ W + b``, one matmul;
- ``numpy loop`` / ``numpy batched``: the same in numpy (float32).

Then the other half of the answer: full-batch gradient descent (one update per pass over the
data, the whole set as one matmul) is not the same optimisation as mini-batch or per-example
descent: the loss after each epoch for batch sizes 100, 10 and 1 at one learning rate, on the
question's 100 x 10 -> 2 problem (:func:`aejax.projects.qa.matmul.gd_epochs`).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from aejax.projects.qa import matmul


def _median_s(fn, repeats: int, inner: int = 50) -> float:
    """Seconds per call: the median over ``repeats`` of the mean of ``inner`` back-to-back calls."""
    jax.block_until_ready(fn())  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            r = fn()
        jax.block_until_ready(r)
        times.append((time.perf_counter() - t) / inner)
    return float(np.median(times))


def layer(n: int, d: int, k: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    xn, wn, bn = (rng.normal(size=s).astype(np.float32) for s in ((n, d), (d, k), (k,)))
    x, w, b = jnp.asarray(xn), jnp.asarray(wn), jnp.asarray(bn)
    one = jax.jit(matmul.dense_one)
    batched = jax.jit(matmul.dense_batched)
    vmapped = jax.jit(jax.vmap(matmul.dense_one, in_axes=(0, None, None)))
    mapped = jax.jit(lambda x, w, b: jax.lax.map(lambda r: matmul.dense_one(r, w, b), x))
    err = jnp.asarray(rng.normal(size=(n, k)).astype(np.float32))
    out = {"size": f"{n} x {d} -> {k}",
           "max_abs_diff_outputs": float(jnp.max(jnp.abs(jnp.stack([one(x[i], w, b) for i in range(n)])
                                                         - batched(x, w, b)))),
           "max_abs_diff_weight_grad": float(jnp.max(jnp.abs(matmul.weight_grad_loop(x, err)
                                                             - matmul.weight_grad_batched(x, err))))}
    rows = [x[i] for i in range(n)]  # slicing outside the timed loop
    times = {
        "loop": _median_s(lambda: [one(r, w, b) for r in rows], repeats, inner=1),
        "lax.map": _median_s(lambda: mapped(x, w, b), repeats),
        "vmap": _median_s(lambda: vmapped(x, w, b), repeats),
        "batched": _median_s(lambda: batched(x, w, b), repeats),
        "numpy loop": _median_s(lambda: [xn[i] @ wn + bn for i in range(n)], repeats, inner=1),
        "numpy batched": _median_s(lambda: xn @ wn + bn, repeats),
    }
    out["seconds"] = times
    out["loop_over_batched"] = times["loop"] / times["batched"]
    out["numpy_loop_over_batched"] = times["numpy loop"] / times["numpy batched"]
    return out


def descent(epochs: int, lr: float) -> dict:
    x, y, w0 = matmul.toy_problem()
    res = {}
    for bs in (100, 10, 1):
        ws, losses = matmul.gd_epochs(x, y, w0, bs, lr, epochs)
        res[bs] = {"updates_per_epoch": 100 // bs, "loss_per_epoch": [float(v) for v in losses]}
    res["max_abs_weight_diff_full_vs_minibatch_after_1_epoch"] = float(np.max(np.abs(
        matmul.gd_epochs(x, y, w0, 100, lr, 1)[0][1] - matmul.gd_epochs(x, y, w0, 10, lr, 1)[0][1])))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, the small size only")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    repeats = 3 if args.quick else args.repeats
    sizes = [(100, 10, 2)] + ([] if args.quick else [(1024, 784, 400)])
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, load average {os.getloadavg()[0]:.1f}")
    results = {"layers": [layer(n, d, k, repeats) for n, d, k in sizes]}
    for r in results["layers"]:
        print(f"\n{r['size']}: outputs max |loop - batched| = {r['max_abs_diff_outputs']:.2e}, weight grad "
              f"max |sum of outer products - X.T @ E| = {r['max_abs_diff_weight_grad']:.2e}")
        for name, s in r["seconds"].items():
            print(f"  {name:14s} {s * 1e3:10.3f} ms  ({s / r['seconds']['batched']:8.1f}x batched)")
    results["descent"] = descent(epochs=5 if args.quick else 20, lr=0.05)
    print("\nGradient descent on the 100 x 10 -> 2 problem, learning rate 0.05, data in order; "
          "full-data MSE after each epoch:")
    for bs in (100, 10, 1):
        d = results["descent"][bs]
        picks = sorted({0, 1, 2, 5, len(d["loss_per_epoch"]) - 1})
        print(f"  batch {bs:3d} ({d['updates_per_epoch']:3d} updates/epoch): "
              + ", ".join(f"epoch {i}: {d['loss_per_epoch'][i]:.4f}" for i in picks))
    print("  max |W_full - W_batch10| after one epoch: "
          f"{results['descent']['max_abs_weight_diff_full_vs_minibatch_after_1_epoch']:.3f}")
    results["load_average_after"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
