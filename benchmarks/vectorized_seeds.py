"""Vectorised seeds: 16 seeds of the tabular autoencoder in one vmapped program vs one seed.

    .venv/bin/python benchmarks/vectorized_seeds.py                       # both tables, 5 repeats (~3 min)
    .venv/bin/python benchmarks/vectorized_seeds.py --tables boston --repeats 3
    .venv/bin/python benchmarks/vectorized_seeds.py --json out.json

The model and training are housing_deep's (13/8-32-16-7-16-32-13/8, ReLU code,
sigmoid output, MAE, Adam 1e-3, batch 32, 15 epochs, validation on the test
split every epoch). Two tables:

- ``boston``: the offline default (Boston housing, 405 training rows: 12 steps
  per epoch);
- ``california``: a synthetic table with California housing's shape (20,640 x 8
  + target, written as a CSV and read through ``csv:``; 16,512 training rows:
  516 steps per epoch, like the seed's 531) -- the real one cannot be
  downloaded here.

Per repeat, one after the other in this process (alternating, so both see
the same machine load):

- ``1 seed (sequential)``: what ``aejax run`` does to train one seed, without
  the files: the runner's ``Trainer``, ``init_state`` with the epoch compiled
  alongside, then every epoch (one compiled ``lax.scan``) followed by the
  validation pass, as ``fit`` runs them;
- ``N seeds (vectorised)``: :func:`aejax.train.vectorized.fit_seeds` on the N
  seeds stacked (init of all seeds, compile, the same epochs and validations).

Both start from data already loaded and scaled for each seed (loading is the
same per-seed work in both ways of running a sweep). ``wall`` = build + init
+ compile + all epochs + validations, the time to train; ``epochs`` = the
compiled epoch programs alone. Judged: N-seed ``wall`` <= 3 x one-seed
``wall``. Medians over the repeats; the machine's load average (shared with
other jobs) is printed with each measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def california_shaped_csv(directory: Path) -> Path:
    """A synthetic table of California housing's shape: 20,640 rows, 8 inputs + a target column."""
    from aejax.data.tabular import write_csv
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=(20640, 8)) * rng.uniform(1, 1000, size=8)
    y = x @ rng.uniform(size=8) + rng.normal(size=20640)
    path = directory / "california_shaped.csv"
    write_csv(path, [f"x{j}" for j in range(8)] + ["median_house_value"], np.column_stack([x, y]))
    return path


def configs(data_name: str, seeds: list[int]) -> list[dict]:
    """housing_deep's resolved config for each seed."""
    from aejax import experiment, runner
    exp = experiment.load(str(ROOT / "experiments" / "housing_deep.py"))
    return [runner.resolve_config(exp, [f"data.name={data_name}", f"seed={s}", "train.progress=false"])
            for s in seeds], exp


def one_seed(cfg: dict, ds) -> dict:
    """Train one seed the sequential way (runner's Trainer + fit's loop, no files); timings in s."""
    from aejax.runner import corrupt_np  # noqa: F401  (imports outside the timing)
    from aejax.train.step import abstract_init, host, init_state
    from aejax.train.vectorized import build
    t0 = time.perf_counter()
    task, trainer, _ = build(cfg, ds.example_shape, 1)
    train, val = trainer.put(ds.train.x), trainer.put(ds.val.x)
    abs_state, abs_keys = (trainer.abstract(a) for a in abstract_init(task, ds.example_shape, cfg["seed"]))
    with ThreadPoolExecutor(1) as pool:
        compiling = pool.submit(trainer.compile_epoch, abs_state, train, abs_keys["data"], abs_keys["step"])
        state, keys = init_state(task, ds.example_shape, cfg["seed"])
        state, keys = trainer.put_state(state), trainer.put(keys)
        compiling.result()
    epochs_s = 0.0
    for epoch in range(1, cfg["train"]["epochs"] + 1):
        te = time.perf_counter()
        state, metrics = trainer.epoch(state, train, keys["data"], keys["step"], epoch)
        metrics = host(metrics)
        epochs_s += time.perf_counter() - te
        host(trainer.evaluate(state.params, val, val, keys["eval"]))
    return {"wall": time.perf_counter() - t0, "epochs": epochs_s, "loss": metrics["loss"]}


