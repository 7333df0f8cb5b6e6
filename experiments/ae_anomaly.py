"""Anomaly detection on MNIST digits: train without one digit, score by reconstruction error.

    aejax run ae_anomaly                                  # digit 0 held out, dense AE, mnist5k
    aejax run ae_anomaly --set anomaly.classes=[7] --set zoo.type=conv
    aejax sweep ae_anomaly                                # held-out digit 0..9 x 3 seeds (30 runs)

The autoencoder (``zoo.type``, default the undercomplete dense 784-256-32-256-784,
see aejax/projects/zoo/zoo.py) trains 30 epochs on the nine other digits; every test
digit is scored by its reconstruction error and ``test/roc_auc`` says how well
that score separates the held-out digit. Figures: ``anomaly_scores.png``
(score histograms, normal vs anomalous), ``anomaly_roc.png``; the sweep adds
``anomaly_auc.png`` (AUC per held-out digit, mean ± std over seeds) and sweep.md.
Expected: AUC well above 0.5 for most digits, lowest for digits that are easy
to reconstruct (1, which has little ink, can score below 0.5). Measured:
benchmarks/README.md#ae_anomaly; per digit: benchmarks/ZOO_RESULTS.md.

Code: :mod:`aejax.projects.zoo.anomaly`.
"""
from aejax.projects.zoo import anomaly, zoo
from aejax.config import base_config


def get_config() -> dict:
    cfg = base_config()
    cfg["zoo"] = zoo.zoo_section("dense", latent_dim=32)
    cfg["anomaly"] = anomaly.anomaly_section([0])
    cfg["train"].update(epochs=30, batch_size=128)
    return zoo.apply_type(cfg)


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    return quick_config(cfg, analysis=False, progress=False)


resolve = zoo.resolver(get_config)    # zoo.type + zoo.latent_dim (or a --set model.latent_dim) -> model
prepare_data = anomaly.keep_normal
after_training = anomaly.anomaly_after_training


def sweep(quick: bool = False):
    from aejax import hyper
    digits = [0, 1] if quick else list(range(10))
    return hyper.product([hyper.sweep("anomaly.classes", [[d] for d in digits]),
                          hyper.sweep("seed", [0] if quick else [0, 1, 2])])


def after_sweep(*, sweep_dir, configs, rows) -> None:
    anomaly.anomaly_after_sweep(sweep_dir=sweep_dir, configs=configs, rows=rows, group="anomaly.classes",
                                title="MNIST, one digit held out")
