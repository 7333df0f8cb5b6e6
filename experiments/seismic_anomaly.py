"""Anomaly detection on seismic images: train on salt-free patches, flag salt by reconstruction error.

    aejax run seismic_anomaly                      # dense AE on seismic_synth (1,500 patches)
    aejax sweep seismic_anomaly                    # 5 seeds: ROC AUC mean ± std

``seismic_synth`` patches (101x101, see aejax/data/seismic.py) with label 1
(salt present) are the anomalies: the autoencoder (``zoo.type``, default
dense 10201-256-32-256-10201) sees only salt-free patches in training. Test
patches are scored by reconstruction error; ``test/roc_auc`` is reported with
the score histogram. Salt interiors are nearly reflection-free (smooth mid
grey), which an autoencoder of layered sediments reconstructs *easily*, so the
error can be lower for salt than for busy sediment: an AUC below 0.5 means
exactly that, and is reported as measured (it is below 0.5 here:
benchmarks/README.md#seismic_anomaly and benchmarks/ZOO_RESULTS.md).

Code: :mod:`aejax.projects.zoo.anomaly`.
"""
from aejax.projects.zoo import anomaly, zoo
from aejax.config import base_config


def get_config() -> dict:
    cfg = base_config()
    cfg["data"]["name"] = "seismic_synth"
    cfg["data"]["options"] = {"n": 1500}
    cfg["zoo"] = zoo.zoo_section("dense", latent_dim=32)
    cfg["anomaly"] = anomaly.anomaly_section([1])
    cfg["train"].update(epochs=40, batch_size=64)
    return zoo.apply_type(cfg)


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    cfg["data"]["options"] = {"n": 300}
    return quick_config(cfg, limit=None, analysis=False, batch_size=32, progress=False)


resolve = zoo.resolver(get_config)    # zoo.type + zoo.latent_dim (or a --set model.latent_dim) -> model
prepare_data = anomaly.keep_normal
after_training = anomaly.anomaly_after_training


def sweep(quick: bool = False):
    from aejax import hyper
    return hyper.sweep("seed", [0, 1] if quick else [0, 1, 2, 3, 4])


def after_sweep(*, sweep_dir, configs, rows) -> None:
    anomaly.anomaly_after_sweep(sweep_dir=sweep_dir, configs=configs, rows=rows, group="zoo.type",
                                title="Seismic: salt as the anomaly, trained on salt-free patches")
