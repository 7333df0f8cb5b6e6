"""aejax.train.checkpoint: a corrupt checkpoint is detected (its seal), a clear error, and nothing is deleted."""
import pytest

from aejax import api
from aejax.errors import UserError
from helpers import SMALL


def test_corrupt_checkpoint_is_a_clear_error_and_nothing_is_deleted(tmp_path):
    api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=1"])
    latest = tmp_path / "checkpoints" / "latest" / "1" / "state"
    for f in latest.rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(b"garbage")
    with pytest.raises(UserError, match=r"checkpoints/latest/1: corrupt \(its files do not match the checksum"):
        api.run("mnist_dense", workdir=tmp_path, overrides=SMALL + ["train.epochs=2"])
    assert (tmp_path / "summary.json").exists() and (tmp_path / "metrics.jsonl").exists()
    assert (tmp_path / "checkpoints" / "latest" / "1" / "state").is_dir()
