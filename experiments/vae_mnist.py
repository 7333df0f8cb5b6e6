"""VAE / beta-VAE on binarised MNIST digits: -ELBO and importance-sampled NLL in nats, samples.

    aejax run vae_mnist                              # VAE 784-500-20 (Flax's example) on binarized:mnist5k
    aejax run vae_mnist --set model.beta=4.0         # beta-VAE
    aejax run vae_mnist --set model.kl_warmup_steps=1000   # linear KL annealing over 1,000 steps
    aejax sweep vae_mnist                            # beta in {1, 4} x 3 seeds

Data: mnist5k with pixels binarised at 0.5 (``binarized:mnist5k``: 3,500 train,
500 val, 1,000 test digits). Model: Flax's VAE example (encoder 784-500-(20, 20),
decoder 20-500-784, ReLU, Bernoulli likelihood), Adam 1e-3, batch 128, 100
epochs, the best epoch by validation loss kept. Reports, in nats per image (sum
over pixels, mean over test images): ``test/neg_elbo`` (one posterior sample
per image), ``test/neg_elbo_k`` and ``test/nll_iw`` (k = 1,000 importance
samples), and ``test/active_units``. Figures: samples, latent traversals, a
manifold grid over the two most active units, the test means by class.
The same model trained the same way in PyTorch (benchmarks/reference_vae_torch.py)
gives the same -ELBO (measured: benchmarks/README.md#vae_mnist and
benchmarks/ZOO_RESULTS.md).

Code: :mod:`aejax.projects.zoo.generation`.
"""
from aejax.projects.zoo.generation import vae_config, vae_quick as quick  # noqa: F401  (the --quick hook)


def get_config() -> dict:
    return vae_config(latent_dim=20, kl_warmup_steps=0)


def sweep(quick: bool = False):
    from aejax import hyper
    return hyper.product([hyper.sweep("model.beta", [1.0, 4.0]),
                          hyper.sweep("seed", [0] if quick else [0, 1, 2])])


def after_training(**kw) -> dict:
    from aejax.projects.zoo.generation import vae_artifacts
    return vae_artifacts(k_iw=kw["cfg"]["vae"]["iwae_k"], **kw)
