"""Tabular sources (``csv:PATH``, ``california_housing``, bundled real tables) and MinMax scaling.

Sources (all return UNSCALED float32 inputs ``x`` [N, F], the target column as
``y`` [N] (float32 for regression targets, int32 for class labels) or ``None``,
and ``meta = {"kind": "table", "columns": [...input columns...], "target": name | None, ...}``):

=====================  ===========  ==========================================================
name                   x shape      what
=====================  ===========  ==========================================================
``csv:PATH``           [N, F]       a numeric CSV table with a header row (see :func:`csv_source`)
``california_housing`` [20640, 8]   scikit-learn's fetcher (cache or download), y = MedHouseVal
``boston_housing``     [506, 12]    Boston housing without its column ``B``, shipped inside the
                                    mlxtend pip package, y = MEDV; **the offline default for the
                                    housing experiment**
``diabetes``           [442, 10]    scikit-learn's bundled diabetes table (raw units),
                                    y = disease progression one year later
``wine``               [178, 13]    scikit-learn's bundled wine recognition table, y = class 0-2
``breast_cancer``      [569, 30]    scikit-learn's bundled Wisconsin breast cancer table,
                                    y = class (0 malignant, 1 benign)
=====================  ===========  ==========================================================

Why ``boston_housing`` is the offline default for the housing experiment (the
seed: a 32-16-7 deep autoencoder on the California housing features): the
California data needs a download (scikit-learn's fetcher, or the two CSV files
Colab ships under ``/content/sample_data``), and machines without internet have
neither. The closest real table that a pip package ships is the Boston housing
census table in mlxtend: also block-level housing data (506 tracts, 13
continuous / count / dummy features on very different scales, median house
value as the target), so it exercises the same pipeline: drop the target, fit
MinMax on train, squeeze the features through a bottleneck smaller than the
number of features. Its column ``B`` is derived from the proportion of Black
residents by town, which is why scikit-learn removed ``load_boston``: this source
leaves that column out (12 features; ``drop="B"`` is accepted and changes nothing).
``diabetes`` is another bundled real table.

Scaling: the seed scales with MinMax before a sigmoid output layer.
:class:`MinMaxScaler` is fitted on the TRAIN split only (never on val / test,
which would leak their ranges into training); val / test values outside the
training range map outside [0, 1] (clipping is available, off by default, so
reported reconstruction errors are not flattered). The scaler serialises to a
dict of plain lists (JSON), saved with the run; no pickle.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import math
import os
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from aejax.data import Dataset, Raw, Split, network, register
from aejax.errors import UserError

#: The seed's target column in the Colab ``california_housing_{train,test}.csv`` files.
CALIFORNIA_CSV_TARGET = "median_house_value"

#: The host scikit-learn's fetch_california_housing downloads from (its ARCHIVE.url, scikit-learn 1.x).
CALIFORNIA_HOST = "ndownloader.figshare.com"

#: Cell spellings read as "missing" (compared case-insensitively, after stripping blanks).
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "--", "#n/a"})

TABULAR_HINT = (
    "offline tabular sources that need no download: data.name=boston_housing (real Boston "
    "housing table shipped with the mlxtend package, 506 x 12 without column B, target MEDV; the offline "
    "default for the housing experiment), data.name=diabetes (scikit-learn's bundled table, "
    "442 x 10); or data.name=csv:PATH with the California housing CSV files Colab ships "
    "(csv:/content/sample_data/california_housing_train.csv, whose sibling "
    "california_housing_test.csv becomes the test split)")


# --------------------------------------------------------------------------- csv:PATH

def _open_text(path: Path):
    """Open a (possibly gzip-compressed) text file for the csv module."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _bad_cell_message(path: Path, line: int, column: str, cell: str) -> str:
    where = f"{path}: line {line}, column {column!r}"
    if cell.strip().lower() in MISSING:
        return (f"{where}: missing value ({cell!r}); csv:PATH needs a complete numeric table: "
                "fill or drop the rows with missing values first")
    try:
        value = float(cell)
    except ValueError:
        return (f"{where}: {cell!r} is not a number; csv:PATH needs numeric cells only "
                "(encode categorical columns as numbers, or drop them with data.options.drop)")
    if math.isnan(value):
        return (f"{where}: missing value ({cell!r}); csv:PATH needs a complete numeric table: "
                "fill or drop the rows with missing values first")
    return f"{where}: {cell!r} is not a finite float32 number; expected a finite value"


