"""Soft vs hard operation selection: the Q&A's network that picks one of several operations.

The question (seed 002, "How do I perform a differentiable operation selection?"): a network maps
a scalar x to softmax weights over K operations; the asker masks the operations' values with
``one_hot(argmax(softmax))`` and finds that nothing trains: argmax and one-hot pass no gradient
(:func:`hard_mask_gradient` shows that ``jax.grad`` through them is exactly zero). The answer
names two ways out, plus the one that keeps the forward pass hard and differentiable:

- ``soft``: output = sum_i softmax_i(x) * op_i(x) (soft attention), trained on its MSE;
- ``gumbel``: hard argmax in the forward pass, trained with the straight-through Gumbel-softmax
  (forward: one-hot of argmax(logits + Gumbel noise); backward: the gradient of
  softmax((logits + g) / tau));
- ``reinforce``: the operation sampled from the softmax, trained with the score-function
  estimator (REINFORCE, the answer's "reinforcement learning"): surrogate loss
  (L_k - b) * log p_k with the batch-mean loss as baseline b.

The task: x uniform on ``x_range``, cut into K equal intervals; on interval i the target is
op_i(x), so the right operation is known at every x. Every method is scored the same way at
evaluation, with the hard choice argmax_i softmax_i(x): the MSE of that operation's output
(``test/mse_hard_*``) and how often it is the right one (``test/select_acc_*``); the soft method
also reports the MSE of its mixture and how much weight it leaves on the other operations.

:class:`OpSelector` (model ``op_selector``): an MLP from x to K logits.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from aejax.errors import UserError
from aejax.models import ACTIVATIONS, register
from aejax.run.rundir import RunDir, save_figure, save_npz
from aejax.train.optim import make_optimizer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: The operations a config may name (``op_selection.ops``), each a function of x.
OPS = {
    "square": lambda x: x ** 2,
    "add3": lambda x: x + 3.0,
    "neg": lambda x: -x,
    "double": lambda x: 2.0 * x,
    "sin": lambda x: jnp.sin(jnp.pi * x),
    "abs": lambda x: jnp.abs(x),
    "zero": lambda x: jnp.zeros_like(x),
}
METHODS = ("soft", "gumbel", "reinforce")


@register("op_selector")
class OpSelector(nn.Module):
    """x [N] -> logits [N, n_ops]: Dense(h) + activation for each h in ``hidden``, then Dense(n_ops)."""

    hidden: tuple = (32,)
    activation: str = "tanh"
    n_ops: int = 3

    @nn.compact
    def __call__(self, x):
        h = x[:, None]
        for width in self.hidden:
            h = ACTIVATIONS[self.activation](nn.Dense(width)(h))
        return nn.Dense(self.n_ops)(h)


def values(ops, x):
    """Every operation applied to x: [N, K] (the Q&A's ``tf.concat([op_1_val, ...], 1)``)."""
    return jnp.stack([OPS[name](x) for name in ops], axis=-1)


def right_op(x, x_range, k: int):
    """The index of the right operation at x: which of k equal intervals of x_range holds x."""
    lo, hi = x_range
    return jnp.clip(jnp.floor((x - lo) / (hi - lo) * k), 0, k - 1).astype(jnp.int32)


def target(ops, x, x_range):
    return jnp.take_along_axis(values(ops, x), right_op(x, x_range, len(ops))[:, None], axis=1)[:, 0]


def hard_mask_gradient(logits, vals):
    """The Q&A's forward pass, output = sum(values * one_hot(argmax(softmax))), and its gradient
    with respect to the logits: identically zero (argmax is piecewise constant)."""
    def out(lg):
        mask = jax.nn.one_hot(jnp.argmax(jax.nn.softmax(lg), axis=-1), lg.shape[-1])
        return jnp.sum(vals * mask)
    return jax.grad(out)(logits)


def soft_mask_gradient(logits, vals):
    """The answer's soft version, output = sum(values * softmax): a non-zero gradient."""
    return jax.grad(lambda lg: jnp.sum(vals * jax.nn.softmax(lg)))(logits)


def objective(method: str, logits, vals, y, key, tau: float):
    """(training loss whose gradient trains the selector, per-example squared error of the output
    the method produces [N])."""
    k = logits.shape[-1]
    if method == "soft":
        err = (jnp.sum(vals * jax.nn.softmax(logits), -1) - y) ** 2
        return err.mean(), err
    if method == "gumbel":
        soft = jax.nn.softmax((logits + jax.random.gumbel(key, logits.shape)) / tau)
        hard = jax.nn.one_hot(jnp.argmax(soft, -1), k)
        mask = hard + soft - jax.lax.stop_gradient(soft)      # straight-through: forward hard, backward soft
        err = (jnp.sum(vals * mask, -1) - y) ** 2
        return err.mean(), err
    if method == "reinforce":
        choice = jax.random.categorical(key, logits)
        err = (jnp.take_along_axis(vals, choice[:, None], 1)[:, 0] - y) ** 2   # no gradient path to logits
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits), choice[:, None], 1)[:, 0]
        adv = jax.lax.stop_gradient(err - err.mean())          # loss minus the batch-mean baseline
        return jnp.mean(adv * logp), err
    raise ValueError(method)


