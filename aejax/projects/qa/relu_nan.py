"""Seed 002: "Why are my TensorFlow network weights and costs NaN when I use ReLU activations?"

The question's network (a deep ReLU classifier, :class:`aejax.models.classifier.MLPClassifier`:
kernels ~ truncated normal σ = 0.1, biases 0.1, a softmax on the logits, momentum SGD at
0.02 with momentum 0.5) is trained against the answers' remedies, each one change to it
(:data:`VARIANTS`): He initialisation, a small (σ = 1e-4) last layer before the softmax,
gradients clipped to [-5, 5] by value (the answer's ``clip_by_value``) or to global norm 1.
Each runs with the cross-entropy in two forms (:data:`LOSS_FORMS`): ``stable`` (from
``log_softmax``, :func:`aejax.models.losses.softmax_cross_entropy`) and ``naive``
(``-log(softmax)`` as written by hand, the form of the TensorFlow tutorials of the time).

Every run is one compiled ``lax.scan`` over its steps that records each step's loss and gradient
norm. Divergence is handled as aejax's training loop handles it, but per step: at the first
non-finite loss or parameter the run stops and keeps its last finite parameters, and that step
is reported (``nan_step``); the test accuracy is that of the parameters it kept.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aejax import config as config_lib
from aejax import data as data_lib
from aejax import models
from aejax.errors import UserError
from aejax.models import losses
from aejax.run.rundir import RunDir, save_figure, save_npz
from aejax.train.optim import with_grad_clipping

#: name -> (config overrides on the question's setup, what it is)
VARIANTS: dict[str, tuple[dict, str]] = {
    "question": ({}, "the question: truncated normal σ = 0.1, biases 0.1"),
    "he_init": ({"model.weight_init": "he_normal"}, "He initialisation (σ² = 2 / fan_in)"),
    "small_last": ({"model.last_std": 1e-4}, "last layer σ = 1e-4 before the softmax"),
    "clip_value": ({"train.grad_clip_value": 5.0}, "gradients clipped to [-5, 5]"),
    "clip_norm": ({"train.grad_clip_norm": 1.0}, "gradient norm clipped to 1"),
}


def _naive_ce(logits, labels):
    """-log(softmax(logits))[label], computed as written: the softmax underflows to 0 once the
    logits are ~100 apart, its log is -inf and the gradient NaN. [B, K] x [B] -> [B]."""
    p = jax.nn.softmax(logits, axis=-1)
    return -jnp.log(jnp.take_along_axis(p, labels[:, None], axis=-1)[:, 0])


#: the cross-entropy's two forms: per-example [B] from logits [B, K] and labels [B]
LOSS_FORMS = {"stable": losses.softmax_cross_entropy, "naive": _naive_ce}


def section() -> dict:
    """The experiment's own keys (``relu_nan.*``)."""
    return {"variants": list(VARIANTS), "loss_forms": list(LOSS_FORMS), "momentum": 0.5}


def check(cfg: dict) -> dict:
    """The ``resolve`` hook: the variants, loss forms, momentum and model settings (exit 2 naming the key)."""
    r = cfg["relu_nan"]
    for key, known in (("variants", VARIANTS), ("loss_forms", LOSS_FORMS)):
        if not (isinstance(r[key], list) and r[key] and all(v in known for v in r[key])):
            raise UserError(f"relu_nan.{key}={json.dumps(r[key])}: expected a non-empty list of {list(known)}")
    if not (isinstance(r["momentum"], (int, float)) and 0 <= r["momentum"] < 1):
        raise UserError(f"relu_nan.momentum={json.dumps(r['momentum'])}: expected a number in [0, 1)")
    if cfg["train"]["optimizer"] != "sgd":
        raise UserError(f"train.optimizer={json.dumps(cfg['train']['optimizer'])}: relu_nan trains with the "
                        "question's momentum SGD; expected 'sgd' (set relu_nan.momentum instead)")
    from aejax.models.classifier import WEIGHT_INITS
    if cfg["model"].get("weight_init") not in WEIGHT_INITS:
        raise UserError(f"model.weight_init={json.dumps(cfg['model'].get('weight_init'))}: expected one of "
                        f"{list(WEIGHT_INITS)}")
    return cfg


