"""Salt masks from seismic images with a small U-Net, trained two ways (seed 002's question).

"Is the correct error function categorical cross-entropy? ... the network seems to learn better
with binary cross-entropy." The same U-Net (:class:`aejax.models.unet.UNet`) is trained once
with 2 logits per pixel, a per-pixel softmax and categorical cross-entropy
(:func:`aejax.models.losses.softmax_cross_entropy`), once with 1 logit per pixel, a sigmoid and
binary cross-entropy (:func:`aejax.models.losses.sigmoid_cross_entropy`); each loss is the mean
over pixels per image, then over the batch. Same data, seed, optimizer and steps for both.

Metrics on the test split (:func:`scores`): pixel accuracy (the fraction of pixels whose class is
right) and salt IoU, |predicted salt AND true salt| / |predicted salt OR true salt| over all test
pixels pooled (1 when neither has salt). Prediction: argmax of the two logits / sigmoid > 0.5,
with each model's parameters from its epoch of best validation salt IoU.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aejax import data as data_lib
from aejax import models
from aejax.errors import UserError
from aejax.models import losses
from aejax.run.rundir import RunDir, save_figure
from aejax.train.optim import optimizer_from_config

#: loss name -> (logits per pixel, per-example loss of (logits [B, H, W, k], mask [B, H, W] uint8),
#: predicted salt of logits -> bool [B, H, W])
LOSSES = {
    "softmax": (2, lambda z, m: losses.softmax_cross_entropy(z, m.astype(jnp.int32)),
                lambda z: jnp.argmax(z, axis=-1) == 1),
    "sigmoid": (1, lambda z, m: losses.sigmoid_cross_entropy(z[..., 0], m.astype(jnp.float32)),
                lambda z: z[..., 0] > 0),
}


def section() -> dict:
    """The experiment's own keys (``segmentation.*``)."""
    return {"losses": list(LOSSES), "figure_examples": 8}


def check(cfg: dict) -> dict:
    """The ``resolve`` hook: known losses; the model is a U-Net whose ``out_channels`` this sets."""
    s = cfg["segmentation"]
    if not (isinstance(s["losses"], list) and s["losses"] and all(v in LOSSES for v in s["losses"])):
        raise UserError(f"segmentation.losses={json.dumps(s['losses'])}: expected a non-empty list of {list(LOSSES)}")
    if cfg["model"].get("name") != "unet":
        raise UserError(f"model.name={json.dumps(cfg['model'].get('name'))}: salt_segmentation trains a 'unet'")
    return cfg


def scores(pred: np.ndarray, mask: np.ndarray) -> dict:
    """Pixel accuracy and pooled salt IoU of predicted salt ``pred`` against ``mask`` (both [N, H, W])."""
    pred, mask = np.asarray(pred, bool), np.asarray(mask, bool)
    union = np.count_nonzero(pred | mask)
    return {"pixel_accuracy": float(np.mean(pred == mask)),
            "salt_iou": float(np.count_nonzero(pred & mask) / union) if union else 1.0}


def train_one(cfg: Mapping, loss: str, ds) -> dict:
    """Train the U-Net with ``loss`` for ``train.epochs``; per-epoch train loss and validation IoU,
    the test scores and the test predictions (bool [N, H, W]) of the parameters of the epoch with
    the best validation salt IoU (``best_epoch``, as aejax's ``best`` checkpoint)."""
    t = cfg["train"]
    k, loss_fn, predict = LOSSES[loss]
    model = models.build(dict(cfg["model"], out_channels=k), ds.example_shape)
    steps = len(ds.train) // t["batch_size"]
    tx = optimizer_from_config(t, steps)
    x, m = jnp.asarray(ds.train.x), jnp.asarray(ds.train.extras["mask"])

    @jax.jit
    def step(params, opt, idx):
        def objective(p):
            return loss_fn(model.apply({"params": p}, x[idx]), m[idx]).mean()
        value, grads = jax.value_and_grad(objective)(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), opt, value

    @jax.jit
    def predict_batch(params, xb):
        return predict(model.apply({"params": params}, xb))

    def predict_all(params, xs):
        return np.concatenate([np.asarray(predict_batch(params, jnp.asarray(xs[i:i + 100])))
                               for i in range(0, len(xs), 100)])

    params = jax.jit(model.init)(jax.random.key(cfg["seed"]), x[:1])["params"]
    opt = tx.init(params)
    rng = np.random.default_rng([cfg["seed"], 7])
    history, t0, best = [], time.perf_counter(), (-1.0, 0, params)
    for epoch in range(1, t["epochs"] + 1):
        idx = rng.permutation(len(ds.train))[: steps * t["batch_size"]].reshape(steps, t["batch_size"])
        total = 0.0
        for i in idx:  # a Python loop over the jitted step: XLA:CPU runs convolutions slower in a scan
            params, opt, value = step(params, opt, jnp.asarray(i))
            total = total + value
        val = scores(predict_all(params, ds.val.x), ds.val.extras["mask"])
        history.append({"epoch": epoch, "train/loss": float(total) / steps, "val/salt_iou": val["salt_iou"],
                        "val/pixel_accuracy": val["pixel_accuracy"]})
        if val["salt_iou"] > best[0]:  # params are immutable arrays: holding them is the copy
            best = (val["salt_iou"], epoch, params)
        if t.get("progress", True):
            print(f"salt_segmentation {loss}: epoch {epoch}: loss {history[-1]['train/loss']:.4f}, "
                  f"val IoU {val['salt_iou']:.3f}", flush=True)
    train_s = time.perf_counter() - t0
    pred = predict_all(best[2], ds.test.x)
    return {"history": history, "test": scores(pred, ds.test.extras["mask"]), "pred": pred, "train_s": train_s,
            "best_epoch": best[1], "params": int(sum(a.size for a in jax.tree.leaves(params)))}


