"""Course project, Part 2: convolutional autoencoder with a 7x7x8 bottleneck.

    aejax run mnist_conv

Conv 16 (3x3) -> MaxPool 2 -> Conv 8 (3x3) -> MaxPool 2 [bottleneck 7x7x8 = 392,
shown as 28x14] -> Conv 8 -> UpSample 2 -> Conv 16 -> UpSample 2 -> Conv 1 (3x3).
ReLU hidden layers, sigmoid output, Adam (lr 1e-3), batch 128, 150 epochs on
mnist5k, **binary cross-entropy** loss (test MSE is still reported).

Why BCE and not MSE: with MSE this network often collapses in the first
epochs to an all-black output whose sigmoid is saturated, where MSE's gradient
vanishes and training never recovers (train MSE stuck at 0.113). Measured on
mnist5k, batch 128, 8 epochs, seeds 0-3: flax default init + MSE stuck on 2 of
4 seeds, Keras' glorot-uniform init + MSE stuck on 4 of 4, flax init + BCE
trained on 4 of 4 (train MSE 0.017-0.019). BCE's gradient at the output,
sigmoid(a) - x, does not vanish.

Training follows the course's Keras code (Keras' Adam: ``COURSE_KERAS_TRAIN``)
except for the kernels, drawn **He-uniform** (variance 2 / fan_in, the scale
for ReLU layers) instead of Keras' glorot-uniform. Measured on full
Fashion-MNIST, 15 epochs, seeds 0-8 (benchmarks/README.md): test MSE
0.007611 +- 0.000258 with He-uniform, 0.007980 +- 0.000508 with glorot-uniform,
0.007711 +- 0.000237 for the Keras reference (glorot-uniform). Glorot's
first layer (fan_in 9, fan_out 144) starts with weights 4x smaller than He's;
the worst of the nine seeds: 0.008068 He-uniform, 0.008681 glorot-uniform,
0.007990 Keras. At the course's 150 epochs, seeds 0-1: 0.005453 / 0.005330
He-uniform, 0.006028 / 0.005567 glorot-uniform, 0.005749 / 0.005508 Keras.
Keras with He-uniform kernels (15 epochs, 9 seeds: 0.007743 +- 0.000234)
does not gain, so the init's own effect is not established.

The epoch runs as a Python loop over the jitted step (``train.scan_epoch=false``):
XLA:CPU runs these small convolutions ~3.5x slower inside a ``lax.scan``
(mnist5k, batch 256: ~290 samples/s scanned, ~1,000 looped; dense models
are as fast or faster scanned, so they keep the scan).
"""
from aejax.config import COURSE_KERAS_TRAIN, base_config


def get_config() -> dict:
    cfg = base_config()
    cfg["model"] = {"name": "conv", "encoder": [[16, 3], [8, 3]], "decoder": [[8, 3], [16, 3]],
                    "output_kernel": 3, "activation": "relu", "output_activation": "sigmoid",
                    "kernel_init": "he_uniform"}
    cfg["train"]["batch_size"] = 128
    cfg["train"]["loss"] = "bce"
    cfg["train"]["scan_epoch"] = False
    cfg["train"].update(COURSE_KERAS_TRAIN)
    return cfg
