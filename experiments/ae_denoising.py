"""Denoising with every autoencoder type: noisy input, clean target, same data and budget.

    aejax run ae_denoising --set zoo.type=conv      # one type
    aejax sweep ae_denoising                        # every zoo type, seed 0 (--set seed=N: another seed)

Inputs are clip(x + 0.25 * N(0, 1), 0, 1) (fresh noise every step; validation
and test corrupted once with the seed), targets the clean images. Types as in
``ae_zoo`` (aejax/apps/zoo.py; code size 32, 30 epochs, mnist5k). The sweep's
table compares ``test/psnr_noisy`` (noisy input against clean) with
``test/recon_psnr`` (the model's output against clean) per type; figures:
``denoise_psnr.png`` and ``denoise_examples.png`` (the same noisy test digits
through every type). Expected: every type raises the PSNR well above the
noisy input's (~12 dB), the dense / deep / conv ones most.
"""
from pathlib import Path

from aejax.apps import zoo
from aejax.config import base_config

TYPES = [t for t in zoo.TYPES if t != "denoising"]


def get_config() -> dict:
    cfg = base_config()
    cfg["zoo"] = zoo.zoo_section("dense", latent_dim=32, iwae_k=100)
    cfg["data"]["noise_std"] = 0.25
    cfg["train"].update(epochs=30, batch_size=128)
    return zoo.apply_type(cfg)


def quick(cfg: dict) -> dict:
    from aejax.runner import quick_config
    cfg = quick_config(cfg, limit=256, analysis=False, epochs=1, progress=False)
    cfg["zoo"]["iwae_k"] = 10
    return cfg


# experiment hooks (aejax/runner.py)
resolve = zoo.apply_type
after_training = zoo.zoo_metrics


def sweep(quick: bool = False):
    from aejax import hyper
    types = ["dense", "vae"] if quick else TYPES
    return hyper.sweep("zoo.type", types)  # one seed (config's `seed`; --set seed=N for another)


METRICS = [("test/psnr_noisy", "PSNR noisy input"), ("test/recon_psnr", "PSNR denoised"),
           ("test/recon_mse", "MSE denoised"), ("code_dim", "code"), ("params", "params")]


def after_sweep(*, sweep_dir, configs, rows) -> None:
    from aejax.apps import figures
    sweep_dir = Path(sweep_dir)
    notes = ["PSNR (dB, mean over test images) of the noisy input and of the model's output, both against "
             "the clean image (n = runs per type)."]
    (sweep_dir / "sweep.md").write_text(zoo.seed_table(rows, "zoo.type", METRICS,
                                                       "Denoising with every autoencoder type", notes))
    stats = zoo.group_stats(rows, "zoo.type", "test/recon_psnr")
    noisy = zoo.group_stats(rows, "zoo.type", "test/psnr_noisy")
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
