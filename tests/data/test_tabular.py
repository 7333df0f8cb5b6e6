"""aejax.data.tabular: the tabular sources (csv:PATH, california_housing, bundled tables) and MinMax scaling."""
from __future__ import annotations

import gzip
import json
import urllib.error

import numpy as np
import pytest

import aejax.data as data
from aejax.data import network, tabular
from aejax.data.tabular import MinMaxScaler, minmax_scale, write_csv
from aejax.errors import UserError
from helpers import COLAB_COLUMNS


def _table(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 100, size=(n, len(COLAB_COLUMNS))).round(3)
    t[:, 0] = np.arange(n) + 1000 * seed  # a unique id per row, to match rows after the split
    return t


def test_csv_round_trip_with_registry_split(tmp_path):
    t = _table(50, 0)
    path = tmp_path / "houses.csv"
    write_csv(path, COLAB_COLUMNS, t)
    ds = data.load("csv:" + str(path), seed=3)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (35, 5, 10)  # pooled: 20 % test, 10 % val
    assert ds.meta["kind"] == "table"
    assert ds.meta["target"] == "median_house_value"  # auto: the seed's target column
    assert ds.meta["columns"] == COLAB_COLUMNS[:-1]
    x = np.concatenate([ds.train.x, ds.val.x, ds.test.x])
    y = np.concatenate([ds.train.y, ds.val.y, ds.test.y])
    assert x.dtype == np.float32 and y.dtype == np.float32 and x.shape == (50, 8)
    order = np.argsort(x[:, 0])
    np.testing.assert_allclose(x[order], t[:, :-1].astype(np.float32))  # unscaled, every row once
    np.testing.assert_allclose(y[order], t[:, -1].astype(np.float32))  # target kept in y
    again = data.load("csv:" + str(path), seed=3)
    np.testing.assert_array_equal(again.test.x, ds.test.x)  # deterministic per seed


def test_csv_target_options(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(path, ["a", "b", "c", "id"], _table(10, 0)[:, :4])
    raw = tabular.csv_source(str(path))
    assert raw.meta["target"] is None and raw.train.y is None and raw.train.x.shape == (10, 4)
    raw = tabular.csv_source(str(path), target="b", drop="id")
    assert raw.meta["columns"] == ["a", "c"] and raw.train.x.shape == (10, 2)
    np.testing.assert_allclose(raw.train.y, _table(10, 0)[:, 1].astype(np.float32))
    with pytest.raises(UserError, match=r"no column 'price'"):
        tabular.csv_source(str(path), target="price")
    # options travel through aejax.data.load
    ds = data.load("csv:" + str(path), options={"target": "c"})
    assert ds.meta["target"] == "c" and ds.train.x.shape[1] == 3


def test_train_test_pair_detected(tmp_path):
    train, test = _table(40, 0), _table(12, 1)
    write_csv(tmp_path / "california_housing_train.csv", COLAB_COLUMNS, train)
    # the test file may list the columns in another order: they are matched by name
    perm = [8, 0, 1, 2, 3, 4, 5, 6, 7]
    write_csv(tmp_path / "california_housing_test.csv", [COLAB_COLUMNS[i] for i in perm],
              test[:, perm])
    ds = data.load("csv:" + str(tmp_path / "california_housing_train.csv"), seed=0)
    assert ds.meta["test_file"].endswith("california_housing_test.csv")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (36, 4, 12)
    np.testing.assert_allclose(ds.test.x, test[:, :-1].astype(np.float32))  # unchanged, in order
    np.testing.assert_allclose(ds.test.y, test[:, -1].astype(np.float32))
    assert sorted(ds.train.x[:, 0].tolist() + ds.val.x[:, 0].tolist()) == train[:, 0].tolist()
    # detection can be turned off; an explicit test_path works with any names
    raw = tabular.csv_source(str(tmp_path / "california_housing_train.csv"), test_path="none")
    assert raw.test is None
    (tmp_path / "other.csv").write_text((tmp_path / "california_housing_test.csv").read_text())
    raw = tabular.csv_source(str(tmp_path / "california_housing_train.csv"),
                             test_path=str(tmp_path / "other.csv"))
    assert raw.test.x.shape == (12, 8)


def test_gzip_and_mismatched_test_columns(tmp_path):
    t = _table(5, 0)
    with gzip.open(tmp_path / "a_train.csv.gz", "wt") as f:
        f.write(",".join(COLAB_COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in t) + "\n")
    raw = tabular.csv_source(str(tmp_path / "a_train.csv.gz"))
    assert raw.train.x.shape == (5, 8) and raw.test is None
    write_csv(tmp_path / "b_train.csv", ["u", "v"], t[:, :2])
    write_csv(tmp_path / "b_test.csv", ["u", "w"], t[:, :2])
    with pytest.raises(UserError, match="b_test.csv.*differ"):
        tabular.csv_source(str(tmp_path / "b_train.csv"))


HEADER = "a,b,c\n"


@pytest.mark.parametrize("body, line, column, what", [
    ("1,2,3\n4,,6\n", 3, "b", "missing value"),
    ("1,2,3\n4,5,NA\n", 3, "c", "missing value"),
    ("1,2,3\n\n4,5,6\nnan,5,6\n", 5, "a", "missing value"),  # blank lines still count
    ("1,2,3\n4,five,6\n", 3, "b", "not a number"),
    ("1,2,3\n4,5\n", 3, "c", "2 cells but the header"),
    ("1,2,3\n4,5,6,7\n", 3, "c", "4 cells but the header"),
    ("1,2,3\n4,5,1e99\n", 3, "c", "not a finite float32"),
])
def test_bad_cells_name_file_row_and_column(tmp_path, body, line, column, what):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body)
    with pytest.raises(UserError) as e:
        data.load("csv:" + str(path))
    msg = str(e.value)
    assert str(path) in msg and f"line {line}" in msg and repr(column) in msg and what in msg, msg


