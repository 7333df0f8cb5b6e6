"""What a column run adds to the standard pipeline: the hooks of ``experiments/seismic_columns.py``.

- :func:`resolve`: checks the experiment's own keys (``classifier.*``, ``analysis.enabled``)
  and drops the seismic_synth pool size when another source is chosen;
- :func:`prepare_data`: images -> columns, split by image, centred (:mod:`.columns`);
- :func:`after_training`: PCA at the same m, classifier accuracies, rebuilt images
  (:func:`.evaluate.run_outputs`) and the run figures (:func:`.figures.run_figures`);
- :func:`after_sweep`: the recommended m, the AE vs PCA table and the sweep figures
  (:func:`.recommend.summarize_sweep`).
"""
from __future__ import annotations

from typing import Mapping

from aejax.errors import UserError

#: ``classifier.features``: the classifier's features (:mod:`.classifier`), or ``auto`` by source.
FEATURES = ("auto", "seismic", "pixels")
#: ``data.options`` of seismic_synth: the experiment's pool of images, and its --quick one.
SYNTH_OPTIONS = {"n": 2000}
SYNTH_QUICK_OPTIONS = {"n": 80}


def resolve(cfg: Mapping) -> dict:
    """Check the experiment's keys; drop the seismic_synth pool size for other sources."""
    cfg = dict(cfg)
    if cfg["data"]["name"] != "seismic_synth" and cfg["data"]["options"] in (SYNTH_OPTIONS, SYNTH_QUICK_OPTIONS):
        cfg["data"] = dict(cfg["data"], options={})
    if cfg["classifier"]["features"] not in FEATURES:
        raise UserError(f"classifier.features={cfg['classifier']['features']!r}: expected one of {list(FEATURES)}")
    if cfg["analysis"]["enabled"]:
        raise UserError("analysis.enabled=true: the generic latent analysis (aejax analyze) rebuilds a run "
                        "from its source images, not from the columns this experiment trains on; leave it "
                        "false (the run's own analysis is analysis/columns.json)")
    if not cfg["classifier"]["tolerance_pp"] >= 0:
        raise UserError(f"classifier.tolerance_pp={cfg['classifier']['tolerance_pp']!r}: expected a number >= 0")
    return cfg


def prepare_data(ds, cfg):
    """Images -> columns, split by image, centred on the mean training column (``columns.center``)."""
    from aejax.projects.columns.columns import to_columns
    return to_columns(ds, center=cfg["columns"]["center"])


def after_training(*, cfg, workdir, trainer, params, data, arrays) -> dict:
    """PCA at the same m, classifier accuracies, rebuilt images and the run figures."""
    import jax
    import numpy as np

    from aejax.projects.columns import evaluate, figures
    # The plain autoencoder's objective draws no random numbers: any key will do.
    train = trainer.evaluate(params, arrays["train"], arrays["train"], jax.random.key(0))
    out = evaluate.run_outputs(
        cfg=cfg, workdir=workdir, ds=data, source=evaluate.load_source(cfg),
        test_recon=np.asarray(trainer.predict(params, arrays["test"])),
        test_codes=np.asarray(trainer.predict(params, arrays["test"], method="encode")),
        train_mse=float(train["mse"]))
    figures.run_figures(workdir)
    return out


def after_sweep(*, sweep_dir, configs, rows) -> None:
    """Recommended m, AE vs PCA table and the sweep figures (:mod:`.recommend`)."""
    from aejax.projects.columns import recommend
    recommend.summarize_sweep(sweep_dir, rows)
