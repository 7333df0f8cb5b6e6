"""The whole course project at full size, timed: mnist_dense, mnist_conv, mnist_denoise, 150 epochs each
on full Fashion-MNIST (54,000 train / 6,000 validation / 10,000 test images).

    apt-get install -y dataset-fashion-mnist        # once: the IDX files under /usr/share/datasets
    .venv/bin/python benchmarks/course.py           # 21.7-23.9 min on 2 cores (2026-11-30)
    .venv/bin/python benchmarks/course.py --epochs 5 --root /tmp/course   # a short rehearsal

Each experiment runs as ``aejax run <exp> --set data.name=idx:<dir> --set train.epochs=<E>
--workdir <root>/<exp> --overwrite`` in its own process.

Schedule. XLA:CPU runs these small models 1.5-1.6x faster on two cores than on one, not 2x, so two
one-core processes get more done than one two-core process. By default (on Linux, with two or more
CPUs) the longest experiment, ``mnist_conv``, starts on every CPU; the others run one after the other
on the last CPU alone, each started pinned there, so XLA gives it a one-thread pool. Once the
conv run has finished its first epoch (so its own thread pool, sized for every CPU, exists) its
threads are pinned to the remaining CPUs (on two CPUs its two pool threads share one), and when the
others are done it gets every CPU back. ``--sequential`` runs them one after the other on every CPU
instead. The schedule only decides where each process runs; a process started on one CPU has a
one-thread pool, which can round its matmuls differently from a two-thread one (the test MSEs stay
within the seed spread: benchmarks/README.md).

The wall time of each process (start-up, training, evaluation, latent analysis, figures and report)
is measured here, the run's own summary.json gives its training throughput and test MSE, and its
metrics.jsonl each epoch's wall time (the fastest, median and slowest epoch show how far the
machine's speed moved during the run, and side by side which epochs shared the machine: every epoch
does the same work). The table ends with the total wall time and the reference test MSEs of
README.md / benchmarks/README.md (measured on the same data, 150 epochs). Exit status: 0 when every
run finished, 1 otherwise (the failing run's log is named), 2 when the data are missing.
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
LEAD = "mnist_conv"  # the longest run: the one that gets more than one CPU
DATA_DIR = "/usr/share/datasets/fashion-mnist"
#: Test MSEs on full Fashion-MNIST at 150 epochs measured before (README.md, benchmarks/README.md).
REFERENCE = {"mnist_dense": "0.004464 ± 0.000017 (seeds 0-3)",
             "mnist_conv": "0.005453 (seed 0), 0.005330 (seed 1)",
             "mnist_denoise": "0.008236 (seed 0)"}
BUDGET_S = 25 * 60


def epoch_times(workdir: Path) -> list[float]:
    """Each epoch's wall time in s (its training steps and validation), from the run's metrics.jsonl."""
    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    return [r["epoch_s"] for r in rows if r.get("epoch_s")]


def pin(pid: int, cpus: set[int]) -> None:
    """Restrict every thread of process ``pid`` to ``cpus`` (threads it starts later inherit their creator's)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:  # the process has ended
        return
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # the thread has ended
            pass


def written_since(path: Path, t: float) -> bool:
    """True when ``path`` is non-empty and was written at or after time ``t`` (a left-over file from an
    earlier run in the same directory is not)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size > 0 and st.st_mtime >= t


class Run:
    """One ``aejax run`` process: started on ``cpus`` (None: wherever this process may run)."""

    def __init__(self, exp: str, args, cpus: set[int] | None = None):
        self.exp, self.workdir = exp, Path(args.root) / exp
        cmd = [sys.executable, "-m", "aejax", "run", exp, "--workdir", str(self.workdir), "--overwrite",
               "--set", f"data.name=idx:{args.data}", "--set", f"train.epochs={args.epochs}",
               "--set", f"seed={args.seed}"] + [a for kv in args.set for a in ("--set", kv)]
        self.log = Path(args.root) / f"{exp}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.cpus = sorted(cpus) if cpus else None
        where = f"  (CPUs {','.join(map(str, self.cpus))})" if cpus else ""
        print(f"[{datetime.datetime.now():%H:%M:%S}] {' '.join(cmd[1:])}{where}", flush=True)
        self.t0, self.wall = time.perf_counter(), None
        self.started = time.time()
        # A child inherits the CPU set of the thread that starts it: this thread's, for the moment of the start.
        mine = os.sched_getaffinity(0) if cpus else None
        with open(self.log, "w") as f:
            try:
                if cpus:
                    os.sched_setaffinity(0, cpus)
                self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=os.environ.copy())
            finally:
                if cpus:
                    os.sched_setaffinity(0, mine)

    def poll(self) -> int | None:
        rc = self.proc.poll()
        if rc is not None and self.wall is None:
            self.wall = time.perf_counter() - self.t0
            print(f"[{datetime.datetime.now():%H:%M:%S}] {self.exp} done: {self.wall:7.1f} s, exit {rc}", flush=True)
        return rc

    def first_epoch_done(self) -> bool:
        """True once this process has written a metrics line (its XLA client, and thread pool, exist)."""
        return written_since(self.workdir / "metrics.jsonl", self.started)

    def row(self) -> dict:
        rc, summary = self.proc.returncode, {}
        if rc == 0:
            summary = json.loads((self.workdir / "summary.json").read_text())
        else:
            print(f"course: {self.exp} exited {rc}; see {self.log}", file=sys.stderr)
        times = sorted(epoch_times(self.workdir))
        spread = [times[0], statistics.median(times), times[-1]] if times else None
        return {"experiment": self.exp, "cpus_at_start": self.cpus, "exit": rc, "wall_s": self.wall,
                "epoch_s_min_median_max": spread, "train_samples_per_s": summary.get("train_samples_per_s"),
                "test_mse": summary.get("test/mse"),
                "best_epoch": summary.get("best_epoch"), "reference_test_mse": REFERENCE.get(self.exp, "")}


def run_sequential(exps: list[str], args) -> list[Run]:
    runs = []
    for exp in exps:
        runs.append(Run(exp, args))
        runs[-1].proc.wait()
        runs[-1].poll()
    return runs


def run_side_by_side(exps: list[str], args, cpus: list[int]) -> list[Run]:
    """``LEAD`` on every CPU but the last once it is under way; the others one by one on the last CPU."""
    last, rest = {cpus[-1]}, set(cpus[:-1])
    lead = Run(LEAD, args)
    queue = [e for e in exps if e != LEAD]
    runs, current = [lead], None
    while True:
        if current is None or current.poll() is not None:
            current = Run(queue.pop(0), args, last) if queue else None
            if current:
                runs.append(current)
        if lead.poll() is None:
            # Every second: a thread the lead starts between two passes inherits its creator's set anyway.
            if current is not None and lead.first_epoch_done():
                pin(lead.proc.pid, rest)
            elif current is None:
                pin(lead.proc.pid, set(cpus))
        if current is None and lead.poll() is not None:
            return runs
        time.sleep(1.0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DATA_DIR, help="directory of the Fashion-MNIST IDX files (default %(default)s)")
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", default="results/course", help="parent of the three run directories")
    p.add_argument("--experiments", default=",".join(EXPERIMENTS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="passed on to every run (for example train.batch_size=256)")
    p.add_argument("--sequential", action="store_true",
                   help="run the experiments one after the other, each on every CPU")
    p.add_argument("--json", metavar="OUT", help="also write the table as JSON")
    args = p.parse_args(argv)

    if not (Path(args.data) / "train-images-idx3-ubyte.gz").exists() and not (
            Path(args.data) / "train-images-idx3-ubyte").exists():
        print(f"course: no Fashion-MNIST IDX files in {args.data}; install them with "
              f"'apt-get install -y dataset-fashion-mnist' or pass --data DIR", file=sys.stderr)
        return 2
    exps = args.experiments.split(",")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    side_by_side = not args.sequential and len(cpus) >= 2 and LEAD in exps and len(exps) >= 2
    t_all = time.perf_counter()
    runs = run_side_by_side(exps, args, cpus) if side_by_side else run_sequential(exps, args)
    total = time.perf_counter() - t_all
    rows = sorted((r.row() for r in runs), key=lambda r: exps.index(r["experiment"]))
    status = int(any(r["exit"] != 0 for r in rows))

    # The epochs' spread shows how much the machine's speed moved during a run (same work every epoch).
    print(f"\n{'experiment':<15} {'wall':>9} {'train samples/s':>16} {'epoch s min/med/max':>20} {'test MSE':>10} "
          f"{'best epoch':>10}  reference")
    for r in rows:
        mse = f"{r['test_mse']:.6f}" if r["test_mse"] is not None else "-"
        sps = f"{r['train_samples_per_s']:.0f}" if r["train_samples_per_s"] else "-"
        spread = "/".join(f"{t:.2f}" for t in r["epoch_s_min_median_max"]) if r["epoch_s_min_median_max"] else "-"
        print(f"{r['experiment']:<15} {r['wall_s'] / 60:>7.1f} m {sps:>16} {spread:>20} {mse:>10} "
              f"{str(r['best_epoch']):>10}  {r['reference_test_mse']}")
    schedule = (f"side by side on CPUs {','.join(map(str, cpus))}" if side_by_side
                else "one after the other")
    verdict = "within" if total <= BUDGET_S else "OVER"
    print(f"{'total':<15} {total / 60:>7.1f} m   ({verdict} the 25-minute budget; {schedule}; {args.epochs} "
          f"epochs, seed {args.seed}, load average at the end {os.getloadavg()[0]:.2f})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"date": datetime.datetime.now().astimezone().isoformat(
            timespec="seconds"), "command": " ".join(sys.argv), "schedule": schedule, "epochs": args.epochs,
            "total_s": total, "runs": rows}, indent=2) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
