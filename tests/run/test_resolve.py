"""aejax.run.resolve: an experiment's config after --set and its resolve hook: --set is never silently
replaced."""
import pytest

from aejax.errors import UserError
from aejax.run import experiment, resolve
from helpers import MINIMAL_EXPERIMENT, write_experiment


def test_resolve_may_not_replace_a_value_given_with_set(tmp_path):
    text = MINIMAL_EXPERIMENT + '''

def resolve(cfg):
    cfg["model"]["latent_dim"] = 32
    return cfg
'''
    exp = experiment.load(write_experiment(tmp_path, text))
    assert resolve.resolve_config(exp, [])["model"]["latent_dim"] == 32  # its own derivation is fine
    assert resolve.resolve_config(exp, ["model.latent_dim=32"])["model"]["latent_dim"] == 32
    with pytest.raises(UserError, match="--set model.latent_dim: experiment 'exp' sets model.latent_dim itself"):
        resolve.resolve_config(exp, ["model.latent_dim=8"])


def test_the_default_run_directory_names_the_set_overrides():
    from pathlib import Path

    from aejax.run.resolve import default_workdir
    assert default_workdir("mnist_dense", {}) == Path("results/mnist_dense/default")
    assert default_workdir("mnist_dense", {"quick": True}, ["train.progress=false"]) == Path("results/mnist_dense/quick")
    assert default_workdir("mnist_denoise", {}, ["train.epochs=50"]) == Path("results/mnist_denoise/default,train.epochs=50")
    assert default_workdir("mnist_dense", {}, ["data.name=idx:/usr/share/datasets/fashion-mnist"]) == \
        Path("results/mnist_dense/default,data.name=idx__usr_share_datasets_fashion-mnist")
