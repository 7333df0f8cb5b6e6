"""Helpers shared by the tests, in one place: ``from helpers import ...`` (pyproject.toml's
``[tool.pytest.ini_options] pythonpath`` puts tests/ on sys.path; fixtures live in conftest.py)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: overrides that keep a run quiet and skip the latent analysis
FAST = ["train.progress=false", "analysis.enabled=false"]

#: a small dense run on the digits (mnist_dense's experiment): seconds per epoch
SMALL = ["data.name=digits", "model.hidden=[32]", "model.latent_dim=8", "train.batch_size=64",
         "train.eval_batch_size=128", "train.progress=false", "analysis.enabled=false"]

#: the columns of Colab's sample_data/california_housing_{train,test}.csv (the tabular seed's files)
COLAB_COLUMNS = ["longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
                 "population", "households", "median_income", "median_house_value"]


def write_idx(path, arr, compress=False):
    """Write ``arr`` (uint8 values) as an IDX file (gzip-compressed when ``compress``)."""
    import gzip
    import struct
    header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(raw)


def run_cli(*args, cwd=None, env_extra=None, timeout=300):
    """Run ``python -m aejax ARGS``; returns the CompletedProcess (text output)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "aejax", *map(str, args)], cwd=cwd or ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def set_args(overrides):
    """``["a=1", "b=2"]`` -> ``["--set", "a=1", "--set", "b=2"]`` (for :func:`run_cli`)."""
    return [arg for s in overrides for arg in ("--set", s)]


def metrics_rows(run_dir) -> list[dict]:
    """The rows of a run directory's metrics.jsonl."""
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


# ---- experiments ----------------------------------------------------------------------------

#: the smallest valid experiment file (and a private helper, which is not a hook)
MINIMAL_EXPERIMENT = '''"""A test experiment."""
from aejax.config import base_config


def get_config():
    return base_config()


def _helper():
    return 1
'''


def write_experiment(tmp_path, text, name="exp.py"):
    """Write an experiment file; returns its path as a string (what experiment.load takes)."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---- sweeps ---------------------------------------------------------------------------------

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


def mtimes(sweep_dir):
    """{run directory name: mtime of its metrics.jsonl} (a retrained run rewrites it)."""
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep_dir.glob("*/metrics.jsonl")}


# ---- models ---------------------------------------------------------------------------------

def count_params(model, shape):
    """The model's number of parameters for examples of ``shape`` (shapes only, nothing computed)."""
    params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, *shape)))
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))


def init_params(model, x, seed=0):
    """Parameters drawn with numpy (LeCun-normal kernels, zero biases, unit scales): no
    threefry compilation, which is most of the cost of an eager ``model.init`` on CPU."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)

    def draw(path, s):
        name = str(path[-1])
        if "scale" in name:
            return jnp.ones(s.shape, s.dtype)
        if "obs_log_std" in name:
            return jnp.full(s.shape, math.log(model.obs_std), s.dtype)
        if len(s.shape) < 2:
            return jnp.zeros(s.shape, s.dtype)
        return jnp.asarray(rng.normal(0, 1 / np.sqrt(np.prod(s.shape[:-1])), s.shape), s.dtype)
    return jax.tree_util.tree_map_with_path(draw, shapes)


def uniform(shape, seed=1):
    """float32 values uniform in [0, 1)."""
    return jnp.asarray(np.random.default_rng(seed).uniform(size=shape), jnp.float32)


# ---- training -------------------------------------------------------------------------------

def digits_group(seeds, noise=0.2, experiment_name="mnist_dense",
                 model_sets=("model.hidden=[16]", "model.latent_dim=4")):
    """A :class:`Group` of ``experiment_name`` runs (small, on the digits), one per seed, and its parts:
    (built, programs, datasets, arrays, cfgs)."""
    from aejax.run import builder, experiment, resolve
    from aejax.train.programs import Group
    exp = experiment.load(experiment_name)
    sets = ["data.name=digits", *model_sets, f"data.noise_std={noise}",
            "train.batch_size=128", "train.learning_rate=0.01", "train.progress=false"]
    cfgs = [resolve.resolve_config(exp, sets + [f"seed={s}"]) for s in seeds]
    datasets = [builder.load_data(c) for c in cfgs]
    built = builder.build(cfgs[0], datasets[0].example_shape, len(datasets[0].train))
    arrays = [builder.inputs(ds, c) for ds, c in zip(datasets, cfgs)]
    stacked = {k: np.stack([a[k] for a in arrays]) for k in arrays[0]}
    programs = Group([built.task], seeds, stacked, datasets[0].example_shape, batch_size=128, eval_batch_size=1000)
    return built, programs, datasets, arrays, cfgs


# ---- analysis -------------------------------------------------------------------------------

def low_rank_codes(rng, n=3000, d=100, rank=5, noise=0.05):
    """Rank-``rank`` signal embedded in ``d`` dims plus small isotropic noise."""
    basis, _ = np.linalg.qr(rng.normal(size=(d, rank)))  # [d, rank]
    latent = rng.normal(size=(n, rank)) * np.array([3.0, 2.5, 2.0, 1.5, 1.0])[:rank]
    return latent @ basis.T + noise * rng.normal(size=(n, d))
