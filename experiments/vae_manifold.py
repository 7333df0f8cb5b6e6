"""A 2-D VAE on binarised MNIST digits: the latent manifold grid (Kingma & Welling, Fig. 4).

    aejax run vae_manifold

The dense VAE (784-500-2, Bernoulli likelihood) on ``binarized:mnist5k``, 100
epochs, Adam 1e-3, batch 128 (best epoch by validation loss). Figures:
``vae_manifold.png`` (decoded 15x15 grid of z at the prior's quantiles
0.05..0.95 in both units: digits morph smoothly into each other),
``vae_latents.png`` (test posterior means coloured by digit), samples and
traversals. Expected: a much higher -ELBO than the 20-unit ``vae_mnist``'s (two
latent units are little room); measured: benchmarks/README.md#vae_manifold.

Code: :mod:`aejax.projects.zoo.generation`.
"""
from aejax.projects.zoo.generation import vae_config, vae_quick as quick  # noqa: F401  (the --quick hook)


def get_config() -> dict:
    return vae_config(latent_dim=2)


def after_training(**kw) -> dict:
    from aejax.projects.zoo.generation import vae_artifacts
    return vae_artifacts(k_iw=kw["cfg"]["vae"]["iwae_k"], n_units=2, **kw)
