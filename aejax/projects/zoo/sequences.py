"""1-D signals for the LSTM autoencoder: seismic columns as sequences, and the baselines it must beat.

``seq.view = "columns"`` turns every image of every split into its columns
(traces, see :mod:`aejax.data.columns`): one example of shape [H] per column,
labels repeated per column. ``seq.stride = s`` keeps every s-th column
(neighbouring traces are nearly identical; a stride thins that redundancy).
``seq.view = "rows"`` leaves the images alone: the LSTM then reads each image
row by row (a sequence of H steps of W values).

Baselines on the same test sequences (MSE per sample, mean over examples):

- mean trace: every sequence predicted by the mean training sequence (what a
  model that ignores its input can do best in MSE);
- PCA: the projection on as many principal components as the LSTM's code
  (the best *linear* code of that size).

``margin`` = 1 - MSE_lstm / MSE_baseline: the fraction of the baseline's error
the LSTM autoencoder removes.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from aejax.analysis import spectrum
from aejax.data.columns import columns_to_images, images_to_columns
from aejax.errors import UserError
from aejax.run.rundir import atomic_write, save_npz


def seq_section(view: str = "columns", stride: int = 1) -> dict:
    """The ``seq`` config section."""
    return {"view": view, "stride": stride}


def _settings(cfg) -> tuple[str, int]:
    s = cfg.get("seq") or {}
    view, stride = s.get("view", "columns"), s.get("stride", 1)
    if view not in ("columns", "rows"):
        raise UserError(f"seq.view={json.dumps(view)}: expected \"columns\" or \"rows\"")
    if not isinstance(stride, int) or stride < 1:
        raise UserError(f"seq.stride={json.dumps(stride)}: expected an integer >= 1")
    return view, stride


def as_sequences(ds, cfg):
    """``prepare_data`` hook: images -> columns (``seq.view="columns"``) or unchanged (``"rows"``)."""
    from aejax.data import Split
    view, stride = _settings(cfg)
    if view == "rows":
        return ds
    if ds.train.x.ndim != 4:
        raise UserError(f"seq.view=\"columns\": data {ds.name!r} is not images (example shape "
                        f"{ds.example_shape}); use 1-D data directly or images")

    def cols(s):
        n, h, w, _ = s.x.shape
        keep = np.arange(0, w, stride)
        c = images_to_columns(s.x[:, :, keep, :])                         # [n * len(keep), H]
        y = None if s.y is None else np.repeat(np.asarray(s.y), len(keep))
        return Split(c, y, {})

    meta = {**ds.meta, "kind": "sequence", "view": "columns", "stride": stride,
            "image_width": int(ds.train.x.shape[2])}
    return dataclasses.replace(ds, train=cols(ds.train), val=cols(ds.val), test=cols(ds.test), meta=meta)


def baselines(x_train: np.ndarray, x_test: np.ndarray, k: int) -> dict:
    """Mean-trace and k-component PCA reconstructions of ``x_test`` [N, ...] and their MSEs."""
    tr, te = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    fit = spectrum.pca(tr, min(k, *tr.shape))  # the package's one PCA
    mean, comp = fit["mean"], fit["components"].T                         # [P], [k, P]
    pca = (te - mean) @ comp.T @ comp + mean
    return {"mean_trace": np.broadcast_to(mean, te.shape).reshape(x_test.shape),
            "pca": pca.reshape(x_test.shape),
            "mse_mean_trace": float(np.mean(np.square(te - mean))),
            "mse_pca": float(np.mean(np.square(te - pca))), "pca_components": int(len(comp))}


def sequence_after_training(*, cfg, workdir, trainer, params, data, arrays, figures: bool = True, **_) -> dict:
    """LSTM vs mean-trace and PCA baselines on the test sequences; ``analysis/sequences.npz``.

    Summary entries: ``test/mse_model``, ``test/mse_mean_trace``, ``test/mse_pca``,
    ``margin_vs_mean_trace`` and ``margin_vs_pca`` (1 - MSE_model / MSE_baseline).
    """
    view, stride = _settings(cfg)
    x_tr, x_te = data.train.x, data.test.x
    recon = np.asarray(trainer.predict(params, arrays["test_in"]))
    code = np.asarray(trainer.predict(params, arrays["test_in"][:1], method="encode"))
    k = int(np.prod(code.shape[1:]))
    base = baselines(x_tr, x_te, k)
    mse = float(np.mean(np.square(recon - x_te)))
    numbers = {"test/mse_model": mse, "test/mse_mean_trace": base["mse_mean_trace"],
               "test/mse_pca": base["mse_pca"], "pca_components": base["pca_components"],
               "margin_vs_mean_trace": 1.0 - mse / base["mse_mean_trace"],
               "margin_vs_pca": 1.0 - mse / base["mse_pca"], "view": view}
    out_dir = Path(workdir) / "analysis"
    out_dir.mkdir(exist_ok=True)
    arrays_out = {"x": x_te[:8], "model": recon[:8], "pca": base["pca"][:8], "mean_trace": base["mean_trace"][0]}
    if view == "columns":  # the first test image, reassembled from its columns
        width = len(range(0, int(data.meta["image_width"]), stride))
        arrays_out.update(image_x=columns_to_images(x_te[:width], width)[0],
                          image_model=columns_to_images(recon[:width], width)[0],
                          image_pca=columns_to_images(base["pca"][:width], width)[0])
    save_npz(out_dir / "sequences.npz", **arrays_out)
    atomic_write(out_dir / "sequences.json", json.dumps(numbers, indent=2) + "\n")
    if figures:
        sequence_figures(workdir)
    return numbers


def sequence_figures(run_dir) -> list[Path]:
    """Traces (or rows) with their reconstructions, and the reassembled first test image."""
    from aejax.projects.zoo import figures as F
    run_dir = Path(run_dir)
    a = np.load(run_dir / "analysis" / "sequences.npz")
    n = json.loads((run_dir / "analysis" / "sequences.json").read_text())
    cfg = json.loads((run_dir / "config.json").read_text())
    name = cfg["model"]["name"]
    made = []
    if n["view"] == "columns":
        made.append(F.traces(a["x"], {f"{name} AE (MSE {n['test/mse_model']:.4g})": a["model"],
                                      f"PCA {n['pca_components']} (MSE {n['test/mse_pca']:.4g})": a["pca"],
                                      f"mean trace (MSE {n['test/mse_mean_trace']:.4g})":
                                          np.broadcast_to(a["mean_trace"], a["x"].shape)},
                             run_dir / "figures" / "sequence_traces.png",
                             title=f"Test traces (image columns) and reconstructions, {cfg['data']['name']}"))
        import matplotlib.pyplot as plt
        stride = (cfg.get("seq") or {}).get("stride", 1)
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 4.2))
        for ax, key, label in zip(axes, ("image_x", "image_model", "image_pca"),
                                  ("original", f"{name} AE", f"PCA {n['pca_components']}")):
            ax.imshow(a[key][..., 0], cmap="gray", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
            ax.set_title(label, fontsize=9)
            ax.set_xlabel(f"kept column (1 trace in {stride})" if stride > 1 else "trace")
        axes[0].set_ylabel("sample (row)")
        fig.suptitle("First test patch rebuilt from its reconstructed columns", fontsize=10)
        made.append(F._save(fig, run_dir / "figures" / "sequence_image.png"))
    else:
        imgs = np.stack([a["x"], a["model"], a["pca"]], axis=0)                         # [3, 8, H, W, C]
        made.append(F.image_grid(imgs, run_dir / "figures" / "sequence_rows.png",
                                 title=f"Images read row by row: {name} AE vs PCA {n['pca_components']}",
                                 row_labels=["original", f"{name} AE", "PCA"]))
    return made


def sequence_after_sweep(*, sweep_dir, configs, rows, title: str) -> None:
    """sweep.md with the LSTM and baseline MSEs and margins (mean ± std over seeds), and a bar figure."""
    from aejax.projects.zoo import figures as F
    from aejax.projects.zoo.zoo import group_stats, seed_table
    sweep_dir = Path(sweep_dir)
    for r in rows:
        r["method"] = "all"
    metrics = [("test/mse_model", "LSTM AE MSE"), ("test/mse_mean_trace", "mean-trace MSE"),
               ("test/mse_pca", "PCA MSE"), ("margin_vs_mean_trace", "margin vs mean trace"),
               ("margin_vs_pca", "margin vs PCA"), ("pca_components", "code / PCA size"),
               ("train_examples", "train sequences"), ("epochs_run", "epochs")]
    notes = ["Test MSE per sample; margin = 1 - MSE_LSTM / MSE_baseline. Mean ± std over seeds (n runs)."]
    atomic_write(sweep_dir / "sweep.md", seed_table(rows, "method", metrics, title, notes))
    stats = {"LSTM AE": group_stats(rows, "method", "test/mse_model").get("all"),
             "PCA (same size)": group_stats(rows, "method", "test/mse_pca").get("all"),
             "mean trace": group_stats(rows, "method", "test/mse_mean_trace").get("all")}
    stats = {k: v for k, v in stats.items() if v is not None}
    if stats:
        F.bar_comparison(stats, sweep_dir / "figures" / "sequence_mse.png", title=title + ": test MSE",
                         ylabel="test MSE per sample", annotations={k: f"{v[0]:.4g}" for k, v in stats.items()})
