"""Latent-analysis time and peak memory against the code width D (synthetic codes).

    .venv/bin/python benchmarks/analysis_scaling.py [--n 1000] [--d 100 1000 12544 100000] [--json out.json]

For each D, a fresh process builds N synthetic test codes [N, D] (float32, as
``analysis/latents.npy``: a rank-20 signal plus noise, 5 % of the units dead),
an "untrained encoder" reference code of the same shape, and a decoder that
stands in for a model: a fixed sparse linear map to 784 "pixels" (8 non-zeros
per unit) and a sigmoid, whose cost grows with D as reading the code does. It
then runs what ``aejax analyze`` runs on the codes, with the same functions
and constants (:mod:`aejax.analysis.run_dir`): the spectrum (the cheaper of
the covariance and Gram forms), the shuffle floor (20 shuffles), the
Marchenko-Pastur and untrained-encoder floors, the eigenvectors, and the
ablations (every unit up to ``MAX_UNITS``, the leading ``MAX_DIRECTIONS``
directions, the keep-top-k curves) with BLAS on one thread, as ``analyze`` runs
(the shuffled floors of a wide code one per core).
Not included: loading the model, encoding, the data PCA (784 pixels: the same
at every D), figures and the report.

Reported per D: wall and CPU seconds of the spectrum + floors and of the
ablation, and the peak resident memory of the process (``ru_maxrss``) with the
resident memory before the analysis (imports + the two code arrays) beside it.
On the project's shared 2-core machine other jobs inflate the wall clock; the
load average is printed with the table.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIXELS = 784


def _rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one(n: int, d: int, seed: int = 0) -> dict:
    """Analyse synthetic codes of width ``d`` in this process; returns the timings and memory."""
    import numpy as np
    import scipy.sparse

    from aejax.analysis import importance, run_dir

    rng = np.random.default_rng([seed, d])
    rank = min(20, d // 2)
    basis = rng.normal(size=(rank, d)).astype(np.float32) / np.sqrt(d)
    z = (rng.normal(size=(n, rank)).astype(np.float32) * np.linspace(3, 0.5, rank, dtype=np.float32)) @ basis
    z += 0.01 * rng.normal(size=(n, d)).astype(np.float32)
    z[:, : d // 20] = 0.0  # dead units
    zu = 0.01 * rng.normal(size=(n, d)).astype(np.float32)
    p = scipy.sparse.random(d, PIXELS, density=min(1.0, 8 / PIXELS), format="csr", dtype=np.float32,
                            random_state=seed)

    def decode(c):
        c = np.asarray(c, np.float32)
        return (1 / (1 + np.exp(-(p.T @ c.T).T))).reshape(len(c), 28, 28)

    x = decode(z) + 0.01 * rng.normal(size=(n, 28, 28)).astype(np.float32)
    decode_s = (4 * d + 4 * PIXELS) / run_dir.MEMORY_BW
    rss0 = _rss_mb()
    out = {"n": n, "d": d, "rss_before_mb": round(rss0, 1)}
    with run_dir._one_blas_thread():
        w0, c0 = time.perf_counter(), time.process_time()
        spec, vecs = run_dir._spectrum(z, np.random.default_rng([seed, 12]), zu)
        w1, c1 = time.perf_counter(), time.process_time()
        imp = importance.importance_report(z, vecs, decode, x, decode_s, run_dir.ABLATION_BUDGET_S)
        w2, c2 = time.perf_counter(), time.process_time()
    out.update({"form": spec["form"], "spectrum_s": round(w1 - w0, 2), "spectrum_cpu_s": round(c1 - c0, 2),
                "ablation_s": round(w2 - w1, 2), "ablation_cpu_s": round(c2 - c1, 2),
                "total_s": round(w2 - w0, 2), "total_cpu_s": round(c2 - c0, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "modes_above_floor": spec["modes_above_floor"], "modes_90": spec["modes_90"],
                "units_ablated": imp["units_ablated"], "examples": imp["examples"]})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="codes (test examples); mnist5k's test split: 1000")
    p.add_argument("--d", type=int, nargs="+", default=[100, 1000, 12544, 100000])
    p.add_argument("--json", help="write the rows here")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: analyse this D in-process
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.n, args.one)))
        return
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for d in args.d:
        r = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--one", str(d)],
                           capture_output=True, text=True, env=env)
        if r.returncode:
            sys.exit(f"D={d} failed:\n{r.stderr}")
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(f"D={d}: {rows[-1]}", file=sys.stderr)
    print(f"load average {os.getloadavg()[0]:.1f} (N = {args.n})")
    print("| D | form | spectrum + floors | ablation (units, examples) | total (CPU) | peak RSS (before) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['d']:,} | {r['form']} | {r['spectrum_s']:.2f} s | {r['ablation_s']:.2f} s "
              f"({r['units_ablated']}, {r['examples']}) | {r['total_s']:.2f} s ({r['total_cpu_s']:.1f} s) | "
              f"{r['peak_rss_mb']:,.0f} MB ({r['rss_before_mb']:,.0f} MB) |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
