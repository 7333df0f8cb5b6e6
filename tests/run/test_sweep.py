"""aejax.run.sweep: run names, options, seed groups, and skip / resume (a killed sweep resumes;
a finished one trains nothing)."""
import json

import pytest

from aejax import api, hyper
from aejax.errors import UserError
from aejax.run import engine, sweep
from helpers import FAST, mtimes, seeds_only_experiment, set_args


def test_seed_groups():
    runs = hyper.product([[{"a": 1, "b": "x"}, {"a": 2, "b": "x"}], hyper.sweep("seed", range(3))])
    groups = sweep.groups(runs, runs, ("seed",))
    assert [len(g) for g in groups] == [3, 3] and [c["seed"] for c, _ in groups[1]] == [0, 1, 2]
    assert [len(g) for g in sweep.groups(runs, runs, ())] == [1] * 6


def test_run_names_are_safe_checkpoint_paths():
    # orbax / TensorStore treat [ ] in a checkpoint path as a glob: lists use ( ) instead.
    name = sweep.run_name({"model.hidden": [32, 16], "model.activation": "relu", "train.learning_rate": 1e-3,
                           "seed": 0})
    assert name == "model.hidden=(32,16),model.activation=relu,train.learning_rate=0.001,seed=0"


def test_long_configurations_get_names_a_filesystem_takes(tmp_path):
    # 255 bytes is the usual limit of one name: a long list used to end in "File name too long".
    from aejax.run.resolve import default_workdir
    long_a, long_b = {"model.hidden": [7] * 120}, {"model.hidden": [7] * 119 + [8]}
    a, b = sweep.run_name(long_a), sweep.run_name(long_b)
    assert len(a) == len(b) == 240 and a != b and a == sweep.run_name(long_a)  # distinct and stable
    assert a.startswith("model.hidden=(7,7,") and "~" in a
    work = default_workdir("mnist_dense", {"quick": True}, ["model.hidden=" + json.dumps([7] * 120)])
    assert len(work.name) == 240 and work.name.startswith("quick,model.hidden=(7,7,")
    (tmp_path / a).mkdir()
    (tmp_path / work.name).mkdir()


def test_sweep_options_are_checked(tmp_path):
    opts, rest = sweep.split_options(["seed=1", "sweep.vectorize_seeds=true", "sweep.stale_after_s=30"])
    assert rest == ["seed=1"] and opts["vectorize_seeds"] is True and opts["stale_after_s"] == 30.0
    for bad in ("sweep.vectorise_seeds=true", "sweep.vectorize_seeds=maybe"):
        with pytest.raises(UserError, match="sweep.vectori"):
            api.sweep("housing_deep", workdir=tmp_path, quick=True, overrides=[bad])
    for bad in ("sweep.stale_after_s=0", "sweep.heartbeat_s=\"x\"", "sweep.stale_after_s=5"):
        with pytest.raises(UserError, match="sweep.(stale_after|heartbeat)_s"):
            sweep.split_options([bad, "sweep.heartbeat_s=10"] if bad.endswith("=5") else [bad])


def test_killed_sweep_resumes_and_a_finished_sweep_trains_nothing(tmp_path, monkeypatch, cli):
    exp = seeds_only_experiment(tmp_path)
    out_dir = tmp_path / "sweep"
    trained, kill = [], [True]
    real = engine.train

    def counting(exp, cfgs, run_dirs, **kw):
        if len(trained) == 1 and kill[0]:
            raise KeyboardInterrupt  # the sweep is killed as its second run starts
        trained.extend(rd.path.name for rd in run_dirs)
        return real(exp, cfgs, run_dirs, **kw)

    monkeypatch.setattr(engine, "train", counting)
    with pytest.raises(KeyboardInterrupt):
        api.sweep(exp, workdir=out_dir, quick=True, overrides=FAST)
    assert trained == ["model.latent_dim=7,seed=0"]
    before = mtimes(out_dir)
    kill[0] = False
    api.sweep(exp, workdir=out_dir, quick=True, overrides=FAST)
    assert trained[1:] == ["model.latent_dim=7,seed=1", "model.latent_dim=7,seed=2"]  # only the unfinished
    assert mtimes(out_dir)["model.latent_dim=7,seed=0"] == before["model.latent_dim=7,seed=0"]
    assert len((out_dir / "sweep.csv").read_text().splitlines()) == 1 + 3
    assert "| 7 | 3 |" in (out_dir / "sweep.md").read_text()  # latent_dim 7, n = 3 seeds
    assert (out_dir / "figures" / "sweep_mae.png").exists() and (out_dir / "report.html").exists()

    # A second `aejax sweep` over the finished directory trains nothing.
    before = mtimes(out_dir)
    out = cli("sweep", exp, "--quick", "--workdir", out_dir, *set_args(FAST))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "0 runs trained, 3 finished runs skipped" in out.stdout
    assert mtimes(out_dir) == before
