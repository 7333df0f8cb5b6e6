"""Radial basis function networks: the Q&A's 1-D example, the same network trained by gradient
descent in JAX, and an RBF surface z = f(x, y) fitted to a scattered 3-D point cloud.

The Q&A (seed 002, "Feature vectors in Radial Basis Function Network") answers with numpy code:
f(x) = (x - 2)(2x + 1) / (1 + x^2), 100 training points evenly spaced on [-5, 10], 20 Gaussian
centres evenly spaced on the same interval, sigma = 1.5, output weights ``pinv(G) @ y``, 300 test
points. :func:`pinv_fit` is that code (numpy, float64, as the answer runs it). The design matrix
is badly conditioned (condition number ~2e6, weights up to ~3e4 that cancel), and the fit needs
its smallest singular values: numpy's pseudo-inverse keeps them (cut-off 1e-15 of the largest;
in float32 too, ``test/mse_pinv_float32``), ``jax.numpy.linalg.pinv`` in float32 cuts them at
its default ``rtol`` (10 max(M, N) eps = 1.2e-4 of the largest) and fits several times worse
(``test/mse_pinv_jax_default``).

:class:`RBFNet` is the network as a Flax module (centres, log-widths and output weights are
parameters; its ``features`` are the hidden layer's activations, the Q&A's ``G``), registered as
model ``rbf``. :func:`train_gd` trains it with an optax optimizer on the full batch, in one
``lax.scan``: with the centres and widths learnable it fits far better than the fixed-basis
pseudo-inverse; with only the output weights learnable gradient descent crawls (the same bad
conditioning).

The point-cloud question: each point (x, y, z) of the cloud is one example, its input (the
"feature vector") the two coordinates (x, y) and its target the height z; the hidden layer is a
grid of 2-D Gaussians. :func:`point_cloud` draws a scattered cloud from Franke's function (the
classic RBF test surface) plus noise, :func:`run` fits it by least squares and by gradient
descent and scores both on a noise-free grid.
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
from aejax.models import register
from aejax.run.rundir import RunDir, save_figure, save_npz
from aejax.train.optim import make_optimizer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fit_me(x):
    """The Q&A's function."""
    return (x - 2) * (2 * x + 1) / (1 + x ** 2)


def franke(x, y):
    """Franke's function on [0, 1]^2, the standard test surface for scattered-data RBF fits."""
    return (0.75 * np.exp(-((9 * x - 2) ** 2 + (9 * y - 2) ** 2) / 4)
            + 0.75 * np.exp(-(9 * x + 1) ** 2 / 49 - (9 * y + 1) / 10)
            + 0.5 * np.exp(-((9 * x - 7) ** 2 + (9 * y - 3) ** 2) / 4)
            - 0.2 * np.exp(-(9 * x - 4) ** 2 - (9 * y - 7) ** 2))


def design(x, centres, sigma, xp=np):
    """The hidden layer: G[n, k] = exp(-|x_n - c_k|^2 / (2 sigma_k^2)); x [N] or [N, D], centres
    [K] or [K, D], sigma a number or [K]; ``xp`` numpy or jax.numpy."""
    x2, c2 = x.reshape(x.shape[0], -1), centres.reshape(centres.shape[0], -1)
    d2 = ((x2[:, None, :] - c2[None, :, :]) ** 2).sum(-1)
    return xp.exp(-d2 / (2 * xp.asarray(sigma) ** 2))


def grid_centres(low, high, n) -> np.ndarray:
    """n evenly spaced centres per dimension on [low, high] (a grid in 2-D): [n ** D, D]."""
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(low, high)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))


def pinv_fit(x_train, y_train, x_test, centres, sigma, dtype=np.float64) -> dict:
    """The Q&A's training: weights = pinv(G) @ y; predictions at ``x_test`` (numpy, ``dtype``)."""
    g = design(np.asarray(x_train, dtype), np.asarray(centres, dtype), dtype(sigma))
    w = np.linalg.pinv(g) @ np.asarray(y_train, dtype)
    g_test = design(np.asarray(x_test, dtype), np.asarray(centres, dtype), dtype(sigma))
    return {"weights": w, "G": g, "train_pred": g @ w, "test_pred": g_test @ w, "cond": float(np.linalg.cond(g))}