def variant_config(cfg: Mapping, variant: str) -> dict:
    """The run's config with the variant's changes applied."""
    out = copy.deepcopy(dict(cfg))
    for key, value in VARIANTS[variant][0].items():
        config_lib.set_path(out, key, value)
    return out


def _finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(tree)]))


def train_one(cfg: Mapping, loss_form: str, x, y, x_test, y_test) -> dict:
    """Train one configuration for ``train.epochs`` epochs of ``train.batch_size``; returns its per-step
    ``loss`` and ``grad_norm`` (NaN after it stopped), ``nan_step`` (None: never), the test accuracy
    of the parameters it kept, and the hidden layers' activation scale at initialisation."""
    t = cfg["train"]
    model = models.build(cfg["model"], x.shape[1:])
    tx = with_grad_clipping(optax.sgd(t["learning_rate"], momentum=cfg["relu_nan"]["momentum"] or None),
                            t["grad_clip_norm"], t["grad_clip_value"])
    loss_fn = LOSS_FORMS[loss_form]
    steps_per_epoch = len(x) // t["batch_size"]
    rng = np.random.default_rng([cfg["seed"], 1])
    idx = np.concatenate([rng.permutation(len(x))[: steps_per_epoch * t["batch_size"]]
                          .reshape(steps_per_epoch, t["batch_size"]) for _ in range(t["epochs"])])  # [T, B]

    def objective(params, xb, yb):
        return loss_fn(model.apply({"params": params}, xb), yb).mean()

    @jax.jit
    def run(seed, x, y, idx):
        params = model.init(jax.random.key(seed), x[:1])["params"]
        scale = [jnp.sqrt(jnp.mean(jnp.square(a)))
                 for a in model.apply({"params": params}, x[:256], method="activations")]

        def body(carry, i):
            params, opt, alive = carry
            loss, grads = jax.value_and_grad(objective)(params, x[i], y[i])
            updates, new_opt = tx.update(grads, opt, params)
            new_params = optax.apply_updates(params, updates)
            ok = alive & jnp.isfinite(loss) & _finite(new_params)
            keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
            gnorm = optax.tree.norm(grads)
            shown = lambda v: jnp.where(alive, v, jnp.nan)  # noqa: E731  (NaN once stopped)
            return (keep(new_params, params), keep(new_opt, opt), ok), (shown(loss), shown(gnorm), alive & ~ok)

        (params, _, _), (loss, gnorm, failed) = jax.lax.scan(body, (params, tx.init(params), jnp.array(True)), idx)
        return params, loss, gnorm, failed, jnp.stack(scale)

    params, loss, gnorm, failed, scale = run(cfg["seed"], jnp.asarray(x), jnp.asarray(y), jnp.asarray(idx))
    failed = np.flatnonzero(np.asarray(failed))
    logits = np.asarray(model.apply({"params": params}, jnp.asarray(x_test)))
    return {"loss": np.asarray(loss), "grad_norm": np.asarray(gnorm),
            "nan_step": int(failed[0]) if len(failed) else None,
            "test_accuracy": float(np.mean(np.argmax(logits, -1) == y_test)),
            "init_scale": np.asarray(scale), "params": int(sum(a.size for a in jax.tree.leaves(params)))}


def _split(ds_split):
    return ds_split.x.reshape(len(ds_split), -1).astype(np.float32), ds_split.y.astype(np.int32)


