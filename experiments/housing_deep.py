"""Deep autoencoder 12-32-16-7-16-32-12 reducing a housing table to 7 features (the tabular seed).

    aejax run housing_deep                 # offline: Boston housing without column B (mlxtend), 300 epochs
    aejax run housing_deep --set data.name=california_housing          # scikit-learn fetcher (cache/internet)
    aejax run housing_deep --set data.name=csv:/content/sample_data/california_housing_train.csv
    aejax sweep housing_deep               # code size, depth, width, activation, optimiser, lr x 3 seeds
    aejax sweep housing_deep --set sweep.vectorize_seeds=true   # the seeds of a configuration in one program
    aejax tune housing_deep --trials 30    # Optuna over the seed's hyperparameters (search_space below)

The seed (003): encoder Dense 32-16-7, all ReLU (the code too); decoder
16-32-n with a sigmoid output; inputs MinMax-scaled to [0, 1] with the scaler
fitted on the training data; MAE loss and metric; Adam (Keras default lr 1e-3);
15 epochs; batch 32; validation on the test file. Here the scaler is fitted on
the training split only and saved as ``scaler.json``; ``features.csv`` holds
the 7 encoder features of every row; a linear regression of the dropped target
from the 7 features, from all scaled inputs and from 7 PCA components shows
whether the reduction kept what matters (``figures/r2.png``, summary
``test/r2_*``).

Defaults that differ from the seed, each measured over seeds 0-2 (README "Tables and sweeps"):
a linear code layer and 300 epochs (the seed's ReLU code left 2-3 of the 7 units dead on seeds 0
and 2 at every length tried, 15-1000 epochs; at the seed's 15 epochs the features scored below
PCA-7), and ``tabular.validate_on="val"``: a held-out 10 % of the training part chooses the best
epoch; ``--set tabular.validate_on=test`` validates on the test split as the seed does (its test
numbers are then optimistic). The seed's setup: ``--set model.latent_activation=relu
--set train.epochs=15 --set tabular.validate_on=test``.

Data: California housing needs a download, so the offline default is the real
Boston housing table that mlxtend ships (506 rows, target MEDV), without its column
``B`` (see aejax/data/tabular.py).

Code: :mod:`aejax.projects.tabular`.
"""
from aejax.config import base_config
from aejax.projects import search_spaces, tabular


def get_config() -> dict:
    """The seed's network on the offline Boston housing table (linear code, 300 epochs, held-out validation)."""
    cfg = base_config()
    cfg["data"]["name"] = "boston_housing"
    cfg["model"] = {"name": "dense", "hidden": [32, 16], "latent_dim": 7, "activation": "relu",
                    "latent_activation": "linear", "output_activation": "sigmoid"}  # the seed's code: relu
    cfg["train"].update(epochs=300, batch_size=32, learning_rate=1e-3, optimizer="adam", loss="mae",
                        eval_batch_size=1024)  # the seed: 15 epochs
    cfg["tabular"] = {"validate_on": "val",   # "val" (held out) or "test" (the seed)
                      "pca_components": 0,    # PCA baseline size; 0 = the code size
                      "clip": False}          # clip scaled val/test values to [0, 1]
    cfg["figures"]["examples"] = 10
    return cfg


def quick(cfg: dict) -> dict:
    """Smoke run: 2 epochs (the table is small already; limit 512 rows for large CSVs)."""
    from aejax.run.resolve import quick_config
    cfg = quick_config(cfg)
    cfg["train"]["batch_size"] = 32
    return cfg


prepare_data = tabular.prepare           # validation split choice + MinMax scaling fitted on train
after_training = tabular.write_outputs   # scaler.json, features.csv, R² table, tabular figures
after_sweep = tabular.after_sweep        # figures/sweep_mae.png
search_space = search_spaces.dense_autoencoder  # aejax tune: code size, layers, units, activation, optimiser, lr


def sweep(quick: bool = False):
    """Code size, layers, units per layer, activation, optimiser, learning rate, one at a time around
    the seed's setup (tabular.BASELINE): 14 configurations x 3 seeds (``--quick``: 2 x 2)."""
    from aejax import hyper
    if quick:
        axes = [hyper.sweep("model.latent_dim", [3, 7])]
        seeds = range(2)
    else:
        axes = [
            hyper.sweep("model.latent_dim", [2, 3, 5, 7]),                 # code size
            hyper.sweep("model.hidden", [[16], [32, 16], [64, 32, 16]]),   # number of layers
            hyper.sweep("model.hidden", [[16, 8], [32, 16], [64, 32]]),    # units per layer
            hyper.sweep("model.activation", ["relu", "tanh", "elu"]),
            hyper.sweep("train.optimizer", ["adam", "rmsprop", "momentum"]),
            hyper.sweep("train.learning_rate", [3e-4, 1e-3, 3e-3]),
        ]
        seeds = range(3)
    return hyper.product([hyper.one_at_a_time(tabular.BASELINE, axes), hyper.sweep("seed", seeds)])
