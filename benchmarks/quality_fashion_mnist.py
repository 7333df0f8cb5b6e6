"""Test MSE on full Fashion-MNIST: aejax's default dense / conv configs vs the Keras 3 reference.

    .venv/bin/python benchmarks/quality_fashion_mnist.py --models dense --epochs 150     # ~15-25 min
    .venv/bin/python benchmarks/quality_fashion_mnist.py --models conv --epochs 15
    .venv/bin/python benchmarks/quality_fashion_mnist.py --quick                         # ~1 min smoke run

For each model it runs, one after the other (never side by side: 2 cores),

    aejax run mnist_<model> --set data.name=idx:/usr/share/datasets/fashion-mnist \
        --set train.epochs=N --set train.progress=false --workdir OUT/aejax-<model>-<N>
    python benchmarks/keras_reference.py --model <model> --epochs N --json OUT/keras-<model>-<N>.json

and prints both test MSEs (aejax: ``test/mse`` of its best-validation
checkpoint from summary.json; Keras: the best-validation weights too, and the
last epoch's). Both read the data with ``aejax.data.load(..., seed=0)``: the
same 54,000 / 6,000 / 10,000 train / val / test split. An aejax workdir that
already finished is resumed (nothing left to train), so a rerun only redoes
what is missing; pass --fresh to start over. Needs Debian's
``dataset-fashion-mnist`` package (``apt-get install -y dataset-fashion-mnist``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
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


def main(argv=None) -> int:
    """Run aejax then Keras for each model; print and save the comparison."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="dense,conv", help="comma list of dense, conv")
    p.add_argument("--epochs", type=int, default=150, help="epochs for both frameworks (default 150)")
    p.add_argument("--data", default=FASHION)
    p.add_argument("--backend", default="jax", choices=("jax", "torch"), help="Keras backend (default jax)")
    p.add_argument("--out", default="results/quality_fashion_mnist", help="folder for run dirs, logs, JSON")
    p.add_argument("--fresh", action="store_true", help="--overwrite aejax run dirs")
    p.add_argument("--skip-keras", action="store_true")
    p.add_argument("--skip-aejax", action="store_true")
    p.add_argument("--quick", action="store_true", help="2 epochs on 2,048 examples per split")
    args = p.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 2 if args.quick else args.epochs
    tag = f"{epochs}{'-quick' if args.quick else ''}"
    log = out / "log.txt"
    bin_dir = Path(sys.executable).parent
    rows = []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        row = {"model": model, "epochs": epochs, "data": args.data}
        wd = out / f"aejax-{model}-{tag}"
        if not args.skip_aejax:
            cmd = [str(bin_dir / "aejax"), "run", f"mnist_{model}", "--workdir", str(wd),
                   "--set", f"data.name={args.data}", "--set", f"train.epochs={epochs}",
                   "--set", "train.progress=false"]
            if args.quick:
                cmd += ["--set", "data.limit=2048"]
            if args.fresh:
                cmd.append("--overwrite")
            print(f"[{time.strftime('%H:%M:%S')}] aejax {model}, {epochs} epochs (log {log}) ...", flush=True)
            row["aejax_wall_s"] = run_logged(cmd, log)
            row["aejax_command"] = " ".join(cmd)
        if (wd / "summary.json").exists():
            s = json.loads((wd / "summary.json").read_text())
            row.update({"aejax_test_mse": s["test/mse"], "aejax_best_epoch": s["best_epoch"],
                        "aejax_train_samples_per_s": s["train_samples_per_s"], "aejax_train_s": s["train_s"]})
        kjson = out / f"keras-{model}-{tag}.json"
        if not args.skip_keras:
            cmd = [sys.executable, "benchmarks/keras_reference.py", "--model", model, "--epochs", str(epochs),
                   "--data", args.data, "--backend", args.backend, "--json", str(kjson)]
            if args.quick:
                cmd += ["--limit", "2048"]
            print(f"[{time.strftime('%H:%M:%S')}] keras ({args.backend}) {model}, {epochs} epochs ...", flush=True)
            row["keras_wall_s"] = run_logged(cmd, log, env={**os.environ, "KERAS_BACKEND": args.backend})
            row["keras_command"] = " ".join(cmd)
        if kjson.exists():
            k = json.loads(kjson.read_text())
            row.update({"keras_test_mse": k["test/mse"], "keras_test_mse_last_epoch": k["test/mse_last_epoch"],
                        "keras_best_epoch": k["best_epoch"], "keras_samples_per_s": k["samples_per_s"],
                        "keras_backend": k["backend"], "keras_train_s": k["train_s"]})
        row["load_after"] = os.getloadavg()
        rows.append(row)
        if "aejax_test_mse" in row and "keras_test_mse" in row:
            verdict = "aejax <= keras" if row["aejax_test_mse"] <= row["keras_test_mse"] else "aejax > keras"
            print(f"{model} ({epochs} epochs): test MSE aejax {row['aejax_test_mse']:.6f} (best epoch "
                  f"{row['aejax_best_epoch']}) vs keras {row['keras_test_mse']:.6f} (best epoch "
                  f"{row['keras_best_epoch']}; last epoch {row['keras_test_mse_last_epoch']:.6f}): {verdict}",
                  flush=True)
    result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join(sys.argv), "rows": rows}
    path = out / f"quality-{'-'.join(r['model'] for r in rows)}-{tag}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
