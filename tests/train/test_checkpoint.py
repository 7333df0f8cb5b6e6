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


def test_a_full_disk_during_a_save_is_one_message_and_earlier_steps_are_kept(tmp_path, monkeypatch):
    # TensorStore reports a failed write as a ValueError naming RESOURCE_EXHAUSTED (seen on a full
    # 300 KB tmpfs); the save after the first one fails here.
    import jax.numpy as jnp
    import orbax.checkpoint as ocp

    from aejax.errors import RunFailed
    from aejax.train.checkpoint import Checkpoints
    ck = Checkpoints(tmp_path / "checkpoints")
    state, loop = {"w": jnp.ones(3)}, {"epoch": 1, "best_epoch": 1}
    ck.save("latest", 1, state, loop)
    real = ocp.CheckpointManager.save

    def full(self, *a, **k):
        raise ValueError('RESOURCE_EXHAUSTED: Error writing "w/0": Failed to write 12 bytes: No space left on device')
    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    with pytest.raises(RunFailed, match=r"checkpoints/latest: cannot write the checkpoint of epoch 2 \(no space left "
                                        r"on device\); the checkpoints saved before it are kept"):
        ck.save("latest", 2, state, {"epoch": 2, "best_epoch": 1})

    def bug(self, *a, **k):
        raise ValueError("a tree that does not match")  # not a write failure: raised as it is
    monkeypatch.setattr(ocp.CheckpointManager, "save", bug)
    with pytest.raises(ValueError, match="does not match"):
        ck.save("latest", 2, state, {"epoch": 2, "best_epoch": 1})
    monkeypatch.setattr(ocp.CheckpointManager, "save", real)
    assert ck.epochs("latest") == [1]
    ck.close()
