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
# # Which of the 100 code units matter? (seed 002)
#
# The question (`shared/seeds/002_*`, "Autoencoders: Find the important neurons"):
#
# > I have implemented Autoencoder using Keras that takes 112\*112\*3 neurons as input and 100 neurons
# > as the compressed/encoded state. I want to find the neurons out of these 100 that learns the
# > important features. So far i have calculated eigen values(e) and eigen vectors(v) [...]. And i
# > found out that around first 30 values of (e) is greater than 0. **Does that mean the first 30
# > modes are the important ones? Is there any other method that could find the important neurons?**
# >
# > ```
# > x_enc = enc_model.predict(x_train, batch_size=BATCH_SIZE) # shape (3156,100)
# > x_mean = np.mean(x_enc, axis=0) # shape (100,)
# > x_stds = np.std(x_enc, axis=0) # shape (100,)
# > x_cov = np.cov((x_enc - x_mean).T) # shape (100,100)
# > e, v = np.linalg.eig(x_cov) # shape (100,) and (100,100) respectively
# > ```
#
# This notebook answers it from a trained model: `experiments/latent_spectrum.py`, a 784-400-200-100
# dense autoencoder with a **ReLU** 100-unit code on MNIST digits (the question's model is not shown;
# a ReLU `Dense(100)` bottleneck is the usual Keras one), compared with the same network with a linear
# code and with a beta-VAE. Then the same analysis over seeds (`aejax sweep latent_spectrum`).
#
# What is shown: (1) the question's own computation on our codes; (2) the spectrum against noise
# floors; (3) which modes matter to the decoder (ablation), (4) which units; (5) other codes of the
# same size; (6) the written answer; (7) across seeds.

# %%
import os
from pathlib import Path

if Path.cwd().name == "notebooks":  # opened from notebooks/: work in the repository (results/, experiments/)
    os.chdir(Path.cwd().parent)

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

import aejax

QUICK = os.environ.get("AEJAX_QUICK", "") not in ("", "0")  # AEJAX_QUICK=1: --quick smoke configurations
SETTINGS = ["train.progress=false"]

aejax.run("latent_spectrum", overrides=SETTINGS, quick=QUICK)
run = aejax.load_run(aejax.run_dir("latent_spectrum", overrides=SETTINGS, quick=QUICK))
if QUICK:
    display(Markdown("**Quick mode (`AEJAX_QUICK=1`): 2 epochs on 512 images. The model has learned "
                     "almost nothing, so the numbers below do not answer the question; run without "
                     "AEJAX_QUICK for that.**"))
print(run.model)
pd.Series(run.summary, dtype=object).loc[["params", "epochs_run", "test/mse", "wall_s"]].to_frame("latent_spectrum")

# %% [markdown]
# ## 1. The question's computation, on our model
#
# `run.encode` is the trained encoder. The question's code, with two changes: the codes of the test
# images (the analysis uses the same ones), and `eigh` (for a symmetric matrix; `eig` is a general
# solver that may return complex, unsorted eigenvalues).

# %%
x = run.splits["test"].x
x_enc = run.encode(x)                                    # [N, 100]
x_cov = np.cov((x_enc - x_enc.mean(axis=0)).T)           # [100, 100]
e = np.linalg.eigh(x_cov)[0][::-1]                       # descending
tiny = e.max() * len(e) * np.finfo(np.float64).eps       # round-off scale
never_active = int((x_enc.max(axis=0) <= 0).sum())       # ReLU units that are 0 for every image
counts = pd.Series({"eigenvalues > 0": int((e > 0).sum()), "eigenvalues > round-off": int((e > tiny).sum()),
                    "units that are 0 on every test image": never_active,
                    "spectrum.json: eigenvalues > 0": run.analysis["spectrum"]["eigenvalues_positive"],
                    "spectrum.json: non-zero": run.analysis["spectrum"]["eigenvalues_nonzero"],
                    "spectrum.json: dead units": run.analysis["spectrum"]["dead_units"]})
counts.to_frame(f"{len(x)} test images")

# %% [markdown]
# A covariance matrix has no negative eigenvalues, so "> 0" counts everything that is not exactly
# zero up to round-off: here the zeros are the **dead** ReLU units (0 for every image), and whether
# round-off makes their eigenvalues come out slightly positive or negative is chance (the count
# above and the analysis' own, computed from the same codes in another order of operations, may
# differ by a few for that reason alone). "> 0" is not a measure of importance.
#
# ## 2. The spectrum against noise floors
#
# The analysis (`aejax analyze`, run at the end of training) compares the eigenvalues with three
# floors: shuffled units (each unit permuted over images independently: the spectrum of independent
# units with the same variances), the Marchenko-Pastur edge of pure noise, and the untrained encoder.

# %%
s = run.analysis["spectrum"]
floors = pd.Series({
    "units (code size)": s["d"], "dead units": s["dead_units"], "active units (variance > 0.01)": s["active_units"],
    "eigenvalues > 0": s["eigenvalues_positive"], "non-zero eigenvalues": s["eigenvalues_nonzero"],
    "modes above the shuffle floor": s["noise_floor"]["modes_above_shuffle"],
    "modes above Marchenko-Pastur": s["modes_above_mp"],
    "modes above the untrained encoder": s["modes_above_untrained"],
    "modes for 90 / 95 / 99 % of the variance": f"{s['modes_90']} / {s['modes_95']} / {s['modes_99']}",
    "participation ratio": round(s["participation_ratio"], 2),
    "raw images: PCA modes for 90 / 95 / 99 %": f"{s['data_modes_90']} / {s['data_modes_95']} / {s['data_modes_99']}",
}, dtype=object)
display(floors.to_frame("ReLU-code AE"))
display(Image(filename=str(run.figures["latent_scree"])))
display(Image(filename=str(run.figures["latent_cumulative"])))

