"""How long the latent analysis of a run directory takes (``aejax analyze RUN_DIR``).

    .venv/bin/python benchmarks/analysis_speed.py RUN_DIR [--repeats 5] [--json out.json]

Two measurements, each repeated ``--repeats`` times, medians reported:

- ``cold``: ``python -m aejax analyze RUN_DIR`` in a fresh process, wall
  clock from the shell (imports of numpy / JAX / Flax / orbax / matplotlib,
  data loading, checkpoint restore, compiling encode / decode, the analysis,
  figures, report) -- what a user waits for;
- ``warm``: ``aejax.api.analyze(RUN_DIR)`` (what ``aejax analyze`` calls: the
  analysis, then its figures and report) called again in one process (imports
  done, as at the end of a training run), with the stage times of the
  analysis itself from ``analysis/timing.json`` (figures and report are in the
  wall time, not in the stages).

Wall-clock and CPU seconds (user + system, all threads) are both reported:
on the shared 2-core machine other jobs inflate the wall clock (the load
average is printed with the result); CPU seconds measure the work itself.
Results are quoted in the issue notes, not asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", help="write the result here")
    args = p.parse_args()
    run_dir = Path(args.run_dir)
    cold, cold_cpu = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "aejax", "analyze", str(run_dir)], check=True,
                       capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cold.append(time.perf_counter() - t)
        cold_cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    from aejax.api import analyze  # the analysis, figures and report, as `aejax analyze`
    analyze(run_dir)  # imports and compiles once, as a training run has by then
    warm, stages = [], {}
    for _ in range(args.repeats):
        t = time.perf_counter()
        analyze(run_dir)
        warm.append(time.perf_counter() - t)
        for k, v in json.loads((run_dir / "analysis" / "timing.json").read_text()).items():
            stages.setdefault(k, []).append(v)
    spec = json.loads((run_dir / "analysis" / "spectrum.json").read_text())
    imp = json.loads((run_dir / "analysis" / "importance.json").read_text())
    out = {
        "run_dir": str(run_dir), "codes": [spec["n"], spec["d"]], "ablation_examples": imp["examples"],
        "repeats": args.repeats, "load_average_1min": os.getloadavg()[0],
        "cold_median_s": round(statistics.median(cold), 3), "cold_s": [round(c, 3) for c in cold],
        "cold_cpu_median_s": round(statistics.median(cold_cpu), 3),
        "warm_median_s": round(statistics.median(warm), 3), "warm_s": [round(w, 3) for w in warm],
        "warm_stage_median_s": {k: round(statistics.median(v), 3) for k, v in stages.items()},
    }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