def run(cfg: dict, workdir) -> dict:
    """Train one U-Net per loss in ``segmentation.losses``; metrics.jsonl (one row per epoch, both
    losses), analysis/segmentation.json, the figures, summary.json and report.html."""
    from aejax.report.html import write_run_report
    t_start = time.perf_counter()
    rd = RunDir(workdir)
    d = cfg["data"]
    ds = data_lib.load(d["name"], seed=cfg["seed"], val_fraction=d["val_fraction"],
                       test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])
    if "mask" not in ds.train.extras:
        raise UserError(f"data.name={d['name']!r}: no salt masks (use seismic_synth or tgs:DIR with masks/)")
    results = {name: train_one(cfg, name, ds) for name in cfg["segmentation"]["losses"]}
    rd.metrics_path.unlink(missing_ok=True)
    for e in range(cfg["train"]["epochs"]):
        row = {"epoch": e + 1}
        for name, r in results.items():
            row.update({f"{k}_{name}": v for k, v in r["history"][e].items() if k != "epoch"})
        rd.append_metrics(row)
    n = int(cfg["segmentation"]["figure_examples"])
    with_salt = np.flatnonzero(ds.test.extras["mask"].reshape(len(ds.test), -1).any(1))
    shown = np.concatenate([with_salt, np.setdiff1d(np.arange(len(ds.test)), with_salt)])[:n]
    from aejax.run.rundir import save_npz
    save_npz(rd.analysis / "examples.npz", image=ds.test.x[shown], mask=ds.test.extras["mask"][shown],
             **{f"pred_{name}": r["pred"][shown] for name, r in results.items()})
    rd.write_json("analysis/segmentation.json", {name: {"test": r["test"], "train_s": r["train_s"], "params": r["params"],
                                                       "best_epoch": r["best_epoch"]}
                                                for name, r in results.items()})
    figures(rd.path)
    summary = {"train_examples": len(ds.train), "val_examples": len(ds.val), "test_examples": len(ds.test),
               "epochs_run": cfg["train"]["epochs"]}
    for name, r in results.items():
        summary[f"params/{name}"] = r["params"]
        summary[f"train_s/{name}"] = round(r["train_s"], 1)
        summary[f"best_epoch/{name}"] = r["best_epoch"]
        summary.update({f"test/{k}_{name}": round(v, 4) for k, v in r["test"].items()})
    summary["wall_s"] = round(time.perf_counter() - t_start, 1)
    rd.write_summary(summary)
    write_run_report(rd.path)
    return summary


def figures(run_dir) -> list[Path]:
    """figures/segmentation_examples.png (images / true masks / each loss's prediction) and
    segmentation_curves.png (training loss and validation salt IoU per epoch), from the run's files."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rd = RunDir(run_dir)
    with np.load(rd.analysis / "examples.npz") as z:
        ex = {k: z[k] for k in z.files}
    summary_scores = json.loads((rd.analysis / "segmentation.json").read_text())
    rows = [("image", ex["image"][..., 0], "gray"), ("true salt", ex["mask"], "gray")]
    rows += [(f"{k[5:]} (test IoU {summary_scores[k[5:]]['test']['salt_iou']:.3f})", ex[k], "gray")
             for k in ex if k.startswith("pred_")]
    n = len(ex["image"])
    fig, axes = plt.subplots(len(rows), n, figsize=(1.6 * n, 1.7 * len(rows)), squeeze=False)
    for r, (label, imgs, cmap) in enumerate(rows):
        for i in range(n):
            ax = axes[r][i]
            ax.imshow(imgs[i], cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, fontsize=8)
    fig.suptitle("Salt segmentation: test images, true masks, predictions (white = salt)")
    fig.tight_layout()
    out = [save_figure(fig, rd.figures / "segmentation_examples.png", dpi=110)]
    plt.close(fig)
    metrics = rd.metrics()
    names = [k[len("train/loss_"):] for k in metrics[0] if k.startswith("train/loss_")]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = [r["epoch"] for r in metrics]
    for name in names:
        a.plot(epochs, [r[f"train/loss_{name}"] for r in metrics], "o-", ms=3, label=name)
        b.plot(epochs, [r[f"val/salt_iou_{name}"] for r in metrics], "o-", ms=3, label=name)
    a.set(xlabel="epoch", ylabel="training loss (nats per pixel)", yscale="log", title="training loss")
    b.set(xlabel="epoch", ylabel="salt IoU", title="validation salt IoU", ylim=(0, 1))
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out.append(save_figure(fig, rd.figures / "segmentation_curves.png", dpi=110))
    plt.close(fig)
    return out
