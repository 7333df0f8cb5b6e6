"""Batch normalization on the course's dense and convolutional autoencoders, side by side.

    aejax run course_batchnorm

Seed 003 lists batch normalization among the techniques behind the classic CNNs: "normalize the
inputs of each layer over the mini-batch, then scale and shift them with learned parameters; at
test time use running averages". ``model.norm=batch`` adds it to ``dense`` and ``conv`` models
(after each hidden layer, before its activation; Keras' momentum 0.99 and epsilon 1e-3); the
running averages are kept with the parameters, updated inside the pure train step, checkpointed
and resumed, and used at evaluation, so an example's reconstruction does not depend on its batch.

This experiment trains ``mnist_dense`` and ``mnist_conv`` with their course settings, each without
and with batch normalization (``batchnorm.epochs`` epochs, one run directory per pair under
``runs/``), and draws the training and validation curves side by side
(``figures/batchnorm_curves.png``); summary.json has each pair's test MSE.

Code: :mod:`aejax.projects.batchnorm`.
"""
from aejax.config import base_config
from aejax.projects import batchnorm


def get_config() -> dict:
    cfg = base_config()
    cfg["batchnorm"] = {"models": list(batchnorm.MODELS), "epochs": 20, "quick": False}
    return cfg


def quick(cfg):
    cfg["batchnorm"]["quick"] = True  # each course model's own --quick run
    return cfg


def run(cfg, workdir):
    """Train each course model without and with batch normalization, then the curves."""
    return batchnorm.run(cfg, workdir)
