"""Search spaces of ``aejax tune`` (the experiments' ``search_space(trial)`` hooks).

Each function asks an Optuna trial for values and returns the ``--set`` overrides they make.
Learning rates are rounded to 3 significant digits, so run directory names stay short and a
configuration proposed twice is recognised as the same run.
"""
from __future__ import annotations


def _lr(trial, low: float = 1e-4, high: float = 1e-2) -> float:
    return float(f"{trial.suggest_float('learning_rate', low, high, log=True):.3g}")


def dense_autoencoder(trial, *, max_code: int = 10, max_layers: int = 3, units=(16, 32, 64),
                      activations=("relu", "tanh", "elu"), optimizers=("adam", "rmsprop", "momentum")) -> dict:
    """The tabular seed's hyperparameters (seed 003's keras-tuner list): code size, number of
    layers, units per layer, activation, optimiser and learning rate. The encoder's hidden layers
    start at ``units`` and halve, as the seed's 32-16: ``layers=2, units=32`` -> ``[32, 16]``."""
    layers = trial.suggest_int("layers", 1, max_layers)
    width = trial.suggest_categorical("units", list(units))
    return {
        "model.latent_dim": trial.suggest_int("code_size", 2, max_code),
        "model.hidden": [max(width // 2 ** i, 2) for i in range(layers)],
        "model.activation": trial.suggest_categorical("activation", list(activations)),
        "train.optimizer": trial.suggest_categorical("optimizer", list(optimizers)),
        "train.learning_rate": _lr(trial),
    }


def code_and_lr(trial, *, low: int = 8, high: int = 256) -> dict:
    """Code size (log scale) and learning rate: the course model's main knobs."""
    return {"model.latent_dim": trial.suggest_int("code_size", low, high, log=True),
            "train.learning_rate": _lr(trial)}
