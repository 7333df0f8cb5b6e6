"""Wall time of the whole default bottleneck sweep (``aejax sweep seismic_columns``), with the load.

    .venv/bin/python benchmarks/seismic_sweep.py                      # default sweep, fresh temp dir
    .venv/bin/python benchmarks/seismic_sweep.py --workdir /tmp/sw --json out.json
    .venv/bin/python benchmarks/seismic_sweep.py --quick

Runs the sweep exactly as a user would (``python -m aejax sweep seismic_columns``
in a subprocess, into an empty directory, so nothing is skipped and the
persistent XLA cache is whatever the machine has), and reports:

- ``wall_s``: the subprocess's wall time, start-up and imports included;
- ``load``: the 1-minute load average sampled every 5 s during the run
  (min / median / max) and the machine's core count -- the machine is shared,
  so the wall time only means something next to the load;
- the sweep's own numbers from ``bottleneck.json``: recommended m (mean and per
  seed), and per m the autoencoder / PCA test-MSE ratio.

Judged (issue 3): the whole default sweep on ``seismic_synth`` in <= 600 s on
this 2-core CPU. One run per invocation (a sweep is minutes); repeat the
command for a median.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sample_load(stop: threading.Event, out: list, every_s: float = 5.0) -> None:
    """Append the 1-minute load average to ``out`` every ``every_s`` seconds until ``stop``."""
    while not stop.is_set():
        out.append(os.getloadavg()[0])
        stop.wait(every_s)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", help="sweep directory (default: a fresh temporary one)")
    p.add_argument("--quick", action="store_true", help="the --quick sweep instead of the default one")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="aejax-seismic-sweep-"))
    if workdir.exists() and any(workdir.iterdir()):
        raise SystemExit(f"{workdir}: not empty; the benchmark needs a fresh directory")
    cmd = [sys.executable, "-m", "aejax", "sweep", "seismic_columns", "--workdir", str(workdir),
           "--set", "train.progress=false"] + (["--quick"] if args.quick else [])
    loads: list = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_load, args=(stop, loads), daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"sweep failed with exit status {proc.returncode}")
    info = json.loads((workdir / "bottleneck.json").read_text())
    result = {
        "command": " ".join(cmd[1:]),
        "workdir": str(workdir),
        "wall_s": round(wall, 1),
        "cores": os.cpu_count(),
        "load_1min": {"min": min(loads), "median": statistics.median(loads), "max": max(loads),
                      "samples": len(loads)},
        "recommended_m": info.get("recommended_m"),
        "recommended_m_per_seed": info.get("recommended_m_per_seed"),
        "stable_across_seeds": info.get("stable_across_seeds"),
        "ae_over_pca": {str(p["m"]): p["ratio_mean"] and round(p["ratio_mean"], 5) for p in info["per_m"]},
        "ae_over_pca_max_over_seeds": {str(p["m"]): p["ratio_max"] and round(p["ratio_max"], 5) for p in info["per_m"]},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
