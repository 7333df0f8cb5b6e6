"""aejax.projects.columns: the seismic column experiment and the bottleneck finder.

End to end: ``aejax run seismic_columns --quick`` writes the run-directory
contract and its figures; ``aejax sweep seismic_columns --quick`` writes
sweep.csv with the required columns and states a recommended m, and its runs
(trained together in one program) equal the engine's run of the same config.
Unit: the recommendation rule on synthetic numbers, the column view of an
image dataset (split by image, centring undone exactly enough), the classifier.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from aejax.errors import UserError
from aejax.projects.columns.recommend import analyse, recommend, stable, text_lines
from helpers import metrics_rows, run_cli

CONTRACT = ["config.json", "metrics.jsonl", "summary.json", "checkpoints/latest", "checkpoints/best",
            "analysis/latents.npy", "analysis/examples.npz", "analysis/columns.npz", "analysis/columns.json",
            "report.html", "figures/loss.png", "figures/columns_sanity.png",
            "figures/columns_autoassociation.png", "figures/loss_vs_pca.png"]
SUMMARY_KEYS = ["params", "train_examples", "epochs_run", "best_epoch", "wall_s", "time_to_first_step_s",
                "train_samples_per_s", "test/loss", "test/mse", "test/psnr", "test/pca_mse", "train/mse",
                "train/pca_mse", "code/dead_units", "test/clf_acc_original", "test/clf_acc_ae",
                "test/clf_acc_pca", "columns/rebuild_max_abs_error"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``aejax run seismic_columns --quick`` at m = 8 (a configuration of the quick sweep)."""
    d = tmp_path_factory.mktemp("run")
    out = run_cli("run", "seismic_columns", "--quick", "--workdir", d, "--set", "model.latent_dim=8")
    assert out.returncode == 0, out.stderr[-3000:]
    return d


@pytest.fixture(scope="module")
def quick_sweep(tmp_path_factory):
    """``aejax sweep seismic_columns --quick`` (m in {2, 8} x seeds {0, 1}, one program)."""
    d = tmp_path_factory.mktemp("sweep")
    out = run_cli("sweep", "seismic_columns", "--quick", "--workdir", d)
    assert out.returncode == 0, out.stderr[-3000:]
    return d


