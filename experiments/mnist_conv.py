"""Course project, Part 2: convolutional autoencoder with a 7x7x8 bottleneck.

    aejax run mnist_conv

Conv 16 (3x3) -> MaxPool 2 -> Conv 8 (3x3) -> MaxPool 2 [bottleneck 7x7x8 = 392,
shown as 28x14] -> Conv 8 -> UpSample 2 -> Conv 16 -> UpSample 2 -> Conv 1 (3x3).
ReLU hidden layers, sigmoid output, MSE loss, Adam (lr 1e-3), batch 128,
150 epochs on mnist5k.
"""
from aejax.config import base_config


def get_config() -> dict:
    cfg = base_config()
    cfg["model"] = {"name": "conv", "encoder": [[16, 3], [8, 3]], "decoder": [[8, 3], [16, 3]],
                    "output_kernel": 3, "activation": "relu", "output_activation": "sigmoid"}
    cfg["train"]["batch_size"] = 128
    return cfg
