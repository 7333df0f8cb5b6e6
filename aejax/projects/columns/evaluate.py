"""Per-run numbers of a column autoencoder (PCA at the same m, classifier accuracies).

:func:`run_outputs` is what both ``aejax run seismic_columns`` (through the
experiment's ``after_training`` hook) and the grouped sweep trainer call once
a model is trained. Given its test reconstructions and codes and its MSE on
the training columns it adds to ``summary.json``:

- ``test/pca_mse``, ``test/pca_psnr``: rank-m PCA fitted on the training
  columns (:func:`aejax.analysis.spectrum.pca_reconstruction_mse`), scored on
  the test columns like ``test/mse`` / ``test/psnr`` (mean over columns of the
  per-column PSNR, data range 1); ``test/mse_over_pca`` = test/mse / test/pca_mse
  (null where PCA is exact, m = H);
- ``train/mse``, ``train/pca_mse``: the same on the training columns (the
  best checkpoint). A Dense(m) -> Dense(H, linear) network's outputs lie in an
  m-dimensional affine subspace, and PCA's is the best such subspace for the
  training columns (Eckart-Young), so ``train/mse >= train/pca_mse`` always:
  the autoencoder can at best tie PCA; how close it gets measures its training;
- ``code/dead_units``: code units that are 0 for every test column (dead ReLUs);
- ``columns/rebuild_max_abs_error``: max |image rebuilt from its (centred)
  columns - original image| (float32 rounding of the centring, ~1e-7; the
  uncentred round trip is exact, tests/data/test_columns.py);
- classifier accuracies on the test images (see :mod:`.classifier`):
  ``test/clf_acc_original`` (original images), ``test/clf_acc_columns``
  (rebuilt from the centred training columns: equal up to float rounding),
  ``test/clf_acc_ae`` (auto-associated images) and ``test/clf_acc_pca``
  (rank-m PCA images), ``test/majority_class`` (the accuracy of always
  answering the commonest label), ``clf/kind`` and ``clf/train_acc``; all absent
  when the source has no labels (``clf/skipped`` says why).

It also writes ``analysis/columns.npz`` (``figures.examples`` test images,
classes in turn, see :func:`example_indices`: ``original``, ``from_columns``,
``autoencoder``, ``pca``, ``labels``, ``indices``)
and ``analysis/columns.json`` (the numbers above and ``test/mse``), which
the figures read.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from aejax.analysis.spectrum import pca_baseline, pca_reconstruction_mse
from aejax.projects.columns import classifier as clf_lib
from aejax.projects.columns.columns import to_images
from aejax.run.rundir import atomic_write, save_npz


def per_column_psnr(recon: np.ndarray, target: np.ndarray) -> float:
    """Mean over columns of 10 log10(1 / MSE_column) (the ``test/psnr`` convention)."""
    err = np.mean((np.asarray(recon, np.float64) - target) ** 2, axis=1)  # [N]
    return float(np.mean(10 * np.log10(1.0 / np.maximum(err, 1e-12))))


class PCAFit:
    """PCA of training columns fitted once (all components), reused for every k.

    ``test_mse[k]`` / ``train_mse[k]`` (k = 0 .. P) come from
    :func:`aejax.analysis.spectrum.pca_reconstruction_mse`, one call each.
    """

    def __init__(self, x_train: np.ndarray, x_test: np.ndarray):
        fit = pca_baseline(x_train)
        self.mean = fit["mean"].astype(np.float32)                     # [P]
        self.components = fit["components"].astype(np.float32)         # [P, min(N, P)]
        ks = list(range(self.components.shape[1] + 1))
        self.test_mse = pca_reconstruction_mse(x_train, x_test, ks)
        self.train_mse = pca_reconstruction_mse(x_train, x_train, ks)

    def reconstruct(self, x: np.ndarray, k: int) -> np.ndarray:
        """Rank-k reconstruction ``mean + V_k V_k^T (x - mean)`` of ``x`` [M, P] (float32)."""
        v = self.components[:, :max(int(k), 0)]                        # [P, k]
        return self.mean + ((np.asarray(x, np.float32) - self.mean) @ v) @ v.T


def example_indices(labels, n: int, k: int) -> np.ndarray:
    """Which test images the figures show: classes in turn (salt, no salt, salt, ...,
    or one digit of each kind), each class's first images in test order; the first
    ``k`` images when there are no labels. -> int [min(k, n)]."""
    if labels is None:
        return np.arange(min(k, n))
    labels = np.asarray(labels)
    classes = sorted(np.unique(labels), key=lambda c: (-int(c == 1), int(np.argmax(labels == c))))
    queues = [list(np.flatnonzero(labels == c)) for c in classes]
    picks: list = []
    while len(picks) < min(k, n):
        for q in queues:
            if q and len(picks) < k:
                picks.append(q.pop(0))
    return np.array(picks, dtype=np.int64)


def load_source(cfg: Mapping):
    """The image dataset a column run was made from (same source, seed and split)."""
    from aejax import data as data_lib
    d = cfg["data"]
    return data_lib.load(d["name"], seed=cfg["seed"], val_fraction=d["val_fraction"],
                         test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])


def fit_classifier(source, cfg: Mapping):
    """(classifier or None, info dict): fitted on the ORIGINAL training images of ``source``."""
    labels = None if source.train.y is None else np.asarray(source.train.y)
    reason = clf_lib.usable_labels(labels)
    if reason is not None or not cfg.get("classifier", {}).get("enabled", True):
        return None, {"clf/skipped": reason or "classifier.enabled=false"}
    images = source.train.x                                     # [N, H, W, 1]
    kind = cfg.get("classifier", {}).get("features", "auto")
    if kind == "auto":
        kind = clf_lib.default_kind(source.name, images.shape[1:])
    model = clf_lib.ImageClassifier(kind=kind).fit(images, labels)
    return model, {"clf/kind": kind, "clf/train_acc": model.accuracy(images, labels)}


def seed_cache(cache: dict, cfg: Mapping, ds, source) -> dict:
    """What every run on the same data shares: PCA fit, classifier, original-image scores.

    ``cache[cfg['seed']]`` is made once and returned after; the grouped sweep
    fills it for every seed before its writer threads start.
    """
    key = cfg.get("seed")
    if key in cache:
        return cache[key]
    c = {"pca": PCAFit(ds.train.x, ds.test.x)}
    original = source.test.x
    from_columns = to_images(ds.test.x, ds.meta)
    labels = None if source.test.y is None else np.asarray(source.test.y)
    model, info = fit_classifier(source, cfg)
    c["info"] = dict(info, **{"columns/rebuild_max_abs_error": float(np.max(np.abs(from_columns - original)))})
    c["model"] = model if model is not None and clf_lib.usable_labels(labels) is None else None
    c["labels"], c["original"], c["from_columns"] = labels, original, from_columns
    if c["model"] is not None:
        c["info"].update({
            "test/clf_acc_original": model.accuracy(original, labels),
            "test/clf_acc_columns": model.accuracy(from_columns, labels),
            "test/majority_class": float(np.max(np.unique(labels, return_counts=True)[1]) / len(labels))})
    cache[key] = c
    return c


def run_outputs(*, cfg: Mapping, workdir: Path, ds, source, test_recon: np.ndarray,
                test_codes: np.ndarray, train_mse: float, classifier_cache: dict | None = None) -> dict:
    """Summary additions (module docstring) and ``analysis/columns.npz``.

    ``ds`` is the column dataset the model trained on, ``source`` the image
    dataset it was made from (:func:`load_source`). ``test_recon`` /
    ``test_recon``: the model's output for every test column [N * W, H]
    (centred scale, like ``ds``); ``test_codes`` [N * W, m]; ``train_mse``:
    the model's MSE on the training columns.
    ``classifier_cache`` (a dict) lets runs on the same data share the PCA fit,
    the fitted classifier and its scores on the originals; it is keyed by the seed.
    """
    m = int(np.asarray(test_codes).reshape(len(test_codes), -1).shape[1])
    k = min(m, ds.train.x.shape[1])
    xte = ds.test.x
    shared = seed_cache(classifier_cache if classifier_cache is not None else {}, cfg, ds, source)
    pca_test = shared["pca"].reconstruct(xte, k)
    test_mse = float(np.mean((np.asarray(test_recon, np.float64) - xte) ** 2))
    out = {
        "test/pca_mse": float(shared["pca"].test_mse[k]),
        "test/pca_psnr": per_column_psnr(pca_test, xte),
        "train/mse": float(train_mse),
        "train/pca_mse": float(shared["pca"].train_mse[k]),
        "code/units": m,
        "code/dead_units": int(np.sum(np.all(np.asarray(test_codes).reshape(len(test_codes), -1) <= 0,
                                             axis=0))),
    }
    # At m = H PCA is exact (error ~1e-14, float round-off): no meaningful ratio.
    out["test/mse_over_pca"] = test_mse / out["test/pca_mse"] if out["test/pca_mse"] > 1e-10 else None
    out.update(shared["info"])

    # Images: original (the source's test split), rebuilt from the columns the
    # network saw (centring undone), auto-associated, PCA at the same m.
    meta = ds.meta
    original, from_columns, labels = shared["original"], shared["from_columns"], shared["labels"]
    ae_images = to_images(test_recon, meta)
    pca_images = to_images(pca_test, meta)
    if shared["model"] is not None:
        out["test/clf_acc_ae"] = shared["model"].accuracy(ae_images, labels)
        out["test/clf_acc_pca"] = shared["model"].accuracy(pca_images, labels)

    show = example_indices(labels, len(original), int(cfg.get("figures", {}).get("examples", 10)))
    arrays = {"original": original[show], "from_columns": from_columns[show],
              "autoencoder": ae_images[show], "pca": pca_images[show], "indices": show,
              "column_mean": np.asarray(meta["columns"]["mean"], np.float32)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels[show])
    adir = Path(workdir) / "analysis"
    adir.mkdir(parents=True, exist_ok=True)
    save_npz(adir / "columns.npz", **arrays)
    atomic_write(adir / "columns.json", json.dumps({"test/mse": test_mse, **out}, indent=2) + "\n")
    return out
