"""Why the columns are centred: the seed's ReLU code on raw vs centred columns, against PCA.

    .venv/bin/python benchmarks/seismic_centering.py                    # m <= 20, seeds 0-2 (minutes)
    .venv/bin/python benchmarks/seismic_centering.py --ms 1,4,20 --seeds 0 --json out.json
    .venv/bin/python benchmarks/seismic_centering.py --quick --ms 2,8 --seeds 0  # smoke run: the --quick config

For each setting of ``columns.center`` (false = the seed's raw columns, true =
the experiment's default) trains the seismic_columns networks of the given m
and seeds with the experiment's default training (Adam 1e-3, batch 256, early
stopping patience 20, up to 300 epochs; the classifier off: only PCA is
compared), all in one program per setting (:func:`aejax.run.engine.train`, the
experiment's ``GROUP_KEYS`` grouping, into temporary run directories deleted
afterwards; the numbers are the runs' summaries), and prints per m the
test MSE over the rank-m PCA test MSE (mean and max over seeds), the same on
the training columns (>= 1 by Eckart-Young), and the mean number of dead code
units (0 for every test column). Also: epochs run and wall time per setting.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ms", default="1,2,4,8,12,16,20")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--json", help="also write the result here")
    p.add_argument("--quick", action="store_true",
                   help="the experiment's --quick config (80 images, 3 epochs): a smoke run, not a measurement")
    args = p.parse_args(argv)
    from aejax.run import engine, experiment
    from aejax.run.resolve import resolve_config
    from aejax.run.rundir import RunDir
    exp = experiment.load("seismic_columns")
    ms = [int(v) for v in args.ms.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    result = {"ms": ms, "seeds": seeds, "quick": args.quick, "load_1min_start": os.getloadavg()[0], "settings": {}}
    for center in (False, True):
        cfgs = [resolve_config(exp, [f"model.latent_dim={m}", f"seed={s}", f"columns.center={str(center).lower()}",
                                     "classifier.enabled=false", "train.progress=false"], quick=args.quick)
                for m in ms for s in seeds]
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="aejax-centering-") as tmp:
            dirs = [RunDir(Path(tmp) / f"m{c['model']['latent_dim']}-s{c['seed']}") for c in cfgs]
            for c, rd in zip(cfgs, dirs):
                rd.prepare(c)
            summaries = engine.train(exp, cfgs, dirs)  # in the order of cfgs
        wall = time.perf_counter() - t0
        rows = [{"model.latent_dim": c["model"]["latent_dim"], **s} for c, s in zip(cfgs, summaries)]
        per_m = {}
        for m in ms:
            rs = [r for r in rows if r["model.latent_dim"] == m]
            ratio = [r["test/mse"] / r["test/pca_mse"] for r in rs]
            per_m[str(m)] = {"test_ratio_mean": float(np.mean(ratio)), "test_ratio_max": float(np.max(ratio)),
                             "train_ratio_min": float(min(r["train/mse"] / r["train/pca_mse"] for r in rs)),
                             "dead_units_mean": float(np.mean([r["code/dead_units"] for r in rs])),
                             "epochs_run": [r["epochs_run"] for r in rs]}
        result["settings"][f"center={center}"] = {"wall_s": round(wall, 1), "per_m": per_m}
        print(f"columns.center={center}: {wall:.0f} s", flush=True)
        for m, v in per_m.items():
            print(f"  m={m:>3}: test MSE / PCA {v['test_ratio_mean']:.4f} (max {v['test_ratio_max']:.4f}), "
                  f"train / PCA >= {v['train_ratio_min']:.4f}, dead units {v['dead_units_mean']:.1f} of {m}, "
                  f"epochs {v['epochs_run']}", flush=True)
    result["load_1min_end"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
