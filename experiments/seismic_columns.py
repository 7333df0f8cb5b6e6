"""Seismic columns: a 101 -> m -> 101 auto-associative network on traces, and the bottleneck finder.

    aejax run seismic_columns                       # m = 20 (the seed's), seismic_synth
    aejax run seismic_columns --set model.latent_dim=4
    aejax run seismic_columns --set data.name=mnist5k   # any image source: 28 columns of 28 samples
    aejax sweep seismic_columns                     # m in 1 .. 101 x 3 seeds: the bottleneck finder

The TGS Salt notebook of ``shared/seeds/000_*.txt``: images cut into 101x1
columns, Dense(m, ReLU) -> Dense(101, linear), MSE, Adam (1e-3; batch 256),
early stopping on the validation loss keeping the best checkpoint (patience
20), up to 300 epochs. Data: ``seismic_synth``, 2,000 images split by IMAGE
before cutting into columns (:mod:`aejax.projects.columns.columns`): 900 training
and 100 validation images (the seed's 90/10 split; 90,900 / 10,100 columns)
and 1,000 test images never seen by the network. The seed used 500 images
(450 / 50); a 50-image validation set made early stopping noisy, and 1,000
test images keep the classifier's accuracy steady enough for the
recommendation to agree across seeds.

Centring (``columns.center``, default true): the columns are shifted by the
mean training column. Same function class, same MSE; only the optimisation
changes: raw columns leave dead ReLU units and errors well above PCA's,
centred ones train to within a fraction of a percent of PCA
(``benchmarks/seismic_centering.py``).

Figures per run: ``columns_sanity.png`` (the seed's sanity check: an image
beside the image rebuilt from its columns), ``columns_autoassociation.png``
(original, column-rebuilt, auto-associated and PCA images), ``loss.png`` and
``loss_vs_pca.png`` (loss curves against the PCA error at the same m).

The sweep trains every (m, seed) model in one compiled program (``GROUP_KEYS``);
each run directory holds what ``aejax run seismic_columns --set
model.latent_dim=M --set seed=S`` gives (equal to float tolerance, tested).
``after_sweep`` adds the PCA comparison, the classifier curve and the
recommended m to ``sweep.md`` / ``report.html`` and draws
``figures/error_vs_m.png``, ``classifier_vs_m.png`` and ``reconstruction_grid.png``.

Code: :mod:`aejax.projects.columns` (hooks in ``pipeline``). Expected: the
recommended m is near the seed's 20, and the centred autoencoder ends within a
fraction of a percent of PCA's error; measured: benchmarks/README.md#seismic_columns.
"""
from __future__ import annotations

from aejax.config import base_config
from aejax.projects.columns import pipeline

MS = [1, 2, 4, 8, 12, 16, 20, 32, 48, 64, 101]
SEEDS = 3
#: A sweep trains every (m, seed) in one compiled program.
GROUP_KEYS = ("seed", "model.latent_dim")


def get_config() -> dict:
    """The seed's network on seismic_synth columns."""
    cfg = base_config()
    cfg["data"].update(name="seismic_synth", val_fraction=0.05, test_fraction=0.5,
                       options=dict(pipeline.SYNTH_OPTIONS))
    cfg["model"] = {"name": "dense", "hidden": [], "latent_dim": 20, "activation": "relu",
                    "latent_activation": "relu", "output_activation": "linear"}
    cfg["train"].update(epochs=300, batch_size=256, learning_rate=1e-3, patience=20)
    cfg["analysis"]["enabled"] = False   # the generic latent analysis reloads images, not columns
    cfg["columns"] = {"center": True}
    cfg["classifier"] = {"enabled": True, "features": "auto", "tolerance_pp": 2.0}  # pipeline.FEATURES
    cfg["figures"]["examples"] = 8
    return cfg


def quick(cfg: dict) -> dict:
    """Smoke run: 80 seismic images (other sources: at most 300 images per split), 3 epochs."""
    cfg = dict(cfg, quick=True)
    cfg["data"] = dict(cfg["data"], options=dict(pipeline.SYNTH_QUICK_OPTIONS), limit=300)
    cfg["train"] = dict(cfg["train"], epochs=3, patience=0, batch_size=128, progress=False)
    return cfg


resolve = pipeline.resolve                 # checks; no seismic_synth pool size for other sources
prepare_data = pipeline.prepare_data       # images -> columns, split by image, centred
after_training = pipeline.after_training   # PCA at the same m, classifier accuracies, run figures
after_sweep = pipeline.after_sweep         # recommended m, AE vs PCA table, sweep figures


def sweep(quick: bool = False):
    """m over the grid x seeds (2 values x 2 seeds when quick)."""
    from aejax import hyper
    ms, seeds = ([2, 8], range(2)) if quick else (MS, range(SEEDS))
    return hyper.product([hyper.sweep("model.latent_dim", ms), hyper.sweep("seed", seeds)])
