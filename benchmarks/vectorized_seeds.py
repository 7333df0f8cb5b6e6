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
  the files: the builder's task and trainer (:func:`aejax.run.builder.build`)
  in the engine's :class:`aejax.train.programs.Single` (parameters initialised
  while the epoch compiles), then :func:`aejax.train.loop.fit`: every epoch (one
  compiled ``lax.scan``) followed by the validation pass;
- ``N seeds (vectorised)``: the N seeds in one :class:`aejax.train.programs.Group`
  (the program a sweep with ``--set sweep.vectorize_seeds=true`` trains: init of
  all seeds, compile, the same loop, epochs and validations).

Both start from data already loaded and scaled for each seed
(:func:`aejax.run.builder.load_data`: loading is the same per-seed work in both
ways of running a sweep); neither writes metrics or checkpoints. ``wall`` =
build + init + compile + all epochs + validations, the time to train;
``epochs`` = the compiled epoch programs alone (each timed to its result).
Judged: N-seed ``wall`` <= 3 x one-seed ``wall``. Medians over the repeats;
the machine's load average (shared with other jobs) is printed with each
measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
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


def configs(data_name: str, seeds: list[int]):
    """housing_deep's resolved config for each seed, and the experiment."""
    from aejax.run import experiment
    from aejax.run.resolve import resolve_config
    exp = experiment.load(str(ROOT / "experiments" / "housing_deep.py"))
    return [resolve_config(exp, [f"data.name={data_name}", f"seed={s}", "train.progress=false"])
            for s in seeds], exp


class NoFiles:
    """A run's files for :func:`aejax.train.loop.fit` that write nothing: no metrics, no checkpoints."""

    class _Checkpoints:
        directory = Path("(none)")

        def latest_epoch(self, kind: str = "latest"):
            return None

        def save(self, kind, epoch, state, loop) -> None:
            pass

        def wait(self) -> None:
            pass

    def __init__(self):
        self.path = Path("(no files)")
        self.checkpoints = self._Checkpoints()
        self.last: dict = {}

    def append_metrics(self, row: dict) -> None:
        self.last = row

    def keep_metrics_through(self, epoch: int) -> None:
        pass


class Timed:
    """The loop's programs with each epoch program timed alone (blocking on its result)."""

    def __init__(self, programs):
        self.programs, self.epochs_s = programs, 0.0

    def __getattr__(self, name):
        return getattr(self.programs, name)

    def epoch(self, state, epoch, active):
        import jax
        t = time.perf_counter()
        out = jax.block_until_ready(self.programs.epoch(state, epoch, active))
        self.epochs_s += time.perf_counter() - t
        return out


def _fit(programs, cfg: dict, n_train: int) -> tuple[list, object]:
    """The engine's loop (:func:`aejax.train.loop.fit`) over ``programs``, writing no files."""
    from aejax.train import loop
    t = cfg["train"]
    runs = [NoFiles() for _ in range(programs.n)]
    state, best = programs.init()
    loops = [loop.new_loop() for _ in runs]
    state, best, diverged = loop.fit(programs, state, best, loops, runs, epochs=t["epochs"], patience=t["patience"],
                                     samples_per_epoch=(n_train // t["batch_size"]) * t["batch_size"],
                                     checkpoint_every_s=float("inf"), progress=False)
    if diverged:
        raise SystemExit("; ".join(diverged.values()))
    return runs, best


def one_seed(cfg: dict, ds) -> dict:
    """Train one seed the way ``aejax run`` does (the builder's trainer in the engine's
    :class:`~aejax.train.programs.Single` programs, :func:`aejax.train.loop.fit`), no files; s."""
    import jax

    from aejax.run import builder
    from aejax.train.programs import Single
    t0 = time.perf_counter()
    built = builder.build(cfg, ds.example_shape, len(ds.train))
    programs = Timed(Single(built.trainer, builder.inputs(ds, cfg), ds.example_shape, cfg["seed"]))
    runs, best = _fit(programs, cfg, len(ds.train))
    jax.block_until_ready(best)
    return {"wall": time.perf_counter() - t0, "epochs": programs.epochs_s, "loss": runs[0].last["train/loss"]}


def vectorised(cfgs: list[dict], datasets) -> dict:
    """Train the seeds as one program (the engine's :class:`~aejax.train.programs.Group`, one
    task x N seeds, and the same loop), no files; timings in s."""
    import jax

    from aejax.run import builder
    from aejax.train.programs import Group
    t0 = time.perf_counter()
    ds0, t = datasets[0], cfgs[0]["train"]
    task = builder.build(cfgs[0], ds0.example_shape, len(ds0.train)).task  # equal for every seed
    per_seed = [builder.inputs(ds, c) for ds, c in zip(datasets, cfgs)]
    stacked = {k: np.stack([a[k] for a in per_seed]) for k in per_seed[0]}  # [S, N, ...]
    programs = Timed(Group([task], [c["seed"] for c in cfgs], stacked, ds0.example_shape,
                           batch_size=t["batch_size"], eval_batch_size=t["eval_batch_size"]))
    _, best = _fit(programs, cfgs[0], len(ds0.train))
    jax.block_until_ready(best)
    return {"wall": time.perf_counter() - t0, "epochs": programs.epochs_s}


def load() -> float:
    """The 1-minute load average of the machine."""
    return os.getloadavg()[0]


def bench_table(name: str, data_name: str, n_seeds: int, repeats: int) -> dict:
    """Alternate one-seed and N-seed trainings ``repeats`` times; medians and loads."""
    from aejax.run import builder
    cfgs, exp = configs(data_name, list(range(n_seeds)))
    datasets = [builder.load_data(c, exp) for c in cfgs]  # each seed's split, scaled by prepare_data
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
