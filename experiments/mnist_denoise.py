"""Course project, Part 3: denoising autoencoder (noise 0.25 x N(0, 1) per pixel, clipped).

    aejax run mnist_denoise

The Part 1 architecture (784-400-200-100-200-400-784) trained on noisy inputs
with clean targets. Training draws fresh noise every step (fold_in(key, step));
validation and test inputs are corrupted once with their own keys, so every
epoch is scored on the same noisy images. Reports ``test/psnr_noisy`` (noisy
input against clean) and ``test/psnr_denoised`` (output against clean).

Code: :mod:`aejax.projects.course`.
"""
from aejax.config import base_config
from aejax.projects.course import COURSE_KERAS_TRAIN


def get_config() -> dict:
    cfg = base_config()
    cfg["model"] = {"name": "dense", "hidden": [400, 200], "latent_dim": 100, "activation": "relu",
                    "latent_activation": "linear", "output_activation": "sigmoid", "kernel_init": "glorot_uniform",
                    "norm": "none"}
    cfg["data"]["noise_std"] = 0.25
    cfg["train"].update(COURSE_KERAS_TRAIN)
    return cfg
