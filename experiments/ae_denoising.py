"""Denoising with every autoencoder type: noisy input, clean target, same data and budget.

    aejax run ae_denoising --set zoo.type=conv      # one type
    aejax sweep ae_denoising                        # every zoo type, seed 0 (--set seed=N: another seed)

Inputs are clip(x + 0.25 * N(0, 1), 0, 1) (fresh noise every step; validation
and test corrupted once with the seed), targets the clean images. Types as in
``ae_zoo`` (aejax/projects/zoo/zoo.py; code size 32, 30 epochs, mnist5k). The sweep's
table compares ``test/psnr_noisy`` (noisy input against clean) with
``test/recon_psnr`` (the model's output against clean) per type; figures:
``denoise_psnr.png`` and ``denoise_examples.png`` (the same noisy test digits
through every type). Expected: every type raises the PSNR well above the
noisy input's (~12 dB), the dense / deep / conv ones most.

Code: :mod:`aejax.projects.zoo.zoo`.
"""
from aejax.config import base_config
from aejax.projects.zoo import zoo

TYPES = [t for t in zoo.TYPES if t != "denoising"]


def get_config() -> dict:
    cfg = base_config()
    cfg["zoo"] = zoo.zoo_section("dense", latent_dim=32, iwae_k=100)
    cfg["data"]["noise_std"] = 0.25
    cfg["train"].update(epochs=30, batch_size=128)
    return zoo.apply_type(cfg)


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    cfg = quick_config(cfg, limit=256, analysis=False, epochs=1, progress=False)
    cfg["zoo"]["iwae_k"] = 10
    return cfg


resolve = zoo.resolver(get_config)    # zoo.type + zoo.latent_dim (or a --set model.latent_dim) -> model
after_training = zoo.zoo_metrics        # test/recon_psnr, test/psnr_noisy, ...
after_sweep = zoo.denoising_after_sweep # sweep.md, denoise_psnr.png, denoise_examples.png


def sweep(quick: bool = False):
    from aejax import hyper
    types = ["dense", "vae"] if quick else TYPES
    return hyper.sweep("zoo.type", types)  # one seed (config's `seed`; --set seed=N for another)
