"""Compression: reconstruction error against code size and bits per code value.

    aejax run ae_compression                       # dense AE, 16-value code, mnist5k
    aejax sweep ae_compression                     # code size 2..128 x 2 seeds

The undercomplete dense autoencoder (784-256-d-256-784, ``zoo.type=dense``;
any zoo type works) is trained for 40 epochs; then its test codes are
quantised to 1, 2, 3, 4, 6 and 8 bits per value and decoded (see
aejax/projects/zoo/compression.py). PCA with d components is the baseline. The run
reports ``test/mse_float``, ``test/mse_<b>bit`` and ``test/pca_mse_*``; the sweep
draws the rate-distortion curves (``figures/rate_distortion.png``: test MSE
against bits per image) and ``mse_vs_code_size.png``. Expected: the error
falls with the code size; at 4-8 bits per value the quantised codes lose
little against float32; the autoencoder beats PCA at small code sizes.

Code: :mod:`aejax.projects.zoo.compression`.
"""
from aejax.projects.zoo import compression, zoo
from aejax.config import base_config


def get_config() -> dict:
    cfg = base_config()
    cfg["zoo"] = zoo.zoo_section("dense", latent_dim=16)
    cfg["train"].update(epochs=40, batch_size=128)
    return zoo.apply_type(cfg)


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    return quick_config(cfg, analysis=False, progress=False)


resolve = zoo.resolver(get_config)    # zoo.type + zoo.latent_dim (or a --set model.latent_dim) -> model
after_training = compression.compression_after_training


def sweep(quick: bool = False):
    from aejax import hyper
    sizes = [4, 16] if quick else [2, 4, 8, 16, 32, 64, 128]
    return hyper.product([hyper.sweep("zoo.latent_dim", sizes), hyper.sweep("seed", [0] if quick else [0, 1])])


def after_sweep(*, sweep_dir, configs, rows) -> None:
    compression.compression_after_sweep(sweep_dir=sweep_dir, configs=configs, rows=rows)
