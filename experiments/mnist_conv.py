"""Course project, Part 2: convolutional autoencoder with a 7x7x8 bottleneck.

    aejax run mnist_conv

Conv 16 (3x3) -> MaxPool 2 -> Conv 8 (3x3) -> MaxPool 2 [bottleneck 7x7x8 = 392,
shown as 28x14] -> Conv 8 -> UpSample 2 -> Conv 16 -> UpSample 2 -> Conv 1 (3x3).
ReLU hidden layers, sigmoid output, Adam (lr 1e-3), batch 128, 150 epochs on
mnist5k, **binary cross-entropy** loss (test MSE is still reported).

Why BCE and not MSE: with MSE this network often collapses in the first
epochs to an all-black output whose sigmoid is saturated, where MSE's gradient
vanishes and training never recovers. BCE's gradient at the output,
sigmoid(a) - x, does not vanish.

Training follows the course's Keras code (Keras' Adam: ``COURSE_KERAS_TRAIN``)
except for the kernels, drawn **He-uniform** (variance 2 / fan_in, the scale
for ReLU layers) instead of Keras' glorot-uniform, whose first layer (fan_in
9, fan_out 144) starts with weights 4x smaller. On full Fashion-MNIST the
He-uniform default ends slightly below the Keras reference; Keras with
He-uniform kernels does not gain, so the init's own effect is not established.

The epoch runs as a Python loop over the jitted step (``train.scan_epoch=false``),
at batch 128 on CPU at least as fast as a scanned epoch (which is as fast or a little
faster at batch 256). Inside a ``lax.scan`` XLA:CPU would compute the convolutions'
gradients with its generic convolution, several times slower; the engine traces
scanned epochs with ``convolutions.loop_body_convolutions``, which gives them
gradients XLA runs fast in a loop (benchmarks/scan_convolutions.py; the numbers
in benchmarks/README.md).

Code: :mod:`aejax.projects.course`. Measured: benchmarks/README.md#mnist_conv.
"""
from aejax.config import base_config
from aejax.projects.course import COURSE_KERAS_TRAIN


def get_config() -> dict:
    cfg = base_config()
    cfg["model"] = {"name": "conv", "encoder": [[16, 3], [8, 3]], "decoder": [[8, 3], [16, 3]],
                    "output_kernel": 3, "activation": "relu", "output_activation": "sigmoid",
                    "kernel_init": "he_uniform", "norm": "none"}
    cfg["train"]["batch_size"] = 128
    cfg["train"]["loss"] = "bce"
    cfg["train"]["scan_epoch"] = False
    cfg["train"].update(COURSE_KERAS_TRAIN)
    return cfg
