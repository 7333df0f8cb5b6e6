"""The autoencoder zoo: every type on the same data with the same budget.

    aejax sweep ae_zoo                 # 10 types x 3 seeds, 30 epochs each on mnist5k
    aejax sweep ae_zoo --quick         # every type once on 256 digits, 1 epoch (a smoke run)
    aejax run ae_zoo --set zoo.type=lstm   # one type

Types (``zoo.type``, see aejax/apps/zoo.py): dense (undercomplete), deep,
conv, sparse (L1), sparse_kl, vae, beta_vae, conv_vae, lstm (image rows),
denoising. All have a 32-value code, Adam 1e-3, batch 128, 30 epochs, MSE
loss (conv: BCE; VAEs: Bernoulli NLL, sum over pixels). ``sweep.csv`` names each run's
type (``zoo.type`` and ``zoo_type`` columns); ``sweep.md`` / ``report.html``
compare them in one table (mean ± std over seeds of the test reconstruction
MSE of ``model(x)`` against the clean image, PSNR, mean code value, active
units, parameters, speed) and ``figures/zoo_comparison.png`` (reconstruction
MSE per type) + ``figures/zoo_reconstructions.png`` (the same test digits
through every type). Measured on mnist5k (seed 0 of every type, ``aejax sweep
ae_zoo --shard 0/3``): test MSE dense 0.0118, vae 0.0143, conv_vae 0.0143,
denoising 0.0148, sparse 0.0156, deep 0.0156, sparse_kl 0.0212, conv 0.0245
(7,859 parameters), beta_vae 0.0300 (the blurriest), lstm 0.0420 (the worst,
row by row); see benchmarks/ZOO_RESULTS.md.
"""
from pathlib import Path

from aejax.apps import zoo
from aejax.config import base_config

TYPES = list(zoo.TYPES)


def get_config() -> dict:
    cfg = base_config()
    cfg["zoo"] = zoo.zoo_section("dense", latent_dim=32, iwae_k=100)
    cfg["train"].update(epochs=30, batch_size=128)
    return zoo.apply_type(cfg)


def quick(cfg: dict) -> dict:
    from aejax.runner import quick_config
    cfg = quick_config(cfg, limit=256, epochs=1, progress=False)
    cfg["zoo"]["iwae_k"] = 10
    return cfg


# experiment hooks (aejax/runner.py)
resolve = zoo.apply_type


def sweep(quick: bool = False):
    from aejax import hyper
    return hyper.product([hyper.sweep("zoo.type", TYPES), hyper.sweep("seed", [0] if quick else [0, 1, 2])])


# experiment hooks (aejax/runner.py)
after_training = zoo.zoo_metrics


METRICS = [("test/recon_mse", "test recon MSE"), ("test/recon_psnr", "PSNR dB"),
           ("code_dim", "code"), ("test/code_mean", "mean code"), ("test/active_units", "active units"),
           ("test/neg_elbo", "-ELBO nats"), ("test/nll_iw", "IW NLL nats"), ("params", "params"),
           ("train_samples_per_s", "train samples/s"), ("epochs_run", "epochs")]


def after_sweep(*, sweep_dir, configs, rows) -> None:
    """sweep.md: one line per type (mean ± std over seeds); the comparison figures."""
    from aejax.apps import figures
    sweep_dir = Path(sweep_dir)
    notes = ["Same data, same budget: each metric is mean ± std over seeds (n runs). test recon MSE: "
             "model(x) against the clean test image (denoising: from the noisy input); -ELBO / IW NLL: "
             "VAEs only, nats per image (sum over pixels)."]
    (sweep_dir / "sweep.md").write_text(zoo.seed_table(rows, "zoo.type", METRICS,
                                                       f"Autoencoder zoo: {len(rows)} of {len(configs)} runs",
                                                       notes))
    stats = zoo.group_stats(rows, "zoo.type", "test/recon_mse")
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
