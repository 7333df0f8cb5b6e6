"""Tabular autoencoders: data preparation, run-directory outputs and figures.

Used by ``experiments/housing_deep.py`` through its hooks, and by
anything that wants to reuse a finished tabular run on new data:

- :func:`prepare` (``prepare_data`` hook): chooses the validation split
  (``tabular.validate_on``: a held-out split by default, the test split as in the seed) and
  MinMax-scales every split with a scaler fitted on the training split only.
- :func:`write_outputs` (``after_training`` hook): writes ``scaler.json``,
  ``features.csv`` (the encoder features of every row), ``analysis/tabular.json``
  (R² table, per-column errors) and the tabular figures; returns the summary
  entries (``test/mae``, ``test/r2_*``, ...).
- :func:`load_scaler` / :func:`encode`: transform new raw rows with the saved
  scaler and encode them with the run's best parameters.
- :data:`BASELINE` / :func:`after_sweep` (``after_sweep`` hook): the seed's setup every
  sweep axis varies from, and ``figures/sweep_mae.png`` of the sweep.

Run-directory files added to the contract of DESIGN.md:

=========================  ==================================================================
``scaler.json``            ``{"min": [...], "max": [...], "columns": [...], "target": ...}``:
                           the MinMax scaler fitted on the training split (JSON, no pickle)
``features.csv``           ``index, split, feature_0 ... feature_{D-1}, <target>``: one row per
                           example of every split, in the run's split order (``index`` runs
                           over all rows; within a split the order is that of the split
                           :func:`aejax.run.builder.load_run` rebuilds)
``analysis/tabular.json``  the R² table, per-column test MAE, dead code units
``figures/r2.png``         R² of linear regressions of the target (bars + table)
``figures/column_mae.png`` test MAE of each input column
``figures/features.png``   distribution of each code unit over the training rows
=========================  ==================================================================
"""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Mapping

import numpy as np

from aejax.data import Dataset, Split
from aejax.errors import UserError
from aejax.run.rundir import atomic_path, atomic_write, save_figure

VALIDATE_ON = ("test", "val")

#: The seed's architecture and optimiser: the point every axis of ``aejax sweep housing_deep`` varies from.
BASELINE = {"model.latent_dim": 7, "model.hidden": [32, 16], "model.activation": "relu",
            "train.optimizer": "adam", "train.learning_rate": 1e-3}

#: column_mae.png shows at most this many columns (the worst ones): its height stays bounded.
MAX_BARS = 40


def prepare(ds: Dataset, cfg: Mapping) -> Dataset:
    """Pick the validation split, then MinMax-scale with a scaler fitted on train only.

    ``tabular.validate_on``:

    - ``"val"`` (the default): the usual held-out validation split (``data.val_fraction`` of
      the training part) chooses the best epoch; the test split is untouched until the end.
    - ``"test"`` (the seed: ``validation_data=(x_test, x_test)``): the carved
      validation rows go back into training (train = the whole training part,
      in the seed's permuted order) and the test split is scored every epoch as
      ``val/*``. The best epoch is then chosen on the test split, so its test
      numbers are optimistic (the summary says so in ``validation_note``); the
      summary also gives ``test/loss_last_epoch``.
    """
    from aejax.data.tabular import minmax_scale
    choice = cfg.get("tabular", {}).get("validate_on", "val")
    if choice not in VALIDATE_ON:
        raise UserError(f"tabular.validate_on={json.dumps(choice)}: expected one of {list(VALIDATE_ON)}")
    if ds.train.x.ndim != 2:
        raise UserError(f"data.name={ds.name!r}: a tabular experiment needs a table [N, F], "
                        f"got examples of shape {ds.example_shape}")
    if choice == "test":
        train = _concat(ds.val, ds.train)  # = the training part in load()'s permuted order
        ds = dataclasses.replace(ds, train=train, val=ds.test)
    ds, _ = minmax_scale(ds, clip=bool(cfg.get("tabular", {}).get("clip", False)))
    return dataclasses.replace(ds, meta={**ds.meta, "validate_on": choice})


def _concat(a: Split, b: Split) -> Split:
    y = None if a.y is None or b.y is None else np.concatenate([a.y, b.y])
    extras = {k: np.concatenate([a.extras[k], b.extras[k]]) for k in a.extras if k in b.extras}
    return Split(np.concatenate([a.x, b.x]), y, extras)


def _splits(ds: Dataset) -> dict[str, Split]:
    """The distinct splits of a prepared dataset (val is omitted when it is the test split)."""
    out = {"train": ds.train}
    if ds.meta.get("validate_on") != "test":
        out["val"] = ds.val
    out["test"] = ds.test
    return out


