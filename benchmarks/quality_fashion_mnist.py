"""Test MSE on full Fashion-MNIST: aejax's default dense / conv configs vs the Keras 3 reference, per seed.

    .venv/bin/python benchmarks/quality_fashion_mnist.py --models dense --epochs 150 --seeds 0,1,2,3
    .venv/bin/python benchmarks/quality_fashion_mnist.py --models conv --epochs 15 --seeds 0,1,2,3,4
    .venv/bin/python benchmarks/quality_fashion_mnist.py --models conv --epochs 15 --seeds 0,1 \\
        --label wu0 --set train.warmup_epochs=0 --skip-keras      # an aejax variant beside the same Keras runs
    .venv/bin/python benchmarks/quality_fashion_mnist.py --models conv --epochs 15 --seeds 0,1,2,3,4 \\
        --report-only --label default --label wu0                 # the table of what is there, nothing run
    .venv/bin/python benchmarks/quality_fashion_mnist.py --quick  # ~1 min smoke run

For each model and seed it runs, one after the other (never side by side: 2 cores),

    aejax run mnist_<model> --set data.name=idx:/usr/share/datasets/fashion-mnist --set seed=S \\
        --set train.epochs=N --set train.progress=false [--set ...] --workdir OUT/aejax-<model>-<N>ep-<label>-sS
    python benchmarks/keras_reference.py --model <model> --epochs N --seed S --json OUT/keras-<model>-<N>ep-sS.json

and prints one row per seed and the mean ± std over seeds: test MSE of each
side's best-validation weights and the dead ReLU units per hidden layer
(units / channels that output 0 for every test image: they get no gradient
and never come back). Both read the data with ``aejax.run.builder.load_data`` (seed S):
the same 54,000 / 6,000 / 10,000 train / val / test split per seed. Finished
runs are not redone (an aejax workdir with a summary.json, a Keras JSON that
exists) and an interrupted aejax run resumes from its last checkpoint (a long
comparison can be spread over several sittings; Keras' runs cannot); --fresh
redoes them. Needs Debian's ``dataset-fashion-mnist`` package
(``apt-get install -y dataset-fashion-mnist``).
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

ROOT = Path(__file__).resolve().parent.parent
FASHION = "idx:/usr/share/datasets/fashion-mnist"


def run_logged(cmd: list[str], log: Path, env: dict | None = None) -> float:
    """Run ``cmd`` with stdout+stderr appended to ``log``; returns wall seconds; exits on failure."""
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    if rc:
        raise SystemExit(f"failed (exit {rc}): {' '.join(cmd)}; see {log}")
    return time.perf_counter() - t0


def aejax_dead_units(run_dir: Path, limit: int = 10_000) -> dict:
    """Dead ReLU units per hidden layer of a finished aejax run (best checkpoint, test split),
    counted as keras_reference.py counts them: a unit / channel whose output is 0 for every image."""
    import jax
    import numpy as np

    from aejax.run.builder import load_run
    r = load_run(run_dir)
    x = np.asarray(r.data.test.x[:limit])
    dead = {}
    for s in range(0, len(x), 1000):
        _, st = r.model.apply({"params": r.params}, x[s:s + 1000], capture_intermediates=True)
        for name, v in st["intermediates"].items():
            if name == "out" or not isinstance(v, dict) or "__call__" not in v:
                continue
            a = np.asarray(jax.nn.relu(v["__call__"][0]))
            peak = a.reshape(-1, a.shape[-1]).max(axis=0)
            dead[name] = np.maximum(dead.get(name, 0.0), peak)
    m = r.cfg["model"]
    if m["name"] == "dense":  # enc_0.. then the code layer, dec_0.. then the output layer
        n_enc, n_dec = len(m["hidden"]) + 1, len(m.get("decoder_hidden") or m["hidden"]) + 1
        hidden = [f"enc_{i}" for i in range(n_enc - 1)] + [f"dec_{i}" for i in range(n_dec - 1)]
        if m.get("latent_activation") == "relu":
            hidden.append(f"enc_{n_enc - 1}")
    else:  # conv: every enc_* / dec_* layer is followed by the ReLU; "out" by the sigmoid
        hidden = [k for k in dead if k != "out"]
    return {k: int((dead[k] <= 0).sum()) for k in sorted(hidden, key=lambda k: (k[:3] != "enc", k))}


def mean_std(values: list) -> str:
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    return f"{statistics.mean(v):.6f} ± {statistics.stdev(v):.6f}" if len(v) > 1 else f"{v[0]:.6f}"


def main(argv=None) -> int:
    """Run aejax then Keras for each model and seed; print and save the comparison."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="dense,conv", help="comma list of dense, conv")
    p.add_argument("--epochs", type=int, default=150, help="epochs for both frameworks (default 150)")
    p.add_argument("--seeds", default="0", help="comma list of seeds (default 0)")
    p.add_argument("--data", default=FASHION)
    p.add_argument("--backend", default="jax", choices=("jax", "torch"), help="Keras backend (default jax)")
    p.add_argument("--out", default="results/quality_fashion_mnist", help="folder for run dirs, logs, JSON")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra aejax override (repeatable); name the variant with --label")
    p.add_argument("--label", action="append", default=None,
                   help="name of the aejax variant (default 'default'); with --report-only, repeat it to "
                        "tabulate several variants")
    p.add_argument("--fresh", action="store_true", help="redo finished runs")
    p.add_argument("--skip-keras", action="store_true")
    p.add_argument("--skip-aejax", action="store_true")
    p.add_argument("--report-only", action="store_true", help="run nothing; tabulate what OUT holds")
    p.add_argument("--quick", action="store_true", help="2 epochs on 2,048 examples per split")
    args = p.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 2 if args.quick else args.epochs
    tag = f"{epochs}ep{'-quick' if args.quick else ''}"
    labels = args.label or ["default"]
    if len(labels) > 1 and not args.report_only:
        raise SystemExit("several --label values only with --report-only")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    log = out / "log.txt"
    bin_dir = Path(sys.executable).parent
    rows = []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        for seed in seeds:
            row = {"model": model, "epochs": epochs, "seed": seed, "data": args.data, "aejax": {}}
            for label in labels:
                wd = out / f"aejax-{model}-{tag}-{label}-s{seed}"
                done = (wd / "summary.json").exists()
                if not (args.report_only or args.skip_aejax) and (args.fresh or not done):
                    cmd = [str(bin_dir / "aejax"), "run", f"mnist_{model}", "--workdir", str(wd),
                           "--set", f"data.name={args.data}", "--set", f"seed={seed}",
                           "--set", f"train.epochs={epochs}", "--set", "train.progress=false"]
                    cmd += [a for kv in args.set for a in ("--set", kv)]
                    if args.quick:
                        cmd += ["--set", "data.limit=2048"]
                    if args.fresh:
                        cmd.append("--overwrite")
                    print(f"[{time.strftime('%H:%M:%S')}] aejax {model} ({label}), seed {seed}, {epochs} epochs "
                          f"(log {log}) ...", flush=True)
                    run_logged(cmd, log)
                if (wd / "summary.json").exists():
                    s = json.loads((wd / "summary.json").read_text())
                    row["aejax"][label] = {"test_mse": s["test/mse"], "best_epoch": s["best_epoch"],
                                           "dead_units": aejax_dead_units(wd), "run_dir": str(wd)}
            kjson = out / f"keras-{model}-{tag}-s{seed}.json"
            if not (args.report_only or args.skip_keras) and (args.fresh or not kjson.exists()):
                cmd = [sys.executable, "benchmarks/keras_reference.py", "--model", model, "--epochs", str(epochs),
                       "--seed", str(seed), "--data", args.data, "--backend", args.backend, "--json", str(kjson)]
                if args.quick:
                    cmd += ["--limit", "2048"]
                print(f"[{time.strftime('%H:%M:%S')}] keras ({args.backend}) {model}, seed {seed}, {epochs} "
                      "epochs ...", flush=True)
                run_logged(cmd, log, env={**os.environ, "KERAS_BACKEND": args.backend})
            if kjson.exists():
                k = json.loads(kjson.read_text())
                row["keras"] = {"test_mse": k["test/mse"], "best_epoch": k["best_epoch"],
                                "dead_units": k.get("dead_units"), "backend": k["backend"]}
            rows.append(row)

    print(f"\ntest MSE (best-validation weights), {epochs} epochs; dead ReLU units per hidden layer in []")
    for model in dict.fromkeys(r["model"] for r in rows):
        mrows = [r for r in rows if r["model"] == model]
        print(f"\n{model}: | seed | keras | " + " | ".join(f"aejax {lb} | vs keras" for lb in labels) + " |")
        for r in mrows:
            k = r.get("keras", {}).get("test_mse")
            cells = [f"{k:.6f} {list((r['keras'].get('dead_units') or {}).values())}" if k else "-"]
            for lb in labels:
                a = r["aejax"].get(lb)
                cells.append(f"{a['test_mse']:.6f} {list(a['dead_units'].values())}" if a else "-")
                cells.append(f"{(a['test_mse'] / k - 1) * 100:+.1f} %" if a and k else "-")
            print(f"  | {r['seed']} | " + " | ".join(cells) + " |")
        ks = [r.get("keras", {}).get("test_mse") for r in mrows]
        cells = [mean_std(ks)]
        for lb in labels:
            vs = [r["aejax"].get(lb, {}).get("test_mse") for r in mrows]
            paired = [(a, k) for a, k in zip(vs, ks) if a and k]
            cells.append(mean_std(vs))
            cells.append(f"{(statistics.mean(a for a, _ in paired) / statistics.mean(k for _, k in paired) - 1) * 100:+.1f} %"
                         if paired else "-")
        print("  | mean ± std | " + " | ".join(cells) + " |")
    result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join(sys.argv), "rows": rows}
    path = out / f"quality-{tag}-{'-'.join(labels)}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
