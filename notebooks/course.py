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
# # Project 2: Autoencoders
#
# *Submission file: `lastname_firstname_autoencoders.ipynb` (`make notebooks` writes this notebook,
# executed, to `results/notebooks/course.ipynb`; rename it to hand it in).*
#
# The course (`shared/seeds/001_*`) asks for three autoencoders on MNIST and for "a single .ipynb
# file" in which "the deliverables are clearly shown for each part". This notebook trains the
# three models with aejax and shows its 14 deliverable figures in the order of the assignment:
#
# | part | model | deliverables |
# | --- | --- | --- |
# | 1 | fully connected 784-400-200-100-200-400-784 | loss curves; first ten test images; their 100-unit codes as 10 x 10 images; their reconstructions |
# | 2 | convolutional, 7 x 7 x 8 bottleneck | loss curves; first ten test images; their codes as 28 x 14 images; their reconstructions |
# | 3 | denoising (Part 1's network, noise 0.25 · N(0, 1), clipped) | first ten training images, and with noise; loss curves; first ten test images, with noise, denoised |
#
# Each part is one aejax experiment (`experiments/mnist_dense.py`, `mnist_conv.py`,
# `mnist_denoise.py`), run here through the Python API: `aejax.run(...)` trains (or finds the
# finished run and trains nothing), `aejax.load_run(...)` loads its config, metrics, summary,
# figures and trained encoder / decoder. The figures are the ones the run writes into its
# `figures/` folder.
#
# **Data.** The course uses MNIST's 60,000 / 10,000 split. Offline, aejax's default is `mnist5k`:
# 5,000 real MNIST digits shipped in a pip package, split 70 / 10 / 20 % into training, validation
# and test images with the seed. For the full data set add `"data.name=tfds:mnist"` (a download) or
# `"data.name=idx:DIR"` (the four MNIST IDX files in DIR) to `SETTINGS` below.
#
# **Validation.** The course allows the test set as validation data; aejax holds out its own
# validation split (10 % of the training part), so the test images never choose a checkpoint.
# The test figures use the checkpoint of the lowest validation loss.

# %%
import os
from pathlib import Path

if Path.cwd().name == "notebooks":  # opened from notebooks/: work in the repository (results/, experiments/)
    os.chdir(Path.cwd().parent)

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

import aejax
from aejax import jaxsetup

jaxsetup.tune_malloc()  # as the `aejax` command does: each step's scratch memory stays mapped (faster conv training)

# AEJAX_QUICK=1 runs every experiment's --quick smoke configuration (seconds, 2 epochs on 512 images):
# every figure is made, none of the numbers means anything.
QUICK = os.environ.get("AEJAX_QUICK", "") not in ("", "0")
SETTINGS = ["train.progress=false"]  # --set overrides for all three parts, e.g. "data.name=tfds:mnist"


def train(experiment):
    """Train (or reuse the finished run of) one experiment; returns the loaded run."""
    aejax.run(experiment, overrides=SETTINGS, quick=QUICK)
    return aejax.load_run(aejax.run_dir(experiment, overrides=SETTINGS, quick=QUICK))


def figure(run, name, caption):
    """One deliverable: the run's figure, then its caption."""
    display(Image(filename=str(run.figures[name])))
    display(Markdown(f"**{caption}**"))


def describe(run):
    """The run's key numbers as a table."""
    keys = ["params", "train_examples", "epochs_run", "best_epoch", "wall_s", "test/loss", "test/mse",
            "test/psnr", "test/psnr_noisy", "test/psnr_denoised"]
    return pd.Series({k: f"{run.summary[k]:.4g}" if isinstance(run.summary[k], float) else run.summary[k]
                      for k in keys if k in run.summary}, name=run.path.name, dtype=object).to_frame()


if QUICK:
    display(Markdown("**Quick mode (`AEJAX_QUICK=1`): smoke runs of 2 epochs on 512 images. Every figure "
                     "is shown, but the models are untrained: run without AEJAX_QUICK for the real results.**"))