@pytest.mark.parametrize("text, what", [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    (HEADER, "no data rows"),
    ("1,2,3\n4,5,6\n", "looks like data, not a header"),
    ("a,,c\n1,2,3\n", "has no name"),
    ("a,b,a\n1,2,3\n", "appears twice"),
])
def test_bad_files(tmp_path, text, what):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=what) as e:
        tabular.csv_source(str(path))
    assert str(path) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such file") as e:
        data.load("csv:" + str(tmp_path / "nope.csv"))
    assert "nope.csv" in str(e.value)


def test_scaler_fits_on_train_only(tmp_path):
    t = _table(60, 0)
    t[:, 3] = 7.0  # a constant column
    path = tmp_path / "h.csv"
    write_csv(path, COLAB_COLUMNS, t)
    ds = data.load("csv:" + str(path), seed=1)
    sds, scaler = minmax_scale(ds)
    np.testing.assert_allclose(scaler.min, ds.train.x.min(0))
    np.testing.assert_allclose(scaler.max, ds.train.x.max(0))
    assert sds.train.x.min() == 0.0 and sds.train.x.max() == 1.0
    assert sds.train.x.dtype == np.float32 and np.all(sds.train.x[:, 3] == 0.0)
    assert np.array_equal(sds.test.y, ds.test.y)
    # test rows outside the train range go outside [0, 1] (not clipped by default) ...
    ext = np.array([scaler.max], np.float32) + 10
    assert np.all(scaler.transform(ext)[0, [0, 1, 2]] > 1)
    assert np.all(scaler.transform(ext, clip=True) <= 1)
    # ... and the round trip holds everywhere, the constant column included
    for s in (ds.train, ds.val, ds.test):
        np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(s.x)), s.x, rtol=1e-6,
                                   atol=1e-4)
    back = MinMaxScaler.from_json(json.loads(json.dumps(scaler.to_json())))
    assert back == scaler and json.loads(json.dumps(sds.meta))["scaler"] == scaler.to_json()


def test_scaler_constant_column_and_errors():
    x = np.array([[1.0, 5.0], [3.0, 5.0]], np.float32)
    s = MinMaxScaler.fit(x)
    np.testing.assert_array_equal(s.transform(x), [[0, 0], [1, 0]])
    np.testing.assert_array_equal(s.transform([[2.0, 6.0]]), [[0.5, 1.0]])  # scale 1, no nan
    np.testing.assert_array_equal(s.inverse_transform(s.transform(x)), x)
    with pytest.raises(ValueError):
        s.transform(np.zeros((1, 3)))
    with pytest.raises(UserError):
        MinMaxScaler.from_json({"min": [0.0]})
    with pytest.raises(UserError):
        MinMaxScaler.from_json({"min": [2.0], "max": [1.0]})