def vectorised(cfgs: list[dict], datasets) -> dict:
    """Train the seeds as one vectorised program (no files); timings in s."""
    import jax
    from aejax.train import vectorized
    t0 = time.perf_counter()
    _, _, programs = vectorized.build(cfgs[0], datasets[0].example_shape, len(cfgs))
    arrays = {k: programs.put(v) for k, v in vectorized.seed_arrays(datasets, cfgs, 0.0).items()}
    res = vectorized.fit_seeds(programs, [c["seed"] for c in cfgs], arrays, epochs=cfgs[0]["train"]["epochs"])
    jax.block_until_ready(res["state"])
    return {"wall": time.perf_counter() - t0, "epochs": res["train_s"]}


def load() -> float:
    """The 1-minute load average of the machine."""
    return os.getloadavg()[0]


def bench_table(name: str, data_name: str, n_seeds: int, repeats: int) -> dict:
    """Alternate one-seed and N-seed trainings ``repeats`` times; medians and loads."""
    from aejax.train import vectorized
    cfgs, exp = configs(data_name, list(range(n_seeds)))
    datasets = vectorized.load_seed_data(cfgs, exp)
    ds0 = datasets[0]
    print(f"\n{name}: {len(ds0.train)} training rows x {ds0.example_shape[0]} features, "
          f"{len(ds0.train) // cfgs[0]['train']['batch_size']} steps/epoch, {cfgs[0]['train']['epochs']} epochs",
          flush=True)
    one, many = [], []
    for r in range(repeats):
        l0 = load()
        a = one_seed(cfgs[0], ds0)
        l1 = load()
        b = vectorised(cfgs, datasets)
        l2 = load()
        one.append({**a, "load": (l0 + l1) / 2})
        many.append({**b, "load": (l1 + l2) / 2})
        print(f"  repeat {r + 1}: 1 seed wall {a['wall']:.2f} s (epochs {a['epochs']:.2f} s), "
              f"{n_seeds} seeds wall {b['wall']:.2f} s (epochs {b['epochs']:.2f} s); "
              f"ratio {b['wall'] / a['wall']:.2f}; load {l0:.1f}/{l1:.1f}/{l2:.1f}", flush=True)
    med = lambda rows, k: statistics.median(x[k] for x in rows)  # noqa: E731
    out = {"table": name, "train_rows": len(ds0.train), "features": ds0.example_shape[0],
           "steps_per_epoch": len(ds0.train) // cfgs[0]["train"]["batch_size"],
           "epochs": cfgs[0]["train"]["epochs"], "seeds": n_seeds, "repeats": repeats,
           "one_seed_wall_s": med(one, "wall"), "one_seed_epochs_s": med(one, "epochs"),
           "vectorized_wall_s": med(many, "wall"), "vectorized_epochs_s": med(many, "epochs"),
           "load_median": statistics.median([x["load"] for x in one + many]),
           "runs": {"one_seed": one, "vectorized": many}}
    out["wall_ratio"] = out["vectorized_wall_s"] / out["one_seed_wall_s"]
    out["epochs_ratio"] = out["vectorized_epochs_s"] / out["one_seed_epochs_s"]
    out["sequential_equivalent_s"] = n_seeds * out["one_seed_wall_s"]
    return out


def main(argv=None) -> int:
    """Run the benchmark and print the medians."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", default="boston,california", help="comma-separated: boston, california")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    import jax
    print(f"jax {jax.__version__}, devices {jax.devices()}, {os.cpu_count()} CPUs, load {load():.1f}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tables.split(","):
            data = "boston_housing" if name == "boston" else f"csv:{california_shaped_csv(Path(tmp))}"
            results.append(bench_table(name, data, args.seeds, args.repeats))
    print(f"\nmedians over {args.repeats} repeats (wall = build + init + compile + {results[0]['epochs']} epochs "
          "+ validation; epochs = the compiled epoch programs)")
    print(f"| table | steps/epoch | 1 seed wall | {args.seeds} seeds wall | ratio | 1 seed epochs | "
          f"{args.seeds} seeds epochs | ratio | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['table']} | {r['steps_per_epoch']} | {r['one_seed_wall_s']:.2f} s | {r['vectorized_wall_s']:.2f} s "
              f"| {r['wall_ratio']:.2f} | {r['one_seed_epochs_s']:.3f} s | {r['vectorized_epochs_s']:.3f} s "
              f"| {r['epochs_ratio']:.2f} | {r['load_median']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
