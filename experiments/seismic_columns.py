"""Seismic columns: a 101 -> m -> 101 auto-associative network on traces, and the bottleneck finder.

    aejax run seismic_columns                       # m = 20 (the seed's), seismic_synth
    aejax run seismic_columns --set model.latent_dim=4
    aejax run seismic_columns --set data.name=mnist5k   # any image source: 28 columns of 28 samples
    aejax sweep seismic_columns                     # m in 1 .. 101 x 3 seeds: the bottleneck finder

The TGS Salt notebook of ``shared/seeds/000_*.txt``: images cut into 101x1
columns, Dense(m, ReLU) -> Dense(101, linear), MSE, Adam (1e-3; batch 256),
early stopping on the validation loss keeping the best checkpoint (patience
20), up to 300 epochs. Data: ``seismic_synth``, 2,000 images split by IMAGE
before cutting into columns (:mod:`aejax.bottleneck.columns`): 900 training
and 100 validation images (the seed's 90/10 split; 90,900 / 10,100 columns)
and 1,000 test images never seen by the network. The seed used 500 images
(450 / 50): with a 50-image validation set, early stopping picked checkpoints
up to 2.5 % above PCA's error (validation noise); with 100 validation images
every m <= 20 ends within 0.8 %. 1,000 test images keep the classifier's
accuracy steady enough for the recommendation to agree across seeds.

Centring (``columns.center``, default true): the columns are shifted by the
mean training column. Same function class, same MSE; only the optimisation
changes. Measured with ``benchmarks/seismic_centering.py`` (m <= 20, seeds
0-2, these settings): on raw columns the ReLU code ends with 0.7-3.7 dead
units and 1.05-1.86 x the PCA test MSE; centred, no dead unit and 1.0013 -
1.0028 x PCA (mean over seeds; worst run 1.0079).

Figures per run: ``columns_sanity.png`` (the seed's sanity check: an image
beside the image rebuilt from its columns), ``columns_autoassociation.png``
(original, column-rebuilt, auto-associated and PCA images), ``loss.png`` and
``loss_vs_pca.png`` (loss curves against the PCA error at the same m).

The sweep (``sweep()``) trains every (m, seed) model in one compiled program
(:mod:`aejax.bottleneck.group`); each run directory holds what ``aejax run
seismic_columns --set model.latent_dim=M --set seed=S`` gives (equal to float
tolerance, tested). ``after_sweep`` adds the PCA comparison, the classifier
curve and the recommended m to ``sweep.md`` / ``report.html``
(:mod:`aejax.bottleneck.recommend`) and draws ``figures/error_vs_m.png``,
``classifier_vs_m.png`` and ``reconstruction_grid.png``.

Expected (``benchmarks/seismic_sweep.py``: the default sweep on this 2-core
CPU, 351 s at a load average of ~5 from other jobs): recommended m = 20
(seed 0: 16, seed 1: 20, seed 2: 20), the salt classifier 91.4 % on original
test images (majority class 55 %), 90.9 % on m = 20 reconstructions, 88.8 %
at m = 16, 59.7 % at m = 1 (means over seeds); test MSE 0.0107 at m = 20
(PCA 0.0107).
"""
from __future__ import annotations

from aejax.config import base_config
from aejax.errors import UserError

MS = [1, 2, 4, 8, 12, 16, 20, 32, 48, 64, 101]
SEEDS = 3
FEATURES = ("auto", "seismic", "pixels")
SYNTH_DEFAULT_OPTIONS = {"n": 2000}


def get_config() -> dict:
    """The seed's network on seismic_synth columns."""
    cfg = base_config()
    cfg["data"].update(name="seismic_synth", val_fraction=0.05, test_fraction=0.5,
                       options=dict(SYNTH_DEFAULT_OPTIONS))
    cfg["model"] = {"name": "dense", "hidden": [], "latent_dim": 20, "activation": "relu",
                    "latent_activation": "relu", "output_activation": "linear"}
    cfg["train"].update(epochs=300, batch_size=256, learning_rate=1e-3, patience=20)
    cfg["analysis"]["enabled"] = False   # the generic latent analysis reloads images, not columns
    cfg["columns"] = {"center": True}
    cfg["classifier"] = {"enabled": True, "features": "auto", "tolerance_pp": 2.0}
    cfg["figures"]["examples"] = 8
    return cfg


def quick(cfg: dict) -> dict:
    """Smoke run: 80 seismic images (other sources: at most 300 images per split), 3 epochs."""
    cfg = dict(cfg, quick=True)
    cfg["data"] = dict(cfg["data"], options={"n": 80}, limit=300)
    cfg["train"] = dict(cfg["train"], epochs=3, patience=0, batch_size=128, progress=False)
    return cfg


def resolve(cfg: dict) -> dict:
    """Check this experiment's keys; drop the seismic_synth pool size for other sources."""
    if cfg["data"]["name"] != "seismic_synth" and cfg["data"]["options"] in (SYNTH_DEFAULT_OPTIONS, {"n": 80}):
        cfg["data"]["options"] = {}
    if cfg["classifier"]["features"] not in FEATURES:
        raise UserError(f"classifier.features={cfg['classifier']['features']!r}: expected one of {list(FEATURES)}")
    if cfg["analysis"]["enabled"]:
        raise UserError("analysis.enabled=true: the generic latent analysis (aejax analyze) rebuilds a run "
                        "from its source images, not from the columns this experiment trains on; leave it "
                        "false (the run's own analysis is analysis/columns.json)")
    if not cfg["classifier"]["tolerance_pp"] >= 0:
        raise UserError(f"classifier.tolerance_pp={cfg['classifier']['tolerance_pp']!r}: expected a number >= 0")
    return cfg


def sweep(quick: bool = False):
    """m over the grid x seeds (2 values x 2 seeds when quick)."""
    from aejax import hyper
    ms, seeds = ([2, 8], range(2)) if quick else (MS, range(SEEDS))
    return hyper.product([hyper.sweep("model.latent_dim", ms), hyper.sweep("seed", seeds)])


def prepare_data(ds, cfg):
    """Images -> columns, split by image, centred (aejax.bottleneck.columns)."""
    from aejax.bottleneck.columns import to_columns
    return to_columns(ds, center=cfg["columns"]["center"])


def after_training(*, cfg, workdir, trainer, params, data, arrays):
    """PCA at the same m, classifier accuracies, rebuilt images and the run figures."""
    import jax
    import numpy as np

    from aejax.bottleneck import evaluate, figures
    # The plain autoencoder's objective draws no random numbers: any key will do.
    train = trainer.evaluate(params, arrays["train"], arrays["train"], jax.random.key(0))
    out = evaluate.run_outputs(
        cfg=cfg, workdir=workdir, ds=data, source=evaluate.load_source(cfg),
        test_recon=np.asarray(trainer.predict(params, arrays["test"])),
        test_codes=np.asarray(trainer.predict(params, arrays["test"], method="encode")),
        train_mse=float(train["mse"]))
    figures.run_figures(workdir)
    return out


def run_sweep_group(configs, *, sweep_dir, overrides, quick):
    """Train all unfinished (m, seed) runs together (aejax.bottleneck.group)."""
    import sys

    from aejax.bottleneck import group
    group.run_sweep(sys.modules[__name__], configs, sweep_dir=sweep_dir, overrides=overrides, quick=quick)


def after_sweep(*, sweep_dir, configs, rows):
    """Recommended m, AE vs PCA table and the sweep figures (aejax.bottleneck.recommend)."""
    from aejax.bottleneck import recommend
    recommend.summarize_sweep(sweep_dir, rows)