def evaluate(logits, vals, y, right):
    """Hard (argmax) MSE, selection accuracy, soft-mixture MSE, mean weight off the argmax."""
    p = jax.nn.softmax(logits)
    pick = jnp.argmax(logits, -1)
    hard = jnp.take_along_axis(vals, pick[:, None], 1)[:, 0]
    return {"mse_hard": jnp.mean((hard - y) ** 2), "select_acc": jnp.mean(pick == right),
            "mse_soft": jnp.mean((jnp.sum(vals * p, -1) - y) ** 2), "off_weight": jnp.mean(1.0 - p.max(-1))}


def train(method: str, cfg: dict, key) -> dict:
    """One selector trained with ``method`` for ``train.epochs`` steps of ``train.batch_size``
    examples drawn from the training set, in one compiled ``lax.scan``: per-step curves and the
    final test logits. Pure in ``key`` (vmapped over seeds by :func:`run`)."""
    o, t, m = cfg["op_selection"], cfg["train"], cfg["model"]
    ops, xr = tuple(o["ops"]), tuple(o["x_range"])
    net = OpSelector(hidden=tuple(m["hidden"]), activation=m["activation"], n_ops=len(ops))
    k_data, k_init, k_steps = jax.random.split(key, 3)
    x_tr = jax.random.uniform(k_data, (o["n_train"],), minval=xr[0], maxval=xr[1])
    x_te = jnp.linspace(xr[0], xr[1], o["n_test"])
    v_te, y_te, r_te = values(ops, x_te), target(ops, x_te, xr), right_op(x_te, xr, len(ops))
    params = net.init(k_init, x_tr[:2])["params"]
    tx = make_optimizer(t["optimizer"], t["learning_rate"], adam_eps=t["adam_eps"])

    def step(carry, key):
        p, opt = carry
        kb, kn = jax.random.split(key)
        xb = x_tr[jax.random.randint(kb, (t["batch_size"],), 0, o["n_train"])]
        vb, yb = values(ops, xb), target(ops, xb, xr)
        (loss, err), g = jax.value_and_grad(
            lambda q: objective(method, net.apply({"params": q}, xb), vb, yb, kn, o["tau"]), has_aux=True)(p)
        upd, opt = tx.update(g, opt, p)
        p = jax.tree.map(lambda a, b: a + b, p, upd)
        ev = evaluate(net.apply({"params": p}, x_te), v_te, y_te, r_te)
        return (p, opt), {"train_err": err.mean(), "grad_norm": optax_norm(g), **ev}

    (params, _), curves = jax.lax.scan(step, (params, tx.init(params)), jax.random.split(k_steps, t["epochs"]))
    return {**curves, "test_logits": net.apply({"params": params}, x_te)}


def optax_norm(tree):
    return jnp.sqrt(sum(jnp.sum(a ** 2) for a in jax.tree.leaves(tree)))