@pytest.mark.parametrize("name, shape, target, ydtype", [
    ("boston_housing", (506, 12), "MEDV", np.float32),
    ("diabetes", (442, 10), "progression", np.float32),
    ("wine", (178, 13), "class", np.int32),
    ("breast_cancer", (569, 30), "class", np.int32),
])
def test_bundled_tables(name, shape, target, ydtype):
    assert name in {s.name for s in data.list_sources()}
    raw = data.SOURCES[name].fn(seed=0)
    assert raw.train.x.shape == shape and raw.train.x.dtype == np.float32
    assert raw.train.y.shape == (shape[0],) and raw.train.y.dtype == ydtype
    assert raw.meta["kind"] == "table" and raw.meta["target"] == target
    assert len(raw.meta["columns"]) == shape[1] and raw.test is None
    assert np.isfinite(raw.train.x).all()
    ds = data.load(name, seed=0)
    assert len(ds.train) + len(ds.val) + len(ds.test) == shape[0]


def test_boston_housing_values_and_drop():
    raw = tabular.boston_housing()
    assert raw.meta["columns"][:3] == ["CRIM", "ZN", "INDUS"]
    np.testing.assert_allclose(raw.train.x[0, :3], [0.00632, 18.0, 2.31], rtol=1e-5)
    assert raw.train.y[0] == pytest.approx(24.0)
    assert "B" not in raw.meta["columns"] and raw.meta["columns"][-2:] == ["PTRATIO", "LSTAT"]
    np.testing.assert_allclose(raw.train.x[0, -2:], [15.3, 4.98], rtol=1e-5)  # B (396.9) left out
    raw = tabular.boston_housing(drop="B")  # accepted, changes nothing
    assert raw.train.x.shape == (506, 12)
    raw = tabular.boston_housing(drop=["CHAS"])
    assert raw.train.x.shape == (506, 11) and "CHAS" not in raw.meta["columns"]
    with pytest.raises(UserError, match="'Z'"):
        tabular.boston_housing(drop=["Z"])


class _Bunch:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_california_housing_not_cached_names_alternatives(tmp_path, monkeypatch):
    import sklearn.datasets
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    calls = []

    def fake_fetch(*, data_home=None, download_if_missing=True, **kw):
        calls.append(download_if_missing)
        if not download_if_missing:
            raise OSError("Data not found and `download_if_missing` is False")
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", fake_fetch)
    monkeypatch.setattr(network, "reachable", lambda host, **kw: True)  # the host answers; the download fails
    with pytest.raises(UserError) as e:
        data.load("california_housing", options={"data_home": str(tmp_path)})
    msg = str(e.value)
    assert calls == [False, True]  # the cache first, then one download
    for alt in ("boston_housing", "diabetes", "csv:", "california_housing_train.csv", "URLError"):
        assert alt in msg, msg


def test_california_housing_offline_fails_at_once_without_downloading(tmp_path, monkeypatch):
    import sklearn.datasets
    calls = []

    def fake_fetch(*, data_home=None, download_if_missing=True, **kw):
        calls.append(download_if_missing)
        raise OSError("Data not found and `download_if_missing` is False")

    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", fake_fetch)
    monkeypatch.setattr(network, "reachable", lambda host, **kw: host != tabular.CALIFORNIA_HOST)
    with pytest.raises(UserError, match=f"{tabular.CALIFORNIA_HOST} cannot be reached.*boston_housing.*diabetes"):
        data.load("california_housing", options={"data_home": str(tmp_path)})
    assert calls == [False]  # the cache only: no download attempted


def test_california_housing_real_fetcher_cache_miss(tmp_path):
    # scikit-learn's own fetcher with download=False never touches the network
    with pytest.raises(UserError, match="boston_housing"):
        tabular.california_housing(data_home=str(tmp_path), download=False)


def test_california_housing_from_cache(monkeypatch):
    import sklearn.datasets
    rng = np.random.default_rng(0)
    names = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
             "Latitude", "Longitude"]
    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing",
                        lambda **kw: _Bunch(data=rng.uniform(size=(30, 8)),
                                            target=rng.uniform(size=30), feature_names=names))
    raw = tabular.california_housing()
    assert raw.train.x.shape == (30, 8) and raw.train.x.dtype == np.float32
    assert raw.meta == {"kind": "table", "columns": names, "target": "MedHouseVal"}