def test_quick_run_writes_the_contract_and_figures(quick_run):
    for rel in CONTRACT:
        assert (quick_run / rel).exists(), rel
    s = json.loads((quick_run / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in s, key
    n_images = json.loads((quick_run / "config.json").read_text())["data"]["options"]["n"]
    assert s["train_examples"] % 101 == 0 and s["train_examples"] < n_images * 101   # columns, not images
    assert s["columns/rebuild_max_abs_error"] < 1e-6
    assert s["test/clf_acc_columns"] == s["test/clf_acc_original"]
    assert s["train/mse"] >= s["train/pca_mse"] * (1 - 1e-6)     # Eckart-Young: PCA is the floor
    rows = metrics_rows(quick_run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_latent_analysis_reloads_the_column_model(quick_run):
    """The run-directory analysis rebuilds the run through the experiment's prepare_data (images ->
    columns): the model loads and its parts run, instead of a shape mismatch skipping them."""
    from aejax import api
    out = run_cli("analyze", quick_run)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
    spectrum = json.loads((quick_run / "analysis" / "spectrum.json").read_text())
    assert "model_analysis_skipped" not in spectrum, spectrum.get("model_analysis_skipped")
    assert (quick_run / "analysis" / "importance.json").exists()
    r = api.load_run(quick_run)
    assert r.cfg["experiment"] == "seismic_columns" and r.data.example_shape == (101,)


def test_quick_sweep_writes_table_recommendation_and_figures(quick_sweep):
    with open(quick_sweep / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for col in ("model.latent_dim", "seed", "test/mse", "test/pca_mse", "test/clf_acc_ae"):
        assert col in rows[0], col
    md = (quick_sweep / "sweep.md").read_text()
    assert "Recommended" in md and "Per seed" in md and "Autoencoder test MSE / PCA test MSE" in md
    assert "Recommended" in (quick_sweep / "report.html").read_text()
    info = json.loads((quick_sweep / "bottleneck.json").read_text())
    assert set(info["recommended_m_per_seed"]) == {"0", "1"} and "recommended_m" in info
    for fig in ("error_vs_m", "classifier_vs_m", "reconstruction_grid"):
        assert (quick_sweep / "figures" / f"{fig}.png").exists(), fig
    for rel in CONTRACT:
        assert (quick_sweep / "model.latent_dim=2,seed=1" / rel).exists(), rel


def test_grouped_sweep_run_equals_the_engine_run(quick_run, quick_sweep):
    """The sweep trains its 4 models in one program; each equals its own `aejax run`."""
    run = metrics_rows(quick_run)
    grp = metrics_rows(quick_sweep / "model.latent_dim=8,seed=0")
    assert len(run) == len(grp)
    for a, b in zip(run, grp):
        assert a["step"] == b["step"]
        for k in ("train/loss", "val/loss", "val/psnr"):
            assert a[k] == pytest.approx(b[k], rel=1e-5), k
    sa = json.loads((quick_run / "summary.json").read_text())
    sb = json.loads((quick_sweep / "model.latent_dim=8,seed=0" / "summary.json").read_text())
    for k in ("test/mse", "test/pca_mse", "train/mse"):
        assert sa[k] == pytest.approx(sb[k], rel=1e-5), k
    assert sa["test/clf_acc_ae"] == pytest.approx(sb["test/clf_acc_ae"], abs=0.026)  # one image of 40 may flip


def test_second_sweep_over_a_finished_directory_trains_nothing(quick_sweep, capsys):
    from aejax.api import sweep as run_sweep
    before = (quick_sweep / "model.latent_dim=2,seed=0" / "summary.json").read_text()
    run_sweep("seismic_columns", workdir=quick_sweep, quick=True)
    out = capsys.readouterr().out
    assert "0 runs trained, 4 finished runs skipped" in out
    assert (quick_sweep / "model.latent_dim=2,seed=0" / "summary.json").read_text() == before
    assert "Recommended" in (quick_sweep / "sweep.md").read_text()


# ---- the recommendation rule ---------------------------------------------------------

MS = [1, 2, 4, 8, 12, 16, 20, 32, 48, 64, 101]


def test_recommend_smallest_m_within_tolerance_from_there_on():
    acc = [0.55, 0.56, 0.60, 0.75, 0.85, 0.895, 0.905, 0.91, 0.912, 0.913, 0.914]
    assert recommend(MS, acc, reference=0.914, tolerance_pp=2.0) == 16     # 0.895 >= 0.894
    assert recommend(MS, acc, reference=0.914, tolerance_pp=1.0) == 20     # 0.905 >= 0.904
    assert recommend(MS, acc, reference=0.914, tolerance_pp=0.0) == 101
    assert recommend(MS, acc, reference=0.914, tolerance_pp=40.0) == 1
    # order of the inputs does not matter
    assert recommend(MS[::-1], acc[::-1], reference=0.914, tolerance_pp=2.0) == 16


def test_recommend_ignores_a_lucky_small_m_and_can_say_none():
    acc = [0.92, 0.56, 0.60, 0.75, 0.85, 0.895, 0.905, 0.91, 0.912, 0.913, 0.914]
    assert recommend(MS, acc, reference=0.914, tolerance_pp=2.0) == 16
    acc_dip = [0.5] * 8 + [0.80, 0.913, 0.914]                            # 48 fails: from 64 on
    assert recommend(MS, acc_dip, reference=0.914, tolerance_pp=2.0) == 64
    assert recommend(MS, [0.5] * 11, reference=0.914, tolerance_pp=2.0) is None
    assert recommend(MS, [0.9] * 10 + [float("nan")], reference=0.9) is None
    with pytest.raises(ValueError):
        recommend([1, 2], [0.5], reference=0.9)


def test_stable_within_one_grid_step():
    assert stable([16, 16, 20], MS) and stable([12, 16], MS)
    assert not stable([12, 20], MS) and not stable([16, None], MS) and not stable([], MS)


def test_analyse_synthetic_rows_per_seed_and_mean():
    rows = []
    curves = {0: [0.5, 0.55, 0.6, 0.8, 0.9, 0.91], 1: [0.5, 0.5, 0.7, 0.85, 0.9, 0.91],
              2: [0.5, 0.6, 0.6, 0.895, 0.905, 0.91]}
    ms = [1, 2, 4, 8, 16, 32]
    for s, accs in curves.items():
        for m, a in zip(ms, accs):
            mse = 0.04 / m
            rows.append({"model.latent_dim": m, "seed": s, "test/mse": mse * 1.001, "test/pca_mse": mse,
                         "train/mse": mse * 1.002, "train/pca_mse": mse * 0.98, "code/dead_units": 0,
                         "test/clf_acc_ae": a, "test/clf_acc_pca": a, "test/clf_acc_original": 0.91,
                         "test/majority_class": 0.57})
    a = analyse(rows, tolerance_pp=2.0)
    assert a["recommended_m_per_seed"] == {"0": 16, "1": 16, "2": 8}
    assert a["recommended_m"] == 16 and a["stable_across_seeds"]
    assert a["per_m"][0]["ratio_mean"] == pytest.approx(1.001)
    text = "\n".join(text_lines(a, len(rows)))
    assert "m = 16" in text and "seed 2: m = 8" in text and "stable across seeds" in text


# ---- data and classifier -------------------------------------------------------------

def test_columns_split_by_image_and_centring(tmp_path):
    from aejax.projects.columns.columns import image_labels, to_columns, to_images
    from aejax.data import load
    ds = load("seismic_synth", seed=3, val_fraction=0.1, test_fraction=0.3, options={"n": 40})
    cols = to_columns(ds)
    assert cols.train.x.shape == (len(ds.train) * 101, 101)
    assert cols.test.x.shape == (len(ds.test) * 101, 101)
    json.dumps(dict(cols.meta))                                     # meta stays JSON-able
    assert abs(float(cols.train.x.mean())) < 1e-5                   # centred on the training mean
    back = to_images(cols.test.x, cols.meta)
    assert np.max(np.abs(back - ds.test.x)) < 1e-6
    assert np.array_equal(image_labels(cols.test, cols.meta), ds.test.y)
    i, j = 5, 17                                                    # test column j of test image i
    row = i * 101 + j
    assert cols.test.extras["image"][row] == i and cols.test.extras["column"][row] == j
    # no test column is a column of a training image (split by image, not by column)
    train_cols = {c.tobytes() for c in np.round(cols.train.x, 5)}
    assert not any(c.tobytes() in train_cols for c in np.round(cols.test.x[:505], 5))
    raw = to_columns(ds, center=False)
    assert np.array_equal(to_images(raw.test.x, raw.meta), ds.test.x)   # uncentred: exact


def test_columns_of_28x28_images():
    from aejax.projects.columns.columns import to_columns
    from aejax.data import Dataset, Split
    rng = np.random.default_rng(0)
    mk = lambda n: Split(rng.random((n, 28, 28, 1)).astype(np.float32), np.arange(n) % 10)  # noqa: E731
    cols = to_columns(Dataset("toy", mk(6), mk(2), mk(3), {"kind": "image"}))
    assert cols.train.x.shape == (6 * 28, 28) and cols.meta["columns"]["width"] == 28


def test_salt_classifier_beats_the_majority_class():
    from aejax.projects.columns.classifier import ImageClassifier
    from aejax.data import load
    ds = load("seismic_synth", seed=1, val_fraction=0.05, test_fraction=0.5, options={"n": 400})
    clf = ImageClassifier("seismic").fit(ds.train.x, ds.train.y)
    acc = clf.accuracy(ds.test.x, ds.test.y)
    majority = max(ds.test.y.mean(), 1 - ds.test.y.mean())
    assert acc > majority + 0.15, (acc, majority)
    flat = np.full_like(ds.test.x, 0.5)                             # no signal at all: one class
    assert len(set(clf.predict(flat))) == 1


def test_quick_run_on_mnist_columns(tmp_path):
    """Any image source works: MNIST digits give 28 columns of 28 samples each."""
    from aejax import api
    s = api.run("seismic_columns", workdir=tmp_path, quick=True,
                   overrides=["data.name=mnist5k", "model.latent_dim=4"])
    assert s["train_examples"] % 28 == 0 and s["clf/kind"] == "pixels"
    assert s["test/clf_acc_original"] > 0.5                        # 10 classes: chance is 0.1
    assert (tmp_path / "figures" / "columns_autoassociation.png").exists()


def test_bad_classifier_setting_is_a_user_error():
    from aejax.run import experiment, resolve
    exp = experiment.load("seismic_columns")
    with pytest.raises(UserError, match="classifier.features"):
        resolve.resolve_config(exp, ["classifier.features=cnn"])
    with pytest.raises(UserError, match="analysis.enabled"):
        resolve.resolve_config(exp, ["analysis.enabled=true"])
    cfg = resolve.resolve_config(exp, ["data.name=mnist5k"])
    assert cfg["data"]["options"] == {}                             # the synth pool size is dropped


def test_a_partly_finished_grid_retrains_only_its_missing_runs(quick_sweep, tmp_path):
    """Runs removed from a finished grid train again in one program whose other slots stay idle,
    and come out as they were."""
    import shutil

    from aejax import api
    d = tmp_path / "sweep"
    shutil.copytree(quick_sweep, d)
    gone = ["model.latent_dim=8,seed=0", "model.latent_dim=2,seed=1"]
    for name in gone:
        shutil.rmtree(d / name)
    api.sweep("seismic_columns", workdir=d, quick=True)
    for name in gone:
        a = metrics_rows(quick_sweep / name)
        b = metrics_rows(d / name)
        assert [r["step"] for r in a] == [r["step"] for r in b]
        for x, y in zip(a, b):
            assert x["val/loss"] == pytest.approx(y["val/loss"], rel=1e-5), name
