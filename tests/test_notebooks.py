"""The notebooks and their Python API: ``aejax.load_run`` / ``load_sweep`` / ``run_dir`` on a --quick
sweep, and every ``notebooks/*.py`` parsing with jupytext into a valid notebook.

Executing the notebooks takes minutes, so it is CI's second step (``AEJAX_QUICK=1 make notebooks``,
see .ci/run), not a test.
"""
from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest

import aejax
from aejax.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def quick_sweep(tmp_path_factory):
    """``aejax sweep mnist_dense --quick``: code size 8 / 32 x seeds 0 / 1, four runs."""
    return aejax.sweep("mnist_dense", workdir=tmp_path_factory.mktemp("nb") / "sweep", quick=True,
                       overrides=["train.progress=false"])


def test_load_sweep_gives_one_row_per_run_in_the_sweeps_order(quick_sweep):
    df = aejax.load_sweep(quick_sweep)
    with open(quick_sweep / "sweep.csv", newline="") as f:
        listed = [r["run"] for r in csv.DictReader(f)]
    assert list(df["run"]) == listed and len(df) == 4
    assert df.attrs["overrides"] == ["model.latent_dim", "seed"]
    assert list(df.columns[:3]) == ["model.latent_dim", "seed", "run"]
    assert sorted(zip(df["model.latent_dim"], df["seed"])) == [(8, 0), (8, 1), (32, 0), (32, 1)]
    for row in df.to_dict("records"):  # typed values from config.json, the summary beside them
        summary = json.loads((quick_sweep / row["run"] / "summary.json").read_text())
        assert row["test/mse"] == summary["test/mse"] and row["params"] == summary["params"]
        assert isinstance(row["model.latent_dim"], int)
    assert df.groupby("model.latent_dim")["test/mse"].count().to_dict() == {8: 2, 32: 2}


def test_load_run_gives_files_data_and_a_working_encoder(quick_sweep):
    run = aejax.load_run(quick_sweep / "model.latent_dim=8,seed=1")
    assert run.cfg is run.config and run.config["model"]["latent_dim"] == 8 and run.config["seed"] == 1
    assert list(run.metrics.index) == list(range(1, run.summary["epochs_run"] + 1))
    assert {"train/loss", "val/loss"} <= set(run.metrics.columns)
    assert {"loss", "test_originals", "test_bottlenecks", "test_reconstructions"} <= set(run.figures)
    assert list(run.figures)[-1].startswith("latent_") and run.analysis["spectrum"]["d"] == 8
    assert set(run.splits) == {"train", "val", "test"}
    x = run.splits["test"].x
    codes = run.encode(x)
    assert codes.shape == (len(x), 8) and run.decode(codes).shape == x.shape
    mse = float(np.mean((run.reconstruct(run.inputs["test_in"]) - x) ** 2))
    assert mse == pytest.approx(run.summary["test/mse"], rel=1e-4)

    files_only = aejax.load_run(run.path, model=False)
    assert files_only.summary == run.summary and files_only.model is None
    with pytest.raises(UserError, match="model=False"):
        files_only.encode(x)


def test_load_run_and_load_sweep_refuse_what_is_not_theirs(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        aejax.load_run(tmp_path)
    with pytest.raises(UserError, match="no such sweep directory"):
        aejax.load_sweep(tmp_path / "missing")
    assert aejax.load_sweep(tmp_path).empty


def test_run_dir_is_where_run_writes():
    assert aejax.run_dir("mnist_dense", quick=True) == Path("results/mnist_dense/quick")
    assert aejax.run_dir("mnist_dense", overrides=["seed=3", "train.progress=false"]) == \
        Path("results/mnist_dense/default,seed=3")


def test_aejax_run_is_callable_after_the_subpackage_aejax_run_is_imported():
    import aejax.run.engine  # binds the subpackage as the attribute aejax.run
    assert aejax.run.engine.__name__ == "aejax.run.engine"
    with pytest.raises(UserError, match="no_such_experiment"):
        aejax.run("no_such_experiment")  # still api.run


def test_every_notebook_parses_into_a_notebook():
    import jupytext
    import nbformat
    names = {p.stem for p in NOTEBOOKS}
    assert {"course", "latent_spectrum", "housing_features", "seismic_bottleneck"} <= names
    for path in NOTEBOOKS:
        nb = jupytext.read(path)
        nbformat.validate(nb)
        kinds = [c.cell_type for c in nb.cells]
        assert kinds[0] == "markdown" and "code" in kinds, path.name
        for cell in nb.cells:
            if cell.cell_type == "code":
                ast.parse(cell.source, filename=str(path))
        assert "AEJAX_QUICK" in path.read_text(), f"{path.name} ignores AEJAX_QUICK"


def test_the_course_notebook_shows_its_fourteen_deliverables_in_order():
    import jupytext
    sources = "\n".join(c.source for c in jupytext.read(ROOT / "notebooks" / "course.py").cells
                        if c.cell_type == "code")
    captions = [line.split('"Figure ', 1)[1].split(":")[0] for line in sources.splitlines() if '"Figure ' in line]
    assert captions == [f"{p}.{i}" for p, n in ((1, 4), (2, 4), (3, 6)) for i in range(1, n + 1)]