# %% [markdown]
# ## 3. Which modes matter to the decoder
#
# Variance is not use. The direct test: set one unit, or one eigen-direction of the code covariance,
# to its mean over the test images, decode, and measure how much the test MSE rises; and keep only the
# top k directions (or units) and watch the MSE.

# %%
im = run.analysis["importance"]
keep = pd.DataFrame(im["keep_top_k"]).set_index("k")
keep.columns = [f"test MSE keeping the top k {c.replace('_', ' ')}" for c in keep.columns]
display(pd.Series({"test MSE, full code": im["baseline_loss"], "test MSE, every unit at its mean": im["mean_code_loss"],
                   **{f"{what} for {p} % of the reconstruction gain": im[f"{key}_for_loss_{p}"]
                      for p in (90, 95, 99) for what, key in (("directions", "modes"), ("units", "units"))}},
                  dtype=object).to_frame("ablation"))
display(keep)
display(Image(filename=str(run.figures["latent_ablation"])))

# %% [markdown]
# ## 4. Which units
#
# Units ranked by ablation (the MSE increase when the unit is held at its mean), beside their variance
# (the question's `x_stds`) and whether they are dead.

# %%
# importance.json's unit_rank / unit_rank_by_variance list the units from the most important down
units = pd.DataFrame({"variance": im["unit_variance"],
                      "MSE increase when held at its mean": im["unit_ablation_increase"],
                      "rank by ablation": np.argsort(im["unit_rank"]),
                      "rank by variance": np.argsort(im["unit_rank_by_variance"])})
units["dead"] = x_enc.max(axis=0) <= 0
units.index.name = "unit"
print(f"Spearman correlation of variance and ablation importance: {im['spearman_variance_vs_ablation']:.2f}")
display(units.sort_values("rank by ablation").head(12))
display(Image(filename=str(run.figures["latent_unit_importance"])))

# %% [markdown]
# ## 5. Other codes of the same size
#
# The same network with a linear code (no dead units possible) and a beta-VAE (beta = 4, whose KL term
# charges each unit for what it carries), each trained into `compare/<name>/` of the run.

# %%
rows = {"ReLU code (this model)": run}
rows.update({name: aejax.load_run(d, model=False) for name, d in
             ((p.name, p) for p in sorted((run.path / "compare").iterdir()) if p.is_dir())})
compare = pd.DataFrame({name: {"test MSE": r.summary.get("test/mse"),
                               "dead units": sp["dead_units"], "active units": sp["active_units"],
                               "modes above shuffle floor": sp["noise_floor"]["modes_above_shuffle"],
                               "modes 95 % variance": sp["modes_95"],
                               "directions for 95 % of MSE gain": r.analysis["importance"]["modes_for_loss_95"],
                               "units for 95 % of MSE gain": r.analysis["importance"]["units_for_loss_95"]}
                        for name, r in rows.items() for sp in [r.analysis["spectrum"]]}, dtype=object).T
display(compare)
display(Image(filename=str(run.figures["latent_compare"])))

# %% [markdown]
# ## 6. The answer
#
# Written by the experiment from the analysis files above (`analysis/answer.md`), never typed in:

# %%
display(Markdown(run.notes["answer"]))

# %% [markdown]
# ## 7. Across seeds
#
# Does another seed find the same important modes, and the same units? `aejax sweep latent_spectrum`
# trains the ReLU-code and linear-code networks with several seeds; `aejax.load_sweep` gives one row
# per run, and each run's analysis files say how many modes matter.

# %%
sweep_dir = aejax.sweep("latent_spectrum", overrides=SETTINGS, quick=QUICK)
runs = aejax.load_sweep(sweep_dir)
per_run = pd.DataFrame([{"code": r["model.latent_activation"], "seed": r["seed"], "test MSE": r["test/mse"],
                         "dead units": a["spectrum"]["dead_units"],
                         "modes above shuffle floor": a["spectrum"]["noise_floor"]["modes_above_shuffle"],
                         "modes 95 % variance": a["spectrum"]["modes_95"],
                         "directions for 95 % of MSE gain": a["importance"]["modes_for_loss_95"],
                         "units for 95 % of MSE gain": a["importance"]["units_for_loss_95"]}
                        for r in runs.to_dict("records")
                        for a in [aejax.load_run(sweep_dir / r["run"], model=False).analysis]])
numbers = per_run.columns.drop(["code", "seed"])
per_run[numbers] = per_run[numbers].astype(float)  # None (not reached) -> NaN
display(per_run)
display(per_run.drop(columns="seed").groupby("code").agg(["mean", "std"]).T.round(4))

# %% [markdown]
# The spectra of the seeds side by side, and how much their top-k subspaces agree (1 = the same
# subspace) although their units do not (rank correlation of per-unit importance between seeds):

# %%
for name in ("latent_spectra_seeds", "latent_subspace_seeds"):
    display(Image(filename=str(sweep_dir / "figures" / f"{name}.png")))
display(Markdown((sweep_dir / "analysis" / "latent_seeds.md").read_text()))
