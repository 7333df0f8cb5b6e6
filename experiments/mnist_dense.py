"""Course project, Part 1: fully connected autoencoder 784-400-200-100-200-400-784.

    aejax run mnist_dense            # 150 epochs on mnist5k (offline), ~1 min on 2 CPU cores
    aejax run mnist_dense --set data.name=idx:/usr/share/datasets/fashion-mnist
    aejax tune mnist_dense --trials 20     # Optuna over code size and learning rate

Choices the course leaves open: ReLU hidden layers, a linear 100-unit code
(no activation, so the code is not clipped at 0), sigmoid output, MSE loss,
Adam (lr 1e-3), batch 256. The course's code is Keras, so training uses its
defaults (``COURSE_KERAS_TRAIN``): glorot-uniform kernels and Keras' Adam
(``adam_keras``, eps 1e-7 on the uncorrected sqrt(v)); with optax's Adam and
Flax's LeCun init the test MSE on Fashion-MNIST came out worse than Keras'.
Figures: loss per epoch, the first ten test images, their 100-unit codes as
10x10 images, their reconstructions.
Expected: test MSE ~0.008 on mnist5k after 150 epochs (3,500 training digits);
measured: benchmarks/README.md#mnist_dense, Fashion-MNIST in "Quality on full
Fashion-MNIST" there.

Code: :mod:`aejax.projects.course`.
"""
from aejax.config import base_config
from aejax.projects import search_spaces
from aejax.projects.course import COURSE_KERAS_TRAIN


def get_config() -> dict:
    cfg = base_config()
    cfg["model"] = {"name": "dense", "hidden": [400, 200], "latent_dim": 100, "activation": "relu",
                    "latent_activation": "linear", "output_activation": "sigmoid", "kernel_init": "glorot_uniform",
                    "norm": "none"}
    cfg["train"].update(COURSE_KERAS_TRAIN)
    return cfg


def sweep(quick: bool = False):
    """Code size x seeds: how the reconstruction error falls with the bottleneck."""
    from aejax import hyper
    sizes = [8, 32] if quick else [10, 25, 50, 100, 200]
    return hyper.product([hyper.sweep("model.latent_dim", sizes), hyper.sweep("seed", range(2 if quick else 3))])


search_space = search_spaces.code_and_lr  # aejax tune: code size (8..256, log) and learning rate
