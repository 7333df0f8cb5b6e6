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


@pytest.mark.parametrize("kind", ["sweep", "tune"])
def test_workers_claiming_one_new_folder_at_once_all_get_it(tmp_path, kind):
    # Two `aejax tune` (or sweep) workers started together on a new --workdir: none may see the
    # other's half-made marker and refuse the folder as foreign.
    import threading

    from aejax.run import sweep
    from aejax.tune import storage
    claim = sweep.claim if kind == "sweep" else storage.claim
    for i in range(40):
        folder, errors = tmp_path / f"w{i}", []
        start = threading.Barrier(4)

        def worker():
            start.wait()
            try:
                claim(folder)
            except UserError as e:
                errors.append(str(e))
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [p.name for p in folder.iterdir()] == [f".aejax-{kind}"]
        assert json.loads((folder / f".aejax-{kind}").read_text()) == {f"aejax_{kind}": 1}


def test_claim_refuses_a_foreign_folder_and_leaves_it_untouched(tmp_path):
    from aejax.run.rundir import claim_folder
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not an aejax tune directory"):
        claim_folder(tmp_path / "mine", ".aejax-tune", "tune")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        claim_folder(tmp_path / "f", ".aejax-tune", "tune")
    claim_folder(tmp_path / "mine", ".aejax-tune", "tune", known=lambda d: (d / "notes.txt").exists())
    assert (tmp_path / "mine" / ".aejax-tune").exists()
