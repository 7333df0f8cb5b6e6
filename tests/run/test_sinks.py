"""aejax.run.sinks: the ``log`` section and TensorBoard event files written while a run trains.

TensorBoard's own reader (``EventAccumulator`` / ``EventMultiplexer``) reads what the runs wrote:
one ``train/loss`` scalar per epoch, a reconstruction grid for image data, and a sweep's runs side
by side when pointed at the sweep directory.
"""
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

from aejax import api
from aejax.errors import UserError
from aejax.run import sinks
from helpers import FAST, SMALL, run_cli, set_args, write_experiment


def _events(run_dir):
    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    return ea


def test_log_section_is_validated():
    assert sinks.settings({}) == sinks.LogSettings()
    assert sinks.settings({"log": {"tensorboard": True}}).tensorboard
    for bad, key in [({"tensorbord": True}, "log.tensorbord"), ({"tensorboard": 1}, "log.tensorboard"),
                     ({"images_every": -1}, "log.images_every"), ({"images_every": 2.5}, "log.images_every")]:
        with pytest.raises(UserError, match=key):
            sinks.settings({"log": bad})


def test_bad_log_values_exit_2_before_anything_is_written(tmp_path):
    out = run_cli("run", "mnist_dense", "--quick", "--workdir", tmp_path / "r", "--set", "log.tensorboard=maybe")
    assert out.returncode == 2 and "log.tensorboard" in out.stderr
    out = run_cli("run", "mnist_dense", "--quick", "--workdir", tmp_path / "r", "--set", "log.colour=1")
    assert out.returncode == 2 and "log.colour" in out.stderr
    assert not (tmp_path / "r").exists()


def test_image_grid_layout():
    a, b = np.zeros((3, 4, 5, 1)), np.ones((3, 4, 5, 1))
    g = sinks.image_grid([a, b])
    assert g.shape == (2 * 5 - 1, 3 * 6 - 1)
    assert g[:4, :5].max() == 0 and g[5:, :5].min() == 1 and g[4].min() == 1  # white separator line


def test_tensorboard_run_scalars_per_epoch_and_images(tmp_path):
    run = tmp_path / "run"
    api.run("mnist_dense", workdir=run, quick=True,
            overrides=SMALL + ["train.epochs=3", "log.tensorboard=true", "log.images_every=2"])
    ea = _events(run)
    rows = [e.step for e in ea.Scalars("train/loss")]
    assert rows == [1, 2, 3]
    assert {"val/loss", "val/mse", "epoch_s"} <= set(ea.Tags()["scalars"])
    assert [i.step for i in ea.Images("val/reconstructions")] == [1, 2, 3]  # first, every 2nd, last
    img = ea.Images("val/reconstructions")[0]
    assert (img.width, img.height) == (10 * 9 - 1, 2 * 9 - 1)  # 10 digits of 8x8, input and output rows
    # Resuming (a longer run in the same directory) adds the new epochs; nothing is logged twice.
    api.run("mnist_dense", workdir=run, quick=True,
            overrides=SMALL + ["train.epochs=4", "log.tensorboard=true", "log.images_every=2"])
    assert [e.step for e in _events(run).Scalars("train/loss")] == [1, 2, 3, 4]


def test_without_log_no_event_files(tmp_path):
    api.run("mnist_dense", workdir=tmp_path / "r", quick=True, overrides=SMALL + ["train.epochs=1"])
    assert not list((tmp_path / "r").glob("events.out.tfevents.*"))


SWEEP = '''"""mnist_dense on the digits, two seeds (tests)."""
from aejax import hyper
from aejax.run import experiment

get_config = experiment.load("mnist_dense").get_config


def sweep(quick=False):
    return hyper.sweep("seed", [0, 1])
'''


def test_a_vectorised_sweep_shows_side_by_side(tmp_path):
    exp = write_experiment(tmp_path, SWEEP)
    out = tmp_path / "sweep"
    api.sweep(exp, workdir=out, quick=True,
              overrides=SMALL + ["train.epochs=2", "log.tensorboard=true", "sweep.vectorize_seeds=true"])
    mux = EventMultiplexer(size_guidance={"scalars": 0, "images": 0}).AddRunsFromDirectory(str(out))
    mux.Reload()
    runs = mux.Runs()
    assert sorted(runs) == ["seed=0", "seed=1"]
    for name in runs:
        assert [e.step for e in mux.Scalars(name, "train/loss")] == [1, 2]
        assert [i.step for i in mux.Images(name, "val/reconstructions")] == [1, 2]
    a, b = (mux.Scalars(n, "train/loss")[-1].value for n in sorted(runs))
    assert a != b  # each run logs its own numbers


def test_cli_quick_run_writes_events(tmp_path):
    out = run_cli("run", "mnist_dense", "--quick", "--workdir", tmp_path / "r",
                  *set_args(FAST + ["log.tensorboard=true"]))
    assert out.returncode == 0, out.stderr
    assert [e.step for e in _events(tmp_path / "r").Scalars("train/loss")] == [1, 2]


def test_wandb_and_mlflow_record_every_epoch(tmp_path):
    # Optional sinks (pip install -e '.[tracking]'); CI installs only the test extra and skips this.
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    run = tmp_path / "r"
    api.run("mnist_dense", workdir=run, quick=True, overrides=SMALL + ["train.epochs=2", "log.wandb=true",
                                                                     "log.mlflow=true"])
    assert len(list((run / "wandb").glob("offline-run-*/run-*.wandb"))) == 1
    client = MlflowClient(tracking_uri=f"sqlite:///{run / 'mlflow.db'}")
    (r,) = client.search_runs([client.get_experiment_by_name("mnist_dense").experiment_id])
    assert r.info.run_name == "r" and r.data.params["train.epochs"] == "2"
    assert [m.step for m in client.get_metric_history(r.info.run_id, "train/loss")] == [1, 2]


def test_a_tracking_sink_that_is_not_installed_is_an_error_naming_the_extra(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(UserError, match=r"\.\[tracking\]"):
        sinks.settings({"log": {"wandb": True}})
