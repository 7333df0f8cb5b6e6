# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Seven features from a housing table (seed 003)
#
# The seed (`shared/seeds/003_*`, "Dimensionality Reduction using AutoEncoders") trains a deep
# autoencoder on California housing and keeps its bottleneck as features:
#
# > The encoder contains 32, 16, and 7 units in each layer respectively and the decoder contains 7,
# > 16, and 32 units in each layer respectively. [...] Before feeding the data into the AutoEncoder
# > the data must definitely be scaled between 0 and 1 using MinMaxScaler since we are going to use
# > sigmoid activation function in the output layer [...] When we are using AutoEncoders for
# > dimensionality reduction we'll be extracting the bottleneck layer and use it to reduce the
# > dimensions. This process can be viewed as **feature extraction**.
# >
# > ```
# > encoder_layer = auto_encoder.get_layer('sequential')
# > reduced_df = pd.DataFrame(encoder_layer.predict(x_train_scaled))
# > reduced_df = reduced_df.add_prefix('feature_')
# > ```
#
# and lists the hyperparameters to choose: code size, number of layers, neurons per layer,
# activation function, optimizer. This notebook runs `experiments/housing_deep.py` (the seed's
# network, MAE loss, Adam, 15 epochs, batch 32) and shows (1) the 7 features as a pandas DataFrame,
# as the seed does; (2) whether they are useful: dead features, and how well a linear regression
# on them predicts the target the autoencoder never saw, against 7 PCA components and all inputs;
# (3) the hyperparameter search over the seed's list (`aejax sweep housing_deep`).
#
# **Data.** Offline, the table is the real Boston housing data that mlxtend ships (506 rows, 13
# columns, target MEDV); `SETTINGS += ["data.name=california_housing"]` runs the seed's California
# housing (scikit-learn's fetcher: a download or its cache).

# %%
import os
from pathlib import Path

if Path.cwd().name == "notebooks":  # opened from notebooks/: work in the repository (results/, experiments/)
    os.chdir(Path.cwd().parent)

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

import aejax

QUICK = os.environ.get("AEJAX_QUICK", "") not in ("", "0")  # AEJAX_QUICK=1: --quick smoke configurations
SETTINGS = ["train.progress=false"]

aejax.run("housing_deep", overrides=SETTINGS, quick=QUICK)
run = aejax.load_run(aejax.run_dir("housing_deep", overrides=SETTINGS, quick=QUICK))
if QUICK:
    display(Markdown("**Quick mode (`AEJAX_QUICK=1`): 2 epochs. The numbers below do not describe a "
                     "trained model; run without AEJAX_QUICK for them.**"))
meta = run.data.meta
print(f"{run.config['data']['name']}: {len(meta['columns'])} input columns {meta['columns']}, target {meta['target']}; "
      f"{len(run.splits['train'])} training / {len(run.splits['test'])} test rows; validation on the "
      f"{run.summary.get('validate_on', 'val')} split")
run.metrics[["train/loss", "val/loss"]].tail()

# %% [markdown]
# ## 1. The 7 features as a DataFrame
#
# The seed's `reduced_df`, computed with the trained encoder (`run.encode`) on the MinMax-scaled
# training rows (the scaler was fitted on the training split only and is saved as `scaler.json`).
# The run also wrote them, for every row of every split, to `features.csv`; the two agree.

# %%
train, test = run.splits["train"], run.splits["test"]
reduced_df = pd.DataFrame(run.encode(train.x)).add_prefix("feature_")
saved = pd.read_csv(run.path / "features.csv")
saved_train = saved[saved["split"] == "train"].filter(like="feature_").reset_index(drop=True)
print(f"largest difference from features.csv: {np.abs(reduced_df.to_numpy() - saved_train.to_numpy()).max():.2e}")
reduced_df