def write_outputs(*, cfg, workdir, trainer, params, data: Dataset, arrays=None) -> dict:
    """The ``after_training`` hook: scaler.json, features.csv, analysis/tabular.json, figures.

    Returns the entries merged into summary.json: ``test/mae`` (mean absolute
    error over features and test rows, scaled units), ``test/r2_autoencoder``,
    ``test/r2_inputs``, ``test/r2_pca`` (and ``train/...``), ``code_dim``,
    ``dead_code_units``, ``validate_on``.
    """
    del arrays
    from aejax.analysis.regression import r2_table
    workdir = Path(workdir)
    meta = data.meta
    target = meta.get("target")
    scaler = {**meta["scaler"], "columns": list(meta.get("columns", [])), "target": target,
              "fitted_on": f"train split ({len(data.train)} rows, seed {cfg['seed']})"}
    atomic_write(workdir / "scaler.json", json.dumps(scaler, indent=2) + "\n")

    splits = _splits(data)
    codes = {name: np.asarray(trainer.predict(params, trainer.put(s.x), method="encode"))
             for name, s in splits.items()}  # each [N, D]
    recon_test = np.asarray(trainer.predict(params, trainer.put(data.test.x)))  # [N, F]
    write_features(workdir / "features.csv", codes, {n: s.y for n, s in splits.items()}, target)

    abs_err = np.abs(recon_test - data.test.x)  # [N, F]
    code_dim = codes["train"].shape[1]
    dead = int(np.sum(codes["train"].std(axis=0) == 0))
    result = {"code_dim": code_dim, "dead_code_units": dead,
              "column_mae": dict(zip(meta.get("columns") or [f"x{j}" for j in range(abs_err.shape[1])],
                                     abs_err.mean(axis=0).tolist())),
              "target": target, "validate_on": meta.get("validate_on")}
    summary = {"test/mae": float(abs_err.mean()), "code_dim": code_dim, "dead_code_units": dead,
               "validate_on": meta.get("validate_on")}
    if meta.get("validate_on") == "test":
        summary["validation_note"] = ("tabular.validate_on=test: the best epoch was chosen on the test split, "
                                      "so the test numbers are optimistic")
        from aejax.run.rundir import read_metrics
        rows = read_metrics(workdir / "metrics.jsonl")
        if rows and rows[-1].get("val/loss") is not None:
            summary["test/loss_last_epoch"] = rows[-1]["val/loss"]
    y = {n: s.y for n, s in splits.items()}
    if all(v is not None for v in y.values()) and np.issubdtype(data.train.y.dtype, np.floating):
        n_pca = int(cfg.get("tabular", {}).get("pca_components") or code_dim)
        table = r2_table(codes, {n: s.x for n, s in splits.items()}, y, n_pca=n_pca)
        result["r2"] = table
        short = {"autoencoder features": "autoencoder", "scaled inputs": "inputs"}
        for row in table:
            key = short.get(row["features"], "pca")
            for split in ("train", "test"):
                summary[f"{split}/r2_{key}"] = row[f"r2/{split}"]
    else:
        result["r2"] = []
        result["r2_note"] = "no regression target (no target column, or a class label)"
    (workdir / "analysis").mkdir(exist_ok=True)
    atomic_write(workdir / "analysis" / "tabular.json", json.dumps(result, indent=2) + "\n")
    figures(workdir)
    return summary


def write_features(path: Path, codes: Mapping[str, np.ndarray], targets: Mapping, target: str | None) -> None:
    """features.csv: ``index, split, feature_0..feature_{D-1}[, target]`` for every split's rows."""
    d = next(iter(codes.values())).shape[1]
    has_y = target is not None and all(targets.get(n) is not None for n in codes)
    header = ["index", "split"] + [f"feature_{j}" for j in range(d)] + ([target] if has_y else [])
    index = 0
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for name, c in codes.items():
            ys = np.asarray(targets[name]) if has_y else None
            for i, row in enumerate(np.asarray(c, np.float64)):
                cells = [index, name] + [f"{v:.7g}" for v in row]
                if has_y:
                    cells.append(f"{float(ys[i]):.7g}")
                w.writerow(cells)
                index += 1


