"""Sparse autoencoders: L1 and KL(rho || rho_hat) penalties against their plain counterparts.

    aejax run ae_sparse                             # the L1 variant (Keras blog: 784-32-784, L1 1e-4)
    aejax run ae_sparse --set sparse.variant=kl
    aejax sweep ae_sparse                           # 4 variants x 3 seeds

Variants (``sparse.variant``; model ``sparse`` of aejax/models/sparse.py, one
hidden layer 784-32-784 as in the Keras blog, sigmoid output, binary
cross-entropy, Adam 1e-3, batch 256, 100 epochs on mnist5k):

- ``plain``: ReLU code, no penalty (the blog's plain autoencoder);
- ``l1``: ReLU code + 1e-4 * sum |z| (the blog's ``activity_regularizer=l1(10e-5)``);
- ``plain_sigmoid``: sigmoid code, no penalty;
- ``kl``: sigmoid code + 0.01 * sum_j KL(0.05 || rho_hat_j).

Reported: ``test/code_mean`` (mean code activation over test images and units;
the blog: 7.30 plain vs 3.33 sparse) next to the test reconstruction error,
``test/code_active`` (fraction of code values above 0.1). The sweep draws
``sparse_tradeoff.png`` (code activation against reconstruction error) and
``sparse_code_hist.png`` (distribution of code values, from each run's
analysis/latents.npy).

Code: :mod:`aejax.projects.zoo.sparse`. Expected: each penalty lowers the mean
code activation at about the same or a lower reconstruction error; measured: see
benchmarks/README.md#ae_sparse and benchmarks/ZOO_RESULTS.md.
"""
from aejax.config import base_config
from aejax.projects.zoo import sparse


def get_config() -> dict:
    cfg = base_config()
    cfg["sparse"] = {"variant": "l1"}
    cfg["train"].update(epochs=100, batch_size=256, loss="bce")
    return sparse.apply_variant(cfg)


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    return quick_config(cfg, analysis=False, progress=False)


resolve = sparse.apply_variant          # sparse.variant -> the model section
after_sweep = sparse.sparse_after_sweep  # sweep.md, sparse_tradeoff.png, sparse_code_hist.png


def sweep(quick: bool = False):
    from aejax import hyper
    return hyper.product([hyper.sweep("sparse.variant", list(sparse.VARIANTS)),
                          hyper.sweep("seed", [0] if quick else [0, 1, 2])])
