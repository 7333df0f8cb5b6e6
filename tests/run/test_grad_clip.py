"""train.grad_clip_norm / train.grad_clip_value: validated (a negative value is exit 2 naming the key)
and trained with (a quick run of mnist_dense with clipping on, end to end through the CLI)."""
import json

import pytest

from aejax.errors import UserError
from aejax.run import experiment, resolve
from helpers import SMALL, run_cli, set_args


@pytest.mark.parametrize("key", ["train.grad_clip_norm", "train.grad_clip_value"])
def test_a_negative_clip_is_refused_naming_the_key(key):
    exp = experiment.load("mnist_dense")
    assert resolve.resolve_config(exp, [f"{key}=0.5"], quick=True)["train"][key.split(".")[1]] == 0.5
    with pytest.raises(UserError, match=rf"{key}=-1.0: expected a number >= 0"):
        resolve.resolve_config(exp, [f"{key}=-1"], quick=True)


def test_clipped_quick_run_trains_and_a_negative_clip_exits_2(tmp_path):
    ok = run_cli("run", "mnist_dense", "--quick", "--workdir", tmp_path / "a",
                 *set_args(SMALL + ["train.epochs=1", "train.grad_clip_norm=1.0", "train.grad_clip_value=0.5"]))
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert json.loads((tmp_path / "a" / "config.json").read_text())["train"]["grad_clip_norm"] == 1.0
    bad = run_cli("run", "mnist_dense", "--quick", "--workdir", tmp_path / "b", "--set", "train.grad_clip_norm=-1")
    assert bad.returncode == 2 and "train.grad_clip_norm" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "b").exists()
