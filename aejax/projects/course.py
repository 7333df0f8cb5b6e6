"""The course project (seed 001): dense, convolutional and denoising autoencoders on MNIST.

Its experiments are ``experiments/mnist_dense.py``, ``mnist_conv.py`` and ``mnist_denoise.py``;
they use the generic engine and figures and need only the training settings below.
"""
from __future__ import annotations

# The course project (seed 001) is written in Keras: its experiments train with Keras' Adam
# (epsilon 1e-7 added to the uncorrected sqrt(v)); mnist_dense / mnist_denoise also take Keras'
# glorot-uniform kernels (mnist_conv draws He-uniform ones: its docstring says why). Measured on
# full Fashion-MNIST, this matches a Keras run of the same model where optax's Adam + LeCun init
# came out 0.4-2.6 % worse (benchmarks/README.md).
COURSE_KERAS_TRAIN = {"optimizer": "adam_keras", "adam_eps": 1e-7}