def read_csv_table(path: str | os.PathLike, *, delimiter: str = ",") -> tuple[list[str], np.ndarray]:
    """Read a numeric CSV file with a header row: ``(column names, float64 array [N, F])``.

    Blank lines are skipped. Any problem (missing file, empty file, header only,
    no header, duplicate or empty column names, ragged row, missing value,
    non-numeric or non-finite cell) raises one :class:`UserError` naming the
    file and, for a bad cell, its 1-based line number in the file and its column.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file" + (" (it is a directory)" if path.is_dir() else "")
                        + "; csv:PATH expects a CSV file with a header row")
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with _open_text(path) as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = None
            header_line = 0
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue  # blank line
                if header is None:
                    header, header_line = [c.strip() for c in row], reader.line_num
                    continue
                rows.append(row)
                lines.append(reader.line_num)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path}: cannot read as a CSV text file ({type(e).__name__}: {e})") from e
    if header is None:
        raise UserError(f"{path}: the file is empty; expected a header row naming the columns "
                        "and at least one row of numbers")
    for j, name in enumerate(header):
        if not name:
            raise UserError(f"{path}: line {header_line}: column {j + 1} of the header has no name "
                            "(a pandas index written by to_csv?); name it or remove that column")
    if all(_is_number(c) for c in header):
        raise UserError(f"{path}: line {header_line} looks like data, not a header; csv:PATH needs "
                        "a first row naming the columns")
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise UserError(f"{path}: line {header_line}: column name {name!r} appears twice "
                            f"(columns {seen[name] + 1} and {j + 1}); column names must be unique")
        seen[name] = j
    if not rows:
        raise UserError(f"{path}: has a header (line {header_line}) but no data rows")
    width = len(header)
    for row, line in zip(rows, lines):
        if len(row) != width:
            if len(row) < width:
                raise UserError(f"{path}: line {line}, column {header[len(row)]!r}: row has "
                                f"{len(row)} cells but the header (line {header_line}) has {width} "
                                f"columns; the values from column {header[len(row)]!r} on are missing")
            raise UserError(f"{path}: line {line}, after column {header[-1]!r}: row has {len(row)} "
                            f"cells but the header (line {header_line}) has {width} columns")
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            table = np.array(rows, dtype=np.float64)  # fast path; numpy parses like float()
            bad = ~np.isfinite(table) | ~np.isfinite(table.astype(np.float32))
        except ValueError:
            table, bad = None, None
        if table is None or bad.any():  # slow path: find the first bad cell, in file order
            for row, line in zip(rows, lines):
                for j, cell in enumerate(row):
                    try:
                        ok = math.isfinite(float(np.float32(float(cell))))
                    except (ValueError, OverflowError):
                        ok = False
                    if not ok:
                        raise UserError(_bad_cell_message(path, line, header[j], cell))
            # every cell parses with float(): numpy's parser disagreed, so use float()'s
            table = np.array([[float(c) for c in row] for row in rows], dtype=np.float64)
    return header, table


def _as_names(value) -> list[str]:
    """A list of column names from a list / tuple or a comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _sibling_test(path: Path) -> Path | None:
    """``*_train.csv[.gz]`` -> the existing sibling ``*_test.csv[.gz]``, else None."""
    for suffix in (".csv", ".csv.gz"):
        if path.name.endswith("_train" + suffix):
            cand = path.with_name(path.name[: -len("_train" + suffix)] + "_test" + suffix)
            return cand if cand.is_file() else None
    return None


