"""The whole course project at full size, timed: mnist_dense, mnist_conv, mnist_denoise, 150 epochs each
on full Fashion-MNIST (54,000 train / 6,000 validation / 10,000 test images).

    apt-get install -y dataset-fashion-mnist        # once: the IDX files under /usr/share/datasets
    .venv/bin/python benchmarks/course.py           # 25-31 min on 2 cores (2026-11-30)
    .venv/bin/python benchmarks/course.py --epochs 5 --root /tmp/course   # a short rehearsal

Each experiment runs as ``aejax run <exp> --set data.name=idx:<dir> --set train.epochs=<E>
--workdir <root>/<exp> --overwrite`` in its own process, one after the other (they would share
the two cores anyway); the wall time of each process (start-up, training, evaluation, latent
analysis, figures and report) is measured here, the run's own summary.json gives its training
throughput and test MSE, and its metrics.jsonl each epoch's wall time (the fastest, median and
slowest epoch show how far the machine's speed moved during the run: every epoch does the same
work). The table ends with the total and the reference test MSEs of README.md /
benchmarks/README.md (measured on the same data, 150 epochs). Exit status: 0 when
every run finished, 1 otherwise (the failing run's log is named), 2 when the data are missing.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

EXPERIMENTS = ("mnist_dense", "mnist_conv", "mnist_denoise")
DATA_DIR = "/usr/share/datasets/fashion-mnist"
#: Test MSEs on full Fashion-MNIST at 150 epochs measured before (README.md, benchmarks/README.md).
REFERENCE = {"mnist_dense": "0.004464 ± 0.000017 (seeds 0-3)",
             "mnist_conv": "0.005453 (seed 0), 0.005330 (seed 1)",
             "mnist_denoise": "(no earlier full-size number)"}
BUDGET_S = 25 * 60


def epoch_times(workdir: Path) -> list[float]:
    """Each epoch's wall time in s (its training steps and validation), from the run's metrics.jsonl."""
    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    return [r["epoch_s"] for r in rows if r.get("epoch_s")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DATA_DIR, help="directory of the Fashion-MNIST IDX files (default %(default)s)")
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", default="results/course", help="parent of the three run directories")
    p.add_argument("--experiments", default=",".join(EXPERIMENTS))
    p.add_argument("--json", metavar="OUT", help="also write the table as JSON")
    args = p.parse_args(argv)

    if not (Path(args.data) / "train-images-idx3-ubyte.gz").exists() and not (
            Path(args.data) / "train-images-idx3-ubyte").exists():
        print(f"course: no Fashion-MNIST IDX files in {args.data}; install them with "
              f"'apt-get install -y dataset-fashion-mnist' or pass --data DIR", file=sys.stderr)
        return 2
    rows, status = [], 0
    t_all = time.perf_counter()
    for exp in args.experiments.split(","):
        workdir = Path(args.root) / exp
        cmd = [sys.executable, "-m", "aejax", "run", exp, "--workdir", str(workdir), "--overwrite",
               "--set", f"data.name=idx:{args.data}", "--set", f"train.epochs={args.epochs}",
               "--set", f"seed={args.seed}"]
        log = Path(args.root) / f"{exp}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{datetime.datetime.now():%H:%M:%S}] {' '.join(cmd[1:])}", flush=True)
        t = time.perf_counter()
        with open(log, "w") as f:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=os.environ.copy()).returncode
        wall = time.perf_counter() - t
        summary = {}
        if rc == 0:
            summary = json.loads((workdir / "summary.json").read_text())
        else:
            status = 1
            print(f"course: {exp} exited {rc}; see {log}", file=sys.stderr)
        times = sorted(epoch_times(workdir))
        spread = [times[0], statistics.median(times), times[-1]] if times else None
        rows.append({"experiment": exp, "exit": rc, "wall_s": wall, "epoch_s_min_median_max": spread,
                     "train_samples_per_s": summary.get("train_samples_per_s"),
                     "test_mse": summary.get("test/mse"), "best_epoch": summary.get("best_epoch"),
                     "reference_test_mse": REFERENCE.get(exp, "")})
        print(f"  {wall:7.1f} s  test MSE {summary.get('test/mse')}", flush=True)
    total = time.perf_counter() - t_all

    # The epochs' spread shows how much the machine's speed moved during a run (same work every epoch).
    print(f"\n{'experiment':<15} {'wall':>9} {'train samples/s':>16} {'epoch s min/med/max':>20} {'test MSE':>10} "
          f"{'best epoch':>10}  reference")
    for r in rows:
        mse = f"{r['test_mse']:.6f}" if r["test_mse"] is not None else "-"
        sps = f"{r['train_samples_per_s']:.0f}" if r["train_samples_per_s"] else "-"
        spread = "/".join(f"{t:.2f}" for t in r["epoch_s_min_median_max"]) if r["epoch_s_min_median_max"] else "-"
        print(f"{r['experiment']:<15} {r['wall_s'] / 60:>7.1f} m {sps:>16} {spread:>20} {mse:>10} "
              f"{str(r['best_epoch']):>10}  {r['reference_test_mse']}")
    verdict = "within" if total <= BUDGET_S else "OVER"
    print(f"{'total':<15} {total / 60:>7.1f} m   ({verdict} the 25-minute budget; {args.epochs} epochs, "
          f"seed {args.seed}, load average at the end {os.getloadavg()[0]:.2f})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"date": datetime.datetime.now().astimezone().isoformat(
            timespec="seconds"), "command": " ".join(sys.argv), "epochs": args.epochs, "total_s": total,
            "runs": rows}, indent=2) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