# %% [markdown]
# ## Part 1: fully connected autoencoder
#
# > Implement a fully connected autoencoder according to the following specifications: Input layer:
# > 784 perceptrons [...] First hidden layer: 400 perceptrons; Second hidden layer: 200 perceptrons;
# > Third hidden layer ("bottleneck" layer): 100 perceptrons; Fourth hidden layer: 200 perceptrons;
# > Fifth hidden layer: 400 perceptrons; Output layer (reconstruction): 784 perceptrons. [...]
# > **Train your model using 150 epochs.**
#
# The choices the course leaves open (`experiments/mnist_dense.py`): ReLU hidden layers with biases,
# a linear 100-unit code (not clipped at 0), a sigmoid output (pixels are in [0, 1]), mean squared
# error, Adam (learning rate 10⁻³, Keras' form of it and Keras' glorot-uniform initial weights, as
# in the course's Keras code), batches of 256.

# %%
dense = train("mnist_dense")
print(dense.model)
describe(dense)

# %% [markdown]
# **Deliverable 1.1.** *Show a plot of the model loss versus the epochs for both the training and
# validation data. Include a legend, appropriate axes labels, and a title.*

# %%
s = dense.summary
figure(dense, "loss", f"Figure 1.1: Part 1, training and validation loss (MSE) per epoch over "
       f"{s['epochs_run']} epochs; lowest validation loss at epoch {s['best_epoch']}, test MSE {s['test/mse']:.4f}.")

# %% [markdown]
# **Deliverable 1.2.** *Show images of the first ten samples in the testing set.*

# %%
figure(dense, "test_originals", "Figure 1.2: Part 1, the first ten images of the test set (label under each).")

# %% [markdown]
# **Deliverable 1.3.** *Show images of the "bottleneck" layer representation of the first ten images
# in the testing set (reshape the images to be 10 x 10).*

# %%
figure(dense, "test_bottlenecks", "Figure 1.3: Part 1, the 100-unit bottleneck codes of the first ten "
       "test images, each reshaped to 10 x 10 (gray scale from each code's minimum to its maximum).")

# %% [markdown]
# **Deliverable 1.4.** *Show images of the reconstructed samples of the first ten images in the
# testing set.*

# %%
figure(dense, "test_reconstructions", "Figure 1.4: Part 1, the reconstructions of the first ten test images.")

# %% [markdown]
# The trained encoder and decoder are plain functions of numpy arrays. The test MSE recomputed
# here from `encode` / `decode` is the number in the run's summary:

# %%
x_test = dense.splits["test"].x                   # [N, 28, 28, 1] in [0, 1]
codes = dense.encode(x_test)                      # [N, 100]
recon = dense.decode(codes)                       # [N, 28, 28, 1]
print(f"codes {codes.shape}, reconstructions {recon.shape}; test MSE {np.mean((recon - x_test) ** 2):.6f} "
      f"(summary.json: {dense.summary['test/mse']:.6f})")

# %% [markdown]
# ## Part 2: convolutional autoencoder
#
# > Input layer that accepts a 28×28 grayscale image; First hidden layer: A convolutional layer with
# > 16 feature maps and a 3×3 filter size; Second hidden layer: A 2×2 maxpooling layer; Third hidden
# > layer: A convolutional layer with 8 feature maps and a 3×3 filter size; Fourth hidden layer
# > ("bottleneck" layer): A 2×2 maxpooling layer; Fifth hidden layer: A convolutional layer with 8
# > feature maps and a 3×3 filter size; Sixth hidden layer: A 2×2 upsampling layer; Seventh hidden
# > layer: A convolutional layer with 16 feature maps and a 3×3 filter size; Eighth hidden layer: A 2×2
# > upsampling layer; Output layer (reconstruction): A convolutional layer with a single feature map
# > and a 3×3 filter size. [...] **Train your model using 150 epochs.**
#
# Choices (`experiments/mnist_conv.py`): ReLU layers with biases and He-uniform initial weights,
# "same" padding, a sigmoid output, Adam (10⁻³), batches of 128, and **binary cross-entropy** as the
# loss: with mean squared error this network's sigmoid output often collapses to black in the first
# epochs and never recovers (its gradient vanishes there; cross-entropy's does not). The test MSE is
# reported as well.

# %%
conv = train("mnist_conv")
print(conv.model)
describe(conv)

# %% [markdown]
# **Deliverable 2.1.** *Show a plot of the model loss versus the epochs for both the training and
# validation data. Include a legend, appropriate axes labels, and a title.*

# %%
s = conv.summary
figure(conv, "loss", f"Figure 2.1: Part 2, training and validation loss (binary cross-entropy) per epoch "
       f"over {s['epochs_run']} epochs; lowest validation loss at epoch {s['best_epoch']}, test MSE "
       f"{s['test/mse']:.4f}.")

