"""aejax.projects.tabular: the tabular seed end to end: housing_deep --quick, features.csv, scaler.json,
R² table, other sources, its sweep."""
import csv
import json

import numpy as np
import pytest

from aejax import data as data_lib
from aejax import api
from aejax.data import tabular
from aejax.errors import UserError
from aejax.projects import tabular as tabular_run
from aejax.run import experiment, sweep
from helpers import COLAB_COLUMNS, FAST, run_cli


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One `aejax run housing_deep --quick` through the CLI, shared by the tests below."""
    workdir = tmp_path_factory.mktemp("housing") / "run"
    out = run_cli("run", "housing_deep", "--quick", "--workdir", workdir, "--set", "train.progress=false",
                  env_extra={"AEJAX_CACHE": str(tmp_path_factory.getbasetemp() / "cache")})
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


def test_quick_run_writes_features_scaler_and_r2_table(quick_run):
    summary = json.loads((quick_run / "summary.json").read_text())
    cfg = json.loads((quick_run / "config.json").read_text())
    assert cfg["model"] == {"name": "dense", "hidden": [32, 16], "latent_dim": 7, "activation": "relu",
                            "latent_activation": "linear", "output_activation": "sigmoid"}
    assert cfg["train"]["loss"] == "mae" and cfg["train"]["batch_size"] == 32
    assert summary["params"] == 2131  # 12-32-16-7-16-32-12 (Boston without column B), weights + biases
    # MAE loss: test/loss and the separately computed test/mae agree.
    assert summary["test/mae"] == pytest.approx(summary["test/loss"], rel=1e-5)
    assert summary["validate_on"] == "val" and "validation_note" not in summary  # held out, not the test split
    assert (summary["train_examples"], summary["val_examples"], summary["test_examples"]) == (354, 51, 101)
    for key in ("autoencoder", "inputs", "pca"):
        assert -1.0 < summary[f"test/r2_{key}"] <= 1.0
    assert summary["test/r2_inputs"] > 0.5  # a linear model on all 12 inputs explains MEDV well

    header, splits, feats = tabular_run.read_features(quick_run / "features.csv")
    assert header == ["index", "split"] + [f"feature_{j}" for j in range(7)] + ["MEDV"]
    assert [splits.count(s) for s in ("train", "val", "test")] == [354, 51, 101] and feats.shape == (506, 7)
    with open(quick_run / "features.csv") as f:
        assert [int(r["index"]) for r in csv.DictReader(f)] == list(range(506))

    scaler = json.loads((quick_run / "scaler.json").read_text())
    assert len(scaler["min"]) == len(scaler["max"]) == 12 and scaler["target"] == "MEDV" and "B" not in scaler["columns"]
    table = json.loads((quick_run / "analysis" / "tabular.json").read_text())
    assert [r["features"] for r in table["r2"]] == ["autoencoder features", "scaled inputs", "PCA (7 components)"]
    for fig in ("loss", "r2", "column_mae", "features"):
        assert (quick_run / "figures" / f"{fig}.png").exists(), fig
    assert not (quick_run / "figures" / "test_originals.png").exists()  # no image figures for a table
    page = (quick_run / "report.html").read_text()
    assert "test/r2_autoencoder" in page and "r2.png" in page


def test_saved_scaler_transforms_new_data_like_the_run(quick_run):
    run = api.load_run(quick_run)  # the run's data as it trained: through prepare_data, scaled
    np.testing.assert_allclose(run.data.train.x.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(run.data.train.x.max(axis=0), 1.0, atol=1e-6)
    d = run.cfg["data"]  # the same split unscaled, from the saved seed
    raw = data_lib.load(d["name"], seed=run.cfg["seed"], val_fraction=d["val_fraction"],
                        test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])
    raw_train = raw.train.x  # validate_on=val: the val rows are held out
    scaler = tabular_run.load_scaler(quick_run)
    # Fitted on the training rows only: their range maps to exactly [0, 1].
    np.testing.assert_allclose(scaler.min, raw_train.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(scaler.max, raw_train.max(axis=0), rtol=1e-6)
    assert scaler == tabular.MinMaxScaler.fit(raw_train)
    # New raw rows -> saved scaler -> encoder: the same features the run wrote for those rows.
    _, splits, feats = tabular_run.read_features(quick_run / "features.csv")
    codes = tabular_run.encode(quick_run, raw.test.x)
    np.testing.assert_allclose(codes, feats[np.array(splits) == "test"], rtol=1e-5, atol=1e-6)
    with pytest.raises(UserError, match="12 columns"):
        tabular_run.encode(quick_run, raw.test.x[:, :5])


def test_colab_csv_files_and_the_seeds_validate_on_test(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("california_housing_train.csv", 300), ("california_housing_test.csv", 60)):
        rows = rng.uniform(0, 100, size=(n, len(COLAB_COLUMNS)))
        rows[:, -1] = rows[:, :8] @ rng.uniform(size=8)  # a target the inputs explain
        tabular.write_csv(tmp_path / name, COLAB_COLUMNS, rows)
    summary = api.run("housing_deep", workdir=tmp_path / "run", quick=True, overrides=FAST + [
        f"data.name=csv:{tmp_path / 'california_housing_train.csv'}", "tabular.validate_on=test"])
    assert summary["test_examples"] == summary["val_examples"] == 60  # the sibling _test.csv, also validating
    assert summary["train_examples"] == 300 and summary["validate_on"] == "test"  # as the seed does
    assert "optimistic" in summary["validation_note"] and "test/loss_last_epoch" in summary
    assert "optimistic" in (tmp_path / "run" / "report.html").read_text()  # the report says so
    header, splits, _ = tabular_run.read_features(tmp_path / "run" / "features.csv")
    assert header[-1] == "median_house_value" and set(splits) == {"train", "test"}
    assert json.loads((tmp_path / "run" / "scaler.json").read_text())["columns"] == COLAB_COLUMNS[:-1]
    with pytest.raises(UserError, match="tabular.validate_on"):
        api.run("housing_deep", workdir=tmp_path / "bad", quick=True, overrides=FAST + ["tabular.validate_on=all"])


def test_california_housing_through_scikit_learn(tmp_path, monkeypatch):
    import sklearn.datasets

    class Bunch:
        data = np.random.default_rng(1).uniform(size=(200, 8))
        target = data @ np.arange(1, 9) / 10
        feature_names = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                         "Latitude", "Longitude"]

    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", lambda **kw: Bunch)
    summary = api.run("housing_deep", workdir=tmp_path, quick=True,
                         overrides=FAST + ["data.name=california_housing"])
    assert summary["params"] == 1871  # 8-32-16-7-16-32-8
    assert summary["test/r2_inputs"] > 0.99  # the fake target is linear in the inputs


def test_california_housing_offline_is_a_clear_error(tmp_path):
    with pytest.raises(UserError) as e:
        api.run("housing_deep", workdir=tmp_path, quick=True, overrides=FAST + [
            "data.name=california_housing", f'data.options={{"download": false, "data_home": "{tmp_path}"}}'])
    assert "boston_housing" in str(e.value) and "california_housing_train.csv" in str(e.value)


def test_housing_sweep_covers_the_seeds_hyperparameters():
    configs = experiment.load("housing_deep").sweep()
    assert len(configs) == 42  # 14 configurations x 3 seeds
    for key in ("model.latent_dim", "model.hidden", "model.activation", "train.optimizer",
                "train.learning_rate", "seed"):
        assert len({json.dumps(c[key]) for c in configs}) > 1, key
    assert {len(c["model.hidden"]) for c in configs} == {1, 2, 3}  # number of layers
    assert len({sweep.run_name(c) for c in configs}) == 42