def resolve(cfg: dict) -> dict:
    """Check the experiment's own keys (exit 2 naming the key)."""
    o = cfg["op_selection"]
    if cfg["data"]["name"] != "op_task":
        raise UserError(f"data.name={json.dumps(cfg['data']['name'])}: op_selection makes its own data; "
                        "set op_selection.* instead")
    bad = [n for n in o["ops"] if n not in OPS] if isinstance(o["ops"], list) else [o["ops"]]
    if bad or len(o["ops"]) < 2:
        raise UserError(f"op_selection.ops={json.dumps(o['ops'])}: expected a list of >= 2 of {sorted(OPS)}")
    xr = o["x_range"]
    if not (isinstance(xr, list) and len(xr) == 2 and all(isinstance(v, (int, float)) for v in xr) and xr[1] > xr[0]):
        raise UserError(f"op_selection.x_range={json.dumps(xr)}: expected [low, high] with high > low")
    for key in ("n_train", "n_test", "seeds"):
        v = o[key]
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            raise UserError(f"op_selection.{key}={json.dumps(v)}: expected an integer >= 1")
    if not (isinstance(o["tau"], (int, float)) and o["tau"] > 0):
        raise UserError(f"op_selection.tau={json.dumps(o['tau'])}: expected a number > 0")
    if cfg["model"]["activation"] not in ACTIVATIONS:
        raise UserError(f"model.activation={json.dumps(cfg['model']['activation'])}: one of {sorted(ACTIVATIONS)}")
    return cfg


def run(cfg, workdir) -> dict:
    """Train every method on ``op_selection.seeds`` seeds (vmapped), then arrays, metrics.jsonl,
    summary.json, figures, analysis/answer.md, report.html (the caller writes the marker)."""
    from aejax.report.html import write_run_report
    t0 = time.perf_counter()
    rd, o = RunDir(workdir), cfg["op_selection"]
    ops, xr = tuple(o["ops"]), tuple(o["x_range"])
    keys = jax.random.split(jax.random.key(cfg["seed"]), o["seeds"])  # the same seeds for every method
    res = {m: jax.tree.map(np.asarray, jax.jit(jax.vmap(lambda k, m=m: train(m, cfg, k)))(keys)) for m in METHODS}
    x_te = np.linspace(xr[0], xr[1], o["n_test"])
    probe = jnp.asarray(np.random.default_rng(cfg["seed"]).normal(size=(8, len(ops))), jnp.float32)
    probe_vals = values(ops, jnp.linspace(xr[0], xr[1], 8))
    grads = {"hard_mask": float(jnp.abs(hard_mask_gradient(probe, probe_vals)).max()),
             "soft_mask": float(jnp.abs(soft_mask_gradient(probe, probe_vals)).max())}
    arrays = {f"{m}/{k}": v for m in METHODS for k, v in res[m].items()}
    save_npz(rd.analysis / "op_selection.npz", x_test=x_te, y_test=np.asarray(target(ops, jnp.asarray(x_te), xr)),
             values=np.asarray(values(ops, jnp.asarray(x_te))), **arrays)
    rows = []
    for i in range(cfg["train"]["epochs"]):
        row = {"epoch": i + 1, "step": i + 1}
        for m in METHODS:
            row.update({f"train/err_{m}": float(res[m]["train_err"][:, i].mean()),
                        f"test/mse_hard_{m}": float(res[m]["mse_hard"][:, i].mean()),
                        f"test/select_acc_{m}": float(res[m]["select_acc"][:, i].mean())})
        rows.append(json.dumps(row) + "\n")
    rd.write_text("metrics.jsonl", "".join(rows))
    summary = {"ops": list(ops), "seeds": o["seeds"], "epochs_run": cfg["train"]["epochs"],
               "grad/max_abs_hard_mask": grads["hard_mask"], "grad/max_abs_soft_mask": grads["soft_mask"]}
    for m in METHODS:
        r = res[m]
        summary.update({f"train/final_err_{m}": float(r["train_err"][:, -1].mean()),
                        f"test/mse_hard_{m}": float(r["mse_hard"][:, -1].mean()),
                        f"test/mse_hard_{m}_std": float(r["mse_hard"][:, -1].std()),
                        f"test/select_acc_{m}": float(r["select_acc"][:, -1].mean()),
                        f"test/select_acc_{m}_min": float(r["select_acc"][:, -1].min())})
    summary.update({"test/mse_soft_mixture": float(res["soft"]["mse_soft"][:, -1].mean()),
                    "test/off_weight_soft": float(res["soft"]["off_weight"][:, -1].mean()),
                    "wall_s": time.perf_counter() - t0})
    rd.write_summary(summary)
    figures(rd.path, summary)
    rd.write_text("analysis/answer.md", answer(summary, cfg))
    write_run_report(rd.path)
    return summary


