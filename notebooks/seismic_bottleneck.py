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
# # How small may the smallest layer be? Seismic columns (seed 000)
#
# The seed (`shared/seeds/000_*`, an auto-associative network on the TGS Salt data):
#
# > [many dimensions n] → [much fewer dimensions m] → [many dimensions n]
# >
# > It also provides the researcher a qualitative way of picking a lower bound on the number of
# > dimensions for internal layers of their feed-forward networks. How? **Just try different values
# > for m, and then look at the output. If you can no longer recognize (classify) the output, then
# > probably neither can a deep learning algorithm, and so m is probably too small.** Make sure that
# > the smallest layer in your network (through which all data must pass) is larger than that value
# > of m you found to be "too small."
# >
# > [...] Instead of using the 101×101 image graphics from the contest, will only use individual
# > columns of the data (101×1), thereby creating one-hundred and one times more examples.
#
# Its network: `Dense(m, relu)` → `Dense(101, linear)`, MSE, Adam, early stopping. This notebook runs
# `experiments/seismic_columns.py` on `seismic_synth` (synthetic TGS-like 101 × 101 seismic images
# with salt / no-salt labels, offline; `SETTINGS += ["data.name=tgs:DIR"]` reads the Kaggle TGS layout)
# and shows (1) the columns; (2) the m sweep; (3) reconstructions at several m; (4) the recommended
# m. "Can you still classify the output?" is made measurable: a salt / no-salt classifier trained on
# the original images scores the rebuilt test images.

# %%
import os
from pathlib import Path

if Path.cwd().name == "notebooks":  # opened from notebooks/: work in the repository (results/, experiments/)
    os.chdir(Path.cwd().parent)

import json

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

import aejax

QUICK = os.environ.get("AEJAX_QUICK", "") not in ("", "0")  # AEJAX_QUICK=1: --quick smoke configurations
SETTINGS = ["train.progress=false"]
if QUICK:
    display(Markdown("**Quick mode (`AEJAX_QUICK=1`): 80 images, 3 epochs, m in {2, 8} with 2 seeds. The "
                     "numbers below do not answer the question; run without AEJAX_QUICK for them.**"))

# %% [markdown]
# ## 1. Images cut into columns
#
# One run at the seed's m = 20. Every image is cut into its 101 columns (one trace = one example).
# The split is by image, before cutting: the test columns come from images the network never saw.
# The seed's sanity check, an image beside the image put back together from its columns:

# %%
aejax.run("seismic_columns", overrides=SETTINGS, quick=QUICK)
run = aejax.load_run(aejax.run_dir("seismic_columns", overrides=SETTINGS, quick=QUICK))
for split, part in run.splits.items():
    images = len(np.unique(part.extras["image"]))
    print(f"{split:5s}: {part.x.shape[0]:6d} columns of {part.x.shape[1]} samples from {images} images")
display(Image(filename=str(run.figures["columns_sanity"])))
print(f"largest difference between an image and its columns put back: "
      f"{run.analysis['columns']['columns/rebuild_max_abs_error']:.1e}")

# %% [markdown]
# The m = 20 network: its loss per epoch against PCA's error with the same 20 components (a
# `Dense(m)` → `Dense(linear)` network can at best tie PCA, Eckart-Young), and the auto-associated
# images (the seed's "auto-associated image from reconstructed output columns"):

# %%
c = run.analysis["columns"]
display(pd.Series({"test MSE (AE, m = 20)": c["test/mse"], "test MSE (PCA, 20 components)": c["test/pca_mse"],
                   "AE / PCA": c["test/mse_over_pca"], "dead code units": c["code/dead_units"],
                   "classifier accuracy: original images": c["test/clf_acc_original"],
                   "classifier accuracy: AE images": c["test/clf_acc_ae"],
                   "classifier accuracy: PCA images": c["test/clf_acc_pca"],
                   "always answering the commonest label": c["test/majority_class"]}).to_frame("m = 20").round(4))
display(Image(filename=str(run.figures["loss_vs_pca"])))
display(Image(filename=str(run.figures["columns_autoassociation"])))

# %% [markdown]
# ## 2. The m sweep
#
# "Just try different values for m": `aejax sweep seismic_columns` trains m = 1, 2, 4, 8, 12, 16, 20,
# 32, 48, 64, 101 with 3 seeds each (all in one compiled program), and scores each m's rebuilt test
# images with the classifier. One row per run:

# %%
sweep_dir = aejax.sweep("seismic_columns", overrides=SETTINGS, quick=QUICK)
runs = aejax.load_sweep(sweep_dir)
cols = ["test/mse", "test/pca_mse", "test/mse_over_pca", "code/dead_units", "test/clf_acc_ae", "test/clf_acc_pca",
        "test/clf_acc_original"]
display(runs[["model.latent_dim", "seed"] + cols])
per_m = runs.groupby("model.latent_dim")[cols].mean()
per_m.index.name = "m"
display(per_m.round(4).rename(columns=lambda k: f"{k} (mean over seeds)"))
for name in ("error_vs_m", "classifier_vs_m"):
    display(Image(filename=str(sweep_dir / "figures" / f"{name}.png")))

# %% [markdown]
# ## 3. Reconstructions at several m
#
# "Look at the output": the same test images through each m (seed 0), the seed's qualitative test.

# %%
display(Image(filename=str(sweep_dir / "figures" / "reconstruction_grid.png")))

# %% [markdown]
# ## 4. The recommended m
#
# The rule (`aejax.projects.columns.recommend`): the smallest m from which on (it and every larger m
# of the grid) the classifier scores the auto-associated test images within a tolerance of its
# accuracy on the original test images. The smallest layer of a network for this data should be
# larger than the m below which that fails.

# %%
b = json.loads((sweep_dir / "bottleneck.json").read_text())
display(pd.Series({"recommended m (accuracies averaged over seeds)": b["recommended_m"],
                   "per seed": b["recommended_m_per_seed"],
                   "stable across seeds": b["stable_across_seeds"],
                   "same rule on PCA reconstructions": b["recommended_m_pca"],
                   "tolerance (percentage points)": b["tolerance_pp"],
                   "classifier accuracy on the original test images": b["reference_accuracy"],
                   "always answering the commonest label": b["majority_class"]},
                  dtype=object).to_frame("bottleneck finder"))
m = b["recommended_m"]
display(Markdown(f"**Recommended lower bound for the smallest layer: m = {m}.**" if m is not None else
                 "**No m of this grid keeps the classifier within the tolerance.**"
                 + (" (--quick trains 3 epochs; the full sweep gives the answer.)" if QUICK else "")))
