"""Sweeps: axes, options, and skip / resume (a killed sweep resumes; a finished one trains nothing)."""
import json

import pytest

from aejax import api, hyper
from aejax.run import engine, sweep
from aejax.errors import UserError

FAST = ["train.progress=false", "analysis.enabled=false"]

#: housing_deep with a sweep of seeds only (one configuration): the cheapest real sweep.
SEEDS_ONLY = '''"""housing_deep, swept over seeds only (tests)."""
from aejax import hyper
from aejax.run import experiment

_base = experiment.load("housing_deep")
get_config, quick = _base.get_config, _base.quick
prepare_data, after_training, after_sweep = _base.prepare_data, _base.after_training, _base.after_sweep


def sweep(quick=False):
    return hyper.product([hyper.fixed("model.latent_dim", 7), hyper.sweep("seed", SEEDS)])
'''


def seeds_only_experiment(tmp_path, n_seeds=3):
    """Path of a housing_deep variant whose sweep is seeds 0..n_seeds-1 of the seed's setup."""
    path = tmp_path / "housing_seeds.py"
    path.write_text(SEEDS_ONLY + f"\n\nSEEDS = list(range({n_seeds}))\n")
    return str(path)


def test_axes_one_at_a_time_unique_and_seed_groups():
    base = {"a": 1, "b": "x"}
    configs = hyper.one_at_a_time(base, [hyper.sweep("a", [1, 2, 3]), hyper.sweep("b", ["x", "y"])])
    assert configs == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 3, "b": "x"}, {"a": 1, "b": "y"}]
    with pytest.raises(ValueError, match="'c'"):
        hyper.one_at_a_time(base, [hyper.sweep("c", [1])])
    runs = hyper.product([configs[:2], hyper.sweep("seed", range(3))])
    groups = sweep.groups(runs, runs, ("seed",))
    assert [len(g) for g in groups] == [3, 3] and [c["seed"] for c, _ in groups[1]] == [0, 1, 2]
    assert [len(g) for g in sweep.groups(runs, runs, ())] == [1] * 6
    assert hyper.unique([{"a": [1]}, {"a": [1]}, {"a": [2]}]) == [{"a": [1]}, {"a": [2]}]


def test_run_names_are_safe_checkpoint_paths():
    # orbax / TensorStore treat [ ] in a checkpoint path as a glob: lists use ( ) instead.
    name = sweep.run_name({"model.hidden": [32, 16], "model.activation": "relu", "train.learning_rate": 1e-3,
                           "seed": 0})
    assert name == "model.hidden=(32,16),model.activation=relu,train.learning_rate=0.001,seed=0"


def test_housing_sweep_covers_the_seeds_hyperparameters():
    from aejax.run import experiment
    configs = experiment.load("housing_deep").sweep()
    assert len(configs) == 42  # 14 configurations x 3 seeds
    for key in ("model.latent_dim", "model.hidden", "model.activation", "train.optimizer",
                "train.learning_rate", "seed"):
        assert len({json.dumps(c[key]) for c in configs}) > 1, key
    assert {len(c["model.hidden"]) for c in configs} == {1, 2, 3}  # number of layers
    assert len({sweep.run_name(c) for c in configs}) == 42


def test_sweep_options_are_checked(tmp_path):
    assert sweep.split_options(["seed=1", "sweep.vectorize_seeds=true"]) == ({"vectorize_seeds": True}, ["seed=1"])
    for bad in ("sweep.vectorise_seeds=true", "sweep.vectorize_seeds=maybe"):
        with pytest.raises(UserError, match="sweep.vectori"):
            api.sweep("housing_deep", workdir=tmp_path, quick=True, overrides=[bad])


def mtimes(sweep_dir):
    """{run directory name: mtime of its metrics.jsonl} (a retrained run rewrites it)."""
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep_dir.glob("*/metrics.jsonl")}


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
    out = cli("sweep", exp, "--quick", "--workdir", out_dir, *sum((["--set", s] for s in FAST), []))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "0 runs trained, 3 finished runs skipped" in out.stdout
    assert mtimes(out_dir) == before
