"""Start-up of ``aejax run mnist_dense``: process start -> imports -> first training step.

    .venv/bin/python benchmarks/startup.py                  # 3 runs per scenario, ~3 min on 2 cores
    .venv/bin/python benchmarks/startup.py --quick          # 1 run per scenario
    .venv/bin/python benchmarks/startup.py --json out.json  # also write every run as JSON

Each measured run is a fresh Python process (``train.epochs=1``, its own
``--workdir``, ``--overwrite``). A small driver does what the ``aejax`` console
script does -- ``import aejax.cli``, the imports ``aejax run`` makes before
``aejax.api.run`` starts its clock (``aejax.api``: jax, flax, optax, orbax, the
engine), then ``aejax.cli.main(["run", ...])`` -- and stamps the wall clock after
the interpreter started and after the imports. From the run's ``summary.json``
it takes ``time_to_first_step_s`` (counted by ``aejax.api.run`` from after the
imports to the end of the first training step).

    process start -> first step = (imports done - process launched) + time_to_first_step_s

Scenarios (``AEJAX_CACHE`` points each at its own folder, so nothing here
touches ``~/.cache/aejax`` or other people's runs):

- ``cold``: an empty cache folder, no ``mnist5k`` .npy data cache (the CSV is
  parsed) and no persistent XLA compilation cache if aejax keeps one there.
- ``warm``: a cache folder filled by one earlier, unmeasured run.
- ``warm-data``: the warm folder with ``AEJAX_COMPILATION_CACHE=0`` (data
  cache warm, every program compiled afresh).

Besides, the real console script ``.venv/bin/aejax run mnist_dense`` is timed as
a whole process (``cli`` rows: launch to exit, including the one epoch,
evaluation, figures, analysis and the report). The target of issue 2 is
time_to_first_step_s <= 3 s (start-up beyond the imports).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

DRIVER = r"""
import json, sys, time
t_interp = time.time()
import aejax.cli
import aejax.api  # what `aejax run` imports before aejax.api.run starts its clock
t_imports = time.time()
rc = aejax.cli.main(["run", "mnist_dense", "--workdir", sys.argv[1], "--overwrite",
                     "--set", "train.epochs=1", "--set", "train.progress=false"])
print("STARTUP_JSON " + json.dumps({"t_interp": t_interp, "t_imports": t_imports, "t_end": time.time(), "rc": rc}))
"""


def child_env(cache: Path, compile_cache: bool) -> dict:
    """The environment of a measured process: its own AEJAX_CACHE, no user JAX cache dir."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["AEJAX_CACHE"] = str(cache)
    if not compile_cache:
        env["AEJAX_COMPILATION_CACHE"] = "0"
    return env