def _split_target(path: Path, header: list[str], table: np.ndarray, target: str | None,
                  drop: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    for name in [target, *drop] if target else drop:
        if name not in header:
            raise UserError(f"{path}: no column {name!r}; the header names {header}")
    keep = [j for j, c in enumerate(header) if c != target and c not in drop]
    if not keep:
        raise UserError(f"{path}: no input columns left after taking target={target!r} "
                        f"and drop={list(drop)} from {header}")
    x = np.ascontiguousarray(table[:, keep], dtype=np.float32)
    y = table[:, header.index(target)].astype(np.float32) if target else None
    return x, y, [header[j] for j in keep]


@register("csv", takes_arg=True)
def csv_source(path: str, *, seed: int = 0, target: str | None = "auto",
               test_path: str | None = None, drop: Sequence[str] | str = (),
               delimiter: str = ",") -> Raw:
    """A numeric CSV table with a header row (csv:PATH); *_train.csv + sibling *_test.csv kept as train/test.

    Options (``data.options.*``):

    - ``target``: the column taken out of the inputs and kept as ``y``.
      ``"auto"`` (default): ``median_house_value`` when the header has it (the
      seed's California housing files), else no target. ``None`` or ``""``: no
      target, every column is an input. Any other value must name a column.
    - ``test_path``: a second CSV with the same columns (any order) used as the
      test split, unchanged. Default: when PATH ends in ``_train.csv`` and a
      sibling ``_test.csv`` exists (Colab's ``california_housing_train.csv`` /
      ``california_housing_test.csv``), that file; otherwise none, and
      :func:`aejax.data.load` splits the one table with the seed.
      ``""`` / ``"none"`` turns the detection off.
    - ``drop``: column names (list or comma-separated string) left out entirely
      (ids, a pandas index).
    - ``delimiter``: the cell separator (default ``,``). Files ending in ``.gz``
      are decompressed.

    Values are returned unscaled (float32); fit :class:`MinMaxScaler` on the
    training split. Bad input raises one UserError naming the file, the line
    and the column.
    """
    del seed
    p = Path(path).expanduser()
    drop_names = _as_names(drop)
    header, table = read_csv_table(p, delimiter=delimiter)
    if target == "auto":
        target = CALIFORNIA_CSV_TARGET if CALIFORNIA_CSV_TARGET in header else None
    target = target or None
    if isinstance(test_path, str) and test_path.strip().lower() in ("", "none", "false"):
        tpath = None
    elif test_path is False:
        tpath = None
    elif test_path:
        tpath = Path(test_path).expanduser()
    else:
        tpath = _sibling_test(p)
    x, y, columns = _split_target(p, header, table, target, drop_names)
    meta = {"kind": "table", "columns": columns, "target": target, "file": str(p)}
    test = None
    if tpath is not None:
        theader, ttable = read_csv_table(tpath, delimiter=delimiter)
        if sorted(theader) != sorted(header):
            raise UserError(f"{tpath}: the test file's columns {theader} differ from those of "
                            f"the training file {p}: {header}")
        ttable = ttable[:, [theader.index(c) for c in header]]  # the training file's order
        tx, ty, _ = _split_target(tpath, header, ttable, target, drop_names)
        test = Split(tx, ty)
        meta["test_file"] = str(tpath)
    return Raw(Split(x, y), test, meta)


# --------------------------------------------------------------------------- california_housing

@register("california_housing")
def california_housing(*, seed: int = 0, data_home: str | None = None,
                       download: bool = True) -> Raw:
    """California housing through scikit-learn's fetcher (20,640 x 8, y = MedHouseVal); needs its cache or internet.

    Reads scikit-learn's cache (``data_home``, default ``$SCIKIT_LEARN_DATA`` or
    ``~/scikit_learn_data``; the cache file is scikit-learn's own joblib file)
    and, when it is missing and ``download`` is true, tries one download. If
    neither works, raises a UserError naming the offline alternatives
    (``boston_housing``, ``diabetes``, ``csv:PATH`` with the Colab files).
    Features: MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup,
    Latitude, Longitude; the target is the median house value in $100,000.
    The table is one pool, split by :func:`aejax.data.load` with the seed.
    """
    del seed
    from sklearn.datasets import fetch_california_housing
    try:
        bunch = fetch_california_housing(data_home=data_home, download_if_missing=False)
    except OSError as cache_miss:
        if not download:
            raise UserError(f"data.name=california_housing: not in scikit-learn's cache "
                            f"({data_home or 'default data_home'}) and download=False. "
                            f"{TABULAR_HINT}") from cache_miss
        if not network.reachable(CALIFORNIA_HOST):  # offline: fail now, not after the fetcher's timeouts
            raise UserError(f"data.name=california_housing: not in scikit-learn's cache and its download "
                            f"host {CALIFORNIA_HOST} cannot be reached (no network?). {TABULAR_HINT}") \
                from cache_miss
        try:
            with warnings.catch_warnings():  # scikit-learn warns before its retry
                warnings.simplefilter("ignore", UserWarning)
                bunch = fetch_california_housing(data_home=data_home, download_if_missing=True,
                                                 n_retries=1, delay=0.1)
        except Exception as e:  # noqa: BLE001 - URLError, HTTPError, timeouts, bad archive, ...
            msg = str(e).splitlines()[0] if str(e) else ""
            raise UserError(f"data.name=california_housing: not in scikit-learn's cache and the "
                            f"download failed ({type(e).__name__}: {msg}). {TABULAR_HINT}") from e
    x = np.asarray(bunch.data, np.float32)
    y = np.asarray(bunch.target, np.float32)
    return Raw(Split(x, y), None, {"kind": "table", "columns": list(bunch.feature_names),
                                   "target": "MedHouseVal"})


# --------------------------------------------------------------------------- bundled tables

#: mlxtend's boston_housing.csv has no header; the names below are the canonical
#: UCI ones listed in ``mlxtend.data.boston_housing_data``'s docstring. ``B`` is never returned.
BOSTON_COLUMNS = ["CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX",
                  "PTRATIO", "B", "LSTAT"]


def _drop_columns(source: str, x: np.ndarray, columns: list[str], drop) -> tuple[np.ndarray, list[str]]:
    names = _as_names(drop)
    for n in names:
        if n not in columns:
            raise UserError(f"data.name={source}: data.options.drop names {n!r}, "
                            f"which is not a column; columns are {columns}")
    keep = [j for j, c in enumerate(columns) if c not in names]
    return np.ascontiguousarray(x[:, keep]), [columns[j] for j in keep]


@register("boston_housing")
def boston_housing(*, seed: int = 0, drop: Sequence[str] | str = ()) -> Raw:
    """Boston housing without column B (506 x 12, y = MEDV) shipped in mlxtend: offline default for housing."""
    del seed
    try:
        import mlxtend
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise UserError("data.name=boston_housing needs the package mlxtend: pip install mlxtend") from e
    path = Path(mlxtend.__file__).parent / "data" / "data" / "boston_housing.csv"
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read mlxtend's Boston housing table ({e})") from e
    if table.shape[1] != len(BOSTON_COLUMNS) + 1:
        raise UserError(f"{path}: expected {len(BOSTON_COLUMNS) + 1} columns (13 features + MEDV), "
                        f"found {table.shape[1]}")
    keep = [j for j, c in enumerate(BOSTON_COLUMNS) if c != "B"]  # see the module docstring
    x, columns = _drop_columns("boston_housing", table[:, keep].astype(np.float32),
                               [BOSTON_COLUMNS[j] for j in keep], [n for n in _as_names(drop) if n != "B"])
    return Raw(Split(x, table[:, -1].astype(np.float32)), None,
               {"kind": "table", "columns": columns, "target": "MEDV", "file": str(path)})


@register("diabetes")
def diabetes(*, seed: int = 0, drop: Sequence[str] | str = ()) -> Raw:
    """scikit-learn's bundled diabetes table in raw units (442 x 10, y = disease progression)."""
    del seed
    from sklearn.datasets import load_diabetes
    d = load_diabetes(scaled=False)
    x, columns = _drop_columns("diabetes", np.asarray(d.data, np.float32), list(d.feature_names), drop)
    return Raw(Split(x, np.asarray(d.target, np.float32)), None,
               {"kind": "table", "columns": columns, "target": "progression"})


@register("wine")
def wine(*, seed: int = 0, drop: Sequence[str] | str = ()) -> Raw:
    """scikit-learn's bundled wine recognition table (178 x 13, y = cultivar class 0-2, int32)."""
    del seed
    from sklearn.datasets import load_wine
    d = load_wine()
    x, columns = _drop_columns("wine", np.asarray(d.data, np.float32), list(d.feature_names), drop)
    return Raw(Split(x, np.asarray(d.target, np.int32)), None,
               {"kind": "table", "columns": columns, "target": "class", "classes": 3})


@register("breast_cancer")
def breast_cancer(*, seed: int = 0, drop: Sequence[str] | str = ()) -> Raw:
    """scikit-learn's bundled breast cancer table (569 x 30, y = 0 malignant / 1 benign, int32)."""
    del seed
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer()
    x, columns = _drop_columns("breast_cancer", np.asarray(d.data, np.float32),
                               list(d.feature_names), drop)
    return Raw(Split(x, np.asarray(d.target, np.int32)), None,
               {"kind": "table", "columns": columns, "target": "class", "classes": 2})


# --------------------------------------------------------------------------- scaling

@dataclasses.dataclass(frozen=True)
class MinMaxScaler:
    """Per-column MinMax scaling to [0, 1], fitted on the training split only.

    ``min`` / ``max`` are the training split's per-column minimum and maximum
    (tuples of floats, so the scaler is immutable, hashable and compares by
    value). ``transform(x) = (x - min) / (max - min)``; a constant column
    (``max == min``) uses scale 1, so it maps to 0 on the training data and never
    divides by zero. Data outside the training range (val / test) maps outside
    [0, 1] unless ``clip=True`` is asked for.
    """

    min: tuple[float, ...]
    max: tuple[float, ...]

    def __post_init__(self):
        lo, hi = tuple(float(v) for v in self.min), tuple(float(v) for v in self.max)
        if len(lo) != len(hi):
            raise ValueError(f"MinMaxScaler: min has {len(lo)} entries but max has {len(hi)}")
        if any(not (math.isfinite(a) and math.isfinite(b) and a <= b) for a, b in zip(lo, hi)):
            raise ValueError("MinMaxScaler: min and max must be finite with min <= max")
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)

    @classmethod
    def fit(cls, x) -> "MinMaxScaler":
        """Fit on ``x`` [N, F] (the training split): per-column min and max."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"MinMaxScaler.fit expects a non-empty [N, F] array, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("MinMaxScaler.fit: the data holds NaN or infinite values")
        return cls(tuple(x.min(axis=0).tolist()), tuple(x.max(axis=0).tolist()))

    @property
    def n_features(self) -> int:
        """Number of columns the scaler was fitted on."""
        return len(self.min)

    def _params(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if x.shape[-1] != self.n_features:
            raise ValueError(f"MinMaxScaler was fitted on {self.n_features} columns, "
                             f"got data with {x.shape[-1]}")
        lo, hi = np.asarray(self.min), np.asarray(self.max)
        scale = hi - lo
        return lo, np.where(scale > 0, scale, 1.0)

    def transform(self, x, *, clip: bool = False) -> np.ndarray:
        """Scale ``x`` [..., F] to the training range's [0, 1] (float32); ``clip`` clamps to [0, 1]."""
        x = np.asarray(x)
        lo, scale = self._params(x)
        out = (x.astype(np.float64) - lo) / scale
        if clip:
            out = np.clip(out, 0.0, 1.0)
        return out.astype(np.float32)

    def inverse_transform(self, x) -> np.ndarray:
        """Map scaled values back to the data's own units (float32)."""
        x = np.asarray(x)
        lo, scale = self._params(x)
        return (x.astype(np.float64) * scale + lo).astype(np.float32)

    def to_json(self) -> dict:
        """A JSON-able dict of plain lists: ``{"min": [...], "max": [...]}``."""
        return {"min": list(self.min), "max": list(self.max)}

    @classmethod
    def from_json(cls, d: Mapping) -> "MinMaxScaler":
        """The scaler written by :meth:`to_json`."""
        try:
            return cls(tuple(d["min"]), tuple(d["max"]))
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"MinMax scaler JSON: expected {{'min': [...], 'max': [...]}} with "
                            f"finite numbers and min <= max ({type(e).__name__}: {e})") from e


