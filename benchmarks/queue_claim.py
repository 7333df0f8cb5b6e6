"""The sweep queue's own cost: claiming and releasing a run directory (aejax.run.queue).

    PYTHONPATH=. python benchmarks/queue_claim.py [--dir DIR] [--n 2000]

Times, per run directory, ``try_claim`` (the O_EXCL lock, writing the heartbeat into it, starting
the heartbeat thread) and ``Claim.release`` (stopping the thread, removing the lock), and the
whole per-run cost of a worker that finds a run free (make_run_dir on a new directory, claim,
is_finished check, release). Prints median and 90th percentile in milliseconds. ``--dir``: put the
run directories on the filesystem to measure (e.g. a shared NFS mount); default a temporary
folder.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from aejax.run import queue
from aejax.run.rundir import RunDir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="folder to create the run directories in (default: a temporary one)")
    ap.add_argument("--n", type=int, default=2000, help="claims to time")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        clock = queue.FsClock(root)
        claim_ms, release_ms, cycle_ms = [], [], []
        for i in range(args.n):
            rd = RunDir(root / f"run{i}")
            t0 = time.perf_counter()
            queue.make_run_dir(rd.path)
            t1 = time.perf_counter()
            claim = queue.try_claim(rd, clock=clock)
            t2 = time.perf_counter()
            assert claim is not None and not rd.is_finished()
            t3 = time.perf_counter()
            claim.release()
            t4 = time.perf_counter()
            claim_ms.append((t2 - t1) * 1e3)
            release_ms.append((t4 - t3) * 1e3)
            cycle_ms.append((t4 - t0) * 1e3)
    for name, xs in (("claim (try_claim)", claim_ms), ("release", release_ms),
                     ("new run dir + claim + check + release", cycle_ms)):
        xs = sorted(xs)
        print(f"{name:<40} median {statistics.median(xs):.3f} ms   p90 {xs[int(0.9 * len(xs))]:.3f} ms   "
              f"(n = {len(xs)})")


if __name__ == "__main__":
    main()