def driver_run(workdir: Path, env: dict) -> dict:
    """One driver process; returns its time stamps relative to launch plus the run's summary."""
    t_launch = time.time()
    p = subprocess.run([PYTHON, "-c", DRIVER, str(workdir)], cwd=ROOT, env=env, capture_output=True, text=True)
    t_exit = time.time()
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("STARTUP_JSON ")), None)
    if p.returncode or line is None:
        raise SystemExit(f"driver failed (exit {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    stamps = json.loads(line.split(" ", 1)[1])
    summary = json.loads((workdir / "summary.json").read_text())
    imports_done = stamps["t_imports"] - t_launch
    return {"interpreter_s": stamps["t_interp"] - t_launch,
            "imports_s": stamps["t_imports"] - stamps["t_interp"],
            "launch_to_imports_s": imports_done,
            "time_to_first_step_s": summary["time_to_first_step_s"],
            "setup_s": summary.get("setup_s"),
            "launch_to_first_step_s": imports_done + summary["time_to_first_step_s"],
            "process_s": t_exit - t_launch}


def cli_run(workdir: Path, env: dict) -> dict:
    """The real console script as one process: launch to exit, plus its time_to_first_step_s."""
    t0 = time.time()
    p = subprocess.run([str(Path(PYTHON).parent / "aejax"), "run", "mnist_dense", "--workdir", str(workdir),
                        "--overwrite", "--set", "train.epochs=1", "--set", "train.progress=false"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    dt = time.time() - t0
    if p.returncode:
        raise SystemExit(f"aejax run failed (exit {p.returncode}):\n{p.stderr[-4000:]}")
    summary = json.loads((workdir / "summary.json").read_text())
    return {"process_s": dt, "time_to_first_step_s": summary["time_to_first_step_s"]}


def median_of(rows: list[dict]) -> dict:
    """Median of each numeric field over runs."""
    return {k: statistics.median(r[k] for r in rows) for k in rows[0] if rows[0][k] is not None}


def main(argv=None) -> int:
    """Measure every scenario, print medians, optionally write JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one run per scenario")
    p.add_argument("--runs", type=int, help="runs per scenario (default 3, --quick 1)")
    p.add_argument("--json", metavar="OUT", help="write every run and the medians to this JSON file")
    args = p.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)

    tmp = Path(tempfile.mkdtemp(prefix="aejax-startup-"))
    load_start = os.getloadavg()
    rows: dict[str, list[dict]] = {"cold": [], "warm": [], "warm-data": [], "cli cold": [], "cli warm": []}
    try:
        warm = tmp / "cache-warm"
        driver_run(tmp / "run-fill", child_env(warm, True))  # fills the warm cache, not measured
        for i in range(runs):  # interleaved, so machine load hits every scenario alike
            rows["cold"].append(driver_run(tmp / f"run-cold-{i}", child_env(tmp / f"cache-cold-{i}", True)))
            rows["warm"].append(driver_run(tmp / f"run-warm-{i}", child_env(warm, True)))
            rows["warm-data"].append(driver_run(tmp / f"run-wd-{i}", child_env(warm, False)))
            rows["cli cold"].append(cli_run(tmp / f"cli-cold-{i}", child_env(tmp / f"cache-clicold-{i}", True)))
            rows["cli warm"].append(cli_run(tmp / f"cli-warm-{i}", child_env(warm, True)))
            print(f"run {i + 1}/{runs}: " + "  ".join(
                f"{k}: " + (f"start->step {v[-1]['launch_to_first_step_s']:.2f}s" if "launch_to_first_step_s" in v[-1]
                            else f"process {v[-1]['process_s']:.2f}s") for k, v in rows.items()),
                flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()

    med = {k: median_of(v) for k, v in rows.items()}
    print(f"\nmedians of {runs} run(s) each; aejax run mnist_dense --set train.epochs=1 (mnist5k)")
    print(f"{'scenario':<10} {'interp s':>8} {'imports s':>9} {'first step s':>12} {'start->step s':>13} "
          f"{'process s':>9}")
    for k in ("cold", "warm", "warm-data"):
        m = med[k]
        print(f"{k:<10} {m['interpreter_s']:>8.2f} {m['imports_s']:>9.2f} {m['time_to_first_step_s']:>12.2f} "
              f"{m['launch_to_first_step_s']:>13.2f} {m['process_s']:>9.2f}")
    for k in ("cli cold", "cli warm"):
        m = med[k]
        print(f"{k:<10} {'':>8} {'':>9} {m['time_to_first_step_s']:>12.2f} {'':>13} {m['process_s']:>9.2f}")
    print("columns: interp = launch -> interpreter running user code; imports = aejax.cli + aejax.api; "
          "first step = summary time_to_first_step_s (after the imports; target <= 3 s); "
          "start->step = launch -> end of first step; process = launch -> exit (1 epoch, eval, figures, report)")
    print(f"load average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
          f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}")
    if args.json:
        out = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "command": " ".join(sys.argv), "runs": runs, "load_start": load_start, "load_end": load_end,
               "medians": med, "runs_detail": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
