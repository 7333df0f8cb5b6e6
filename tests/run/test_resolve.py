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