# %% [markdown]
# **Deliverable 2.2.** *Show images of the first ten samples in the testing set.*

# %%
figure(conv, "test_originals", "Figure 2.2: Part 2, the first ten images of the test set.")

# %% [markdown]
# **Deliverable 2.3.** *Show images of the "bottleneck" layer representation of the first ten images
# in the testing set (reshape the images to be 28×14).*
#
# The bottleneck is the second max-pooling layer's output, 7 × 7 × 8 = 392 values; each code is
# shown as its eight 7 × 7 feature maps tiled 4 rows × 2 columns, a 28 × 14 image.

# %%
figure(conv, "test_bottlenecks", "Figure 2.3: Part 2, the 7 x 7 x 8 bottleneck codes of the first ten "
       "test images, each shown as a 28 x 14 image (its 8 maps tiled 4 x 2).")

# %% [markdown]
# **Deliverable 2.4.** *Show images of the reconstructed samples of the first ten images in the
# testing set.*

# %%
figure(conv, "test_reconstructions", "Figure 2.4: Part 2, the reconstructions of the first ten test images.")

# %%
print("bottleneck of one test image:", conv.encode(conv.splits["test"].x[:1]).shape[1:])

# %% [markdown]
# ## Part 3: denoising autoencoder
#
# > The noisy data is created by generating 784 values, per sample, from a zero mean unit variance
# > Gaussian distribution, scaling them by 0.25 [...], and adding them to each point in the original
# > image. Each image is then clipped to stay in the valid pixel range. [...] Begin by selecting an
# > architecture (you may use your architecture from Part 1 or Part 2 or create a new architecture)
# > [...] train the model appropriately using the noisy data as inputs and the noise-free data as
# > the target labels.
#
# Architecture: Part 1's network and settings (`experiments/mnist_denoise.py`), trained on noisy
# inputs `clip(x + 0.25 · N(0, 1), 0, 1)` with the clean images as targets. Training draws fresh
# noise at every step; the validation and test images are corrupted once, so every epoch is scored
# on the same noisy images.

# %%
denoise = train("mnist_denoise")
describe(denoise)

# %% [markdown]
# **Deliverable 3.1.** *Show images of the first ten samples in the training set.*

# %%
figure(denoise, "train_clean", "Figure 3.1: Part 3, the first ten images of the training set.")

# %% [markdown]
# **Deliverable 3.2.** *Show images of the first ten samples in the training set after injecting
# Gaussian noise.*

# %%
figure(denoise, "train_noisy", "Figure 3.2: Part 3, the same ten training images with 0.25 x N(0, 1) "
       "noise added to every pixel, clipped to [0, 1].")

# %% [markdown]
# **Deliverable 3.3.** *Show a plot of the model loss versus the epochs for both the training and
# validation data of the DAE. Make sure to include a legend, appropriate axes labels, and a title.*

# %%
s = denoise.summary
figure(denoise, "loss", f"Figure 3.3: Part 3, training and validation loss (MSE of the output for a noisy "
       f"input against the clean image) per epoch over {s['epochs_run']} epochs; lowest validation loss at "
       f"epoch {s['best_epoch']}.")

# %% [markdown]
# **Deliverable 3.4.** *Show images of the first ten samples in the testing set.*

# %%
figure(denoise, "test_clean", "Figure 3.4: Part 3, the first ten images of the test set.")

# %% [markdown]
# **Deliverable 3.5.** *Show images of the first ten samples in the testing set after adding noise.*

# %%
figure(denoise, "test_noisy", "Figure 3.5: Part 3, the first ten test images with 0.25 x N(0, 1) noise, "
       "clipped to [0, 1]: the denoising autoencoder's input.")

# %% [markdown]
# **Deliverable 3.6.** *Show images of the first ten samples in the testing set after "denoising".*

# %%
figure(denoise, "test_denoised", f"Figure 3.6: Part 3, the first ten test images after denoising. Over the "
       f"whole test set the PSNR against the clean images goes from {s['test/psnr_noisy']:.1f} dB (noisy "
       f"input) to {s['test/psnr_denoised']:.1f} dB (denoised output).")

# %% [markdown]
# ## The three models side by side

# %%
table = pd.concat([describe(r).rename(columns={r.path.name: part}) for part, r in
                   [("Part 1: dense", dense), ("Part 2: conv", conv), ("Part 3: denoising", denoise)]], axis=1)
table