def minmax_scale(ds: Dataset, *, clip: bool = False) -> tuple[Dataset, MinMaxScaler]:
    """Fit :class:`MinMaxScaler` on ``ds.train`` only and scale train / val / test with it.

    Returns the scaled dataset (targets and extras unchanged; ``meta["scaler"]``
    holds ``scaler.to_json()`` and ``meta["scaling"] = "minmax"``, so the run's
    saved metadata can undo the scaling) and the scaler.
    """
    if ds.train.x.ndim != 2:
        raise UserError(f"data.name={ds.name!r}: MinMax scaling needs a table [N, F], "
                        f"got examples of shape {ds.example_shape}")
    scaler = MinMaxScaler.fit(ds.train.x)

    def scaled(s: Split) -> Split:
        return Split(scaler.transform(s.x, clip=clip), s.y, dict(s.extras))

    meta = {**dict(ds.meta), "scaling": "minmax", "scaler": scaler.to_json()}
    return dataclasses.replace(ds, train=scaled(ds.train), val=scaled(ds.val),
                               test=scaled(ds.test), meta=meta), scaler


def write_csv(path: str | os.PathLike, columns: Iterable[str], rows) -> None:
    """Write a numeric table with a header row (used by tests and examples)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(list(columns))
        for r in np.asarray(rows).tolist():
            w.writerow([repr(float(v)) for v in r])