# %% [markdown]
# ## 2. Are the features useful?
#
# A feature that is 0 on every row (a dead ReLU unit) carries nothing. For the others: how well does
# a linear regression on the features predict the target (MEDV, not an input of the autoencoder), on
# the test rows? The run's own table compares the 7 AE features with 7 PCA components of the scaled
# inputs and with all 13 scaled inputs (`analysis/tabular.json`, `figures/r2.png`).

# %%
f_train, f_test = reduced_df.to_numpy(), run.encode(test.x)  # [N, 7] each


def test_r2(columns):
    """Test R² of a linear regression of the target on these feature columns (fitted on the training rows)."""
    return r2_score(test.y, LinearRegression().fit(f_train[:, columns], train.y).predict(f_test[:, columns]))


every = list(range(f_train.shape[1]))
per_feature = pd.DataFrame({
    "mean": reduced_df.mean(), "std": reduced_df.std(), "zero on every training row": (reduced_df == 0).all(),
    "|correlation| with target": reduced_df.corrwith(pd.Series(train.y)).abs(),
    "test R² alone": [test_r2([i]) for i in every],
    "test R² lost without it": [test_r2(every) - test_r2([j for j in every if j != i]) for i in every],
})
print(f"test R² of a linear regression on all {len(every)} features: {test_r2(every):.4f}")
display(per_feature.round(4))
print(f"dead features: {int(per_feature['zero on every training row'].sum())} of {reduced_df.shape[1]} "
      f"(summary.json: dead_code_units = {run.summary['dead_code_units']})")

r2 = pd.DataFrame(run.analysis["tabular"]["r2"]).set_index("features")
display(r2.round(4))
display(Image(filename=str(run.figures["r2"])))
display(Image(filename=str(run.figures["features"])))

# %% [markdown]
# How well each input column is reconstructed through the 7 features (test MAE on the [0, 1] scale):

# %%
display(pd.Series(run.analysis["tabular"]["column_mae"]).sort_values(ascending=False).to_frame("test MAE").T.round(3))
display(Image(filename=str(run.figures["column_mae"])))

# %% [markdown]
# ## 3. The hyperparameter search
#
# The seed's hyperparameters, each varied on its own around the seed's setup (code size 2 / 3 / 5 / 7;
# one, two or three hidden layers; narrower and wider layers; ReLU / tanh / ELU; Adam / RMSprop /
# momentum; three learning rates), each with 3 seeds (`--quick`: code size 3 / 7, 2 seeds).
# `aejax.sweep` trains what is not finished yet; `aejax.load_sweep` gives one row per run.

# %%
sweep_dir = aejax.sweep("housing_deep", overrides=SETTINGS, quick=QUICK)
runs = aejax.load_sweep(sweep_dir)
keys = [k for k in runs.attrs["overrides"] if k != "seed"]
print(f"{len(runs)} runs in {sweep_dir}; varied: {keys}")
runs[runs.attrs["overrides"] + ["test/mae", "dead_code_units", "test/r2_autoencoder", "test/r2_pca"]]

# %% [markdown]
# Mean and standard deviation over seeds of each configuration, best (lowest test MAE) first. The
# R² columns say whether the features of each configuration still carry the target; `test/r2_pca`
# is PCA with as many components as the code has units.

# %%
table = (runs.groupby(keys, sort=False)[["test/mae", "dead_code_units", "test/r2_autoencoder", "test/r2_pca"]]
         .agg(["mean", "std"]).sort_values(("test/mae", "mean")))
display(table.round(4))
best = dict(zip(keys, table.index[0] if len(keys) > 1 else [table.index[0]]))
n_seeds = int((runs[keys].apply(tuple, axis=1) == tuple(best.values())).sum())
display(Markdown(f"**Lowest mean test MAE:** {', '.join(f'`{k}={v}`' for k, v in best.items())} "
                 f"({table.iloc[0][('test/mae', 'mean')]:.4f} ± {table.iloc[0][('test/mae', 'std')]:.4f} over "
                 f"{n_seeds} seeds)."))
for png in sorted((sweep_dir / "figures").glob("*.png")):
    display(Image(filename=str(png)))
