"""aejax.run.rundir: the run directory's owner: resuming refuses a run with a different config, and
accepts one written before a config key existed."""
import json

import pytest

from aejax import api
from aejax.errors import UserError
from helpers import SMALL


def test_resume_refuses_a_different_config(tmp_path):
    api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=1"])
    with pytest.raises(UserError, match="different config.*train.learning_rate"):
        api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.learning_rate=0.1"])


def test_resume_accepts_a_run_written_before_a_key_existed(tmp_path):
    """A config.json without train.warmup_epochs (older aejax) resumes when the key keeps its
    default (the behaviour it had then), and is refused when the new run sets it."""
    api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=1"])
    cfg = json.loads((tmp_path / "config.json").read_text())
    del cfg["train"]["warmup_epochs"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=2"])["epochs_run"] == 2
    (tmp_path / "config.json").write_text(json.dumps(cfg))  # the resumed run rewrote it with the key
    with pytest.raises(UserError, match="different config.*train.warmup_epochs"):
        api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=3", "train.warmup_epochs=1"])
