"""Anomaly detection by reconstruction error: train on normal examples only, score the test split.

``anomaly.classes`` lists the labels treated as anomalies: they are removed
from the training and validation splits (:func:`keep_normal`, a
``prepare_data`` hook) and kept in the test split, where every example is
scored by its reconstruction error (MSE per example of ``model(x)`` against the
clean image; for VAEs the deterministic reconstruction at the posterior mean).
The ROC AUC of that score for "is an anomaly" is the headline number: 0.5 is
chance, 1 a perfect ranking. On MNIST the anomaly is one held-out digit; on
``seismic_synth`` class 1 (salt) -- train on salt-free seismic.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from aejax.errors import UserError
from aejax.run.rundir import atomic_write, save_npz


def anomaly_section(classes=(0,)) -> dict:
    """The ``anomaly`` config section."""
    return {"classes": list(classes)}


def _classes(cfg) -> list[int]:
    classes = (cfg.get("anomaly") or {}).get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, int) for c in classes):
        raise UserError(f"anomaly.classes={json.dumps(classes)}: expected a non-empty list of integer labels")
    return classes


def keep_normal(ds, cfg):
    """``prepare_data`` hook: drop the anomaly classes from train and validation (test unchanged)."""
    import dataclasses
    classes = _classes(cfg)
    if ds.train.y is None or ds.test.y is None:
        raise UserError(f"data.name={ds.name!r}: anomaly detection needs labelled data")
    present = set(np.unique(ds.test.y).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise UserError(f"anomaly.classes={classes}: label(s) {missing} do not occur in {ds.name!r} "
                        f"(labels: {sorted(present)})")
    normal = lambda s: s.take(np.flatnonzero(~np.isin(s.y, classes)))  # noqa: E731
    train, val = normal(ds.train), normal(ds.val)
    if len(train) == 0 or len(val) == 0:
        raise UserError(f"anomaly.classes={classes}: no normal examples left to train on")
    return dataclasses.replace(ds, train=train, val=val)


def roc(is_anomaly: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(false positive rate, true positive rate, area under the ROC curve)."""
    from sklearn.metrics import roc_auc_score, roc_curve
    fpr, tpr, _ = roc_curve(is_anomaly, score)
    return fpr, tpr, float(roc_auc_score(is_anomaly, score))


def anomaly_after_training(*, cfg, workdir, trainer, params, data, arrays, figures: bool = True, **_) -> dict:
    """Score the test split; write ``analysis/anomaly.npz`` / ``anomaly.json`` and the figures.

    Summary entries: ``test/roc_auc``, ``test/score_normal`` and
    ``test/score_anomaly`` (mean reconstruction error of each group),
    ``test/anomaly_fraction``.
    """
    classes = _classes(cfg)
    x = data.test.x
    recon = np.asarray(trainer.predict(params, arrays["test_in"]))
    score = np.square(recon - x).reshape(len(x), -1).mean(axis=1)          # [N]
    is_anom = np.isin(data.test.y, classes)
    if is_anom.all() or not is_anom.any():
        raise UserError(f"anomaly.classes={classes}: the test split needs both normal and anomalous examples")
    fpr, tpr, auc = roc(is_anom, score)
    out_dir = Path(workdir) / "analysis"
    out_dir.mkdir(exist_ok=True)
    save_npz(out_dir / "anomaly.npz", score=score.astype(np.float32), is_anomaly=is_anom,
             labels=np.asarray(data.test.y), fpr=fpr, tpr=tpr)
    numbers = {"test/roc_auc": auc, "test/score_normal": float(score[~is_anom].mean()),
               "test/score_anomaly": float(score[is_anom].mean()),
               "test/anomaly_fraction": float(is_anom.mean()), "anomaly_classes": classes}
    atomic_write(out_dir / "anomaly.json", json.dumps(numbers, indent=2) + "\n")
    if figures:
        anomaly_figures(workdir)
    return {k: v for k, v in numbers.items() if not isinstance(v, list)}


def anomaly_figures(run_dir) -> list[Path]:
    """Score histogram and ROC curve from ``analysis/anomaly.npz``."""
    from aejax.projects.zoo import figures as F
    run_dir = Path(run_dir)
    a = np.load(run_dir / "analysis" / "anomaly.npz")
    nums = json.loads((run_dir / "analysis" / "anomaly.json").read_text())
    cfg = json.loads((run_dir / "config.json").read_text())
    what = (f"{cfg['model']['name']} AE on {cfg['data']['name']}, anomalies = class "
            f"{', '.join(map(str, nums['anomaly_classes']))} (unseen in training), seed {cfg['seed']}")
    score, anom = a["score"], a["is_anomaly"]
    return [F.score_histogram(score[~anom], score[anom], run_dir / "figures" / "anomaly_scores.png",
                              title=f"Reconstruction error of test examples; ROC AUC "
                                    f"{nums['test/roc_auc']:.3f}; {what}"),
            F.roc_curves({"reconstruction error": (a["fpr"], a["tpr"], nums["test/roc_auc"])},
                         run_dir / "figures" / "anomaly_roc.png", title=f"ROC; {what}")]


def anomaly_after_sweep(*, sweep_dir, configs, rows, group: str, title: str) -> None:
    """sweep.md: ROC AUC mean ± std over seeds per ``group`` value; AUC figure; pooled histograms."""
    from aejax.projects.zoo import figures as F
    from aejax.projects.zoo.zoo import group_stats, seed_table
    from aejax import config as config_lib
    sweep_dir = Path(sweep_dir)
    for r in rows:  # a key the sweep does not vary: take it from the run's config
        if group not in r and (sweep_dir / r["run"] / "config.json").exists():
            r[group] = config_lib.get(json.loads((sweep_dir / r["run"] / "config.json").read_text()), group)
    metrics = [("test/roc_auc", "ROC AUC"), ("test/score_normal", "score normal"),
               ("test/score_anomaly", "score anomalous"), ("test/anomaly_fraction", "anomaly fraction"),
               ("test/mse", "test MSE (all)"), ("epochs_run", "epochs")]
    notes = ["ROC AUC of the reconstruction error (MSE per example) for 'is an anomaly' on the test "
             "split; the anomaly classes are never seen in training. Mean ± std over seeds (n runs)."]
    atomic_write(sweep_dir / "sweep.md", seed_table(rows, group, metrics, title, notes))
    stats = group_stats(rows, group, "test/roc_auc")
    if not stats:
        return
    F.bar_comparison(stats, sweep_dir / "figures" / "anomaly_auc.png", title=title + ": ROC AUC over seeds",
                     ylabel="ROC AUC (reconstruction error)", baseline=(0.5, "chance"),
                     annotations={g: f"{m:.3f}±{s:.3f}" for g, (m, s, _) in stats.items()})
    normal, anomalous = [], []
    for r in rows:
        path = sweep_dir / r["run"] / "analysis" / "anomaly.npz"
        if path.exists():
            a = np.load(path)
            normal.append(a["score"][~a["is_anomaly"]])
            anomalous.append(a["score"][a["is_anomaly"]])
    if normal:
        F.score_histogram(np.concatenate(normal), np.concatenate(anomalous),
                          sweep_dir / "figures" / "anomaly_scores_pooled.png",
                          title=f"{title}: reconstruction errors pooled over all {len(normal)} runs")