NAMES = {"soft": "soft (softmax mixture)", "gumbel": "hard, straight-through Gumbel-softmax",
         "reinforce": "hard, REINFORCE"}


def answer(s: dict, cfg: dict) -> str:
    """analysis/answer.md from the summary's numbers."""
    o = cfg["op_selection"]
    head = ["# Differentiable operation selection: soft vs hard", ""]
    if cfg.get("quick"):
        head += ["**A --quick smoke run: few steps, the numbers are not the comparison.**", ""]
    rows = [f"| {NAMES[m]} | {s[f'train/final_err_{m}']:.4g} | {s[f'test/mse_hard_{m}']:.4g} ± "
            f"{s[f'test/mse_hard_{m}_std']:.2g} | {100 * s[f'test/select_acc_{m}']:.1f} % "
            f"(worst seed {100 * s[f'test/select_acc_{m}_min']:.1f} %) |" for m in METHODS]
    best = min(METHODS, key=lambda m: s[f"test/mse_hard_{m}"])
    return "\n".join(head + [
        f"Operations {', '.join(o['ops'])} on x in {o['x_range']} (interval i of {len(o['ops'])} wants op i); "
        f"{cfg['train']['epochs']} steps of {cfg['train']['batch_size']} examples, {s['seeds']} seeds, "
        f"Gumbel temperature {o['tau']}.", "",
        f"- **argmax / one-hot pass no gradient**: the largest |d output / d logit| through "
        f"`one_hot(argmax(softmax))` is {s['grad/max_abs_hard_mask']:g}, through the softmax mixture "
        f"{s['grad/max_abs_soft_mask']:.3g} (figure op_selection_gradient).", "",
        "| method | final training error | test MSE, argmax choice | right operation chosen |",
        "|---|---|---|---|", *rows, "",
        f"- Lowest hard-choice test MSE: {NAMES[best]}. The soft mixture's own MSE is "
        f"{s['test/mse_soft_mixture']:.4g}, and it leaves on average {100 * s['test/off_weight_soft']:.2f} % of the "
        "weight on operations other than its choice: the non-selected operations are never removed entirely, "
        "the caveat of the answer (figures op_selection_probs, op_selection_outputs)."]
        + ([f"- The soft mixture fits better ({s['test/mse_soft_mixture']:.4g}) than its own argmax choice "
            f"({s['test/mse_hard_soft']:.4g}): it blends operations instead of choosing one, and a low mixture "
            "loss does not mean the right operation is picked."] if s["test/mse_soft_mixture"] < s["test/mse_hard_soft"]
           else []) + [""])


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def figures(run_dir, summary: dict) -> list[Path]:
    """figures/op_selection_*.png from analysis/op_selection.npz and the summary."""
    run_dir = Path(run_dir)
    with np.load(run_dir / "analysis" / "op_selection.npz") as z:
        a = {k: z[k] for k in z.files}
    ops, x, y, vals = summary["ops"], a["x_test"], a["y_test"], a["values"]
    out = [run_dir / "figures" / f"op_selection_{n}.png" for n in ("training", "probs", "outputs", "gradient")]
    fig, axs = plt.subplots(1, 2, figsize=(12, 4))
    for i, m in enumerate(METHODS):
        for ax, key in ((axs[0], "mse_hard"), (axs[1], "select_acc")):
            c = a[f"{m}/{key}"]
            steps = np.arange(1, c.shape[1] + 1)
            ax.plot(steps, c.mean(0), color=f"C{i}", label=NAMES[m])
            ax.fill_between(steps, c.min(0), c.max(0), color=f"C{i}", alpha=0.2)
    axs[0].set(yscale="log", title="Test MSE of the argmax choice (mean, min-max over seeds)", xlabel="step")
    axs[1].set(title="Right operation chosen (fraction of test x)", xlabel="step", ylim=(0, 1.02))
    axs[1].legend(fontsize=8)
    _save(fig, out[0])
    bounds = np.linspace(x[0], x[-1], len(ops) + 1)
    fig, axs = plt.subplots(1, 3, figsize=(15, 3.8), sharey=True)
    for ax, m in zip(axs, METHODS):
        p = np.exp(a[f"{m}/test_logits"][0]) / np.exp(a[f"{m}/test_logits"][0]).sum(-1, keepdims=True)
        for j, name in enumerate(ops):
            ax.axvspan(bounds[j], bounds[j + 1], color=f"C{j}", alpha=0.08)
            ax.plot(x, p[:, j], color=f"C{j}", label=f"p({name})")
        ax.set(title=f"{NAMES[m]} (seed 0)", xlabel="x  (shading: the right operation)", ylim=(-0.02, 1.02))
    axs[0].set_ylabel("softmax weight")
    axs[0].legend(fontsize=8)
    _save(fig, out[1])
    fig, axs = plt.subplots(1, 2, figsize=(12, 4))
    axs[0].plot(x, y, "k-", lw=4, alpha=0.25, label="target")
    for i, m in enumerate(METHODS):
        pick = a[f"{m}/test_logits"][0].argmax(-1)
        axs[0].plot(x, vals[np.arange(len(x)), pick], color=f"C{i}", lw=1, label=f"{m}: argmax choice")
    ps = np.exp(a["soft/test_logits"][0]) / np.exp(a["soft/test_logits"][0]).sum(-1, keepdims=True)
    axs[0].plot(x, (ps * vals).sum(-1), "C0--", lw=1, label="soft: mixture")
    axs[0].set(title="Outputs on the test grid (seed 0)", xlabel="x")
    axs[0].legend(fontsize=8)
    for i, m in enumerate(METHODS):
        pick = a[f"{m}/test_logits"][0].argmax(-1)
        axs[1].plot(x, pick + 0.06 * (i - 1), ".", color=f"C{i}", ms=2, label=m)
    axs[1].step(x, np.clip(np.floor((x - x[0]) / (x[-1] - x[0]) * len(ops)), 0, len(ops) - 1), "k", where="mid",
                lw=1, label="right operation")
    axs[1].set(title="Operation chosen (argmax)", xlabel="x", yticks=range(len(ops)), yticklabels=ops)
    axs[1].legend(fontsize=8, markerscale=4)
    _save(fig, out[2])
    fig, axs = plt.subplots(1, 2, figsize=(12, 3.8))
    names = ["one_hot(argmax)", "softmax mixture"]
    bars = [summary["grad/max_abs_hard_mask"], summary["grad/max_abs_soft_mask"]]
    axs[0].bar(names, bars, color=["C3", "C0"])
    for i, v in enumerate(bars):
        axs[0].text(i, v, f"{v:.3g}" + (" (exactly)" if v == 0 else ""), ha="center", va="bottom")
    axs[0].set(title="max |d output / d logits| (jax.grad)", ylabel="gradient")
    for i, m in enumerate(METHODS):
        axs[1].semilogy(np.arange(1, a[f"{m}/grad_norm"].shape[1] + 1), a[f"{m}/grad_norm"].mean(0),
                        color=f"C{i}", label=NAMES[m])
    axs[1].set(title="Norm of the training gradient (mean over seeds)", xlabel="step")
    axs[1].legend(fontsize=8)
    _save(fig, out[3])
    return out
