"""The autoencoder zoo: every type on the same data with the same budget.

    aejax sweep ae_zoo                 # 10 types x 3 seeds, 30 epochs each on mnist5k
    aejax sweep ae_zoo --quick         # every type once on 256 digits, 1 epoch (a smoke run)
    aejax run ae_zoo --set zoo.type=lstm   # one type
    aejax run ae_zoo --set zoo.latent_dim=8  # the code size (zoo.type fills in model.*)

Types (``zoo.type``, see aejax/projects/zoo/zoo.py): dense (undercomplete), deep,
conv, sparse (L1), sparse_kl, vae, beta_vae, conv_vae, lstm (image rows),
denoising. All have a 32-value code, Adam 1e-3, batch 128, 30 epochs, MSE
loss (conv: BCE; VAEs: Bernoulli NLL, sum over pixels). ``sweep.csv`` names each run's
type (``zoo.type`` and ``zoo_type`` columns); ``sweep.md`` / ``report.html``
compare them in one table (mean ± std over seeds of the test reconstruction
MSE of ``model(x)`` against the clean image, PSNR, mean code value, active
units, parameters, speed) and ``figures/zoo_comparison.png`` (reconstruction
MSE per type) + ``figures/zoo_reconstructions.png`` (the same test digits
through every type).

Code: :mod:`aejax.projects.zoo.zoo`. Measured test MSE per type:
benchmarks/README.md#ae_zoo and benchmarks/ZOO_RESULTS.md.
"""
from aejax.config import base_config
from aejax.projects.zoo import zoo

TYPES = list(zoo.TYPES)


def get_config() -> dict:
    cfg = base_config()
    cfg["zoo"] = zoo.zoo_section("dense", latent_dim=32, iwae_k=100)
    cfg["train"].update(epochs=30, batch_size=128)
    return zoo.apply_type(cfg)


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    cfg = quick_config(cfg, limit=256, epochs=1, progress=False)
    cfg["zoo"]["iwae_k"] = 10
    return cfg


resolve = zoo.resolver(get_config)    # zoo.type + zoo.latent_dim (or a --set model.latent_dim) -> model
after_training = zoo.zoo_metrics        # test/recon_mse, code_dim, active units, IW NLL, ...
after_sweep = zoo.zoo_after_sweep       # sweep.md, zoo_comparison.png, zoo_reconstructions.png


def sweep(quick: bool = False):
    from aejax import hyper
    return hyper.product([hyper.sweep("zoo.type", TYPES), hyper.sweep("seed", [0] if quick else [0, 1, 2])])