@register("rbf")
class RBFNet(nn.Module):
    """Gaussian RBF network y = G(x) @ w: ``centres`` per input dimension evenly spaced on
    [low, high] (a grid in 2-D), every width starting at ``sigma``, output weights from zero."""

    centres: int = 20
    sigma: float = 1.5
    low: tuple = (-5.0,)
    high: tuple = (10.0,)

    def setup(self):
        c0 = jnp.asarray(grid_centres(self.low, self.high, self.centres), jnp.float32)
        self.c = self.param("centres", lambda key: c0)
        self.log_sigma = self.param("log_sigma", lambda key: jnp.full(c0.shape[0], jnp.log(self.sigma)))
        self.w = self.param("weights", nn.initializers.zeros, (c0.shape[0],))

    def features(self, x):
        """The hidden layer's activations G(x): [N, K]."""
        return design(x, self.c, jnp.exp(self.log_sigma), jnp)

    def __call__(self, x):
        return self.features(x) @ self.w


def train_gd(model: RBFNet, x, y, x_test, y_test, tx, steps: int, learn_centres=True, learn_widths=True):
    """Full-batch gradient descent on the MSE, ``steps`` updates in one compiled ``lax.scan``.
    Returns (initial params, final params, train loss per step, test MSE per step)."""
    x, y, x_test, y_test = (jnp.asarray(a, jnp.float32) for a in (x, y, x_test, y_test))
    p0 = jax.jit(model.init)(jax.random.key(0), x)["params"]
    keep = {"centres": float(learn_centres), "log_sigma": float(learn_widths), "weights": 1.0}

    def mse(p, xs, ys):
        return jnp.mean((model.apply({"params": p}, xs) - ys) ** 2)

    def step(carry, _):
        p, opt = carry
        loss, g = jax.value_and_grad(mse)(p, x, y)
        g = {k: v * keep[k] for k, v in g.items()}  # frozen parts: zero gradient, zero Adam update
        upd, opt = tx.update(g, opt, p)
        p = jax.tree.map(lambda a, b: a + b, p, upd)
        return (p, opt), (loss, mse(p, x_test, y_test))

    @jax.jit
    def fit(p):
        return jax.lax.scan(step, (p, tx.init(p)), None, length=steps)

    (p, _), (losses, test) = fit(p0)
    return p0, p, np.asarray(losses), np.asarray(test)


def point_cloud(n: int, noise: float, seed: int) -> np.ndarray:
    """A scattered synthetic point cloud [n, 3]: (x, y) uniform on [0, 1]^2, z = Franke + noise."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, 1.0, (n, 2))
    return np.column_stack([xy, franke(xy[:, 0], xy[:, 1]) + noise * rng.normal(size=n)])


def resolve(cfg: dict) -> dict:
    """Check the experiment's own keys (exit 2 naming the key)."""
    r, s, m = cfg["rbf"], cfg["rbf"]["surface"], cfg["model"]
    if cfg["data"]["name"] != "fit_me":
        raise UserError(f"data.name={json.dumps(cfg['data']['name'])}: rbf_network makes its own data "
                        "(the Q&A's fit_me and a synthetic point cloud); set rbf.* instead")
    ints = [("rbf.n_train", r["n_train"], 2), ("rbf.n_test", r["n_test"], 2), ("model.centres", m["centres"], 1),
            ("rbf.surface.points", s["points"], 4), ("rbf.surface.centres", s["centres"], 2),
            ("rbf.surface.test_grid", s["test_grid"], 2)]
    for key, v, lo in ints:
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo):
            raise UserError(f"{key}={json.dumps(v)}: expected an integer >= {lo}")
    for key, v in [("model.sigma", m["sigma"]), ("rbf.surface.sigma", s["sigma"])]:
        if not (isinstance(v, (int, float)) and v > 0):
            raise UserError(f"{key}={json.dumps(v)}: expected a number > 0")
    if not r["x_max"] > r["x_min"]:
        raise UserError(f"rbf.x_max={r['x_max']} must be > rbf.x_min={r['x_min']}")
    if cfg["train"]["batch_size"] != r["n_train"]:
        raise UserError(f"train.batch_size={cfg['train']['batch_size']}: the gradient-descent fit is full-batch; "
                        f"set it to rbf.n_train={r['n_train']}")
    return cfg