def run(cfg: dict, workdir) -> dict:
    """Train every variant x loss form; write analysis/relu_nan.json, curves.npz, answer.md, the
    figures, summary.json and report.html."""
    from aejax.report.html import write_run_report
    t_start = time.perf_counter()
    rd = RunDir(workdir)
    d = cfg["data"]
    ds = data_lib.load(d["name"], seed=cfg["seed"], val_fraction=d["val_fraction"],
                       test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])
    (x, y), (x_test, y_test) = _split(ds.train), _split(ds.test)
    results, curves = {}, {}
    for variant in cfg["relu_nan"]["variants"]:
        for form in cfg["relu_nan"]["loss_forms"]:
            r = train_one(variant_config(cfg, variant), form, x, y, x_test, y_test)
            name = f"{variant}/{form}"
            curves[name] = r
            loss = r["loss"][np.isfinite(r["loss"])]
            results[name] = {"variant": variant, "loss_form": form, "nan_step": r["nan_step"],
                             "steps": len(r["loss"]), "initial_loss": _num(r["loss"][0], text=True),
                             "peak_loss": _num(loss.max()) if len(loss) else None,
                             "final_loss": _num(loss[-max(len(loss) // 10, 1):].mean()) if len(loss) else None,
                             "test_accuracy": r["test_accuracy"]}
            print(f"relu_nan: {name}: " + (f"NaN at step {r['nan_step']}" if r["nan_step"] is not None else
                                           "no NaN") + f", test accuracy {r['test_accuracy']:.3f}", flush=True)
    rd.write_json("analysis/relu_nan.json", results)
    names = list(curves)
    save_npz(rd.analysis / "curves.npz", names=np.array(names), loss=np.stack([curves[n]["loss"] for n in names]),
             grad_norm=np.stack([curves[n]["grad_norm"] for n in names]),
             init_scale=np.stack([curves[n]["init_scale"] for n in names]))
    rd.write_text("analysis/answer.md", answer(results, cfg))
    figures(rd.path)
    summary = {"params": curves[names[0]]["params"], "train_examples": len(ds.train), "test_examples": len(ds.test),
               "steps": len(curves[names[0]]["loss"])}
    for name, r in results.items():
        summary[f"nan_step/{name}"] = r["nan_step"]
        summary[f"test/accuracy/{name}"] = round(r["test_accuracy"], 4)
        summary[f"peak_loss/{name}"] = r["peak_loss"]
    summary["wall_s"] = round(time.perf_counter() - t_start, 1)
    rd.write_summary(summary)
    write_run_report(rd.path)
    return summary


def _num(v, text: bool = False) -> float | str | None:
    """A finite value as a float; a non-finite one as None (``text``: 'inf' / 'nan', JSON has no inf)."""
    v = float(v)
    return v if np.isfinite(v) else (str(v) if text else None)


def answer(results: Mapping, cfg: Mapping) -> str:
    """analysis/answer.md: the table of runs, then what it shows, read from the numbers."""
    m, t = cfg["model"], cfg["train"]
    lines = ["# Which runs produce NaN, and when", ""]
    if cfg.get("quick"):
        lines += ["**A --quick smoke run (fewer steps): the NaN steps are the real ones, the accuracies are not.**", ""]
    lines += [f"{m['depth']} ReLU layers of {m['width']} units on {cfg['data']['name']}, momentum SGD "
              f"(lr {t['learning_rate']}, momentum {cfg['relu_nan']['momentum']}), batch {t['batch_size']}, "
              f"{t['epochs']} epochs; seed {cfg['seed']}. `nan_step`: the first step (from 0) whose loss or "
              "updated parameters are not finite; the run stops there and keeps its last finite parameters.", "",
              "| variant | cross-entropy | NaN at step | initial loss | peak loss | final loss | test accuracy |",
              "|---|---|---|---|---|---|---|"]
    fmt = lambda v: "-" if v is None else v if isinstance(v, str) else f"{v:.3g}"  # noqa: E731
    for name, r in results.items():
        lines.append(f"| {r['variant']} ({VARIANTS[r['variant']][1]}) | {r['loss_form']} | "
                     f"{'never' if r['nan_step'] is None else r['nan_step']} | {fmt(r['initial_loss'])} | "
                     f"{fmt(r['peak_loss'])} | {fmt(r['final_loss'])} | {r['test_accuracy']:.3f} |")
    nan = [n for n, r in results.items() if r["nan_step"] is not None]
    clean = [n for n, r in results.items() if r["nan_step"] is None and r["test_accuracy"] >= 0.5]
    stuck = [n for n, r in results.items() if r["nan_step"] is None and r["test_accuracy"] < 0.5]
    lines += ["", f"- NaN: {', '.join(nan) or 'none'}.", f"- Trained without NaN (test accuracy >= 0.5): "
              f"{', '.join(clean) or 'none'}.", f"- No NaN but did not learn (test accuracy < 0.5): "
              f"{', '.join(stuck) or 'none'}."]
    return "\n".join(lines) + "\n"


def figures(run_dir) -> list[Path]:
    """figures/relu_nan_loss.png (loss per step, NaN steps marked), relu_nan_grad_norm.png and
    relu_nan_init_scale.png (RMS activation per hidden layer at initialisation), from analysis/."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rd = RunDir(run_dir)
    results = json.loads((rd.analysis / "relu_nan.json").read_text())
    with np.load(rd.analysis / "curves.npz") as z:
        names, loss, gnorm, scale = list(z["names"]), z["loss"], z["grad_norm"], z["init_scale"]
    forms = list(dict.fromkeys(results[n]["loss_form"] for n in names))
    variants = list(dict.fromkeys(results[n]["variant"] for n in names))
    colors = {v: plt.cm.tab10(i) for i, v in enumerate(variants)}
    out = []
    for stem, values, label in (("relu_nan_loss", loss, "training loss (nats, batch mean)"),
                                ("relu_nan_grad_norm", gnorm, "gradient norm (before clipping)")):
        fig, axes = plt.subplots(1, len(forms), figsize=(6.2 * len(forms), 4.4), squeeze=False, sharey=True)
        for ax, form in zip(axes[0], forms):
            marks = 0
            for i, n in enumerate(names):
                r = results[n]
                if r["loss_form"] != form:
                    continue
                steps = np.arange(len(values[i]))
                ax.plot(steps, values[i], color=colors[r["variant"]], lw=1.2, marker="o", ms=3, markevery=[0],
                        label=f"{r['variant']}: " + ("no NaN" if r["nan_step"] is None else f"NaN at step {r['nan_step']}"))
                if r["nan_step"] is not None:  # × along the top edge (the value there is NaN / inf)
                    s = r["nan_step"]
                    ax.axvline(s, color=colors[r["variant"]], ls=":", lw=1)
                    ax.plot([s], [0.96 - 0.06 * marks], "x", color=colors[r["variant"]], ms=11, mew=2.5,
                            transform=ax.get_xaxis_transform(), clip_on=False)
                    marks += 1
            ax.set_yscale("log")
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(left=-0.5)
            ax.set_xlabel("step (symlog: the first 10 linear)")
            ax.set_title(f"{form} cross-entropy" + (" (log of softmax, as written)" if form == "naive" else
                                                    " (log_softmax)"))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        axes[0][0].set_ylabel(label)
        fig.suptitle("Deep ReLU net: × marks the step whose loss or update is NaN / inf (the run stops there)")
        fig.tight_layout()
        out.append(save_figure(fig, rd.figures / f"{stem}.png", dpi=110))
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    same: dict[bytes, list[str]] = {}  # variants with the same hidden layers have the same curve
    for v in variants:
        i = next(k for k, n in enumerate(names) if results[n]["variant"] == v)
        same.setdefault(np.round(scale[i], 5).tobytes(), []).append(v)
    for group in same.values():
        i = next(k for k, n in enumerate(names) if results[n]["variant"] == group[0])
        ax.plot(np.arange(1, scale.shape[1] + 1), scale[i], "o-", color=colors[group[0]], label=", ".join(group), ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("hidden layer")
    ax.set_ylabel("RMS activation at initialisation")
    ax.set_title("Activation scale through the layers before training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.append(save_figure(fig, rd.figures / "relu_nan_init_scale.png", dpi=110))
    plt.close(fig)
    return out