def read_features(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """features.csv -> (header, split of each row, feature_* values [N, D])."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = [j for j, h in enumerate(header) if h.startswith("feature_")]
    return header, [r[1] for r in body], np.array([[float(r[j]) for j in cols] for r in body])


def load_scaler(run_dir):
    """The MinMax scaler a tabular run saved in ``run_dir/scaler.json``."""
    from aejax.data.tabular import MinMaxScaler
    path = Path(run_dir) / "scaler.json"
    if not path.exists():
        raise UserError(f"{path}: no such file; is {run_dir} a finished tabular run?")
    try:
        return MinMaxScaler.from_json(json.loads(path.read_text()))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg})") from e


def encode(run_dir, x_raw, *, which: str = "best") -> np.ndarray:
    """Encoder features [N, D] of new raw (unscaled) rows ``x_raw`` [N, F] from a finished run.

    The rows are scaled with the run's saved scaler (fitted on its training
    split) and encoded with its ``best`` (or ``latest``) parameters.
    """
    from aejax.run.builder import load_run
    scaler = load_scaler(run_dir)
    x_raw = np.asarray(x_raw, np.float32)
    if x_raw.ndim != 2 or x_raw.shape[1] != scaler.n_features:
        raise UserError(f"encode({run_dir}): expected rows of {scaler.n_features} columns, "
                        f"got an array of shape {x_raw.shape}")
    run = load_run(run_dir, which)
    x = run.trainer.put(scaler.transform(x_raw, clip=bool(run.cfg.get("tabular", {}).get("clip", False))))
    return np.asarray(run.trainer.predict(run.params, x, method="encode"))


# --------------------------------------------------------------------------- figures

def figures(run_dir) -> list[Path]:
    """The tabular figures, made from ``analysis/tabular.json`` and ``features.csv``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    res = json.loads((run_dir / "analysis" / "tabular.json").read_text())
    cfg = json.loads((run_dir / "config.json").read_text())
    src = cfg["data"]["name"]
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    made = []

    if res["r2"]:
        rows = res["r2"]
        fig, (ax, tab) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.1, 1]})
        names = [r["features"] for r in rows]
        pos = np.arange(len(rows))
        for off, split, color in ((-0.2, "train", "#9ecae1"), (0.2, "test", "#3182bd")):
            vals = [r[f"r2/{split}"] for r in rows]
            bars = ax.barh(pos + off, vals, height=0.38, color=color, label=f"{split} split")
            for b, v in zip(bars, vals):
                ax.text(max(v, 0) + 0.01, b.get_y() + b.get_height() / 2, f"{v:.3f}", va="center", fontsize=8)
        ax.set_yticks(pos, [f"{n}\n({r['n_features']} features)" for n, r in zip(names, rows)], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(min(0.0, min(r["r2/test"] for r in rows) - 0.05), 1.1)
        ax.set_xlabel(f"R² of a linear regression of {res['target']}")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        tab.axis("off")
        cells = [[n, str(r["n_features"]), f"{r['r2/train']:.3f}", f"{r['r2/test']:.3f}"]
                 for n, r in zip(names, rows)]
        t = tab.table(cellText=cells, colLabels=["features", "k", "R² train", "R² test"], loc="center",
                      cellLoc="left", colWidths=[0.52, 0.1, 0.19, 0.19])
        t.auto_set_font_size(False)
        t.set_fontsize(9)
        t.scale(1, 1.6)
        fig.suptitle(f"Are the {res['code_dim']} autoencoder features useful? Linear regression of "
                     f"{res['target']} ({src}; fitted on train, scored on each split)", fontsize=10)
        fig.tight_layout()
        p = out / "r2.png"
        save_figure(fig, p, dpi=120)
        plt.close(fig)
        made.append(p)

    cols = list(res["column_mae"])
    shown = cols if len(cols) <= MAX_BARS else sorted(cols, key=lambda c: -res["column_mae"][c])[:MAX_BARS]
    vals = [res["column_mae"][c] for c in shown]
    what = "" if len(shown) == len(cols) else f"; the {len(shown)} worst of {len(cols)} columns"
    cols = shown
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(cols) + 1.4))  # bounded: at most MAX_BARS bars
    ax.barh(np.arange(len(cols)), vals, color="#3182bd")
    ax.set_yticks(np.arange(len(cols)), cols, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test MAE (MinMax-scaled units, training range = [0, 1])")
    ax.set_title(f"Reconstruction error per input column ({src}, test split{what})", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    p = out / "column_mae.png"
    save_figure(fig, p, dpi=120)
    plt.close(fig)
    made.append(p)

    header, split, feats = read_features(run_dir / "features.csv")
    train = feats[np.array(split) == "train"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.boxplot([train[:, j] for j in range(train.shape[1])], showfliers=False)
    ax.set_xticks(np.arange(1, train.shape[1] + 1), [f"feature_{j}" for j in range(train.shape[1])],
                  fontsize=8, rotation=30)
    ax.set_ylabel("code value")
    dead = res["dead_code_units"]
    ax.set_title(f"Encoder features over the {len(train)} training rows ({src})"
                 + (f"\n{dead} of {train.shape[1]} units dead (constant on every row)" if dead else ""),
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    p = out / "features.png"
    save_figure(fig, p, dpi=120)
    plt.close(fig)
    made.append(p)
    return made


def after_sweep(*, sweep_dir, configs, rows) -> None:
    """figures/sweep_mae.png: test MAE and R² of the AE features per configuration (mean ± std over seeds)."""
    from aejax.report.plots import metric_figure
    metric_figure(sweep_dir, configs, rows, ["test/mae", "test/r2_autoencoder"], baseline=BASELINE,
                  name="sweep_mae.png",
                  title="housing_deep sweep: one hyperparameter at a time from the seed's setup")