def run(cfg, workdir) -> dict:
    """The three parts, their arrays in analysis/*.npz, metrics.jsonl, summary.json, figures,
    analysis/answer.md and report.html (the caller writes the completion marker)."""
    from aejax.report.html import write_run_report
    t0 = time.perf_counter()
    rd, r, m, t = RunDir(workdir), cfg["rbf"], cfg["model"], cfg["train"]
    x_train = np.linspace(r["x_min"], r["x_max"], r["n_train"])
    x_test = np.linspace(r["x_min"], r["x_max"], r["n_test"])
    y_train, y_test = fit_me(x_train), fit_me(x_test)
    centres = np.linspace(r["x_min"], r["x_max"], m["centres"])
    q = pinv_fit(x_train, y_train, x_test, centres, m["sigma"])
    q32 = pinv_fit(x_train, y_train, x_test, centres, m["sigma"], dtype=np.float32)
    g32 = design(jnp.asarray(x_train, jnp.float32), jnp.asarray(centres, jnp.float32), m["sigma"], jnp)
    w_jax = np.asarray(jnp.linalg.pinv(g32) @ jnp.asarray(y_train, jnp.float32), np.float64)
    tx = lambda: make_optimizer(t["optimizer"], t["learning_rate"], adam_eps=t["adam_eps"])  # noqa: E731
    net = RBFNet(centres=m["centres"], sigma=float(m["sigma"]), low=(r["x_min"],), high=(r["x_max"],))
    p0, p, losses, test_curve = train_gd(net, x_train, y_train, x_test, y_test, tx(), t["epochs"],
                                         r["learn_centres"], r["learn_widths"])
    _, pw, losses_w, test_w = train_gd(net, x_train, y_train, x_test, y_test, tx(), t["epochs"], False, False)
    gd_pred = np.asarray(net.apply({"params": p}, jnp.asarray(x_test, jnp.float32)))
    s = r["surface"]
    cloud = point_cloud(s["points"], s["noise"], cfg["seed"])
    g1 = np.linspace(0.0, 1.0, s["test_grid"])
    gx, gy = np.meshgrid(g1, g1, indexing="ij")
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    c2 = grid_centres((0.0, 0.0), (1.0, 1.0), s["centres"])
    qs = pinv_fit(cloud[:, :2], cloud[:, 2], grid, c2, s["sigma"])
    snet = RBFNet(centres=s["centres"], sigma=float(s["sigma"]), low=(0.0, 0.0), high=(1.0, 1.0))
    _, sp, s_losses, _ = train_gd(snet, cloud[:, :2], cloud[:, 2], grid, franke(grid[:, 0], grid[:, 1]), tx(),
                                  t["epochs"])
    s_gd = np.asarray(snet.apply({"params": sp}, jnp.asarray(grid, jnp.float32)))
    truth = franke(gx, gy)
    save_npz(rd.analysis / "rbf_1d.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             centres=centres, G=q["G"], weights=q["weights"], pinv_pred=q["test_pred"],
             pinv32_pred=q32["test_pred"], gd_pred=gd_pred, gd_loss=losses, gd_test=test_curve,
             gdw_loss=losses_w, gdw_test=test_w, c0=np.asarray(p0["centres"])[:, 0],
             s0=np.exp(np.asarray(p0["log_sigma"])), c1=np.asarray(p["centres"])[:, 0],
             s1=np.exp(np.asarray(p["log_sigma"])), w1=np.asarray(p["weights"]))
    save_npz(rd.analysis / "rbf_surface.npz", cloud=cloud, gx=gx, gy=gy, truth=truth,
             lstsq=qs["test_pred"].reshape(gx.shape), gd=s_gd.reshape(gx.shape), centres=c2,
             gd_centres=np.asarray(sp["centres"]), gd_loss=s_losses)
    rd.write_text("metrics.jsonl", "".join(json.dumps(
        {"epoch": i + 1, "step": i + 1, "train/loss": float(losses[i]), "test/mse": float(test_curve[i]),
         "train/loss_weights_only": float(losses_w[i]), "test/mse_weights_only": float(test_w[i]),
         "surface/train_loss": float(s_losses[i])}) + "\n" for i in range(t["epochs"])))
    sq = lambda a, b: float(np.mean((np.asarray(a, np.float64) - b) ** 2))  # noqa: E731
    summary = {
        "test/mse": sq(q["test_pred"], y_test), "train/mse": sq(q["train_pred"], y_train),
        "design_condition_number": q["cond"], "max_abs_weight": float(np.abs(q["weights"]).max()),
        "test/mse_pinv_float32": sq(q32["test_pred"], y_test),
        "test/mse_pinv_jax_default": sq(design(x_test, centres, m["sigma"]) @ w_jax, y_test),
        "test/mse_gd": float(test_curve[-1]), "train/mse_gd": sq(net.apply({"params": p}, x_train), y_train),
        "test/mse_gd_weights_only": float(test_w[-1]),
        "surface/test_mse_lstsq": sq(qs["test_pred"], truth.ravel()), "surface/test_mse_gd": sq(s_gd, truth.ravel()),
        "surface/noise_var": float(s["noise"] ** 2), "surface/points": s["points"],
        "params": int(sum(np.size(a) for a in jax.tree.leaves(p))), "train_examples": r["n_train"],
        "epochs_run": t["epochs"], "wall_s": time.perf_counter() - t0,
    }
    rd.write_summary(summary)
    figures(rd.path)
    rd.write_text("analysis/answer.md", answer(summary, cfg))
    write_run_report(rd.path)
    return summary


