"""The autoencoder zoo by name: ``zoo.type`` fills in the model section of a config.

Every type is built for the same code size ``zoo.latent_dim`` (``d``), so a
sweep over ``zoo.type`` compares the types on the same data with the same
training budget (the rest of the config is shared):

| type | model | code |
| --- | --- | --- |
| ``dense`` | undercomplete 784-256-d-256-784 (``undercomplete``) | d, linear |
| ``deep`` | 784-512-256-128-d and back (``deep``) | d, linear |
| ``conv`` | Conv 16 -> Conv 16 -> Conv c, each + MaxPool 2 (``conv``), BCE loss | 4x4xc, c = d/16 on 28x28 |
| ``sparse`` | 784-256-d, ReLU code + L1 1e-4 (``sparse``) | d, ReLU |
| ``sparse_kl`` | 784-256-d, sigmoid code + KL(0.05 ‖ rho_hat), weight 1e-3 | d, sigmoid |
| ``vae`` | VAE 784-256-d, Bernoulli decoder (``vae``) | d (posterior mean) |
| ``beta_vae`` | the same with beta = 4 | d |
| ``conv_vae`` | ConvVAE 16-32 channels, Dense 128 (``conv_vae``) | d |
| ``lstm`` | LSTM 64 over image rows (``lstm``): bidirectional encoder, decoder fed 8 time features | d |
| ``denoising`` | ``dense`` trained on noisy inputs (noise_std 0.25 unless set) | d, linear |

Every type but ``conv`` keeps ``train.loss`` (the VAEs ignore it: their
likelihood is the loss). ``zoo.type=custom`` leaves the model section alone (use ``model.*`` keys);
with any other type the model section comes from the type, so set the code
size with ``zoo.latent_dim``; an experiment whose ``resolve`` is :func:`resolver` also
takes a ``model.latent_dim`` changed from its default (``--set model.latent_dim=8``) as
the code size.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from aejax.errors import UserError
from aejax.run.rundir import atomic_write, save_npy


def _dense(d):
    return {"model": {"name": "undercomplete", "hidden": [256], "latent_dim": d}}


TYPES: dict[str, Callable[[int], dict]] = {
    "dense": _dense,
    "deep": lambda d: {"model": {"name": "deep", "hidden": [512, 256, 128], "latent_dim": d}},
    # BCE: with MSE the conv AE's sigmoid output can collapse to black (README, mnist_conv)
    "conv": lambda d: {"model": {"name": "conv", "encoder": [[16, 3], [16, 3], [max(1, d // 16), 3]],
                                 "decoder": [[16, 3], [16, 3], [16, 3]]}, "loss": "bce"},
    "sparse": lambda d: {"model": {"name": "sparse", "hidden": [256], "latent_dim": d,
                                   "latent_activation": "relu", "l1": 1e-4, "kl": 0.0}},
    "sparse_kl": lambda d: {"model": {"name": "sparse", "hidden": [256], "latent_dim": d,
                                      "latent_activation": "sigmoid", "l1": 0.0, "kl": 1e-3, "rho": 0.05}},
    "vae": lambda d: {"model": {"name": "vae", "hidden": [256], "latent_dim": d}},
    "beta_vae": lambda d: {"model": {"name": "vae", "hidden": [256], "latent_dim": d, "beta": 4.0}},
    "conv_vae": lambda d: {"model": {"name": "conv_vae", "channels": [16, 32], "hidden": 128, "latent_dim": d}},
    # bidirectional + time features: the plain one-way LSTM stalls near the mean image (measured on
    # mnist5k, 30 epochs, seed 0: test MSE 0.054 plain vs 0.042 this; see benchmarks/ZOO_RESULTS.md)
    "lstm": lambda d: {"model": {"name": "lstm", "hidden": 64, "latent_dim": d, "bidirectional": True,
                                 "time_features": 8}},
    "denoising": lambda d: {**_dense(d), "noise_std": 0.25},
}
VARIATIONAL = ("vae", "conv_vae")


def zoo_section(type_: str = "dense", latent_dim: int = 32, iwae_k: int = 100) -> dict:
    """The ``zoo`` config section: ``type``, ``latent_dim`` and the IWAE sample count for VAEs."""
    return {"type": type_, "latent_dim": latent_dim, "iwae_k": iwae_k}


def apply_type(cfg: Mapping, defaults: Mapping | None = None) -> dict:
    """The model section (and noise) of ``zoo.type``, for code size ``zoo.latent_dim``.

    ``defaults``: the experiment's own config (``get_config()``). A ``model.latent_dim`` that
    differs from the default's is the code size the user asked for: it becomes
    ``zoo.latent_dim`` (refused when ``zoo.latent_dim`` was changed to another value too, or
    when the type's model has no ``latent_dim``); any other ``model.*`` key changed from the
    default is refused, naming it (the type builds the model section).
    """
    cfg = copy.deepcopy(dict(cfg))
    zoo = cfg.get("zoo") or {}
    name = zoo.get("type", "custom")
    if name == "custom":
        return cfg
    if name not in TYPES:
        raise UserError(f"zoo.type={name!r}: unknown autoencoder type; expected one of "
                        f"{['custom', *TYPES]}")
    d = zoo.get("latent_dim")
    if defaults is not None:
        d = cfg["zoo"]["latent_dim"] = _asked_code_size(cfg, defaults, name, d)
    if not isinstance(d, int) or d < 1:
        raise UserError(f"zoo.latent_dim={json.dumps(d)}: expected an integer >= 1")
    settings = TYPES[name](d)
    cfg["model"] = settings["model"]
    if "loss" in settings:
        cfg["train"]["loss"] = settings["loss"]
    if settings.get("noise_std") and not cfg["data"]["noise_std"] > 0:
        cfg["data"]["noise_std"] = settings["noise_std"]
    return cfg


def _asked_code_size(cfg: Mapping, defaults: Mapping, name: str, d):
    """``zoo.latent_dim``, or a ``model.latent_dim`` changed from the experiment's default."""
    model, default = cfg.get("model") or {}, defaults.get("model") or {}
    changed = sorted(k for k in {*model, *default} - {"latent_dim"} if model.get(k) != default.get(k))
    if changed:
        raise UserError(f"model.{changed[0]}: zoo.type={name} builds the model section itself (from zoo.type and "
                        "zoo.latent_dim); set zoo.type=custom to give model.* keys yourself")
    asked = model.get("latent_dim")
    if asked is None or asked == default.get("latent_dim"):
        return d
    if d != (defaults.get("zoo") or {}).get("latent_dim") and d != asked:
        raise UserError(f"model.latent_dim={json.dumps(asked)} and zoo.latent_dim={json.dumps(d)}: two code "
                        "sizes; set zoo.latent_dim alone (it sizes the model of every zoo.type)")
    if not isinstance(asked, int) or asked < 1:
        raise UserError(f"model.latent_dim={json.dumps(asked)}: expected an integer >= 1")
    if "latent_dim" not in TYPES[name](asked)["model"]:
        raise UserError(f"model.latent_dim={asked}: zoo.type={name} has no model.latent_dim (its code size "
                        "follows zoo.latent_dim); set zoo.latent_dim instead")
    return asked


def resolver(get_config: Callable[[], dict]) -> Callable[[dict], dict]:
    """An experiment's ``resolve`` hook: :func:`apply_type` against the experiment's own defaults,
    so ``--set model.latent_dim=D`` trains a code of D values like ``--set zoo.latent_dim=D``."""
    def resolve(cfg: dict) -> dict:
        return apply_type(cfg, defaults=get_config())
    return resolve


def is_variational(cfg: Mapping) -> bool:
    """Whether the config's model is a VAE (has an ELBO and an importance-sampled NLL)."""
    return cfg["model"]["name"] in VARIATIONAL


def zoo_metrics(*, cfg, workdir, trainer, params, data, arrays, **_) -> dict:
    """Figures every zoo run reports (an ``after_training`` hook), each on the test split:

    ``test/recon_mse`` / ``test/recon_psnr``: the deterministic reconstruction
    ``model(x_in)`` (VAEs: decoder mean at the posterior mean) against the clean
    image, mean over pixels then examples; ``code_dim``; ``test/code_mean`` (mean
    code value, the sparse AE's number); ``test/active_units`` (units whose code
    varies over the test set by more than 0.01, Burda et al.); for VAEs
    ``test/nll_iw`` (importance-sampled NLL, ``zoo.iwae_k`` samples, nats).
    Per-example reconstruction errors go to ``analysis/recon_errors.npy``.
    """
    import jax

    from aejax.analysis.importance import active_units
    x = data.test.x
    n = len(x)
    recon = np.asarray(trainer.predict(params, arrays["test_in"]))
    err = np.square(recon - x).reshape(n, -1).mean(axis=1)                     # [N]
    codes = np.asarray(trainer.predict(params, arrays["test_in"], method="encode")).reshape(n, -1)
    save_npy(Path(workdir) / "analysis" / "recon_errors.npy", err.astype(np.float32))
    out = {
        "zoo_type": (cfg.get("zoo") or {}).get("type", "custom"),
        "model_name": cfg["model"]["name"],
        "code_dim": int(codes.shape[1]),
        "test/recon_mse": float(err.mean()),
        "test/recon_psnr": float(np.mean(10 * np.log10(1.0 / np.maximum(err, 1e-12)))),
        "test/code_mean": float(codes.mean()),
        "test/active_units": active_units(codes)["count"],
    }
    if is_variational(cfg):
        from aejax.models.vae import importance_nll
        k = int((cfg.get("zoo") or {}).get("iwae_k", 100))
        key = jax.random.fold_in(jax.random.key(cfg["seed"]), 7)
        iw = importance_nll(trainer.task.model, params, np.asarray(arrays["test_in"]), key, k=k,
                            target=x, k_chunk=min(k, 100))
        out["test/nll_iw"] = float(iw["nll"].mean())
        out["iwae_k"] = k
    return out


def seed_table(rows: list[dict], group: str, metrics: list[tuple[str, str]], title: str,
               notes: list[str] = ()) -> str:
    """A markdown table, one line per value of ``group`` (order of first appearance), each
    metric as mean ± std over the rows (seeds) of that group; ``metrics`` = [(key, header)]."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(str(r.get(group)), []).append(r)
    lines = [f"# {title}", "", *notes, "", "| " + " | ".join([group, "n"] + [h for _, h in metrics]) + " |",
             "|" + "---|" * (len(metrics) + 2)]
    for g, members in groups.items():
        cells = [g, str(len(members))]
        for key, _ in metrics:
            vals = np.array([m[key] for m in members
                             if isinstance(m.get(key), (int, float)) and math.isfinite(m[key])], float)
            if vals.size == 0:
                cells.append("")
            elif vals.size == 1 or np.all(vals == vals[0]):
                cells.append(f"{vals.mean():.4g}")
            else:
                cells.append(f"{vals.mean():.4g} ± {vals.std(ddof=1):.2g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def group_stats(rows: list[dict], group: str, key: str) -> dict[str, tuple[float, float, int]]:
    """{group value: (mean, sample std, n)} of ``key`` over the rows of each group."""
    out: dict[str, list[float]] = {}
    for r in rows:
        v = r.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            out.setdefault(str(r.get(group)), []).append(float(v))
    return {g: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
            for g, v in out.items()}


ZOO_METRICS = [("test/recon_mse", "test recon MSE"), ("test/recon_psnr", "PSNR dB"),
               ("code_dim", "code"), ("test/code_mean", "mean code"), ("test/active_units", "active units"),
               ("test/neg_elbo", "-ELBO nats"), ("test/nll_iw", "IW NLL nats"), ("params", "params"),
               ("train_samples_per_s", "train samples/s"), ("epochs_run", "epochs")]


def zoo_after_sweep(*, sweep_dir, configs, rows) -> None:
    """``ae_zoo``'s sweep.md: one line per type (mean ± std over seeds); ``zoo_comparison.png``
    (reconstruction MSE per type) and ``zoo_reconstructions.png`` (the same test images through
    every type, lowest seed)."""
    from aejax.projects.zoo import figures
    sweep_dir = Path(sweep_dir)
    notes = ["Same data, same budget: each metric is mean ± std over seeds (n runs). test recon MSE: "
             "model(x) against the clean test image (denoising: from the noisy input); -ELBO / IW NLL: "
             "VAEs only, nats per image (sum over pixels)."]
    atomic_write(sweep_dir / "sweep.md", seed_table(rows, "zoo.type", ZOO_METRICS,
                                                   f"Autoencoder zoo: {len(rows)} of {len(configs)} runs",
                                                   notes))
    stats = group_stats(rows, "zoo.type", "test/recon_mse")
    if stats:
        code = {r["zoo.type"]: f"code {r.get('code_dim')}" for r in rows}
        figures.bar_comparison(stats, sweep_dir / "figures" / "zoo_comparison.png",
                               title="Autoencoder zoo on the same data and budget: test reconstruction error",
                               ylabel="test MSE of model(x) vs clean image", annotations=code)
        first = {}
        for r in sorted(rows, key=lambda r: r.get("seed", 0)):
            first.setdefault(r["zoo.type"], sweep_dir / r["run"])
        figures.reconstruction_grid(first, sweep_dir / "figures" / "zoo_reconstructions.png",
                                    title="The same test images through every type (lowest seed)")


DENOISING_METRICS = [("test/psnr_noisy", "PSNR noisy input"), ("test/recon_psnr", "PSNR denoised"),
                     ("test/recon_mse", "MSE denoised"), ("code_dim", "code"), ("params", "params")]


def denoising_after_sweep(*, sweep_dir, configs, rows) -> None:
    """``ae_denoising``'s sweep.md (PSNR of the noisy input and of each type's output);
    ``denoise_psnr.png`` and ``denoise_examples.png`` (the same noisy test images, every type)."""
    from aejax.projects.zoo import figures
    sweep_dir = Path(sweep_dir)
    notes = ["PSNR (dB, mean over test images) of the noisy input and of the model's output, both against "
             "the clean image (n = runs per type)."]
    atomic_write(sweep_dir / "sweep.md", seed_table(rows, "zoo.type", DENOISING_METRICS,
                                                   "Denoising with every autoencoder type", notes))
    stats = group_stats(rows, "zoo.type", "test/recon_psnr")
    noisy = group_stats(rows, "zoo.type", "test/psnr_noisy")
    if stats:
        base = next(iter(noisy.values()))[0]
        figures.bar_comparison(stats, sweep_dir / "figures" / "denoise_psnr.png",
                               title="Denoising (noise 0.25 x N(0, 1)): PSNR of each type's output",
                               ylabel="test PSNR against the clean image (dB)",
                               baseline=(base, f"noisy input ({base:.2f} dB)"),
                               annotations={k: f"{v[0]:.2f}" for k, v in stats.items()})
        first = {}
        for r in rows:
            first.setdefault(r["zoo.type"], sweep_dir / r["run"])
        figures.reconstruction_grid(first, sweep_dir / "figures" / "denoise_examples.png",
                                    title="The same noisy test images denoised by every type")