def answer(s: dict, cfg: dict) -> str:
    """analysis/answer.md: what the run shows, from its numbers."""
    m, r = cfg["model"], cfg["rbf"]
    quick = ["**A --quick smoke run: fewer gradient steps, a smaller point cloud.**", ""] if cfg.get("quick") else []
    return "\n".join(["# RBF networks: the Q&A's example, gradient descent, a point-cloud surface", ""] + quick + [
        f"- **The Q&A's example** ({r['n_train']} points on [{r['x_min']}, {r['x_max']}], {m['centres']} Gaussians, "
        f"sigma = {m['sigma']}, weights = pinv(G) y, float64): test MSE **{s['test/mse']:.3g}** on {r['n_test']} "
        f"points (train {s['train/mse']:.3g}); figures rbf_basis, rbf_prediction, rbf_error.",
        f"- G is badly conditioned (condition number {s['design_condition_number']:.3g}; the largest weight is "
        f"{s['max_abs_weight']:.3g}, cancelled by its neighbours) and the fit needs its smallest singular values: "
        f"numpy's pinv in float32 keeps them (test MSE {s['test/mse_pinv_float32']:.3g}); `jax.numpy.linalg.pinv` "
        f"in float32 drops those below its default cut-off (1.2e-4 of the largest) and gets "
        f"{s['test/mse_pinv_jax_default']:.3g}.",
        f"- **Gradient descent in JAX** ({cfg['train']['optimizer']}, learning rate {cfg['train']['learning_rate']}, "
        f"{s['epochs_run']} full-batch steps): with centres and widths learnable the test MSE is "
        f"{s['test/mse_gd']:.3g}; with only the output weights learnable (the pseudo-inverse's model) it is "
        f"{s['test/mse_gd_weights_only']:.3g} after the same steps: on this ill-conditioned basis gradient descent "
        "on the weights alone is slow, moving the basis functions is what pays (figure rbf_gd).",
        "- **Point cloud -> surface** (the question): every point is one example; its feature vector is (x, y), its "
        f"target z. {s['surface/points']} scattered points of Franke's surface with noise variance "
        f"{s['surface/noise_var']:.3g}, a grid of {cfg['rbf']['surface']['centres']}^2 Gaussians: MSE against the "
        f"noise-free surface {s['surface/test_mse_lstsq']:.3g} (least squares) and {s['surface/test_mse_gd']:.3g} "
        "(gradient descent, centres and widths learnable); figure rbf_surface."]
        + (["- Here gradient descent does worse than least squares on the surface: with the widths free, some "
            "Gaussians narrow onto single noisy points (the spikes in rbf_surface); least squares on a fixed "
            "grid of widths cannot do that."] if s["surface/test_mse_gd"] > s["surface/test_mse_lstsq"] else [])
        + [""])


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def figures(run_dir) -> list[Path]:
    """figures/rbf_*.png from analysis/rbf_1d.npz and rbf_surface.npz."""
    run_dir = Path(run_dir)
    out = run_dir / "figures"
    with np.load(run_dir / "analysis" / "rbf_1d.npz") as z:
        a = {k: z[k] for k in z.files}
    with np.load(run_dir / "analysis" / "rbf_surface.npz") as z:
        b = {k: z[k] for k in z.files}
    paths = [out / f"rbf_{n}.png" for n in ("basis", "prediction", "error", "gd", "surface")]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(a["x_train"], a["G"])
    ax.set(title=f"Radial Basis Functions ({a['G'].shape[1]} Gaussians at the training points)", xlabel="x",
           ylabel="rbf_i(x)")
    _save(fig, paths[0])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(a["x_test"], a["y_test"], "k-", lw=3, alpha=0.3, label="f(x)")
    ax.plot(a["x_test"], a["pinv_pred"], "C0-", label="RBF, pinv weights (float64)")
    ax.plot(a["x_train"], a["y_train"], "k.", ms=3, label="training points")
    ax.plot(a["centres"], np.full_like(a["centres"], a["y_test"].min() - 0.3), "r^", ms=5, label="centres")
    ax.set(title="Predicted function", xlabel="x", ylabel="y")
    ax.legend(fontsize=8)
    _save(fig, paths[1])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(a["x_test"], a["pinv_pred"] - a["y_test"], label="pinv, float64 (the Q&A)")
    ax.plot(a["x_test"], a["pinv32_pred"] - a["y_test"], lw=0.8, alpha=0.7, label="numpy pinv, float32")
    ax.set(title="Function approximation error (prediction - f, 300 test points)", xlabel="x", ylabel="error")
    ax.legend(fontsize=8)
    _save(fig, paths[2])
    fig, axs = plt.subplots(1, 3, figsize=(15, 4))
    steps = np.arange(1, len(a["gd_loss"]) + 1)
    axs[0].semilogy(steps, a["gd_loss"], label="centres + widths + weights: train")
    axs[0].semilogy(steps, a["gd_test"], "--", label="  test")
    axs[0].semilogy(steps, a["gdw_loss"], label="weights only: train")
    axs[0].axhline(np.mean((a["pinv_pred"] - a["y_test"]) ** 2), color="k", ls=":", label="pinv float64: test")
    axs[0].set(title="Gradient descent (full batch): MSE", xlabel="step")
    axs[0].legend(fontsize=7)
    axs[1].plot(a["x_test"], a["gd_pred"] - a["y_test"], label="gradient descent, learnable basis")
    axs[1].plot(a["x_test"], a["pinv_pred"] - a["y_test"], alpha=0.7, label="pinv, fixed basis")
    axs[1].set(title="Test error (prediction - f)", xlabel="x")
    axs[1].legend(fontsize=7)
    for c, s_, col, lab in ((a["c0"], a["s0"], "C7", "start"), (a["c1"], a["s1"], "C3", "learned")):
        axs[2].errorbar(c, np.arange(len(c)), xerr=s_, fmt="o", color=col, ms=3, capsize=2, label=lab)
    axs[2].set(title="Centres (dots) and widths sigma (bars)", xlabel="x", ylabel="basis function")
    axs[2].legend(fontsize=7)
    _save(fig, paths[3])
    fig = plt.figure(figsize=(15, 4.6))
    c = b["cloud"]
    ax = fig.add_subplot(1, 3, 1, projection="3d")
    ax.scatter(c[:, 0], c[:, 1], c[:, 2], c=c[:, 2], cmap="viridis", s=6)
    ax.set(title=f"Point cloud ({len(c)} points)", xlabel="x", ylabel="y", zlabel="z")
    for i, (key, name) in enumerate((("lstsq", "least squares"), ("gd", "gradient descent"))):
        ax = fig.add_subplot(1, 3, i + 2, projection="3d")
        ax.plot_surface(b["gx"], b["gy"], b[key], cmap="viridis", alpha=0.85, linewidth=0)
        ax.scatter(c[:, 0], c[:, 1], c[:, 2], color="k", s=1)
        mse = float(np.mean((b[key] - b["truth"]) ** 2))
        ax.set(title=f"RBF surface z = f(x, y), {name}\nMSE vs true surface {mse:.2g}", xlabel="x", ylabel="y")
    _save(fig, paths[4])
    return paths
